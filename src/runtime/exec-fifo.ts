/**
 * exec-fifo.ts — how a created container waits for `start` (the OCI runtime's two-step birth).
 *
 * The runtime spec splits a container's birth in two: `create` builds everything — namespaces,
 * cgroup, mounts, pivot_root, the program found — and leaves the process *waiting*; `start`
 * lets it execve the program. runc makes the wait out of a named pipe (a fifo), and so does
 * minibox:
 *   - `create` makes `<state dir>/exec.fifo` (mknod S_IFIFO) and tells the init stage its path;
 *   - the init stage opens it with O_PATH *before* pivot_root (the host path is unreachable
 *     afterwards), and once all is set up it reopens that fd through /proc/self/fd/N for
 *     writing. open(2) of a fifo for writing blocks until someone opens it for reading — this is
 *     the wait, with no process of the runtime left running beside it;
 *   - `start` opens the fifo for reading, which lets the writer through, reads its one byte and
 *     deletes the fifo. The stage goes on to execve.
 * So "the fifo exists" is what `state` calls `created`; gone, with the process alive, `running`.
 *
 * Try: `minibox-runc create --bundle $BUNDLE c1 >/dev/null 2>&1; ls /run/minibox-runc/c1` →
 * `exec.fifo  state.json`;
 * `cat /run/minibox-runc/c1/exec.fifo` starts it as `minibox-runc start c1` would.
 */
import fs from 'node:fs';
import { mknod } from '../sys/fs.js';
import { publishStep } from '../sys/trace.js';
import { sendToParent } from './stages/channel.js';

/** O_PATH (not in Node's fs.constants): an fd naming a file without opening it for I/O. */
const O_PATH = 0o10000000;

/** create, engine side: the fifo, owned by root and writable only by root. */
export function makeExecFifo(path: string): void {
  mknod(path, 'fifo', 0o622);
}

/** Init stage, before pivot_root: hold the fifo by an O_PATH fd (close-on-exec, as Node opens every fd). */
export function holdExecFifo(path: string): number {
  return fs.openSync(path, O_PATH);
}

/**
 * Init stage, last step before the privileges are dropped: tell the engine "created", then block
 * until `start` reads the fifo. Needs /proc mounted in the container (runc needs it too).
 */
export function waitForStart(heldFd: number): void {
  sendToParent({ type: 'created' });
  publishStep('wait-for-start', { fifo: `/proc/self/fd/${heldFd}` });
  let fd: number;
  try {
    fd = fs.openSync(`/proc/self/fd/${heldFd}`, fs.constants.O_WRONLY);
  } catch (error) {
    throw new Error(`cannot reopen the exec fifo through /proc/self/fd (${(error as Error).message}): `
      + 'config.json must mount proc on /proc');
  }
  fs.writeSync(fd, '0');
  fs.closeSync(fd);
  fs.closeSync(heldFd);
}

/**
 * `start`, engine side: open the fifo for reading (this releases the waiting init stage), read
 * its byte, delete the fifo. Rejects when `stillWaiting()` turns false first (the init died).
 */
export async function releaseExecFifo(path: string, stillWaiting: () => boolean): Promise<void> {
  const opening = fs.promises.open(path, 'r'); // blocks in a libuv thread until the writer is there
  let timer: NodeJS.Timeout | undefined;
  const died = new Promise<never>((_resolve, reject) => {
    const check = (): void => {
      if (!stillWaiting()) reject(new Error('the container\'s process exited before it could start'));
      else timer = setTimeout(check, 20);
    };
    timer = setTimeout(check, 20);
  });
  try {
    const handle = await Promise.race([opening, died]);
    try {
      const { bytesRead } = await handle.read(Buffer.alloc(1), 0, 1, null);
      if (bytesRead !== 1) throw new Error('the container\'s process exited before it could start');
    } finally {
      await handle.close();
    }
  } finally {
    clearTimeout(timer);
    fs.rmSync(path, { force: true });
  }
}
