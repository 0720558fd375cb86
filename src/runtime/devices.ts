/**
 * devices.ts — the few device files a container's /dev holds.
 *
 * /dev in a container is a fresh tmpfs: empty. The runtime-spec requires null, zero, full,
 * random, urandom, tty and ptmx; runc adds the /dev/fd and std{in,out,err} symlinks that shells
 * use. A device file is only a name for a (type, major, minor) triple — the kernel driver behind
 * 1:3 is "null" wherever the node lives. We create nodes with mknod(2); where that is not allowed
 * we bind-mount the host's node instead. /dev/ptmx points into the container's own devpts, so
 * ptys opened inside never show up on the host.
 *
 * Try: `ls -l /dev` in a container, and compare the `1, 3` of /dev/null with the host's.
 */
import fs from 'node:fs';
import path from 'node:path';
import { mknod } from '../sys/fs.js';
import { mount, MS } from '../sys/mount.js';
import { SysError } from '../sys/errors.js';
import { DEFAULT_DEVICES } from './defaults.js';
import type { SpecDevice } from './spec.js';
import { ensureMountTarget, resolveInRoot } from './resolve-in-root.js';

/** Creates the default devices plus config.json's `linux.devices` under `rootfs`. */
export function createDevices(rootfs: string, extra: SpecDevice[] = []): void {
  const wanted: SpecDevice[] = [
    ...DEFAULT_DEVICES.map(({ path: p, major, minor }) => ({ type: 'c' as const, path: p, major, minor, fileMode: 0o666 })),
    ...extra,
  ];
  for (const device of wanted) createDevice(rootfs, device);
}

function createDevice(rootfs: string, device: SpecDevice): void {
  ensureMountTarget(rootfs, path.posix.dirname(device.path), 'dir');
  const target = resolveInRoot(rootfs, device.path);
  fs.rmSync(target, { force: true });
  const kind = device.type === 'b' ? 'block' : device.type === 'p' ? 'fifo' : 'char';
  const mode = device.fileMode ?? 0o666;
  try {
    mknod(target, kind, mode, device.major ?? 0, device.minor ?? 0);
    fs.chmodSync(target, mode & 0o7777); // mknod's mode is filtered by the umask
    if (device.uid !== undefined || device.gid !== undefined) fs.chownSync(target, device.uid ?? 0, device.gid ?? 0);
  } catch (error) {
    if (!(error instanceof SysError && error.code === 'EPERM') || !fs.existsSync(device.path)) throw error;
    // Not allowed to create device nodes here: show the host's node through a bind mount.
    fs.writeFileSync(target, '');
    mount({ source: device.path, target, fstype: null, flags: MS.BIND });
  }
}

/** /dev/fd, /dev/std{in,out,err}, /dev/ptmx → pts/ptmx, and /dev/core like runc. */
export function createDevSymlinks(rootfs: string): void {
  const links: [string, string][] = [
    ['/proc/self/fd', '/dev/fd'], ['/proc/self/fd/0', '/dev/stdin'],
    ['/proc/self/fd/1', '/dev/stdout'], ['/proc/self/fd/2', '/dev/stderr'], ['pts/ptmx', '/dev/ptmx'],
  ];
  if (fs.existsSync('/proc/kcore')) links.push(['/proc/kcore', '/dev/core']);
  for (const [target, name] of links) {
    const at = resolveInRoot(rootfs, name);
    fs.rmSync(at, { force: true });
    fs.symlinkSync(target, at);
  }
}
