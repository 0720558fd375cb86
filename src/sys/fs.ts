/**
 * fs.ts — the file-system calls Node's `fs` module does not have: mknod(2) for device nodes and
 * fifos, the extended-attribute calls (setxattr(2) family), and pipe2(2) — Node's own "pipes"
 * for child processes are socket pairs, which a program cannot reopen as /dev/stdout.
 *
 * Both matter for image layers: a layer may ship `/dev/null`-style device nodes and fifos, file
 * capabilities live in the `security.capability` xattr, and overlayfs marks an opaque directory
 * with the `trusted.overlay.opaque` xattr and a deleted file with a 0/0 character device
 * (a "whiteout"). The `l` variants act on a symlink itself, never on what it points to.
 *
 * Try: `minibox run --rm busybox ls -l /dev/null` → `crw-rw-rw-` (a character device: a node made
 * by mknod(2), or a bind of the host's).
 */
import { libc, libcFunction } from './libc.js';
import { invoke } from './call.js';
import { SysError } from './errno.js';

export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;

/** makedev(3): the kernel's encoding of a (major, minor) device number. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

export type NodeKind = 'char' | 'block' | 'fifo';

/** Creates a device node or fifo at `path` (mknod(2)). `mode` holds the permission bits. */
export function mknod(path: string, kind: NodeKind, mode: number, major = 0, minor = 0): void {
  const type = kind === 'char' ? S_IFCHR : kind === 'block' ? S_IFBLK : S_IFIFO;
  invoke('mknod', { path, kind, mode: mode.toString(8), major, minor },
    () => libc.mknod()(path, type | (mode & 0o7777), makedev(major, minor)), { what: path });
}

/** Sets an extended attribute on `path` itself (never following a symlink). */
export function lsetxattr(path: string, name: string, value: Buffer): void {
  invoke('lsetxattr', { path, name, bytes: value.length },
    () => libc.lsetxattr()(path, name, value, value.length, 0), { what: `${name} on ${path}` });
}

/** Reads an extended attribute, or `undefined` when it is not set. */
export function lgetxattr(path: string, name: string): Buffer | undefined {
  try {
    const size = invoke('lgetxattr', { path, name }, () => libc.lgetxattr()(path, name, null, 0), { what: `${name} on ${path}` });
    const buffer = Buffer.alloc(size);
    const got = invoke('lgetxattr', { path, name }, () => libc.lgetxattr()(path, name, buffer, size), { what: `${name} on ${path}` });
    return buffer.subarray(0, got);
  } catch (error) {
    if (error instanceof SysError && (error.code === 'ENODATA' || error.code === 'ENOTSUP' || error.code === 'EOPNOTSUPP')) return undefined;
    throw error;
  }
}

/** Lists the names of the extended attributes set on `path` itself. */
export function llistxattr(path: string): string[] {
  try {
    const size = invoke('llistxattr', { path }, () => libc.llistxattr()(path, null, 0), { what: path });
    if (size === 0) return [];
    const buffer = Buffer.alloc(size);
    const got = invoke('llistxattr', { path }, () => libc.llistxattr()(path, buffer, size), { what: path });
    return buffer.subarray(0, got).toString('latin1').split('\0').filter((name) => name.length > 0);
  } catch (error) {
    if (error instanceof SysError && (error.code === 'ENOTSUP' || error.code === 'EOPNOTSUPP')) return [];
    throw error;
  }
}

const pipe2Fn = libcFunction<(fds: Buffer, flags: number) => number>('int pipe2(void *pipefd, int flags)');
const O_CLOEXEC = 0o2000000;

/** pipe2(2) with O_CLOEXEC: a kernel pipe as [read end, write end]. */
export function pipe(): [number, number] {
  const fds = Buffer.alloc(8);
  invoke('pipe2', { flags: 'O_CLOEXEC' }, () => pipe2Fn()(fds, O_CLOEXEC));
  return [fds.readInt32LE(0), fds.readInt32LE(4)];
}
