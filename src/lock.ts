/**
 * lock.ts — named cross-process locks under `<root>/locks/`.
 *
 * `withLock(root, 'blob-sha256-…', fn)` runs `fn` while holding an exclusive flock on a lock file
 * (or a shared one: many shared holders at once, never together with an exclusive holder).
 * Used so that concurrent pulls of overlapping images download and unpack each blob once, and
 * so that two commands on one container never interleave their state changes.
 *
 * A lock file may be deleted (a removed container's lock is forgotten). flock(2) locks the
 * *inode*, not the name: a waiter that opened the file before it was unlinked would get a lock
 * on the dead inode while a newcomer locks a fresh file of the same name — two holders at once.
 * So after winning the flock, the holder checks that the name still leads to its inode, and
 * starts again on the new file if not (the same check as in Linux's own lockfile conventions).
 *
 * Try: `minibox run --name box busybox true && ls $MINIBOX_ROOT/locks` → `container-`
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { tryLock } from './sys/flock.js';

export type LockMode = 'exclusive' | 'shared';

/** The image store's lock: every pull (and `run`, between finding an image and recording the
 * container) holds it shared; `image prune`/`rmi` garbage collection takes it exclusively. */
export const STORE_LOCK = 'store';

/** The file behind a named lock. */
export function lockPath(locksDir: string, name: string): string {
  return path.join(locksDir, `${name.replace(/[^A-Za-z0-9._-]/g, '_')}.lock`);
}

export async function withLock<T>(locksDir: string, name: string, fn: () => Promise<T>, mode: LockMode = 'exclusive'): Promise<T> {
  fs.mkdirSync(locksDir, { recursive: true });
  const file = lockPath(locksDir, name);
  const fd = await lockFile(file, mode);
  try {
    return await fn();
  } finally {
    fs.closeSync(fd); // closing the descriptor releases the flock
  }
}

/** True when `file` still names the inode open as `fd` (it was not unlinked or replaced). */
function stillNamed(fd: number, file: string): boolean {
  try {
    const held = fs.fstatSync(fd);
    const named = fs.statSync(file);
    return held.ino === named.ino && held.dev === named.dev;
  } catch {
    return false; // unlinked
  }
}

/** Opens `file` and waits for its flock; returns the descriptor that holds it. */
async function lockFile(file: string, mode: LockMode): Promise<number> {
  for (;;) {
    const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600); // libuv opens every fd close-on-exec
    let wait = 1; // most waits are short (another command's state update): look again soon
    try {
      while (!tryLock(fd, mode === 'exclusive', file)) {
        await sleep(wait);
        wait = Math.min(wait * 2, 100);
      }
    } catch (error) {
      fs.closeSync(fd);
      throw error;
    }
    if (stillNamed(fd, file)) return fd;
    fs.closeSync(fd); // we locked a deleted lock file: the lock now lives in the new one
  }
}

/**
 * Runs `fn` holding the lock if nobody else holds it right now; returns `{ busy: true }` without
 * waiting otherwise. `system fsck` uses it to tell a temp file being written (its owner's lock
 * is held) from one left by a process that died (nobody holds the lock: the kernel dropped it).
 */
export async function ifLockFree<T>(locksDir: string, name: string, fn: () => Promise<T>): Promise<{ busy: true } | { busy: false; value: T }> {
  fs.mkdirSync(locksDir, { recursive: true });
  const file = lockPath(locksDir, name);
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  try {
    if (!tryLock(fd, true, file)) return { busy: true };
    return { busy: false, value: await fn() };
  } finally {
    fs.closeSync(fd);
  }
}
