/**
 * protect.ts — hiding and freezing parts of the kernel's interface after pivot_root.
 *
 * /proc and /sys were made for one machine. Some files leak the host (/proc/kcore is its memory,
 * /proc/keys its keyrings) and some change it (/proc/sys/kernel/*, /proc/sysrq-trigger). OCI's
 * `maskedPaths` cover them: a file gets /dev/null bind-mounted over it, a directory an empty
 * read-only tmpfs. `readonlyPaths` are bind-mounted onto themselves and remounted read-only —
 * the same files, but writes fail with EROFS. Finally `root.readonly` makes `/` read-only too.
 *
 * Try in a container: `cat /proc/kcore` (empty), `echo 1 > /proc/sys/vm/drop_caches` (read-only).
 */
import fs from 'node:fs';
import { mount, MS } from '../../sys/mount.js';

/** Masks each existing path: /dev/null over files, an empty read-only tmpfs over directories. */
export function maskPaths(paths: string[]): void {
  for (const target of paths) {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(target);
    } catch {
      continue; // nothing to hide
    }
    if (stat.isDirectory()) {
      mount({ source: 'tmpfs', target, fstype: 'tmpfs', flags: MS.RDONLY });
    } else {
      mount({ source: '/dev/null', target, fstype: null, flags: MS.BIND });
    }
  }
}

/** Makes each existing path read-only: bind it onto itself, then remount the bind read-only. */
export function makePathsReadonly(paths: string[]): void {
  for (const target of paths) {
    if (!fs.existsSync(target)) continue;
    mount({ source: target, target, fstype: null, flags: MS.BIND | MS.REC });
    mount({ source: null, target, fstype: null, flags: MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC });
  }
}

/** root.readonly: the container's `/` itself becomes read-only (its other mounts stay as they are). */
export function makeRootReadonly(): void {
  mount({ source: null, target: '/', fstype: null, flags: MS.BIND | MS.REMOUNT | MS.RDONLY });
}
