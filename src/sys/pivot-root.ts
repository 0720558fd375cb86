/**
 * pivot-root.ts — pivot_root(2), the call that gives a mount namespace a new `/`.
 *
 * pivot_root(new_root, put_old) makes `new_root` the root mount of the calling process's mount
 * namespace and moves the old root to `put_old`. Unlike chroot(2), which only changes where one
 * process starts resolving paths (and can be escaped), the host's root is really moved away: once
 * it is unmounted, no path inside the container leads back to the host's files.
 *
 * The runc/crun trick: `chdir(new_root); pivot_root(".", ".")` stacks the old root *on top of*
 * the new one at the same place; `umount2(".", MNT_DETACH)` then peels it off, leaving the image
 * as `/` — no put_old directory needed inside the image.
 *
 * glibc has no wrapper, so we use syscall(2) with the x86_64/arm64 call number.
 *
 * Try: `mkdir r && cp -a $(minibox image mount busybox)/. r && minibox image unmount busybox
 * >/dev/null && unshare -m sh -c 'mount --bind r r && cd r && pivot_root . . && exec /bin/busybox
 * sh -c "umount -l . && ls /"'` → `bin … etc … proc` (after pivot_root only the image's own
 * programs are left to run).
 */
import { libc, libcFunction } from './libc.js';
import { invoke } from './call.js';

const chrootFn = libcFunction<(path: string) => number>('int chroot(const char *path)');
const fchdirFn = libcFunction<(fd: number) => number>('int fchdir(int fd)');

const SYS_pivot_root: Record<string, number> = { x64: 155, arm64: 41 };

/** pivot_root(2). Both paths are resolved against the caller's current directory and root. */
export function pivotRoot(newRoot: string, putOld: string): void {
  const nr = SYS_pivot_root[process.arch];
  if (nr === undefined) throw new Error(`pivot_root: unsupported architecture ${process.arch}`);
  invoke('pivot_root', { newRoot, putOld }, () => libc.syscall()(nr, 'str', newRoot, 'str', putOld), {
    what: newRoot,
    hint: (code) => (code === 'EINVAL'
      ? 'new_root must be a mount point, and neither it nor its parent mount may be shared (make / rprivate first)'
      : undefined),
  });
}

/**
 * chroot(2): only where this process starts resolving paths. Used where pivot_root cannot be:
 * without a mount namespace of the container's own, and for `--no-pivot` (after MS_MOVE).
 */
export function chroot(newRoot: string): void {
  invoke('chroot', { path: newRoot }, () => chrootFn()(newRoot), { what: newRoot });
}

/** fchdir(2) + chroot("."): the root becomes the directory `dirFd` holds (a root seen through /proc/PID/root). */
export function chrootToFd(dirFd: number, shown: string): void {
  invoke('fchdir', { fd: dirFd }, () => fchdirFn()(dirFd), { what: shown });
  chroot('.');
}

/** Declares the functions used here before pivot_root takes the host's disk away. */
export function declarePivotRootCalls(): void {
  libc.syscall();
  libc.umount2();
  libc.mount();
  libc.mknod();
  libc.sethostname();
  chrootFn();
  fchdirFn();
}
