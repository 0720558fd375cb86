/**
 * errno.ts — a failed kernel call becomes a `SysError` that names the call, the errno and the
 * path or object involved, e.g. `mount overlay on /var/lib/minibox/…/rootfs: EINVAL (Invalid argument)`.
 *
 * The kernel reports failure as a small integer (errno). Node already knows the names
 * (`os.constants.errno`); we keep both the name (EPERM) and the human text.
 *
 * Try: `node -e "require('fs').rmdirSync('/')"` → `EBUSY: resource busy or locked` (an errno's name
 * and its strerror text, as a SysError says both).
 */
import os from 'node:os';

const errnoNames = new Map<number, string>(
  Object.entries(os.constants.errno).map(([name, value]) => [value, name]),
);

/** `1` → `EPERM`. */
export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `errno ${errno}`;
}

/** Human text for an errno, as strerror(3) would say it. */
export function errnoText(errno: number): string {
  return errnoName(errno) !== `errno ${errno}`
    ? describe(errnoName(errno))
    : `unknown error ${errno}`;
}

function describe(name: string): string {
  // util.getSystemErrorMessage exists only from Node 22; keep a short table for what we meet.
  const text: Record<string, string> = {
    EPERM: 'Operation not permitted', ENOENT: 'No such file or directory', EINTR: 'Interrupted system call',
    EIO: 'Input/output error', EBADF: 'Bad file descriptor', EAGAIN: 'Resource temporarily unavailable',
    ENOMEM: 'Cannot allocate memory', EACCES: 'Permission denied', EFAULT: 'Bad address',
    EBUSY: 'Device or resource busy', EEXIST: 'File exists', EXDEV: 'Invalid cross-device link',
    ENODEV: 'No such device', ENOTDIR: 'Not a directory', EISDIR: 'Is a directory',
    EINVAL: 'Invalid argument', ENOSPC: 'No space left on device', EROFS: 'Read-only file system',
    ENOSYS: 'Function not implemented', ENOTEMPTY: 'Directory not empty', ELOOP: 'Too many levels of symbolic links',
    ENOTSUP: 'Operation not supported', EOPNOTSUPP: 'Operation not supported', ENAMETOOLONG: 'File name too long',
    ENODATA: 'No data available', ESRCH: 'No such process', ECHILD: 'No child processes',
    E2BIG: 'Argument list too long', ENOEXEC: 'Exec format error', ETXTBSY: 'Text file busy',
    ERANGE: 'Numerical result out of range', EUSERS: 'Too many users',
  };
  return text[name] ?? name;
}

/** A kernel call that failed. `call` is the syscall name, `what` says what it was applied to. */
export class SysError extends Error {
  readonly call: string;
  readonly errno: number;
  readonly code: string;
  readonly what: string | undefined;

  constructor(call: string, errno: number, what?: string, hint?: string) {
    const code = errnoName(errno);
    super(`${call}${what ? ` ${what}` : ''}: ${code} (${errnoText(errno)})${hint ? ` — ${hint}` : ''}`);
    this.name = 'SysError';
    this.call = call;
    this.errno = errno;
    this.code = code;
    this.what = what;
  }
}
