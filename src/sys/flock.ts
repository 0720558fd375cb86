/**
 * flock.ts — advisory file locks (flock(2)) shared between minibox processes.
 *
 * Two `minibox pull` commands in two terminals must not write the same blob or image record at
 * once. A flock is held by an open file and released by the kernel when the holder exits — even
 * on kill -9 — so a crashed minibox never leaves a stale lock behind.
 *
 * flock(2) with LOCK_EX blocks the calling thread; Node runs JavaScript on one thread, so we ask
 * with LOCK_NB (never block) and retry on a timer, keeping the event loop free.
 *
 * Try: `minibox pull -q $IMAGE & minibox pull -q $IMAGE; wait` → `$IMAGE … $IMAGE` (two pulls at
 * once: one waits on the other's lock, neither downloads twice).
 */
import { libcFunction } from './libc.js';
import { invoke } from './call.js';
import { SysError } from './errno.js';

const flockFn = libcFunction<(fd: number, operation: number) => number>('int flock(int fd, int operation)');

export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;

/**
 * Tries to take a lock on `fd` without waiting: `exclusive` (one holder) or shared (many
 * holders, none exclusive). Returns false if another process holds a conflicting lock.
 */
export function tryLock(fd: number, exclusive: boolean, what: string): boolean {
  const mode = exclusive ? LOCK_EX : LOCK_SH;
  try {
    invoke('flock', { fd, operation: `${exclusive ? 'LOCK_EX' : 'LOCK_SH'}|LOCK_NB`, what }, () => flockFn()(fd, mode | LOCK_NB), { what });
    return true;
  } catch (error) {
    if (error instanceof SysError && (error.code === 'EWOULDBLOCK' || error.code === 'EAGAIN')) return false;
    throw error;
  }
}
