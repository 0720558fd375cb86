/**
 * mount-target.ts — where a mount lands: resolved inside the container's root to a file
 * descriptor, created there if missing, and mounted onto that descriptor — never by path.
 *
 * runc CVE-2021-30465: runc checked a mount destination with a path walk, then called
 * mount(2) with the same path string. A second container sharing a volume swapped a directory
 * for a symlink in between, and the mount (or the `mkdir`/`creat` of a missing target) landed
 * outside the rootfs, on the host. Each step here holds an fd instead of a path:
 *   1. openat2(root fd, destination, O_PATH, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS): the kernel
 *      resolves every symlink inside the root, atomically (resolve-in-root.ts);
 *   2. a missing target is made with mkdirat(2) / openat(O_CREAT|O_EXCL|O_NOFOLLOW) inside its
 *      parent's fd — a symlink someone put at the name makes the create fail (EEXIST), and the
 *      lookup of step 1 starts again (a bounded number of times);
 *   3. the mount goes onto the fd: a bind is cloned with open_tree(2), given its flags on every
 *      submount with mount_setattr(2) AT_RECURSIVE while still detached, and attached with
 *      move_mount(2) onto the target fd; a new file system (tmpfs, proc…) is mounted onto
 *      `/proc/self/fd/N`, the magic link to exactly the inode we hold.
 * A later rename in the volume changes names, not the inode the fd holds.
 *
 * Try: `minibox run --explain --rm -v /tmp:/data busybox true 2>&1 | grep /data` → `/data`
 */
import fs from 'node:fs';
import path from 'node:path';
import { MiniboxError } from '../../errors.js';
import { SysError } from '../../sys/errno.js';
import { mount, MS } from '../../sys/mount.js';
import { attachMountTree, cloneMountTree, MOUNT_ATTR, MOUNT_ATTR_ATIME_MASK, setMountAttributes } from '../../sys/mount-fd.js';
import { closeFd, mkdirat, O, openat } from '../../sys/openat2.js';
import { openInRoot, resolveInRoot, type RootDir } from '../../resolve-in-root.js';

/** How many times a target that vanishes between "create" and "open" is tried again. */
const ATTEMPTS = 8;

export type TargetKind = 'dir' | 'file';

function openIfExists(root: RootDir, containerPath: string, flags: number): number | undefined {
  try {
    return openInRoot(root, containerPath, flags);
  } catch (error) {
    if (error instanceof SysError && error.code === 'ENOENT') return undefined;
    if (error instanceof SysError && error.code === 'ENOTDIR') {
      throw new MiniboxError(`mount target ${containerPath}: a component of the path is not a directory in the container`);
    }
    throw error;
  }
}

/**
 * An O_PATH fd of `containerPath` inside `root`, made first if missing (parents as 0755
 * directories, the target as a directory or an empty file). The caller closes it.
 */
export function openMountTarget(root: RootDir, containerPath: string, kind: TargetKind): number {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const fd = openIfExists(root, containerPath, O.PATH);
    if (fd !== undefined) return checkedKind(fd, containerPath, kind);
    createMissing(root, containerPath, kind);
  }
  throw new MiniboxError(`mount target ${containerPath} is not there after ${ATTEMPTS} attempts to create it: `
    + 'a symlink on the way leads to a missing path, or another process keeps changing it');
}

function checkedKind(fd: number, containerPath: string, kind: TargetKind): number {
  const isDirectory = fs.fstatSync(fd).isDirectory();
  if (isDirectory === (kind === 'dir')) return fd;
  closeFd(fd);
  throw new MiniboxError(`mount target ${containerPath} is not a ${kind === 'dir' ? 'directory' : 'file'} in the container, `
    + `but the source is a ${kind === 'dir' ? 'directory' : 'file'}; choose another destination`);
}

/**
 * Opens the target (openMountTarget) and runs `mountOn` with its fd, closed afterwards. When the
 * mount fails with ENOENT, the name was unlinked after we opened it (a racer in a shared volume):
 * the kernel refuses to mount on a deleted dentry, and we open the target again, a bounded number
 * of times — as when the name is unlinked just after the mount (TargetRemoved).
 */
export function mountOnTarget(root: RootDir, containerPath: string, kind: TargetKind, mountOn: (fd: number) => void): void {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const fd = openMountTarget(root, containerPath, kind);
    try {
      mountOn(fd);
      return;
    } catch (error) {
      if (!(error instanceof TargetRemoved || (error instanceof SysError && error.code === 'ENOENT'))) throw error;
    } finally {
      closeFd(fd);
    }
  }
  throw new MiniboxError(`mount target ${containerPath} keeps changing: it was removed around the mount ${ATTEMPTS} times `
    + '(another process is changing it); try again');
}

/**
 * Creates what is missing of `containerPath`. Which names to create comes from the user-space walk
 * (a symlink in the image, `/evil -> /somewhere`, means creating /somewhere inside the root, as
 * runc's MkdirAllInRoot does); *where* each is created is always a parent fd from openat2, so
 * even if the walk's answer is stale by then, nothing is made outside the root. A parent that
 * vanished meanwhile ends this round: openMountTarget looks again.
 */
