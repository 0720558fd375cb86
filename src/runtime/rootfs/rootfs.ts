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
 *    A `--rm` container's overlay is `volatile` (Linux 5.10; podman does the same for --rm). Why:
 *    when the container's last process exits, its mount namespace dies and the overlay's super
 *    block is shut down, and overlayfs then syncs the *whole upper file system* — the host disk
 *    under the state root, other programs' dirty pages included — and flushes the disk's cache:
 *    ~10–30 ms here, every `run --rm`, before the engine even learns that the program ended
 *    (`perf record -e sched:sched_switch -g` shows the exiting program in ovl_sync_fs →
 *    sync_filesystem → blkdev_issue_flush). `volatile` skips every sync of the upper layer. The
 *    price: after a host crash the layer may be incomplete, and overlayfs refuses to mount it
 *    again (work/incompat/volatile) — nothing, for a layer that is deleted with the container.
 * 3. config.json's mounts, in order: /proc, a tmpfs on /dev, devpts, /dev/shm, /dev/mqueue, sysfs,
 *    bind mounts (volumes, /etc/hosts…). Every destination is resolved inside the rootfs to an
 *    fd and mounted onto that fd (mount-target.ts), so neither a symlink in the image nor one a
 *    container swaps into a shared volume can aim a mount at the host (runc CVE-2021-30465).
 *    Every one but devpts is nodev (devices.ts explains why).
 *
 * 4. `/`: pivot_root (below). Two other ways, only for minibox-runc, as runc: `--no-pivot`
 *    (MS_MOVE of the rootfs onto `/`, then chroot — for a root pivot_root refuses, an initramfs)
 *    and a config without a mount namespace of its own (chroot only: the mounts above are then
 *    the host's, under the rootfs, and `delete` detaches them). A chroot can be left by a root
 *    process that keeps CAP_SYS_CHROOT; pivot_root's cannot — hence pivot_root by default.
 *
 * Try: `minibox run --rm busybox head -1 /proc/self/mountinfo` → `/ / rw,nodev,relatime - overlay
 * overlay` (the overlay is `/`).
 */
import fs from 'node:fs';
import { mount, umount, MNT, MS } from '../../sys/mount.js';
import { chroot, pivotRoot } from '../../sys/pivot-root.js';
import { readMountInfo } from '../../mountinfo.js';
import { SysError } from '../../sys/errno.js';
import { publishStep } from '../../sys/trace.js';
import { OVERLAY_ANNOTATIONS, type RuntimeSpec, type SpecMount } from '../../bundle/oci-bundle.js';
import { parseMountOptions } from './mount-options.js';
import { openRootDir, type RootDir } from '../../resolve-in-root.js';
import { bindOnto, changePropagation, mountOnTarget, mountOnto, type TargetKind } from './mount-target.js';
import { upperFilesystemProblem } from './upper-filesystem.js';

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
    if (upperdir && workdir && annotations[OVERLAY_ANNOTATIONS.volatile] === 'true') options.push('volatile');
    // nodev: device nodes in the image or made by the container cannot be opened (devices.ts).
    try {
      mount({ source: 'overlay', target: rootfs, fstype: 'overlay', flags: MS.NODEV, data: options.join(',') });
    } catch (error) {
      // A bare EINVAL most often means the upper dir's file system cannot be an overlay upper.
      const problem = error instanceof SysError && error.code === 'EINVAL' && upperdir ? upperFilesystemProblem(upperdir) : undefined;
      throw problem ? new SysError('mount', error instanceof SysError ? error.errno : 0, `overlay on ${rootfs}`, problem) : error;
    }
  } else {
    mount({ source: rootfs, target: rootfs, fstype: null, flags: MS.BIND | MS.REC });
    mount({ source: null, target: rootfs, fstype: null, flags: MS.REMOUNT | MS.BIND | MS.NODEV });
  }
}

/**
 * config.json's `rootfsPropagation`, on the container's `/` once pivot_root is done: pivot_root
 * refuses a shared new root (EINVAL), so a `shared` root can only be made afterwards.
 */
export function applyRootfsPropagation(spec: RuntimeSpec): void {
  const propagation = spec.linux?.rootfsPropagation;
  if (!propagation) return;
  const { propagation: changes } = parseMountOptions([propagation]);
  for (const change of changes) mount({ source: null, target: '/', fstype: null, flags: change });
}

/** Performs config.json's `mounts` in order inside `rootfs`, every target held as an fd. */
export function mountConfigMounts(rootfs: string, entries: SpecMount[]): void {
  const root = openRootDir(rootfs);
  try {
    for (const entry of entries) mountFromSpec(root, entry);
  } finally {
    fs.closeSync(root.fd);
  }
}

