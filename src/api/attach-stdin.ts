/**
 * attach-stdin.ts — `docker run -i`: the client's keystrokes (or piped input) as the container's stdin.
 *
 * A detached container's stdin is an fd the minibox-monitor is given when it starts
 * (lifecycle/start.ts `stdin`). The docker CLI attaches *before* it starts the container, so the
 * attach makes a pipe(2) (sys/fs.ts) and leaves its read end here; the next start of that
 * container takes it. The write end is fed from the hijacked connection: when the client closes
 * its sending side (end of its stdin), the pipe is closed and the program reads end of file —
 * `echo hi | docker run -i busybox cat` prints `hi` and exits.
 *
 * Try: `echo hi | docker -H unix:///tmp/mb.sock run --rm -i busybox cat` → `hi`
 */
import fs from 'node:fs';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { StateRoot } from '../state-root.js';
import { pipe } from '../sys/fs.js';

/** Read ends waiting for their container's next start, by container id. */
const waitingStdin = new Map<string, number>();

function closeQuietly(fd: number): void {
  try { fs.closeSync(fd); } catch { /* already closed */ }
}

/** Connects `input` to the container's next start; returns the function that disconnects it. */
export function attachStdin(_root: StateRoot, id: string, input: Duplex): () => void {
  const [readEnd, writeEnd] = pipe();
  const previous = waitingStdin.get(id);
  if (previous !== undefined) closeQuietly(previous);
  waitingStdin.set(id, readEnd);
  const toContainer = new net.Socket({ fd: writeEnd, readable: false, writable: true });
  toContainer.on('error', () => undefined); // the program exited without reading it all
  input.pipe(toContainer); // the client's end of input ends the pipe: the program reads EOF
  return () => {
    input.unpipe(toContainer);
    toContainer.destroy();
    if (waitingStdin.get(id) === readEnd) {
      waitingStdin.delete(id);
      closeQuietly(readEnd);
    }
  };
}

/**
 * The stdin fd an attach left for this container, if any: the caller passes it to the start and
 * then calls `release()` (the monitor holds its own copy by then).
 */
export function takeAttachedStdin(id: string): { fd: number; release(): void } | undefined {
  const fd = waitingStdin.get(id);
  if (fd === undefined) return undefined;
  waitingStdin.delete(id);
  return { fd, release: () => closeQuietly(fd) };
}
