/**
 * openat2.ts — opening a path *relative to a directory file descriptor*, and the `*at` calls that
 * create names inside a directory we hold open.
 *
 * A path string is re-read by the kernel every time it is used: `stat(p)` then `mount(…, p)` may
 * reach two different files if someone renames a symlink into `p` in between. A file descriptor
 * does not move. openat2(2) (Linux 5.6) resolves a path starting at a directory fd, and its
 * `resolve` flags constrain the walk:
 *   RESOLVE_IN_ROOT       the fd is `/` for this lookup: `..` stops there and an absolute symlink
 *                         restarts there — like chroot, atomically, in the kernel
 *   RESOLVE_NO_MAGICLINKS refuse /proc/PID/fd/N-style "magic" links, which jump anywhere
 * With O_PATH the result is a handle to *that* inode (no read or write), good for fstat(2),
 * as the directory of mkdirat(2)/openat(2)/mknodat(2), or as a mount target via /proc/self/fd/N.
 * openat(O_CREAT|O_EXCL|O_NOFOLLOW) and mkdirat(2) create a name in a held directory or fail:
 * they never follow a symlink someone else put at the name.
 *
 * Try: `mkdir r && ln -s /etc r/evil`, then `openat2(fd of r, "evil/passwd", RESOLVE_IN_ROOT)` →
 * `ENOENT` (it looked in r/etc, never the host's /etc).
 */
import { libc, libcFunction } from './libc.js';
import { flagNames, invoke } from './call.js';
import { makedev, S_IFBLK, S_IFCHR, S_IFIFO, type NodeKind } from './fs.js';

/** open(2) flags that Node's fs.constants lacks or that these calls need. */
export const O = {
  RDONLY: 0, WRONLY: 0o1, RDWR: 0o2, CREAT: 0o100, EXCL: 0o200, NOCTTY: 0o400, TRUNC: 0o1000,
  DIRECTORY: 0o200000, NOFOLLOW: 0o400000, CLOEXEC: 0o2000000, PATH: 0o10000000,
} as const;

/** openat2(2) `resolve` flags. */
export const RESOLVE = { NO_XDEV: 0x01, NO_MAGICLINKS: 0x02, NO_SYMLINKS: 0x04, BENEATH: 0x08, IN_ROOT: 0x10 } as const;

export const AT_FDCWD = -100;
const AT_REMOVEDIR = 0x200;

const SYS_openat2: Record<string, number> = { x64: 437, arm64: 437 };
const oNames = Object.fromEntries(Object.entries(O).filter(([, v]) => v !== 0).map(([k, v]) => [`O_${k}`, v]));
const resolveNames = Object.fromEntries(Object.entries(RESOLVE).map(([k, v]) => [`RESOLVE_${k}`, v]));

const fns = {
  openat: libcFunction<(dirfd: number, path: string, flags: number, mode: number) => number>(
    'int openat(int dirfd, const char *path, int flags, uint32_t mode)'),
  mkdirat: libcFunction<(dirfd: number, path: string, mode: number) => number>('int mkdirat(int dirfd, const char *path, uint32_t mode)'),
  mknodat: libcFunction<(dirfd: number, path: string, mode: number, dev: bigint) => number>(
    'int mknodat(int dirfd, const char *path, uint32_t mode, uint64_t dev)'),
  symlinkat: libcFunction<(target: string, dirfd: number, path: string) => number>(
    'int symlinkat(const char *target, int dirfd, const char *path)'),
  unlinkat: libcFunction<(dirfd: number, path: string, flags: number) => number>('int unlinkat(int dirfd, const char *path, int flags)'),
  close: libcFunction<(fd: number) => number>('int close(int fd)'),
  fchownat: libcFunction<(dirfd: number, path: string, uid: number, gid: number, flags: number) => number>(
    'int fchownat(int dirfd, const char *path, uint32_t uid, uint32_t gid, int flags)'),
};

