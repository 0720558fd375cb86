/**
 * unpack-thread.ts — unpacking a layer on its own thread while its blob is still arriving.
 *
 * The main thread hands every downloaded chunk to `write(chunk, offset)` right after hashing it and
 * appending it to the blob's partial file; a Worker (unpack-worker.ts) decompresses, hashes and
 * writes the files meanwhile. So the bytes are read from the network once, never from the disk
 * again, and the layers' unpacking runs on as many cores as there are layers.
 *
 * Backpressure: postMessage never blocks, so without a limit a fast registry would pile the whole
 * blob up in the worker's queue. The worker acknowledges every chunk it takes; `write` resolves
 * only while fewer than WINDOW_BYTES are unacknowledged, which slows the download to the unpack's
 * pace (the blob's bytes wait in the socket instead of in memory).
 *
 * The stream must be the blob from byte 0, in order. A download that resumes a partial file from
 * an earlier run, or that a server restarts from byte 0, is not: the first chunk whose offset is
 * not the next expected one makes this thread *stale* (stopped, its chunks ignored), and the caller
 * unpacks the verified blob from disk instead. An unpack error (a hostile or corrupt layer) does
 * not stop the download either: the blob's digest is checked first, so a corrupted download is
 * reported as one, and only a blob that verifies but does not unpack fails with the unpacker's error.
 *
 * Try: `minibox pull --explain $IMAGE 2>&1 | grep -m1 'unpacked while'` → the layer's story line.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { MiniboxError } from '../../errors.js';
import { isTracing, publish, type SysEvent } from '../../sys/trace.js';
import type { UnpackResult } from './index.js';
import type { UnpackWorkerData } from './unpack-worker.js';

/** Unacknowledged bytes allowed in flight to the worker (a few gunzip input buffers' worth). */
const WINDOW_BYTES = 4 * 1024 * 1024;

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * The worker's file: the start-up build's joined copy (dist/startup/unpack-worker.cjs, faster to
 * load) when it is at least as new as dist/, else dist/image/unpack/unpack-worker.js — found next
 * to this file once compiled, or under dist/ when the tests run this file from src/.
 */
export function unpackWorkerPath(): string {
  const sibling = path.join(here, 'unpack-worker.js');
  const plain = fs.existsSync(sibling) ? sibling : path.resolve(here, '../../../dist/image/unpack/unpack-worker.js');
  if (!fs.existsSync(plain)) throw new MiniboxError(`the unpack worker ${plain} is missing — run \`npm run build\` first`);
  if (process.env.MINIBOX_UNBUNDLED) return plain;
  const joined = path.resolve(path.dirname(plain), '../../startup/unpack-worker.cjs');
  try {
    return fs.statSync(joined).mtimeMs >= fs.statSync(plain).mtimeMs ? joined : plain;
  } catch {
    return plain;
  }
}

type Outcome = { done: UnpackResult } | { error: MiniboxError };

export class UnpackThread {
  private readonly worker: Worker;
  private readonly outcome: Promise<Outcome>;
  private expected = 0;
  private unacknowledged = 0;
  private waiting: (() => void) | undefined;
  private failed: MiniboxError | undefined;
  private halted = false;
  /** Bytes the worker has taken in so far (for the "Extracting" bar). */
  consumed = 0;

  constructor(options: Omit<UnpackWorkerData, 'trace'>, private readonly onConsumed?: (bytes: number) => void) {
    const workerData: UnpackWorkerData = { ...options, trace: isTracing() };
    this.worker = new Worker(unpackWorkerPath(), { workerData });
    this.outcome = new Promise<Outcome>((resolve) => {
      this.worker.on('message', (message: { consumed?: number; event?: SysEvent; done?: UnpackResult; error?: { name: string; message: string; exitCode: number } }) => {
        if (message.consumed !== undefined) this.acknowledge(message.consumed);
        else if (message.event) publish(message.event);
        else if (message.done) resolve({ done: message.done });
        else if (message.error) resolve({ error: this.fail(message.error) });
      });
      this.worker.on('error', (error) => resolve({ error: this.fail({ name: 'MiniboxError', message: `the unpack thread failed: ${error.message}`, exitCode: 125 }) }));
      this.worker.on('exit', (code) => resolve({ error: this.fail({ name: 'MiniboxError', message: `the unpack thread exited (${code}) before finishing`, exitCode: 125 }) }));
    });
  }

  /** Bytes of the blob handed over in order from byte 0 (the whole blob, when pipelining worked). */
  get received(): number {
    return this.expected;
  }

  /** True once stop() was called, or bytes came out of order (then stop() was called too). */
  get stopped(): boolean {
    return this.halted;
  }

  /** True when the worker no longer takes bytes: stopped, or it failed (end() reports why). */
  get stale(): boolean {
    return this.halted || this.failed !== undefined;
  }

  /** The blob's bytes at `offset`; resolves when the worker has room for more. */
  async write(chunk: Uint8Array, offset: number): Promise<void> {
    if (this.stale) return;
    if (offset !== this.expected) {
      await this.stop(); // a resumed or restarted download: not the stream from byte 0
      return;
    }
    this.expected += chunk.byteLength;
    this.unacknowledged += chunk.byteLength;
    // A copy of just these bytes, whose memory is then handed over (transferred), not cloned again:
    // cloning a Buffer would copy the whole pool or socket buffer it is a view of.
    const copy = new Uint8Array(chunk);
    this.worker.postMessage({ chunk: copy }, [copy.buffer]);
    if (this.unacknowledged > WINDOW_BYTES) await new Promise<void>((resolve) => { this.waiting = resolve; });
  }

  /** No more bytes: waits for the worker's result (the blob must have been verified first). */
  async end(): Promise<UnpackResult> {
    if (this.halted) throw new MiniboxError('internal: end() of a stopped unpack thread');
    this.worker.postMessage({ end: true });
    const outcome = await this.outcome;
    await this.worker.terminate();
    if ('error' in outcome) throw outcome.error;
    return outcome.done;
  }

  /** Stops the worker; resolves once the thread is gone (nothing more is written to its dir). */
  async stop(): Promise<void> {
    this.halted = true;
    this.release();
    await this.worker.terminate();
  }

  private acknowledge(bytes: number): void {
    this.consumed += bytes;
    this.unacknowledged -= bytes;
    this.onConsumed?.(this.consumed);
    if (this.unacknowledged <= WINDOW_BYTES) this.release();
  }

  private fail(error: { name: string; message: string; exitCode: number }): MiniboxError {
    if (!this.failed) {
      this.failed = new MiniboxError(error.message, error.exitCode);
      this.failed.name = error.name;
    }
    this.release(); // the download goes on without it (see the header)
    return this.failed;
  }

  private release(): void {
    const resume = this.waiting;
    this.waiting = undefined;
    resume?.();
  }
}
