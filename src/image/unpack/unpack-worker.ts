/**
 * unpack-worker.ts — the body of a layer-unpacking thread (started by unpack-thread.ts).
 *
 * Node runs a program's JavaScript on one thread. A pull that did everything there would
 * gunzip, hash and write files while its downloads wait, and every blocking call (an open(2)
 * that creates a file can take a few hundred µs on a busy disk) would stall them too. A
 * `worker_threads` Worker is a second V8 isolate with its own event loop in the same process: a
 * thread the kernel schedules on another core. This one receives the layers' bytes as they
 * arrive from the registry (postMessage hands them over) and runs the ordinary unpacker on them:
 * decompress → sha256 (the diff id) → tar entries → files. Several layers can be in flight in
 * one worker: each is its own stream, and the event loop takes their chunks in turn.
 *
 * Messages in, each naming its `job`: `{ start }` (where and what to unpack), `{ chunk }` (the
 * next bytes of that blob, in order), `{ end }` (no more), `{ stop }` (abandon it).
 * Messages out: `{ job, consumed }` (bytes taken into the decompressor: the sender's backpressure
 * and the progress bar), `{ event }` (a kernel call, for `--explain`/`--trace` in the main
 * thread), then one of `{ job, done: { diffId, size } }`, `{ job, error }`, `{ job, stopped }`.
 * The worker never decides whether a layer is kept: it only fills a temp directory, which the
 * main thread renames into the store once the blob digest and the diff id are both verified.
 *
 * Try: `minibox rmi busybox $IMAGE >/dev/null; minibox pull --explain $IMAGE 2>&1 | grep -o 'while
 * it downloaded'` → `while it downloaded` (the layer's files were written by this thread while
 * its blob arrived).
 */
import { Readable, Transform } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import { describeError, ExitCode, MiniboxError } from '../../errors.js';
import { onSysEvent } from '../../sys/trace.js';
import { compressionFromMagic } from './compression.js';
import { unpackLayerStream, type UnpackResult } from './index.js';

/** What the thread is started with (`workerData`). */
export interface UnpackWorkerData {
  /** Forward kernel-call events to the main thread (someone there listens: --explain, --trace). */
  trace: boolean;
}

/** One layer to unpack (the `start` message). */
export interface UnpackJobSpec {
  /** An existing empty directory: the layer's temp dir. */
  dest: string;
  layerName: string;
  mediaType: string;
}

export type ToWorker = { job: number } & ({ start: UnpackJobSpec } | { chunk: Uint8Array } | { end: true } | { stop: true });
export type FromWorker =
  | { event: unknown }
  | ({ job: number } & ({ consumed: number } | { done: UnpackResult } | { error: { name: string; message: string; exitCode: number } } | { stopped: true }));

/** Bytes taken in between two `consumed` messages (an eighth of unpack-thread.ts's window). */
const ACK_BYTES = 1024 * 1024;

/** The first bytes needed to tell gzip, zstd and plain tar apart (compressionFromMagic). */
const MAGIC_BYTES = 8;

type Post = (message: FromWorker) => void;

/** One layer's stream inside the worker. */
class Job {
  private readonly input = new Readable({ read() {} });
  private readonly head: Buffer[] = [];
  private headBytes = 0;
  private running: Promise<void> | undefined;

  constructor(private readonly id: number, private readonly spec: UnpackJobSpec, private readonly post: Post) {}

  take(chunk: Buffer): void {
    if (this.running) {
      this.input.push(chunk);
      return;
    }
    this.head.push(chunk);
    this.headBytes += chunk.length;
    if (this.headBytes >= MAGIC_BYTES) this.start();
  }

  end(): void {
    if (!this.running) this.start();
    this.input.push(null);
  }

  /** Abandons the layer; says `stopped` once nothing more will be written into its directory. */
  stop(): void {
    // Running: the error ends the pipeline (and so the unpack). Not started: no one listens, and
    // an error nobody handles would end the whole thread.
    if (this.running) this.input.destroy(new Error('stopped'));
    else this.input.destroy();
    void (this.running ?? Promise.resolve()).then(() => this.post({ job: this.id, stopped: true }));
  }

  private start(): void {
    const { id, spec, post } = this;
    let unacknowledged = 0;
    const acknowledging = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        // One message per ACK_BYTES, not per chunk taken in: each message wakes the main thread's
        // event loop (and costs a serialisation), and the sender's 8 MiB window only needs to
        // hear every so often that room was made.
        unacknowledged += chunk.length;
        if (unacknowledged >= ACK_BYTES) {
          post({ job: id, consumed: unacknowledged });
          unacknowledged = 0;
        }
        callback(null, chunk);
      },
    });
    const fail = (error: unknown) => {
      if (this.input.destroyed && (error as Error).message === 'stopped') return;
      const known = error instanceof MiniboxError;
      post({ job: id, error: {
        name: known ? error.name : 'MiniboxError',
        message: known ? error.message : `layer ${spec.layerName}: ${describeError(error)}`,
        exitCode: known ? error.exitCode : ExitCode.Engine,
      } });
    };
    this.running = (async () => {
      try {
        const compression = compressionFromMagic(Buffer.concat(this.head), spec.layerName);
        const unpacking = unpackLayerStream([this.input, acknowledging], compression, spec);
        for (const chunk of this.head) this.input.push(chunk);
        post({ job: id, done: await unpacking });
      } catch (error) {
        fail(error);
      }
    })();
  }
}

/** The jobs of one thread: what the messages in do. Also used without a thread (unpack-thread.ts). */
export class JobTable {
  private readonly jobs = new Map<number, Job>();

  constructor(private readonly post: Post) {}

  handle(message: ToWorker): void {
    if ('start' in message) {
      this.jobs.set(message.job, new Job(message.job, message.start, this.post));
      return;
    }
    const job = this.jobs.get(message.job);
    if (!job) return;
    if ('chunk' in message) job.take(Buffer.from(message.chunk.buffer, message.chunk.byteOffset, message.chunk.byteLength));
    else if ('end' in message) job.end();
    else {
      job.stop();
      this.jobs.delete(message.job);
    }
  }
}

function serve(port: NonNullable<typeof parentPort>, data: UnpackWorkerData): void {
  const table = new JobTable((message) => port.postMessage(message));
  if (data.trace) onSysEvent((event) => port.postMessage({ event }));
  port.on('message', (message: ToWorker) => table.handle(message));
}

if (parentPort) serve(parentPort, workerData as UnpackWorkerData);
