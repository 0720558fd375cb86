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

type Koffi = typeof import('koffi');

// koffi is a CommonJS native module; createRequire loads it from an ES module.
const require = createRequire(import.meta.url);

let loadedKoffi: Koffi | undefined;
let glibc: ReturnType<Koffi['load']> | undefined;

/**
 * koffi, loaded on first use. Two start-up savings (issue #17), measured with
 * `node -e "t=process.hrtime.bigint(); require('koffi'); console.log(process.hrtime.bigint()-t)"`:
 *   - Lazily: a command that makes no kernel call through FFI (`minibox images`, `--help`, `ps`
 *     with no container to lock) never loads it, and importing a src/sys module costs nothing.
 *   - The prebuilt addon directly (~3 ms instead of ~12 ms). koffi's index.js only picks the
 *     `build/koffi/<platform>_<arch>/koffi.node` for this machine and checks its version, but the
 *     same file also holds koffi's installer, which requires https, zlib and crypto on load —
 *     ~9 ms of Node builtins that minibox never uses. The addon *is* koffi's API (index.js adds
 *     two deprecated aliases). Where the guess does not fit — musl, 32-bit ARM's `armhf`, a
 *     version mismatch — the full index.js loads as before and does its own detection.
 */
export function koffi(): Koffi {
  if (loadedKoffi) return loadedKoffi;
  try {
    const addon = require(`koffi/build/koffi/${process.platform}_${process.arch}/koffi.node`) as Koffi & { version?: string };
    if (addon.version === (require('koffi/package.json') as { version: string }).version) return (loadedKoffi = addon);
  } catch { /* not a prebuilt this platform has: koffi's own loader below finds the right one */ }
  return (loadedKoffi = require('koffi') as Koffi);
}

/** The errno left by the last libc call on this thread. Read it right after the call. */
export function lastErrno(): number {
  return koffi().errno();
}

/** Declares a libc function from its C prototype, once, on first use (loading glibc then). */
function declare<F extends (...args: any[]) => any>(prototype: string): () => F {
  let fn: F | undefined;
  return () => (fn ??= (glibc ??= koffi().load('libc.so.6')).func(prototype) as unknown as F);
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

