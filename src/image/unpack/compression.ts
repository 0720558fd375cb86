/**
 * compression.ts — which decompressor a layer blob needs, and a streaming zstd decoder.
 *
 * A layer is a tar archive, usually gzip-compressed (`…tar+gzip`, Docker's `…diff.tar.gzip`),
 * sometimes zstd (`…tar+zstd`) or not compressed at all (`…v1.tar`). The media type in the
 * manifest says which — but registries and tools have been known to mislabel blobs, so the first
 * bytes (the "magic number") decide: gzip starts 1f 8b, zstd 28 b5 2f fd. A plain tar has no
 * magic at offset 0 (its `ustar` mark is at offset 257).
 *
 * Every decoder streams: memory stays constant whatever the layer size. Node's zlib has gunzip;
 * zstd is decoded by the `zstd` tool in a child process when it is installed, else by fzstd's
 * `Decompress` (pure JS) wrapped in a Transform, which gives backpressure: Node does not hand the
 * Transform a new input chunk until its output has been read.
 *
 * Try: `for f in $MINIBOX_ROOT/blobs/sha256/*; do head -c2 $f | od -An -tx1; done` → `1f 8b`
 * (gzip's magic bytes, on the layer; the JSON blobs start `7b 22`, `{"`).
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Duplex, Transform, type Readable, type TransformCallback, type Writable } from 'node:stream';
import zlib from 'node:zlib';
import { Decompress } from 'fzstd';
import { MiniboxError } from '../../errors.js';

export type Compression = 'gzip' | 'zstd' | 'none';

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
/** Formats we recognise only to give a clear error (no layer spec allows them). */
const UNSUPPORTED_MAGIC: [string, Buffer][] = [
  ['xz', Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])],
  ['bzip2', Buffer.from('BZh')],
];

/** What the media type claims (undefined when it says nothing we know). */
export function compressionFromMediaType(mediaType: string): Compression | undefined {
  if (/(\+|\.)gzip$/.test(mediaType)) return 'gzip';
  if (/(\+|\.)zstd$/.test(mediaType)) return 'zstd';
  if (/(\.|\/)?tar$/.test(mediaType)) return 'none';
  return undefined;
}

/** What the first bytes of the blob say; this wins over the media type when they disagree. */
export function compressionFromMagic(head: Buffer, layerName: string): Compression {
  if (head.subarray(0, 2).equals(GZIP_MAGIC)) return 'gzip';
  if (head.subarray(0, 4).equals(ZSTD_MAGIC)) return 'zstd';
  for (const [format, magic] of UNSUPPORTED_MAGIC) {
    if (head.subarray(0, magic.length).equals(magic)) {
      throw new MiniboxError(`layer ${layerName}: compressed with ${format}, which OCI layers do not use; only gzip, zstd and plain tar are supported`);
    }
  }
  return 'none';
}

/**
 * Reads the blob's first bytes and decides. The media type is not consulted: when it agrees it
 * adds nothing, and when it disagrees the bytes are what the decoder will actually see.
 */
