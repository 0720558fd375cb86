/**
 * compression.ts — which decompressor a layer blob needs, and a streaming zstd decoder.
 *
 * A layer is a tar archive, usually gzip-compressed (`…tar+gzip`, Docker's `…diff.tar.gzip`),
 * sometimes zstd (`…tar+zstd`) or not compressed at all (`…v1.tar`). The media type in the
 * manifest says which — but registries and tools have been known to mislabel blobs, so the first
 * bytes (the "magic number") decide: gzip starts 1f 8b, zstd 28 b5 2f fd. A plain tar has no
 * magic at offset 0 (its `ustar` mark is at offset 257).
 *
 * Both decoders stream: memory stays constant whatever the layer size. Node's zlib has gunzip;
 * for zstd we wrap fzstd's `Decompress` (pure JS) in a Transform, which gives backpressure: Node
 * does not hand the Transform a new input chunk until its output has been read.
 *
 * Try: `zstd -c layer.tar | head -c4 | xxd` and `gzip -c layer.tar | head -c2 | xxd`.
 */
import fs from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';
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

/** Output buffer of gunzip: Node's default 16 KiB means one stream round trip per 16 KiB of tar. */
const INFLATE_CHUNK_BYTES = 256 * 1024;

/** The stream that turns blob bytes into tar bytes. */
export function createDecompressor(compression: Compression): Transform {
  switch (compression) {
    case 'gzip': return zlib.createGunzip({ chunkSize: INFLATE_CHUNK_BYTES });
    case 'zstd': return new ZstdDecompressStream();
    case 'none': return new Transform({ transform: (chunk, _encoding, callback) => callback(null, chunk) });
  }
}
