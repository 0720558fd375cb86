/**
 * build-context.ts — `docker build`'s context arrives as a tar in the request body; it becomes a
 * directory that minibox's builder reads, as it reads `minibox build DIR`.
 *
 * The docker CLI packs the context directory itself (leaving out what `.dockerignore` names,
 * but always sending `.dockerignore` and the Dockerfile), with every file owned by 0:0, and
 * posts it as `Content-Type: application/x-tar` — gzip'd with `--compress`. A Dockerfile from
 * outside the context (`-f ../Dockerfile`) travels inside it under a made-up name that the
 * `dockerfile` parameter names. (CLI 28 appends that entry without its padding and without
 * the two zero blocks that end a tar — Go's reader takes an early end of file as the end of the
 * archive — so the daemon completes the archive before reading it.) The daemon unpacks it into a private directory under the state
 * root's tmp/ with the same writer that unpacks image layers (image/unpack/): every name, `..`
 * and symlink resolves inside that directory, never outside. The builder then applies
 * `.dockerignore` again, as dockerd's does — so an archive made by hand is filtered too.
 * Whatever happens, the directory is removed when the build ends.
 *
 * Try: `echo 'FROM busybox' | curl -s -XPOST --data-binary @- --unix-socket /tmp/mb.sock
 * localhost/build` → `{"message":"the build context is not a tar archive: …"}`
 */
import fs from 'node:fs';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { describeError } from '../errors.js';
import type { StateRoot } from '../state-root.js';
import { compressionFromMagic, createDecompressor } from '../image/unpack/compression.js';
import { extractTarStream } from '../image/unpack/index.js';
import { ApiError } from './api-errors.js';

export interface BuildContext {
  dir: string;
  /** The Dockerfile's path inside `dir` (checked to be inside it). */
  dockerfile: string;
  remove(): void;
}

/** The body as a stream again, after its first chunk was read to see how it is compressed. */
async function decompressedBody(req: IncomingMessage): Promise<NodeJS.ReadableStream> {
  const chunks = (req as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  const first = await chunks.next();
  const head: Buffer = first.done ? Buffer.alloc(0) : first.value;
  let compression;
  try {
    compression = compressionFromMagic(head, 'the build context');
  } catch (error) {
    req.resume();
    throw new ApiError(400, `${describeError(error)}: send a plain or gzip tar`);
  }
  const body = Readable.from((async function* () {
    if (head.length > 0) yield head;
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield next.value;
  })());
  const decompressor = createDecompressor(compression);
  const completed = completeTar();
  body.on('error', (error) => decompressor.destroy(error));
  decompressor.on('error', (error) => completed.destroy(error));
  return body.pipe(decompressor).pipe(completed);
}

/** Pads the last entry to a whole 512-byte block and adds the two zero blocks that end a tar. */
function completeTar(): Transform {
  let length = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      length += chunk.length;
      done(null, chunk);
    },
    flush(done) {
      done(null, Buffer.alloc((512 - (length % 512)) % 512 + 1024));
    },
  });
}

/** `dockerfile` as a path inside the context, or a 400 when it names something outside it. */
function dockerfileIn(dir: string, name: string): string {
  const file = path.resolve(dir, name);
  if (!file.startsWith(`${dir}${path.sep}`)) throw new ApiError(400, `the Dockerfile (${name}) must be within the build context`);
  const stats = fs.lstatSync(file, { throwIfNoEntry: false });
  if (!stats?.isFile()) throw new ApiError(400, `Cannot locate specified Dockerfile: ${name}`);
  return file;
}

/** Unpacks the request body into a fresh directory under the state root's tmp/. */
export async function receiveBuildContext(root: StateRoot, req: IncomingMessage, dockerfile: string): Promise<BuildContext> {
  fs.mkdirSync(root.tmp, { recursive: true });
  const dir = fs.mkdtempSync(path.join(root.tmp, `build-context-${process.pid}-`));
  const remove = (): void => fs.rmSync(dir, { recursive: true, force: true });
  try {
    fs.chmodSync(dir, 0o755);
    try {
      await extractTarStream(await decompressedBody(req), { dest: dir, what: 'the build context' });
    } catch (error) {
      if (error instanceof ApiError) throw error;
      req.resume(); // drain the rest: the answer goes out now
      const message = describeError(error);
      const unreadable = /^the build context: cannot read the tar stream: (.*)$/.exec(message);
      throw new ApiError(400, unreadable ? `the build context is not a tar archive: ${unreadable[1]}` : message); // or a hostile entry
    }
    // The context's root has no entry in the CLI's tar: its time is the unpacking's, which would
    // make every `COPY . /app` miss the build cache. A fixed time keeps the cache key the files'.
    fs.utimesSync(dir, 0, 0);
    return { dir, dockerfile: dockerfileIn(dir, dockerfile), remove };
  } catch (error) {
    remove();
    throw error;
  }
}
