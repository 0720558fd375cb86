/**
 * mount-fd.ts — the file-descriptor mount API (Linux 5.2+, mount_setattr 5.12): mounts as fds.
 *
 * mount(2) takes paths, and resolves them when it runs. The newer calls take fds instead:
 *   open_tree(2)     OPEN_TREE_CLONE makes a *detached* copy of a mount (a bind mount that is not
 *                    attached anywhere yet) and returns it as an fd; AT_RECURSIVE copies the
 *                    mounts below too (`mount --rbind`)
 *   mount_setattr(2) changes read-only/nodev/nosuid/noexec and propagation of a mount, and with
 *                    AT_RECURSIVE of *every* mount below it — the old MS_REMOUNT|MS_BIND changes
 *                    only the top one, so submounts of a `-v` directory kept `rw` and `dev`
 *   move_mount(2)    attaches the detached tree onto a target given as an fd (MOVE_MOUNT_T_EMPTY_PATH)
 * So a bind mount becomes: clone the source, set its flags while nobody can see it, attach it
 * onto the O_PATH fd of a target resolved inside the container's root (openat2.ts). No path is
 * looked up twice, and the flags are in place before the mount appears.
 *
 * Try: `mount --rbind /sys /mnt && mount -o remount,bind,ro /mnt && grep ' /mnt/'
 * /proc/self/mountinfo` → `rw` (the submounts stay writable; `mount --rbind -o ro` with util-linux
 * ≥ 2.39 uses mount_setattr).
 */
import { libc } from './libc.js';
import { flagNames, invoke } from './call.js';

/** mount_setattr(2) attribute bits (struct mount_attr .attr_set / .attr_clr). */
export const MOUNT_ATTR = { RDONLY: 0x1, NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8, NOATIME: 0x10, STRICTATIME: 0x20, NODIRATIME: 0x80 } as const;
/** The access-time bits form one field: set one value, clear the whole field. */
export const MOUNT_ATTR_ATIME_MASK = 0x70;

export const AT_EMPTY_PATH = 0x1000;
export const AT_RECURSIVE = 0x8000;
const AT_FDCWD = -100;
const OPEN_TREE_CLONE = 1;
const OPEN_TREE_CLOEXEC = 0o2000000;
const MOVE_MOUNT_F_EMPTY_PATH = 0x04;
const MOVE_MOUNT_T_EMPTY_PATH = 0x40;

const NR = {
  open_tree: { x64: 428, arm64: 428 }, move_mount: { x64: 429, arm64: 429 }, mount_setattr: { x64: 442, arm64: 442 },
} as const;
const attrNames = Object.fromEntries(Object.entries(MOUNT_ATTR).map(([k, v]) => [`MOUNT_ATTR_${k}`, v]));
const propagationNames: Record<number, string> = { [1 << 18]: 'MS_PRIVATE', [1 << 19]: 'MS_SLAVE', [1 << 20]: 'MS_SHARED', [1 << 17]: 'MS_UNBINDABLE' };

function nr(call: keyof typeof NR): number {
  const number = (NR[call] as Record<string, number>)[process.arch];
  if (number === undefined) throw new Error(`${call}: unsupported architecture ${process.arch}`);
  return number;
}

/**
 * open_tree(OPEN_TREE_CLONE): a detached copy of the mount at `path` (or at `fd` itself when
 * `path` is ''), with the mounts below it when `recursive`. `what` names it for errors and traces.
 */
export function cloneMountTree(fd: number | undefined, path: string, recursive: boolean, what: string): number {
  const flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0) | (path === '' ? AT_EMPTY_PATH : 0);
  return invoke('open_tree', { source: what, fd, recursive }, () => libc.syscall()(nr('open_tree'), 'int', fd ?? AT_FDCWD, 'str', path, 'unsigned int', flags), { what });
}

export interface MountAttributes {
  set: number;
  clear?: number;
  /** MS_PRIVATE, MS_SLAVE, MS_SHARED or MS_UNBINDABLE (the mount(2) values), or 0 to leave it. */
  propagation?: number;
}

/** mount_setattr(2) on the mount `fd` names, and on every mount below it when `recursive`. */
export function setMountAttributes(fd: number, attributes: MountAttributes, recursive: boolean, what: string): void {
  const attr = Buffer.alloc(32); // struct mount_attr { u64 attr_set, attr_clr, propagation, userns_fd; }
  attr.writeBigUInt64LE(BigInt(attributes.set), 0);
  attr.writeBigUInt64LE(BigInt(attributes.clear ?? 0), 8);
  attr.writeBigUInt64LE(BigInt(attributes.propagation ?? 0), 16);
  const flags = AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
  invoke('mount_setattr', {
    target: what, set: flagNames(attributes.set, attrNames), clear: flagNames(attributes.clear ?? 0, attrNames),
    ...(attributes.propagation ? { propagation: propagationNames[attributes.propagation] ?? attributes.propagation } : {}), recursive,
  }, () => libc.syscall()(nr('mount_setattr'), 'int', fd, 'str', '', 'unsigned int', flags, 'void *', attr, 'size_t', attr.length), { what });
}

/** move_mount(2): attaches the detached tree `treeFd` onto the file or directory `targetFd`. */
export function attachMountTree(treeFd: number, targetFd: number, what: { source: string; target: string }): void {
  invoke('move_mount', { source: what.source, target: what.target, targetFd },
    () => libc.syscall()(nr('move_mount'), 'int', treeFd, 'str', '', 'int', targetFd, 'str', '', 'unsigned int',
      MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH), { what: `${what.source} on ${what.target}` });
}
