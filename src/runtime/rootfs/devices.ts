/**
 * devices.ts — the few device files a container's /dev holds, and why it can have no others.
 *
 * /dev in a container is a fresh tmpfs: empty. The runtime-spec requires null, zero, full,
 * random, urandom, tty and ptmx; runc adds the /dev/fd and std{in,out,err} symlinks that shells
 * use. A device file is only a name for a (type, major, minor) triple — the kernel driver behind
 * 8:0 is the host's first disk wherever the node lives. Docker keeps CAP_MKNOD in its default
 * capabilities and relies on the *device cgroup* to refuse opening anything but an allow-list.
 * minibox has no device cgroup (it never writes to a host's v1 hierarchy, and v2 needs a BPF
 * program), so it closes the door differently: every writable mount a container gets (its root,
 * /dev, volumes, tmpfs) is mounted `nodev`, where the kernel refuses to open any device node.
 * The allowed devices are bind mounts of the host's own nodes — a bind mount keeps the flags of
 * the mount it comes from (the host's /dev), so these, and only these, open.
 * /dev/ptmx points into the container's own devpts, so ptys opened inside never show up on the host.
 *
 * Try: in a container, `mknod /tmp/disk b 8 0 && head -c1 /tmp/disk` → Permission denied.
 */
import fs from 'node:fs';
import path from 'node:path';
import { mknod } from '../../sys/fs.js';
import { mount, MS } from '../../sys/mount.js';
import { MiniboxError } from '../../errors.js';
import { DEFAULT_DEVICES } from '../../bundle/docker-defaults.js';
import type { SpecDevice } from '../../bundle/oci-bundle.js';
import { ensureMountTarget, resolveInRoot } from '../../resolve-in-root.js';

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
  if (kind === 'fifo') {
    mknod(target, kind, device.fileMode ?? 0o666, 0, 0); // a fifo is no device: nodev does not apply
    return;
  }
  if (!isHostNode(device)) {
    throw new MiniboxError(`device ${device.path} (${device.type} ${device.major}:${device.minor}) is not on the host at that path; minibox can only pass through the host's own device nodes`);
  }
  // The host's node, bind-mounted onto an empty file: it opens, although /dev is nodev.
  fs.writeFileSync(target, '');
  mount({ source: device.path, target, fstype: null, flags: MS.BIND });
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
  const major = Math.floor(stat.rdev / 256) & 0xfff;
  const minor = (stat.rdev & 0xff) | (Math.floor(stat.rdev / 4096) & 0xfff00);
  return rightType && major === (device.major ?? 0) && minor === (device.minor ?? 0);
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