/**
 * Every mount a container can write to is nodev, whatever the spec or `--tmpfs …:dev` says:
 * minibox has no device cgroup (devices.ts). devpts is the exception: its nodes are the ptys.
 */
function forcedFlags(type: string): number {
  return type === 'devpts' ? 0 : MS.NODEV;
}

/** Performs one entry of config.json's `mounts` inside the root. */
export function mountFromSpec(root: RootDir, entry: SpecMount): void {
  const { flags, propagation, data } = parseMountOptions(entry.options);
  const type = entry.type ?? (flags & MS.BIND ? 'bind' : 'none');
  if ((flags & MS.BIND) !== 0 || type === 'bind') {
    bindFromSpec(root, entry, flags, propagation);
    return;
  }
  mountOnTarget(root, entry.destination, 'dir', (target) => mountFileSystem(target, entry, type, flags | forcedFlags(type), data));
  for (const change of propagation) changePropagation(root, entry.destination, change);
}

/**
 * A bind mount (a volume, /etc/hosts…): ro/nosuid/nodev/noexec on every submount of an rbind
 * (mount_setattr AT_RECURSIVE), where a remount would change only the top one.
 */
function bindFromSpec(root: RootDir, entry: SpecMount, flags: number, propagation: number[]): void {
  const source = entry.source ?? '';
  let kind: TargetKind;
  try {
    kind = fs.statSync(source).isDirectory() ? 'dir' : 'file';
  } catch {
    throw new Error(`bind mount source ${source} (for ${entry.destination}) does not exist`);
  }
  const recursive = (flags & MS.REC) !== 0;
  const change = propagation.reduce((all, one) => all | one, 0) & ~MS.REC;
  mountOnTarget(root, entry.destination, kind, (targetFd) => bindOnto({
    source, shown: { source, target: entry.destination }, targetFd,
    flags: flags | forcedFlags('bind'), recursive, propagation: change,
  }));
}

function mountFileSystem(target: number, entry: SpecMount, type: string, flags: number, data: string | null): void {
  if (type === 'cgroup') {
    // cgroup v1 needs one mount per controller; minibox shows the unified (v2) view, read-only.
    try {
      mountOnto(target, entry.destination, { source: 'cgroup2', fstype: 'cgroup2', flags: flags | MS.RDONLY });
    } catch (error) {
      // Whatever is below (a host view of /sys) must not stay reachable: hide it instead.
      publishStep('skip-mount', { destination: entry.destination, reason: (error as Error).message });
      mountOnto(target, entry.destination, { source: 'tmpfs', fstype: 'tmpfs', flags: MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC, data: 'size=0' });
    }
    return;
  }
  try {
    mountOnto(target, entry.destination, { source: entry.source ?? type, fstype: type, flags, data });
  } catch (error) {
    // sysfs may be refused outside a new network namespace: show the host's /sys read-only, as
    // runc does — not recursive, so the host's submounts (its cgroup trees, bpf, securityfs)
    // are not carried along into the container.
    if (type === 'sysfs' && error instanceof SysError && error.code === 'EPERM') {
      bindOnto({ source: '/sys', shown: { source: '/sys', target: entry.destination }, targetFd: target, flags: flags | MS.RDONLY, recursive: false });
      return;
    }
    throw error;
  }
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

/**
 * `--no-pivot` (runc's msMoveRoot): the host's full proc and sysfs mounts outside the rootfs are
 * detached first (the kernel lets a new proc be mounted only where a full one is visible, and a
 * chroot leaves the old ones reachable), then the rootfs mount is moved onto `/` and chroot'ed into.
 */
export function moveIntoRootfs(rootfs: string): void {
  for (const entry of readMountInfo().reverse()) {
    const inside = entry.mountPoint === rootfs || entry.mountPoint.startsWith(`${rootfs}/`);
    if (inside || entry.root !== '/' || (entry.fstype !== 'proc' && entry.fstype !== 'sysfs')) continue;
    try {
      umount(entry.mountPoint, MNT.DETACH);
    } catch (error) {
      if (!(error instanceof SysError) || (error.code !== 'EINVAL' && error.code !== 'ENOENT')) throw error;
    }
  }
  process.chdir(rootfs);
  mount({ source: '.', target: '/', fstype: null, flags: MS.MOVE, shownAs: `${rootfs} → /` });
  enterChroot();
}

/** No mount namespace of the container's own (OCI, as runc): only a chroot; the host's `/` stays. */
export function chrootIntoRootfs(rootfs: string): void {
  process.chdir(rootfs);
  enterChroot();
}

function enterChroot(): void {
  chroot('.');
  process.chdir('/');
}
