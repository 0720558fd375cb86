/**
 * rootfs.ts — building the container's file system inside its own mount namespace.
 *
 * 1. `/` becomes rprivate: from now on no mount made here propagates to the host (and none of
 *    the host's later mounts arrive here). Without it, the overlay below would appear on the host.
 * 2. The root: an overlay (`lowerdir` = the image's read-only layers, top first; `upperdir` = this
 *    container's writable layer; `workdir` = overlayfs's scratch space) mounted on root.path —
 *    inside this private namespace only, so it disappears with the container's last process and
 *    can never leak onto the host. Without the minibox annotations, root.path is bind-mounted onto
 *    itself, because pivot_root needs the new root to be a mount point.
 * 3. config.json's mounts, in order: /proc, a tmpfs on /dev, devpts, /dev/shm, /dev/mqueue, sysfs,
 *    bind mounts (volumes, /etc/hosts…). Every destination is resolved inside the rootfs
 *    (resolve-in-root.ts) so a symlink in the image cannot aim a mount at the host.
 *
 * Try: `cat /proc/self/mountinfo` inside a container: the overlay is `/`, and nothing of the host.
 */
import fs from 'node:fs';
import { mount, umount, MNT, MS } from '../../sys/mount.js';
import { pivotRoot } from '../../sys/pivot-root.js';
import { SysError } from '../../sys/errors.js';
import { publishStep } from '../../sys/trace.js';
import { OVERLAY_ANNOTATIONS, type RuntimeSpec, type SpecMount } from '../../bundle/oci-bundle.js';
import { parseMountOptions } from './mount-options.js';
import { ensureMountTarget } from '../../resolve-in-root.js';

/** Stops mount events from flowing between this namespace and the host, for every mount. */
export function makeMountsPrivate(): void {
  mount({ source: null, target: '/', fstype: null, flags: MS.REC | MS.PRIVATE });
}

/** Mounts the container's root file system on `rootfs` (overlay, or a bind of itself). */
export function mountRootfs(spec: RuntimeSpec, rootfs: string): void {
  const annotations = spec.annotations ?? {};
  const lowerdir = annotations[OVERLAY_ANNOTATIONS.lowerdir];
  if (lowerdir) {
    const upperdir = annotations[OVERLAY_ANNOTATIONS.upperdir];
    const workdir = annotations[OVERLAY_ANNOTATIONS.workdir];
    const options = [`lowerdir=${lowerdir}`];
    if (upperdir && workdir) options.push(`upperdir=${upperdir}`, `workdir=${workdir}`);
    // nodev: device nodes in the image or made by the container cannot be opened (devices.ts).
    mount({ source: 'overlay', target: rootfs, fstype: 'overlay', flags: MS.NODEV, data: options.join(',') });
  } else {
    mount({ source: rootfs, target: rootfs, fstype: null, flags: MS.BIND | MS.REC });
    mount({ source: null, target: rootfs, fstype: null, flags: MS.REMOUNT | MS.BIND | MS.NODEV });
  }
  const propagation = spec.linux?.rootfsPropagation;
  if (propagation) {
    const { propagation: changes } = parseMountOptions([propagation]);
    for (const change of changes) mount({ source: null, target: rootfs, fstype: null, flags: change });
  }
}

/** Performs one entry of config.json's `mounts` inside `rootfs`. */
export function mountFromSpec(rootfs: string, entry: SpecMount): void {
  const { flags, propagation, data } = parseMountOptions(entry.options);
  const type = entry.type ?? (flags & MS.BIND ? 'bind' : 'none');
  const isBind = (flags & MS.BIND) !== 0 || type === 'bind';

  if (isBind) {
    const source = entry.source ?? '';
    let kind: 'dir' | 'file';
    try {
      kind = fs.statSync(source).isDirectory() ? 'dir' : 'file';
    } catch {
      throw new Error(`bind mount source ${source} (for ${entry.destination}) does not exist`);
    }
    const target = ensureMountTarget(rootfs, entry.destination, kind);
    mount({ source, target, fstype: null, flags: MS.BIND | (flags & MS.REC) });
    // A bind mount ignores other flags on creation: apply ro/nosuid/… with a remount.
    const extra = flags & ~(MS.BIND | MS.REC);
    if (extra !== 0) mount({ source: null, target, fstype: null, flags: MS.REMOUNT | MS.BIND | extra });
    for (const change of propagation) mount({ source: null, target, fstype: null, flags: change });
    return;
  }

  const target = ensureMountTarget(rootfs, entry.destination, 'dir');
  if (type === 'cgroup') {
    // cgroup v1 needs one mount per controller; minibox shows the unified (v2) view, read-only.
    try {
      mount({ source: 'cgroup2', target, fstype: 'cgroup2', flags: flags | MS.RDONLY });
    } catch (error) {
      // Whatever is below (a host view of /sys) must not stay reachable: hide it instead.
      publishStep('skip-mount', { destination: entry.destination, reason: (error as Error).message });
      mount({ source: 'tmpfs', target, fstype: 'tmpfs', flags: MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC, data: 'size=0' });
    }
    return;
  }
  // minibox has no device cgroup: its /dev is always nodev, and the allowed devices are binds of
  // the host's nodes (devices.ts). (runc, which has a device cgroup, can honour the spec as it is.)
  const deviceFlags = entry.destination === '/dev' && type === 'tmpfs' ? MS.NODEV : 0;
  try {
    mount({ source: entry.source ?? type, target, fstype: type, flags: flags | deviceFlags, data });
  } catch (error) {
    // sysfs may be refused outside a new network namespace: show the host's /sys read-only, as
    // runc does — without MS_REC, so the host's submounts (its cgroup trees, bpf, securityfs)
    // are not carried along, writable, into the container.
    if (type === 'sysfs' && error instanceof SysError && error.code === 'EPERM') {
      mount({ source: '/sys', target, fstype: null, flags: MS.BIND });
      mount({ source: null, target, fstype: null, flags: MS.REMOUNT | MS.BIND | MS.RDONLY | (flags & ~MS.RDONLY) });
      return;
    }
    throw error;
  }
  for (const change of propagation) mount({ source: null, target, fstype: null, flags: change });
}

/**
 * The image becomes `/`: `pivot_root(".", ".")` stacks the old root on top of the new one, and a
 * lazy unmount of "." peels it off. Afterwards no path leads to the host's files.
 */
export function pivotIntoRootfs(rootfs: string): void {
  process.chdir(rootfs);
  pivotRoot('.', '.');
  umount('.', MNT.DETACH);
  process.chdir('/');
}
