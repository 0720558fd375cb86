/**
 * pty.ts — pseudo-terminals: the ioctl(2) calls behind `docker run -t`.
 *
 * A pty is a pair: the *master* side is held by the terminal emulator (here: minibox's engine,
 * copying bytes to and from your real terminal) and the *slave* side, /dev/pts/N, looks like a
 * real terminal to the program (isatty() is true, Ctrl-C becomes SIGINT, `stty size` works).
 *
 * Opening /dev/pts/ptmx (the "multiplexer") creates a new pair in that devpts instance:
 *   TIOCSPTLCK 0  unlock the slave so it can be opened
 *   TIOCGPTN      ask which N the slave got
 *   TIOCSWINSZ    tell the slave the window size (the program gets SIGWINCH)
 *   TIOCSCTTY     make the slave the controlling terminal of the caller's (new) session
 *
 * Try: `minibox run --rm -t busybox ls /dev/pts` → `0 … ptmx` (the container's own devpts: only its
 * terminal).
 */
import { libcFunction } from './libc.js';
import { invoke } from './call.js';

const ioctlPointer = libcFunction<(fd: number, request: number, arg: Buffer) => number>(
  'int ioctl(int fd, unsigned long request, void *arg)');
const ioctlInteger = libcFunction<(fd: number, request: number, arg: number) => number>(
  'int ioctl(int fd, unsigned long request, unsigned long arg)');

const TIOCSCTTY = 0x540e;
const TIOCSWINSZ = 0x5414;
const TIOCGPTN = 0x80045430;
const TIOCSPTLCK = 0x40045431;

export function declarePtyCalls(): void {
  ioctlPointer();
  ioctlInteger();
}

/** Unlocks the slave side of the pty whose master is `masterFd`. */
export function unlockPty(masterFd: number): void {
  const zero = Buffer.alloc(4);
  invoke('ioctl', { fd: masterFd, request: 'TIOCSPTLCK', value: 0 }, () => ioctlPointer()(masterFd, TIOCSPTLCK, zero));
}

/** The number N of the slave /dev/pts/N that belongs to `masterFd`. */
export function ptyNumber(masterFd: number): number {
  const out = Buffer.alloc(4);
  invoke('ioctl', { fd: masterFd, request: 'TIOCGPTN' }, () => ioctlPointer()(masterFd, TIOCGPTN, out));
  return out.readUInt32LE(0);
}

/** Sets the window size (struct winsize: rows, cols, xpixel, ypixel as unsigned shorts). */
export function setWindowSize(fd: number, rows: number, columns: number): void {
  const winsize = Buffer.alloc(8);
  winsize.writeUInt16LE(rows, 0);
  winsize.writeUInt16LE(columns, 2);
  invoke('ioctl', { fd, request: 'TIOCSWINSZ', rows, columns }, () => ioctlPointer()(fd, TIOCSWINSZ, winsize));
}

/** Makes the terminal open on `fd` the controlling terminal of the caller's session. */
export function setControllingTerminal(fd: number): void {
  invoke('ioctl', { fd, request: 'TIOCSCTTY' }, () => ioctlInteger()(fd, TIOCSCTTY, 0));
}
