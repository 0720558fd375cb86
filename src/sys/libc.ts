/**
 * libc.ts — the one place minibox touches koffi.
 *
 * Node's standard library covers files, sockets and child processes, but not the kernel calls a
 * container runtime is made of: mount(2), unshare(2), setns(2), pivot_root(2), mknod(2),
 * setxattr(2), capset(2), execve(2)… koffi lets JavaScript call C functions in a shared library;
 * here we load glibc and declare the functions with their C signatures.
 *
 * Nothing outside `src/sys/` imports this file. Other modules call the typed wrappers next to it
 * (`mount.ts`, `namespaces.ts`, `fs.ts`, …), which go through `invoke()` in `call.ts` so that
 * every kernel call is checked for errors and can be traced and explained.
 *
 * Try: `ldd $(command -v node) | grep -o 'libc.so.6' | head -1` → `libc.so.6` (the C library koffi
 * loads, the one Node itself uses).
 */
import { createRequire } from 'node:module';

// koffi is a CommonJS native module; createRequire loads it from an ES module.
const require = createRequire(import.meta.url);
const koffi = require('koffi') as typeof import('koffi');

const lib = koffi.load('libc.so.6');

/** The errno left by the last libc call on this thread. Read it right after the call. */
export function lastErrno(): number {
  return koffi.errno();
}

/** Declares a libc function from its C prototype, once, on first use. */
function declare<F extends (...args: any[]) => any>(prototype: string): () => F {
  let fn: F | undefined;
  return () => (fn ??= lib.func(prototype) as unknown as F);
}

/** Raw libc functions. Each returns what C returns (usually -1 on error, errno set). */
export const libc = {
  mount: declare<(src: string | null, target: string, fstype: string | null, flags: number, data: string | null) => number>(
    'int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)'),
  umount2: declare<(target: string, flags: number) => number>('int umount2(const char *target, int flags)'),
  unshare: declare<(flags: number) => number>('int unshare(int flags)'),
  setns: declare<(fd: number, nstype: number) => number>('int setns(int fd, int nstype)'),
  sethostname: declare<(name: string, len: number) => number>('int sethostname(const char *name, size_t len)'),
  mknod: declare<(path: string, mode: number, dev: bigint | number) => number>(
    'int mknod(const char *path, uint32_t mode, uint64_t dev)'),
  lsetxattr: declare<(path: string, name: string, value: Buffer, size: number, flags: number) => number>(
    'int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)'),
  lgetxattr: declare<(path: string, name: string, value: Buffer | null, size: number) => number>(
    'long lgetxattr(const char *path, const char *name, _Out_ void *value, size_t size)'),
  llistxattr: declare<(path: string, list: Buffer | null, size: number) => number>(
    'long llistxattr(const char *path, _Out_ char *list, size_t size)'),
  /** syscall(2) for calls glibc does not wrap (pivot_root). Variadic: pass types. */
  syscall: declare<(nr: number, ...typedArgs: unknown[]) => number>('long syscall(long number, ...)'),
};

/** Declares an extra libc function (for `src/sys` modules that need one not listed above). */
export function libcFunction<F extends (...args: any[]) => any>(prototype: string): () => F {
  return declare<F>(prototype);
}

/** Pointer helpers for the few calls that take C structs (capset, ioctl). */
export { koffi };