export function detectCompression(blobPath: string, layerName: string): Compression {
  const head = Buffer.alloc(8);
  const fd = fs.openSync(blobPath, 'r');
  try {
    const length = fs.readSync(fd, head, 0, head.length, 0);
    return compressionFromMagic(head.subarray(0, length), layerName);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Compressed bytes fed to fzstd per call. One call decodes synchronously everything its input
 * completes, and a zstd RLE block is 4 bytes that expand to 128 KiB: 256 input bytes can make at
 * most ~8 MiB of output, so the memory used stays bounded even for a layer full of zeros (or one
 * crafted to expand), while the per-call cost stays small.
 */
const ZSTD_SLICE_BYTES = 256;

/**
 * A streaming zstd decoder: fzstd's push API wrapped as a Node Transform. Between slices it waits
 * for the reader whenever its output buffer is full, so a fast decoder cannot outrun a slow disk.
 */
export class ZstdDecompressStream extends Transform {
  private resumeFeeding: (() => void) | undefined;
  private readonly decoder = new Decompress((chunk) => {
    // fzstd may reuse its output buffer between calls: copy before handing it downstream.
    if (chunk.length > 0) this.push(Buffer.from(chunk));
  });

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.feed(chunk).then(() => callback(), (error: unknown) => callback(error as Error));
  }

  private async feed(chunk: Buffer): Promise<void> {
    for (let offset = 0; offset < chunk.length; offset += ZSTD_SLICE_BYTES) {
      this.decoder.push(chunk.subarray(offset, offset + ZSTD_SLICE_BYTES));
      if (this.readableLength >= this.readableHighWaterMark && !this.destroyed) {
        await new Promise<void>((resolve) => { this.resumeFeeding = resolve; });
      }
    }
  }

  /** Called by Node when the reader wants more: let `feed` continue. */
  override _read(size: number): void {
    const resume = this.resumeFeeding;
    this.resumeFeeding = undefined;
    resume?.();
    super._read(size);
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.decoder.push(new Uint8Array(0), true);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }
}

/**
 * gunzip's output buffer. Node's zlib inflates on a libuv thread-pool thread: each round (until
 * the input is used up or the output buffer is full) is a hand-off to that thread and a callback
 * back on this one — two thread wake-ups, which on this project's VMs cost a few hundred µs of
 * CPU each (the profile shows them as zlib's processChunk/processCallback). Node's default
 * output, 16 KiB, makes a round per 16 KiB of tar; 256 KiB made the tar parser's and write(2)'s
 * share 16× rarer (the 734 MB benchmark layer: ~1.8 s of user CPU instead of ~2.3 s); 2 MiB,
 * with 2 MiB input batches (unpack-thread.ts), makes ~60 rounds per 50 MB pull instead of ~500:
 * ~20 % less CPU for the whole cold pull, measured paired (docs/benchmarks.md). Memory: one
 * buffer per layer being inflated.
 */
const INFLATE_CHUNK_BYTES = 2 * 1024 * 1024;

/** The absolute path of an executable `name` on $PATH, or undefined. */
export function findExecutable(name: string): string | undefined {
  for (const directory of (process.env.PATH ?? '').split(':')) {
    if (directory === '') continue;
    const candidate = path.join(directory, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch { /* not here */ }
  }
  return undefined;
}

/**
 * A (de)compressor in a child process (`zstd -dc`, or `zstd -c` when writing a layer): bytes go to
 * its stdin, the result comes from its stdout. It decodes on the other core while this process writes files — containerd does the
 * same with `unpigz` and `zstd`. The stream ends only after the child has exited 0: a decoder that
 * stops early on corrupt input must not look like a short but complete tar. On any failure
 * downstream the child is killed.
 */
export class ChildProcessFilter extends Duplex {
  private readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  private stderr = '';
  private inputRefused = false;
  private exited = false;

  constructor(private readonly command: string, args: readonly string[]) {
    super();
    this.child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const { child } = this;
    child.stdout.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) child.stdout.pause();
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      if (this.stderr.length < 4096) this.stderr += text;
    });
    // EPIPE: the decoder quit reading (bad input); its exit status and message say why.
    child.stdin.on('error', () => { this.inputRefused = true; });
    child.on('error', (error) => this.destroy(error));
    child.on('close', (code, signal) => {
      this.exited = true;
      if (code === 0 && !this.inputRefused) {
        this.push(null);
        return;
      }
      const said = this.stderr.trim().split('\n').filter((line) => line !== '').join('; ');
      const status = code === 0 ? 'stopped reading its input' : code !== null ? `exit status ${code}` : `killed by ${signal}`;
      this.destroy(new Error(`${path.basename(this.command)}: ${said === '' ? status : said}`));
    });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.inputRefused || this.child.stdin.write(chunk)) callback();
    else this.child.stdin.once('drain', () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.child.stdin.end();
    callback();
  }

  override _read(): void {
    this.child.stdout.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.exited) this.child.kill('SIGKILL');
    callback(error);
  }
}

/**
 * The stream that turns blob bytes into tar bytes. gzip stays in-process: Node's zlib inflates
 * several times faster than GNU `gzip -d` (pigz would be worth a child, but is rarely installed).
 * zstd goes to the `zstd` tool when it is installed, which is far faster than fzstd's pure JS.
 */
export function createDecompressor(compression: Compression): Duplex {
  switch (compression) {
    case 'gzip': return zlib.createGunzip({ chunkSize: INFLATE_CHUNK_BYTES });
    case 'zstd': {
      const zstd = findExecutable('zstd');
      return zstd !== undefined ? new ChildProcessFilter(zstd, ['-dc', '-q']) : new ZstdDecompressStream();
    }
    case 'none': return new Transform({ transform: (chunk, _encoding, callback) => callback(null, chunk) });
  }
}

/**
 * The stream that turns tar bytes into a layer blob (`commit --compression`). zstd needs the
 * `zstd` tool (Node 20's zlib has no zstd encoder); one thread and a fixed level keep the output
 * the same for the same input.
 */
export function createCompressor(compression: 'gzip' | 'zstd'): Duplex {
  if (compression === 'gzip') return zlib.createGzip({ level: 6 });
  const zstd = findExecutable('zstd');
  if (zstd === undefined) throw new MiniboxError('--compression zstd needs the zstd program (apt-get install zstd)');
  return new ChildProcessFilter(zstd, ['-c', '-q', '-3', '-T1', '--no-progress']);
}
