/**
 * mount.ts — mount(2) and umount2(2).
 *
 * A mount attaches a file system (a disk, a tmpfs in memory, an overlay of directories, procfs…)
 * at a directory. Each mount namespace has its own table of mounts, which is how a container gets
 * its own `/` without touching the host's. Flags change how a mount behaves: MS_BIND makes a
 * directory appear in a second place, MS_RDONLY forbids writes, MS_PRIVATE stops mount events
 * from propagating between namespaces, MS_REC applies a change to every mount below.
 *
 * Try: `minibox image mount busybox >/dev/null && findmnt -n -t overlay -o FSTYPE | head -1` →
 * `overlay`
 */
import { libc } from './libc.js';
import { flagNames, invoke } from './call.js';

/** Mount flags from <sys/mount.h>. */
export const MS = {
  RDONLY: 1,
  NOSUID: 2,
  NODEV: 4,
  NOEXEC: 8,
  SYNCHRONOUS: 16,
  REMOUNT: 32,
  MANDLOCK: 64,
  DIRSYNC: 128,
  NOATIME: 1024,
  NODIRATIME: 2048,
  BIND: 4096,
  MOVE: 8192,
  REC: 16384,
  SILENT: 32768,
  UNBINDABLE: 1 << 17,
  PRIVATE: 1 << 18,
  SLAVE: 1 << 19,
  SHARED: 1 << 20,
  RELATIME: 1 << 21,
  STRICTATIME: 1 << 24,
} as const;

/** umount2(2) flags. */
export const MNT = {
  FORCE: 1,
  DETACH: 2,
  EXPIRE: 4,
} as const;

const msNames = Object.fromEntries(Object.entries(MS).map(([k, v]) => [`MS_${k}`, v]));
const mntNames = Object.fromEntries(Object.entries(MNT).map(([k, v]) => [`MNT_${k}`, v]));

export interface MountRequest {
  source: string | null;
  target: string;
  fstype: string | null;
  flags?: number;
  data?: string | null;
  /**
   * What `target` names for a reader when it is `/proc/self/fd/N` (a mount onto an fd held by
   * the caller — runtime/rootfs/mount-target.ts): traced and used in errors.
   */
  shownAs?: string;
}

/** mount(2). Throws a SysError naming the file-system type and target on failure. */
export function mount({ source, target, fstype, flags = 0, data = null, shownAs }: MountRequest): void {
  const what = `${fstype ?? (flags & MS.BIND ? 'bind' : 'change')} on ${shownAs ?? target}`;
  invoke('mount', { source, target, fstype, flags: flagNames(flags, msNames), data, ...(shownAs ? { shownAs } : {}) },
    () => libc.mount()(source, target, fstype, flags, data), {
      what,
      hint: (code) => (code === 'EINVAL' && fstype === 'overlay'
        ? 'check that the lower, upper and work dirs exist and that upper and work are on the same non-overlay file system'
        : code === 'ENODEV' ? `the kernel does not support the ${fstype} file system (is its module loaded?)` : undefined),
    });
}

/** umount2(2). MNT_DETACH detaches now and frees the mount when it is no longer busy. */
export function umount(target: string, flags = 0): void {
  invoke('umount2', { target, flags: flagNames(flags, mntNames) }, () => libc.umount2()(target, flags), { what: target });
}
