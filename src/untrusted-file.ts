/**
 * untrusted-file.ts — reading a file that a container can write, without letting it stall or
 * starve the engine.
 *
 * The engine (root, on the host) reads a few files that a container controls: the hosts file of
 * a user network (bind-mounted read-write as the container's /etc/hosts, rewritten by the engine
 * whenever a member joins or leaves) and, for `exec -u NAME`, the running container's
 * /etc/passwd and /etc/group. A plain readFileSync trusts them twice: a 20 GB file is read into
 * memory whole (the engine dies, or the host swaps), and a FIFO made in its place blocks the
 * engine forever in open(2) or read(2). So such files are opened with O_NONBLOCK (a FIFO open
 * never waits) and O_NOFOLLOW, must be regular files (fstat), and are read up to a limit: a file
 * larger than the limit is refused rather than truncated, so nothing half-read is ever parsed.
 *
 * Try: `minibox run -d --name uf busybox sleep 60 >/dev/null && minibox exec uf sh -c 'rm
 * /etc/passwd; mkfifo /etc/passwd' && minibox exec -u app uf true` → `cannot read /etc/passwd of
 * the container: not a regular file` (one line, instead of a command that hangs).
 */
import fs from 'node:fs';
import { MiniboxError } from './errors.js';

/** Big enough for any real hosts file; a user network rewrites it on every join and leave. */
export const HOSTS_FILE_LIMIT = 1024 * 1024;
/** Big enough for a passwd or group file with tens of thousands of users. */
export const ACCOUNTS_FILE_LIMIT = 4 * 1024 * 1024;

/**
 * The text of `file`, at most `limit` bytes; undefined when there is no such file. Throws a
 * one-line MiniboxError naming `what` for anything but a regular file, or one over the limit.
 */
export function readUntrustedFile(file: string, limit: number, what: string = file): string | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOFOLLOW); // Node adds O_CLOEXEC
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new MiniboxError(`cannot read ${what}: ${code === 'ELOOP' ? 'it is a symbolic link' : code ?? 'error'}`);
  }
  try {
    return readUntrustedFd(fd, limit, what);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The same for an fd the caller opened (with O_NONBLOCK, e.g. through openInRoot) and closes:
 * a regular file of at most `limit` bytes, or a one-line MiniboxError naming `what`.
 */
export function readUntrustedFd(fd: number, limit: number, what: string): string {
  if (!fs.fstatSync(fd).isFile()) throw new MiniboxError(`cannot read ${what}: not a regular file`);
  // Read until end of file, never trusting st_size (the file may grow while it is read).
  const chunks: Buffer[] = [];
  let used = 0;
  for (;;) {
    const chunk = Buffer.alloc(Math.min(64 * 1024, limit + 1 - used));
    const count = fs.readSync(fd, chunk, 0, chunk.length, null);
    if (count === 0) break;
    chunks.push(chunk.subarray(0, count));
    used += count;
    if (used > limit) throw new MiniboxError(`cannot read ${what}: larger than ${limit} bytes`);
  }
  return Buffer.concat(chunks).toString('utf8');
}
