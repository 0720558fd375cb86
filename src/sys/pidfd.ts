/**
 * pidfd.ts — waiting for a process that is not our child to end, without polling its pid.
 *
 * Only a parent can wait(2) for a process. `rm -f` and `stop` are not the container's parent
 * (its monitor is), so they used to look at /proc/PID/stat every 20 ms: each kill cost up to one
 * sleep too many. pidfd_open(2) (Linux 5.3) gives a file descriptor that names one process —
 * not a number that may be recycled — and poll(2) reports it readable (POLLIN) the moment that
 * process exits, zombie or reaped, whoever its parent is. So the waiter sleeps in the kernel and
 * wakes at the exit.
 *
 * Node's event loop cannot watch such an fd (libuv knows sockets, pipes and files), so the wait
 * is a synchronous poll(2) in short slices: the caller yields to the event loop between slices
 * (lifecycle/process-exit.ts), and a slice ends at once when the process exits.
 *
 * Try: `minibox run -d --name pfd busybox sleep 60 >/dev/null && strace -f -e trace=pidfd_open minibox
 * rm -f pfd 2>&1 | grep -o 'pidfd_open' | head -1` → `pidfd_open`
 */
import { lastErrno, libc, libcFunction } from './libc.js';
import { invoke } from './call.js';
import { SysError } from './errno.js';

const PIDFD_OPEN = 434; // the same number on every architecture (a syscall newer than the split tables)
const POLLIN = 0x1;
const ESRCH = 3;

const pollFn = libcFunction<(fds: Buffer, count: number, timeoutMs: number) => number>('int poll(void *fds, unsigned long nfds, int timeout)');
const closeFn = libcFunction<(fd: number) => number>('int close(int fd)');

/** pidfd_open(2): an fd naming process `pid`; undefined when no such process exists (ESRCH). */
export function openPidfd(pid: number): number | undefined {
  try {
    return invoke('pidfd_open', { pid }, () => libc.syscall()(PIDFD_OPEN, 'int', pid, 'unsigned int', 0), { what: `pid ${pid}` });
  } catch (error) {
    if (error instanceof SysError && error.errno === ESRCH) return undefined;
    throw error;
  }
}

/** poll(2) on a pidfd for up to `timeoutMs`: true once the process has exited. */
export function pollPidfd(fd: number, timeoutMs: number): boolean {
  const pollfd = Buffer.alloc(8); // struct pollfd { int fd; short events; short revents; }
  pollfd.writeInt32LE(fd, 0);
  pollfd.writeInt16LE(POLLIN, 4);
  const ready = invoke('poll', { fd, events: 'POLLIN', timeoutMs }, () => {
    const result = pollFn()(pollfd, 1, Math.max(0, Math.floor(timeoutMs)));
    return result < 0 && lastErrno() === 4 ? 0 : result; // EINTR: a signal came; the caller asks again
  });
  return ready > 0 && (pollfd.readInt16LE(6) & POLLIN) !== 0;
}

export function closePidfd(fd: number): void {
  invoke('close', { fd }, () => closeFn()(fd));
}
