/**
 * devices.ts — the few device files a container's /dev holds, and why it can open no others.
 *
 * /dev in a container is a fresh tmpfs: empty. The runtime-spec requires null, zero, full,
 * random, urandom, tty and ptmx; runc adds the /dev/fd and std{in,out,err} symlinks that shells
 * use. A device file is only a name for a (type, major, minor) triple: the kernel driver behind
 * block 8:0 is the host's first disk wherever the node lives, and CAP_MKNOD — in Docker's
 * default set — lets container root make that node anywhere it can write.
 *
 * Docker and runc answer with the *device cgroup*: on cgroup v1 the `devices` controller, on v2
 * a BPF program attached to the container's cgroup, refuses to *open* any node not on an
 * allow-list. minibox has no device cgroup: on v1/hybrid hosts (like this project's machines,
 * where the v2 hierarchy has no controllers) it never writes into the host's v1 hierarchies, and
 * a v2 BPF device filter is not written yet. So it closes the door another way — the choice:
 *   - every mount a container can write to is `nodev` (the kernel refuses to open a device node
 *     on a nodev mount, whoever made it): the overlay root, /dev, /dev/shm, every volume and bind
 *     (with *all* their submounts: mount_setattr AT_RECURSIVE, mount-target.ts), every --tmpfs —
 *     `--tmpfs /x:dev` included, where Docker would honour `dev` because its cgroup still guards;
 *   - the allowed devices are bind mounts of the host's own nodes onto empty files in /dev; a bind
 *     mount keeps the flags of the mount it comes from (the host's /dev), so these, and only
 *     these, open.
 * CAP_MKNOD therefore stays (images that run mknod at start still work, as under Docker), but its
 * effect is gone: a node it makes is a name that opens nothing (EACCES). Dropping CAP_MKNOD instead
 * would break those images and still leave device nodes shipped *in* an image layer, or in a
 * host directory bound with -v, able to open — nodev covers all three. devpts is the one mount
 * without nodev: its nodes are the container's own ptys, and mknod(2) is refused inside devpts.
 * /dev/ptmx points into the container's own devpts, so ptys opened inside never show up on the host.
 *
 * minibox-runc makes config.json's `linux.devices` with mknod instead, as runc does (the bundle is
 * the operator's): config-devices.ts, which keeps the same rule — only what is allowed opens.
 *
 * Every name is created inside the fd of its /dev directory (mknodat, openat O_EXCL|O_NOFOLLOW,
 * symlinkat), never through a path a container could have changed (mount-target.ts).
 *
 * Try: `minibox run --rm busybox sh -c 'mknod /tmp/disk b 8 0 && head -c1 /tmp/disk'` → `Permission
 * denied`
 */
import fs from 'node:fs';
import path from 'node:path';
import { closeFd, mknodat, O, openat, symlinkat, unlinkatIfExists } from '../../sys/openat2.js';
import { MiniboxError } from '../../errors.js';
import { DEFAULT_DEVICES } from '../../bundle/docker-defaults.js';
import type { SpecDevice } from '../../bundle/oci-bundle.js';
import { openRootDir, type RootDir } from '../../resolve-in-root.js';
import { bindOnto, openMountTarget } from './mount-target.js';

/** A stat's `rdev` as (major, minor), as the kernel's new_decode_dev does. */
export function deviceNumbers(rdev: number): { major: number; minor: number } {
  return { major: Math.floor(rdev / 256) & 0xfff, minor: (rdev & 0xff) | (Math.floor(rdev / 4096) & 0xfff00) };
}

/** Runs `work` with an fd of the directory `dir` inside the rootfs (made if missing). */
function inDirectory(root: RootDir, dir: string, work: (dirFd: number) => void): void {
  const dirFd = openMountTarget(root, dir, 'dir');
  try {
    work(dirFd);
  } finally {
    closeFd(dirFd);
  }
}

/** Creates the default devices plus config.json's `linux.devices` under `rootfs`. */
export function createDevices(rootfs: string, extra: SpecDevice[] = [], except: string[] = []): void {
  // config.json's devices win over a default of the same path, as in runc (`except`: made elsewhere).
  const wanted = new Map<string, SpecDevice>();
  for (const { path: p, major, minor } of DEFAULT_DEVICES) {
    if (!except.includes(p)) wanted.set(p, { type: 'c', path: p, major, minor, fileMode: 0o666 });
  }
  for (const device of extra) wanted.set(path.posix.normalize(device.path), device);
  const root = openRootDir(rootfs);
  try {
    for (const device of wanted.values()) inDirectory(root, path.posix.dirname(device.path), (dirFd) => createDevice(dirFd, device));
  } finally {
    closeFd(root.fd);
  }
}

function createDevice(dirFd: number, device: SpecDevice): void {
  const name = path.posix.basename(device.path);
  unlinkatIfExists(dirFd, name, device.path);
  const kind = device.type === 'b' ? 'block' : device.type === 'p' ? 'fifo' : 'char';
  if (kind === 'fifo') {
    mknodat(dirFd, name, kind, device.fileMode ?? 0o666, 0, 0, device.path); // a fifo is no device: nodev does not apply
    return;
  }
  if (!isHostNode(device)) {
    throw new MiniboxError(`device ${device.path} (${device.type} ${device.major}:${device.minor}) is not on the host at that path; minibox can only pass through the host's own device nodes`);
  }
  // The host's node, bind-mounted onto an empty file: it opens, although /dev is nodev.
  const target = openat(dirFd, name, O.WRONLY | O.CREAT | O.EXCL | O.NOFOLLOW | O.CLOEXEC, 0o644, device.path);
  try {
    bindOnto({ source: device.path, shown: { source: device.path, target: device.path }, targetFd: target, flags: 0, recursive: false });
  } finally {
    closeFd(target);
  }
}

/** True when the host has a node of the same type and number at the same path. */
function isHostNode(device: SpecDevice): boolean {
  let stat;
  try {
    stat = fs.statSync(device.path);
  } catch {
    return false;
  }
  const rightType = device.type === 'b' ? stat.isBlockDevice() : stat.isCharacterDevice();
  const { major, minor } = deviceNumbers(stat.rdev);
  return rightType && major === (device.major ?? 0) && minor === (device.minor ?? 0);
}

/** /dev/fd, /dev/std{in,out,err}, /dev/ptmx → pts/ptmx, and /dev/core like runc. */
export function createDevSymlinks(rootfs: string): void {
  const links: [string, string][] = [
    ['/proc/self/fd', 'fd'], ['/proc/self/fd/0', 'stdin'],
    ['/proc/self/fd/1', 'stdout'], ['/proc/self/fd/2', 'stderr'], ['pts/ptmx', 'ptmx'],
  ];
  if (fs.existsSync('/proc/kcore')) links.push(['/proc/kcore', 'core']);
  const root = openRootDir(rootfs);
  try {
    inDirectory(root, '/dev', (dev) => {
      for (const [target, name] of links) {
        unlinkatIfExists(dev, name, `/dev/${name}`);
        symlinkat(target, dev, name, `/dev/${name}`);
      }
    });
  } finally {
    closeFd(root.fd);
  }
}
