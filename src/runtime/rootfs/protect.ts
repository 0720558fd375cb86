/**
 * protect.ts — hiding and freezing parts of the kernel's interface after pivot_root.
 *
 * /proc and /sys were made for one machine. Some files leak the host (/proc/kcore is its memory,
 * /proc/keys its keyrings) and some change it (/proc/sys/kernel/*, /proc/sysrq-trigger). OCI's
 * `maskedPaths` cover them: a file gets /dev/null bind-mounted over it, a directory an empty
 * read-only tmpfs. `readonlyPaths` are bind-mounted onto themselves read-only — the same files,
 * but writes fail with EROFS — with mount_setattr(2) AT_RECURSIVE, so mounts below them (binfmt_misc
 * under /proc/sys/fs…) are read-only too. Finally `root.readonly` makes `/` read-only.
 *
 * Every path is resolved to an fd inside the root and mounted onto that fd (mount-target.ts).
 * The /dev/null used as the mask is opened once and checked to be the null device, char 1:3,
 * before it is bound anywhere: runc CVE-2025-31133 — a container that makes its /dev/null a
 * symlink to /proc/sys/kernel/core_pattern (or any other file) would otherwise have the runtime
 * bind *that* file over the masked path, writable, instead of hiding it.
 *
 * Try: `minibox run --rm busybox sh -c 'echo 1 > /proc/sys/vm/drop_caches'` → `Read-only file
 * system`, and `minibox run --rm busybox cat /proc/kcore` → `No such file or directory`
 */
import fs from 'node:fs';
import { MiniboxError } from '../../errors.js';
import { SysError } from '../../sys/errno.js';
import { mount, MS } from '../../sys/mount.js';
import { closeFd, O } from '../../sys/openat2.js';
import { openInRoot, openRootDir, type RootDir } from '../../resolve-in-root.js';
import { bindOnto, mountOnto } from './mount-target.js';
import { deviceNumbers } from './devices.js';

function openIfExists(root: RootDir, containerPath: string): number | undefined {
  try {
    return openInRoot(root, containerPath, O.PATH);
  } catch (error) {
    if (error instanceof SysError && (error.code === 'ENOENT' || error.code === 'ENOTDIR')) return undefined;
    throw error;
  }
}

/** An fd of the container's /dev/null, refused unless it is the null device (char 1:3). */
export function openCheckedDevNull(root: RootDir): number {
  const fd = openInRoot(root, '/dev/null', O.PATH);
  const stat = fs.fstatSync(fd);
  const { major, minor } = deviceNumbers(stat.rdev);
  if (!stat.isCharacterDevice() || major !== 1 || minor !== 3) {
    closeFd(fd);
    throw new MiniboxError(`/dev/null in the container is not the null device (char 1:3, found ${stat.isCharacterDevice() ? `char ${major}:${minor}` : 'not a char device'}): refusing to use it to mask paths`);
  }
  return fd;
}

/** Masks each existing path: /dev/null over files, an empty read-only tmpfs over directories. */
export function maskPaths(paths: string[]): void {
  if (paths.length === 0) return;
  const root = openRootDir('/');
  let devNull: number | undefined;
  try {
    for (const target of paths) {
      const fd = openIfExists(root, target);
      if (fd === undefined) continue; // nothing to hide
      try {
        if (fs.fstatSync(fd).isDirectory()) {
          mountOnto(fd, target, { source: 'tmpfs', fstype: 'tmpfs', flags: MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC });
        } else {
          devNull ??= openCheckedDevNull(root);
          bindOnto({ source: devNull, shown: { source: '/dev/null', target }, targetFd: fd, flags: 0, recursive: false });
        }
      } finally {
        closeFd(fd);
      }
    }
  } finally {
    if (devNull !== undefined) closeFd(devNull);
    closeFd(root.fd);
  }
}

/** Makes each existing path read-only, with every mount below it: a read-only bind onto itself. */
export function makePathsReadonly(paths: string[]): void {
  if (paths.length === 0) return;
  const root = openRootDir('/');
  try {
    for (const target of paths) {
      const fd = openIfExists(root, target);
      if (fd === undefined) continue;
      try {
        bindOnto({ source: fd, shown: { source: target, target }, targetFd: fd, flags: MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC, recursive: true });
      } finally {
        closeFd(fd);
      }
    }
  } finally {
    closeFd(root.fd);
  }
}

/** root.readonly: the container's `/` itself becomes read-only (its other mounts stay as they are). */
export function makeRootReadonly(): void {
  mount({ source: null, target: '/', fstype: null, flags: MS.BIND | MS.REMOUNT | MS.RDONLY });
}