function createMissing(root: RootDir, containerPath: string, kind: TargetKind): void {
  let literal: string[];
  try {
    literal = path.relative(root.path, resolveInRoot(root.path, containerPath)).split(path.sep).filter((part) => part !== '');
  } catch (error) {
    // A symlink vanished or became a file between lstat and readlink: someone is changing the
    // path right now. Nothing was created; openMountTarget looks again.
    if (['ENOENT', 'EINVAL'].includes((error as NodeJS.ErrnoException).code ?? '')) return;
    throw error;
  }
  const parentPath = (index: number): string => `/${literal.slice(0, index).join('/')}`;
  let { index, parent } = deepestExistingParent(root, literal);
  for (; index < literal.length; index++) {
    parent ??= openIfExists(root, parentPath(index), O.PATH | O.DIRECTORY);
    if (parent === undefined) return;
    const name = literal[index] as string;
    const shown = `/${literal.slice(0, index + 1).join('/')}`;
    try {
      if (kind === 'dir' || index < literal.length - 1) mkdirat(parent, name, 0o755, shown);
      else closeFd(openat(parent, name, O.WRONLY | O.CREAT | O.EXCL | O.NOFOLLOW | O.CLOEXEC, 0o644, shown));
    } catch (error) {
      // EEXIST: there already, made meanwhile, or a symlink sits at the name — never followed here.
      if (!(error instanceof SysError && error.code === 'EEXIST')) throw error;
    } finally {
      closeFd(parent);
      parent = undefined;
    }
  }
}

/**
 * Where createMissing starts: the first missing name of `literal` and an fd of its parent, found
 * from the end. Usually only the last name is missing (`/dev/pts` on a fresh /dev): one openat2
 * of its parent, instead of an openat2, a mkdirat (EEXIST) and a close for every name above it
 * (~3 system calls and an exception per level, for each mount target). Only a starting point:
 * every name from there on is still created inside a parent fd that openat2 resolved.
 */
function deepestExistingParent(root: RootDir, literal: string[]): { index: number; parent?: number } {
  for (let index = literal.length - 1; index > 0; index--) {
    const parent = openIfExists(root, `/${literal.slice(0, index).join('/')}`, O.PATH | O.DIRECTORY);
    if (parent !== undefined) return { index, parent };
  }
  return { index: 0 };
}

/** mount(2) flags → mount_setattr(2) attributes (the bits that mean the same thing). */
export function attributesOf(flags: number): number {
  let attributes = 0;
  if (flags & MS.RDONLY) attributes |= MOUNT_ATTR.RDONLY;
  if (flags & MS.NOSUID) attributes |= MOUNT_ATTR.NOSUID;
  if (flags & MS.NODEV) attributes |= MOUNT_ATTR.NODEV;
  if (flags & MS.NOEXEC) attributes |= MOUNT_ATTR.NOEXEC;
  if (flags & MS.NOATIME) attributes |= MOUNT_ATTR.NOATIME;
  if (flags & MS.STRICTATIME) attributes |= MOUNT_ATTR.STRICTATIME;
  if (flags & MS.NODIRATIME) attributes |= MOUNT_ATTR.NODIRATIME;
  return attributes;
}

export interface BindRequest {
  /** A host path (trusted: given by the engine), or an fd already opened and checked. */
  source: string | number;
  /** The source and target as a reader knows them, for traces and errors. */
  shown: { source: string; target: string };
  targetFd: number;
  /** MS_* flags: RDONLY, NOSUID, NODEV, NOEXEC… applied to the whole tree when `recursive`. */
  flags: number;
  recursive: boolean;
  /** MS_PRIVATE, MS_SLAVE, MS_SHARED or MS_UNBINDABLE, or 0. */
  propagation?: number;
}

/** A bind mount by fds: clone the source tree, set its flags everywhere, attach it onto the target. */
export function bindOnto(request: BindRequest): void {
  const { source, shown, targetFd, flags, recursive, propagation = 0 } = request;
  const tree = typeof source === 'number'
    ? cloneMountTree(source, '', recursive, shown.source)
    : cloneMountTree(undefined, source, recursive, shown.source);
  try {
    const set = attributesOf(flags);
    // An access-time value (noatime, strictatime) replaces the whole atime field: clear it too,
    // or mount_setattr(2) fails with EINVAL.
    const clear = (set & MOUNT_ATTR_ATIME_MASK) !== 0 ? MOUNT_ATTR_ATIME_MASK : 0;
    if (set !== 0) setMountAttributes(tree, { set, clear }, recursive, shown.target);
    attachMountTree(tree, targetFd, shown);
    // Propagation once attached (the fd names the mount, now in our namespace): the kernel
    // refuses to make a detached tree shared (EINVAL).
    if (propagation !== 0) setPropagationOnceAttached(tree, propagation, recursive, shown.target);
  } finally {
    closeFd(tree);
  }
}

/**
 * A mount attached onto a name in a volume another container shares can be detached again at
 * once: unlinking a mount point from another mount namespace unmounts it. Its propagation then
 * cannot be set (EINVAL), and mountOnTarget tries again, as for a target removed before the mount.
 */
function setPropagationOnceAttached(tree: number, propagation: number, recursive: boolean, shownTarget: string): void {
  try {
    setMountAttributes(tree, { set: 0, propagation }, recursive, shownTarget);
  } catch (error) {
    if (error instanceof SysError && error.code === 'EINVAL') throw new TargetRemoved(shownTarget);
    throw error;
  }
}

/** The target was removed around the mount by another process; mountOnTarget opens it again. */
class TargetRemoved extends Error {}

/** A new file system (tmpfs, proc, devpts…) mounted onto the inode `targetFd` holds. */
export function mountOnto(targetFd: number, shownTarget: string, request: { source: string; fstype: string; flags: number; data?: string | null }): void {
  mount({ ...request, target: `/proc/self/fd/${targetFd}`, shownAs: shownTarget });
}

/** Changes the propagation of the mount now at `containerPath` (looked up again: it is a new mount). */
export function changePropagation(root: RootDir, containerPath: string, change: number): void {
  const fd = openInRoot(root, containerPath, O.PATH);
  try {
    setMountAttributes(fd, { set: 0, propagation: change & ~MS.REC }, (change & MS.REC) !== 0, containerPath);
  } finally {
    closeFd(fd);
  }
}
