/**
 * unpack-worker.ts — the body of a layer-unpacking thread (started by unpack-thread.ts).
 *
 * Node runs a program's JavaScript on one thread. A pull that did all its layers there would
 * gunzip, hash and write the files of one layer while the others wait — and every blocking call
 * (an open(2) that creates a file can take a few hundred µs on a busy disk) would stall the
 * downloads too. A `worker_threads` Worker is a second V8 isolate with its own event loop in the
 * same process: a thread the kernel schedules on another core. Each layer gets one; it receives
 * the blob's bytes as they arrive from the registry (postMessage copies them across), and runs
 * the ordinary unpacker on them: decompress → sha256 (the diff id) → tar entries → files.
 *
 * Messages in: `{ chunk }` (the next bytes of the blob, in order), `{ end: true }` (no more).
 * Messages out: `{ consumed }` (bytes taken into the decompressor: the sender's backpressure and
 * the progress bar), `{ event }` (a kernel call, for `--explain`/`--trace` in the main thread),
 * then one `{ done: { diffId, size } }` or `{ error: { name, message, exitCode } }`.
 * The worker never decides whether the layer is kept: it only fills a temp directory, which the
 * main thread renames into the store once the blob digest and the diff id are both verified.
 *
 * Try: `minibox rmi $IMAGE; minibox pull $IMAGE & sleep 0.5; ls /proc/$!/task | wc -l` → more
 * threads than an idle Node (one per layer being unpacked).
 */
import { Readable, Transform } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import { describeError, ExitCode, MiniboxError } from '../../errors.js';
import { onSysEvent } from '../../sys/trace.js';
import { compressionFromMagic } from './compression.js';
import { unpackLayerStream } from './index.js';

/** What the thread is started with (`workerData`). */
export interface UnpackWorkerData {
  dest: string;
  layerName: string;
  mediaType: string;
  /** Forward kernel-call events to the main thread (someone there listens: --explain, --trace). */
  trace: boolean;
}

/** The first bytes needed to tell gzip, zstd and plain tar apart (compressionFromMagic). */
const MAGIC_BYTES = 8;

function run(port: NonNullable<typeof parentPort>, data: UnpackWorkerData): void {
  if (data.trace) onSysEvent((event) => port.postMessage({ event }));
  const input = new Readable({ read() {} });
  const acknowledging = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      port.postMessage({ consumed: chunk.length });
      callback(null, chunk);
    },
  });
  const head: Buffer[] = [];
  let headBytes = 0;
  let started = false;
  const fail = (error: unknown) => {
    const known = error instanceof MiniboxError;
    port.postMessage({ error: {
      name: known ? error.name : 'MiniboxError',
      message: known ? error.message : `layer ${data.layerName}: ${describeError(error)}`,
      exitCode: known ? error.exitCode : ExitCode.Engine,
    } });
  };
  const start = () => {
    started = true;
    try {
      const compression = compressionFromMagic(Buffer.concat(head), data.layerName);
      unpackLayerStream([input, acknowledging], compression, data).then((done) => port.postMessage({ done }), fail);
    } catch (error) {
      fail(error);
      return;
    }
    for (const chunk of head) input.push(chunk);
  };
  port.on('message', (message: { chunk?: Uint8Array; end?: true }) => {
    if (message.chunk) {
      const chunk = Buffer.from(message.chunk.buffer, message.chunk.byteOffset, message.chunk.byteLength);
      if (started) input.push(chunk);
      else {
        head.push(chunk);
        headBytes += chunk.length;
        if (headBytes >= MAGIC_BYTES) start();
      }
    } else if (message.end) {
      if (!started) start();
      input.push(null);
    }
  });
}

if (parentPort) run(parentPort, workerData as UnpackWorkerData);
