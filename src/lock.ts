/**
 * lock.ts — named cross-process locks under `<root>/locks/`.
 *
 * `withLock(root, 'blob-sha256-…', fn)` runs `fn` while holding an exclusive flock on a lock file
 * (or a shared one: many shared holders at once, never together with an exclusive holder).
 * Used so that concurrent pulls of overlapping images download and unpack each blob once, and
 * (later) so that two commands on one container never interleave their state changes.
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
export function lockFile(locksDir: string, name: string): string {
  return path.join(locksDir, `${name.replace(/[^A-Za-z0-9._-]/g, '_')}.lock`);
}

export async function withLock<T>(locksDir: string, name: string, fn: () => Promise<T>, mode: LockMode = 'exclusive'): Promise<T> {
  fs.mkdirSync(locksDir, { recursive: true });
  const file = lockFile(locksDir, name);
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600); // libuv opens every fd close-on-exec
  try {
    let wait = 1; // most waits are short (another command's state update): look again soon
    while (!tryLock(fd, mode === 'exclusive', file)) {
      await sleep(wait);
      wait = Math.min(wait * 2, 100);
    }
    return await fn();
  } finally {
    fs.closeSync(fd); // closing the descriptor releases the flock
  }
}

/**
 * Runs `fn` holding the lock if nobody else holds it right now; returns `{ busy: true }` without
 * waiting otherwise. `system fsck` uses it to tell a temp file being written (its owner's lock
 * is held) from one left by a process that died (nobody holds the lock: the kernel dropped it).
 */
export async function ifLockFree<T>(locksDir: string, name: string, fn: () => Promise<T>): Promise<{ busy: true } | { busy: false; value: T }> {
  fs.mkdirSync(locksDir, { recursive: true });
  const file = lockFile(locksDir, name);
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  try {
    if (!tryLock(fd, true, file)) return { busy: true };
    return { busy: false, value: await fn() };
  } finally {
    fs.closeSync(fd);
  }
}
