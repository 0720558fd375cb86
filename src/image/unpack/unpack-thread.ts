/**
 * unpack-thread.ts — unpacking layers on another thread while their blobs are still arriving.
 *
 * The main thread hands every downloaded chunk to `UnpackJob.write(chunk, offset)` right after
 * hashing it and appending it to the blob's partial file; a Worker (unpack-worker.ts) decompresses,
 * hashes and writes the files meanwhile. So the bytes are read from the network once, never from
 * the disk again, and the unpacking runs on another core than the downloads.
 *
 * How many threads: one per core beyond the main thread's (at most 3, one per concurrent layer);
 * none on a single core, where the same jobs run on the main thread (JobTable, messages delivered
 * by a plain call). A thread costs ~40–80 ms of CPU to start (a V8 isolate, Node's internals, the
 * unpacker's code), and on a 2-core machine a thread per layer measured *slower* than one thread
 * for all: they only took turns on the same cores, and creating files in parallel contends in the
 * file system.
 * A pull starts them (`warm`) as soon as its manifest names a blob it does not have, so they boot
 * while the config is fetched, and stops them when it ends (`close`).
 *
 * Backpressure: postMessage never blocks, so without a limit a fast registry would pile a whole
 * blob up in the worker's queue. The worker acknowledges what it takes; `write` resolves only while
 * fewer than WINDOW_BYTES of a layer are unacknowledged, which slows that download to the unpack's
 * pace (the bytes wait in the socket instead of in memory).
 *
 * The stream must be the blob from byte 0, in order. A download that resumes a partial file from
 * an earlier run, or that a server restarts from byte 0, is not: the first chunk whose offset is
 * not the next expected one *stops* the job (its chunks are then ignored), and the caller unpacks
 * the verified blob from disk instead. An unpack error (a hostile or corrupt layer) does not stop
 * the download: the blob's digest is checked first, so a corrupted download is reported as one,
 * and only a blob that verifies but does not unpack fails with the unpacker's error.
 *
 * Try: `minibox rmi busybox $IMAGE >/dev/null; minibox pull -q --trace t.json $IMAGE >/dev/null;
 * grep -c '"pipelined":true' t.json` → `1` (one layer, unpacked while it downloaded).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { MiniboxError } from '../../errors.js';
import { isTracing, publish, type SysEvent } from '../../sys/trace.js';
import type { UnpackResult } from './index.js';
import { JobTable, type FromWorker, type ToWorker, type UnpackJobSpec, type UnpackWorkerData } from './unpack-worker.js';

/** Unacknowledged bytes of one layer allowed in flight to the worker (four batches). */
const WINDOW_BYTES = 8 * 1024 * 1024;
/** Bytes per message to the worker (see UnpackJob.post). */
const BATCH_BYTES = 2 * 1024 * 1024;
/**
 * A batch still not full this long after its first byte is sent as it is: on a slow or stalled
 * connection the layer still unpacks what has come (a fast one fills 2 MiB well within this).
 */
const FLUSH_AFTER_MS = 50;

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

type ErrorFields = { name: string; message: string; exitCode: number };

/** Where a job's messages go: a thread's port, or (no thread) a JobTable of this one. */
type Channel = (message: ToWorker, transfer?: ArrayBuffer[]) => void;

/** The threads of one pull, and the layer jobs they run. */
export class UnpackThreads {
  private readonly workers: { channel: Channel; worker?: Worker; jobs: number }[] = [];
  private readonly jobs = new Map<number, UnpackJob>();
  private nextJob = 1;

  constructor(private readonly count = Math.min(3, os.availableParallelism() - 1)) {}

  /** Starts the threads unless they run (early: they boot while the caller fetches the config). */
  warm(): void {
    if (this.workers.length > 0) return;
    if (this.count === 0) { // everything on this thread: the same jobs, messages delivered by a call
      const table = new JobTable((message) => this.receive(message));
      this.workers.push({ channel: (message) => table.handle(message), jobs: 0 });
      return;
    }
    const workerData: UnpackWorkerData = { trace: isTracing() };
    for (let i = 0; i < this.count; i++) {
      const worker = new Worker(unpackWorkerPath(), { workerData });
      worker.on('message', (message: FromWorker) => this.receive(message));
      const lost = (why: string) => {
        for (const job of this.jobs.values()) if (job.channel === this.workers[i]?.channel) job.settle({ error: { name: 'MiniboxError', message: `the unpack thread ${why}`, exitCode: 125 } });
      };
      worker.on('error', (error) => lost(`failed: ${error.message}`));
      worker.on('exit', (code) => lost(`exited (${code}) before finishing`));
      this.workers.push({ channel: (message, transfer) => worker.postMessage(message, transfer), worker, jobs: 0 });
    }
  }

  /** A new layer job on the least busy thread; `dest` must exist and be empty. */
  unpack(spec: UnpackJobSpec, onConsumed?: (bytes: number) => void): UnpackJob {
    this.warm();
    const slot = this.workers.reduce((best, candidate) => (candidate.jobs < best.jobs ? candidate : best));
    slot.jobs += 1;
    const job = new UnpackJob(this.nextJob++, slot.channel, onConsumed, () => {
      slot.jobs -= 1;
      this.jobs.delete(job.id);
    });
    this.jobs.set(job.id, job);
    job.send({ job: job.id, start: spec });
    return job;
  }