const AT_SYMLINK_NOFOLLOW = 0x100;

/**
 * openat2(2): opens `path` relative to `dirfd` under the `resolve` rules. `what` names the file
 * for errors (e.g. the container path). Throws SysError (ENOSYS on kernels before 5.6).
 */
export function openat2(dirfd: number, path: string, flags: number, resolve: number, what = path): number {
  const nr = SYS_openat2[process.arch];
  if (nr === undefined) throw new Error(`openat2: unsupported architecture ${process.arch}`);
  const how = Buffer.alloc(24); // struct open_how { u64 flags; u64 mode; u64 resolve; }
  how.writeBigUInt64LE(BigInt(flags), 0);
  how.writeBigUInt64LE(BigInt(resolve), 16);
  return invoke('openat2', { dirfd, path, flags: flagNames(flags, oNames), resolve: flagNames(resolve, resolveNames) },
    () => libc.syscall()(nr, 'int', dirfd, 'str', path, 'void *', how, 'size_t', how.length), { what });
}

/** openat(2). With O_CREAT|O_EXCL|O_NOFOLLOW it creates `name` in `dirfd` or fails (EEXIST). */
export function openat(dirfd: number, path: string, flags: number, mode = 0, what = path): number {
  return invoke('openat', { dirfd, path, flags: flagNames(flags, oNames), mode: mode.toString(8) },
    () => fns.openat()(dirfd, path, flags, mode), { what });
}

/** mkdirat(2): makes directory `name` inside `dirfd` (never following a symlink at `name`). */
export function mkdirat(dirfd: number, name: string, mode: number, what = name): void {
  invoke('mkdirat', { dirfd, name, mode: mode.toString(8) }, () => fns.mkdirat()(dirfd, name, mode), { what });
}

/** mknodat(2): a device node or fifo named `name` inside `dirfd`. */
export function mknodat(dirfd: number, name: string, kind: NodeKind, mode: number, major = 0, minor = 0, what = name): void {
  const type = kind === 'char' ? S_IFCHR : kind === 'block' ? S_IFBLK : S_IFIFO;
  invoke('mknod', { path: what, kind, mode: mode.toString(8), major, minor },
    () => fns.mknodat()(dirfd, name, type | (mode & 0o7777), makedev(major, minor)), { what });
}

/** fchownat(2) of `name` inside `dirfd`, never following a symlink at `name`. */
export function fchownat(dirfd: number, name: string, uid: number, gid: number, what = name): void {
  invoke('fchownat', { dirfd, name, uid, gid, flags: 'AT_SYMLINK_NOFOLLOW' },
    () => fns.fchownat()(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW), { what });
}

/** symlinkat(2): a symlink `name` inside `dirfd` holding `target` (stored as text, not followed). */
export function symlinkat(target: string, dirfd: number, name: string, what = name): void {
  invoke('symlinkat', { target, dirfd, name }, () => fns.symlinkat()(target, dirfd, name), { what });
}

/** unlinkat(2) of `name` inside `dirfd`; a missing name is fine. */
export function unlinkatIfExists(dirfd: number, name: string, what = name): void {
  try {
    invoke('unlinkat', { dirfd, name }, () => fns.unlinkat()(dirfd, name, 0), { what });
  } catch (error) {
    if ((error as { code?: string }).code === 'EISDIR') {
      invoke('unlinkat', { dirfd, name, flags: 'AT_REMOVEDIR' }, () => fns.unlinkat()(dirfd, name, AT_REMOVEDIR), { what });
    } else if ((error as { code?: string }).code !== 'ENOENT') throw error;
  }
}

/** close(2) of an fd opened here (traced like the open, so `--trace` pairs them). */
export function closeFd(fd: number): void {
  invoke('close', { fd }, () => fns.close()(fd));
}

/** Declares the functions used here before pivot_root takes the host's disk away. */
export function declareOpenat2Calls(): void {
  libc.syscall();
  for (const declare of Object.values(fns)) declare();
}