  /** Stops every thread (the pull is over). */
  async close(): Promise<void> {
    await Promise.all(this.workers.map(async ({ worker }) => await worker?.terminate()));
  }

  private receive(message: FromWorker): void {
    if ('event' in message) {
      publish(message.event as SysEvent);
      return;
    }
    const job = this.jobs.get(message.job);
    if (!job) return;
    if ('consumed' in message) job.acknowledge(message.consumed);
    else if ('done' in message) job.settle({ done: message.done });
    else if ('error' in message) job.settle({ error: message.error });
    else job.settle({ stopped: true });
  }
}

type Outcome = { done: UnpackResult } | { error: ErrorFields } | { stopped: true };

/** One layer being unpacked by a thread: the main thread's end of it. */
export class UnpackJob {
  private readonly outcome: Promise<Outcome>;
  private resolveOutcome!: (outcome: Outcome) => void;
  private settled = false;
  private expected = 0;
  private unacknowledged = 0;
  private waiting: (() => void) | undefined;
  private failed = false;
  private halted = false;
  private batch: Uint8Array = Buffer.allocUnsafeSlow(BATCH_BYTES);
  private filled = 0;
  private flushTimer: NodeJS.Timeout | undefined;
  /** Bytes the worker has taken in so far (for the "Extracting" bar). */
  consumed = 0;

  constructor(readonly id: number, readonly channel: Channel, private readonly onConsumed: ((bytes: number) => void) | undefined,
    private readonly finished: () => void) {
    this.outcome = new Promise<Outcome>((resolve) => { this.resolveOutcome = resolve; });
  }

  /** Bytes of the blob handed over in order from byte 0 (the whole blob, when pipelining worked). */
  get received(): number {
    return this.expected;
  }

  /** True once stop() was called, or bytes came out of order (then stop() was called too). */
  get stopped(): boolean {
    return this.halted;
  }

  /** The blob's bytes at `offset`; resolves when the worker has room for more. */
  async write(chunk: Uint8Array, offset: number): Promise<void> {
    if (this.halted || this.failed) return;
    if (offset !== this.expected) {
      await this.stop(); // a resumed or restarted download: not the stream from byte 0
      return;
    }
    this.expected += chunk.byteLength;
    this.unacknowledged += chunk.byteLength;
    for (let taken = 0; taken < chunk.byteLength;) {
      const part = chunk.subarray(taken, taken + BATCH_BYTES - this.filled);
      this.batch.set(part, this.filled);
      this.filled += part.byteLength;
      taken += part.byteLength;
      if (this.filled === BATCH_BYTES) this.post(this.batch);
    }
    if (this.filled > 0 && this.flushTimer === undefined) {
      this.flushTimer = setTimeout(() => { if (!this.halted && this.filled > 0) this.post(this.batch.subarray(0, this.filled)); }, FLUSH_AFTER_MS);
      this.flushTimer.unref();
    }
    if (this.unacknowledged > WINDOW_BYTES) await new Promise<void>((resolve) => { this.waiting = resolve; });
  }

  /** No more bytes: waits for the worker's result (the blob must have been verified first). */
  async end(): Promise<UnpackResult> {
    if (this.halted) throw new MiniboxError('internal: end() of a stopped unpack job');
    if (this.filled > 0) this.post(this.batch.slice(0, this.filled));
    this.send({ job: this.id, end: true });
    const outcome = await this.outcome;
    if ('done' in outcome) return outcome.done;
    if ('error' in outcome) {
      const error = new MiniboxError(outcome.error.message, outcome.error.exitCode);
      error.name = outcome.error.name;
      throw error;
    }
    throw new MiniboxError('internal: the unpack job was stopped');
  }

  /** Abandons the job; resolves once the thread writes nothing more into its directory. */
  async stop(): Promise<void> {
    this.halted = true;
    clearTimeout(this.flushTimer);
    this.release();
    if (!this.settled) this.send({ job: this.id, stop: true });
    await this.outcome;
  }

  send(message: ToWorker): void {
    this.channel(message);
  }

  acknowledge(bytes: number): void {
    this.consumed += bytes;
    this.unacknowledged -= bytes;
    this.onConsumed?.(this.consumed);
    if (this.unacknowledged <= WINDOW_BYTES) this.release();
  }

  settle(outcome: Outcome): void {
    if (this.settled) return;
    this.settled = true;
    if ('error' in outcome) this.failed = true; // the download goes on without it (see the header)
    this.release();
    this.finished();
    this.resolveOutcome(outcome);
  }

  /**
   * Hands a batch to the worker. Its memory is *transferred* (moved to the worker, not cloned):
   * each batch is a fresh ArrayBuffer of its own (allocUnsafeSlow: not from Node's shared pool,
   * and not zero-filled — every byte is overwritten before it is sent). Batching the ~16–64 KiB
   * socket reads into 2 MiB makes ~25 messages per 50 MB instead of thousands, and hands gunzip
   * input in pieces as large as its output buffer (compression.ts: each piece is a thread-pool
   * round trip). A partial batch goes after FLUSH_AFTER_MS (`batch` is then a view of the start
   * of its buffer; the whole buffer moves).
   */
  private post(batch: Uint8Array): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.channel({ job: this.id, chunk: batch }, [batch.buffer as ArrayBuffer]);
    this.batch = Buffer.allocUnsafeSlow(BATCH_BYTES);
    this.filled = 0;
  }

  private release(): void {
    const resume = this.waiting;
    this.waiting = undefined;
    resume?.();
  }
}
