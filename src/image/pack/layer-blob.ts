/**
 * layer-blob.ts — a layer tar, compressed and named twice, in one pass.
 *
 * A layer has two digests, and a new one needs both:
 *   diff id — sha256 of the *uncompressed* tar: what the image config lists (rootfs.diff_ids),
 *             what names the unpacked layer directory, what stays the same however it is shipped;
 *   digest  — sha256 of the *compressed* blob: what the manifest lists and the registry stores.
 * The tar is written once and flows tar → hash (diff id) → gzip → hash (digest) → a temp file in
 * the store, so neither hash needs a second read and memory stays constant however big the layer.
 * The temp file is renamed into blobs/ only when complete (the store's rule: nothing half-written
 * is ever visible), then unpacked into layers/ like a pulled layer — which also proves that what
 * was written reads back.
 *
 * gzip here is deterministic: zlib writes no file name and a zero mtime in the gzip header, so
 * the same tree gives the same digest twice. `--compression zstd` (smaller, faster to unpack)
 * goes through the `zstd` program with one thread and a fixed level, deterministic too.
 *
 * Try: `minibox run --name box busybox touch /x && minibox commit box x:1 >/dev/null && minibox
 * commit box x:2 >/dev/null && minibox inspect --format '{{.RootFS.Layers}}' x:1 x:2 | uniq | wc
 * -l` → `1` (the same bytes, the same diff id).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { withLock } from '../../lock.js';
import { hashingStream } from '../digest.js';
import { MediaType } from '../oci.js';
import type { ImageStore, LayerRecord } from '../store/images.js';
import { unpackIntoStore } from '../store/unpack-into-store.js';
import { createCompressor } from '../unpack/compression.js';
import { writeLayerTar, type LayerTarOptions } from './layer-tar.js';

/**
 * Writes the tar of `dir` as a gzip layer blob into the store, unpacks it into layers/, and
 * returns its record. The caller holds the store lock (shared), as a pull does.
 */
export async function writeLayerBlob(store: ImageStore, dir: string, options: LayerTarOptions & { compression?: 'gzip' | 'zstd' }): Promise<LayerRecord> {
  const compression = options.compression ?? 'gzip';
  const mediaType = compression === 'zstd' ? MediaType.OciLayerZstd : MediaType.OciLayerGzip;
  fs.mkdirSync(store.root.tmp, { recursive: true });
  const temp = path.join(store.root.tmp, `layer-write-${process.pid}-${randomBytes(4).toString('hex')}.partial`);
  const tarStream = new PassThrough();
  const uncompressed = hashingStream();
  const compressed = hashingStream();
  try {
    await Promise.all([
      writeLayerTar(dir, tarStream, options),
      pipeline(tarStream, uncompressed.stream, createCompressor(compression), compressed.stream, fs.createWriteStream(temp, { mode: 0o600 })),
    ]);
    const digest = compressed.digest();
    const diffId = uncompressed.digest();
    await withLock(store.root.locks, `blob-${digest}`, async () => {
      if (store.blobs.has(digest)) fs.rmSync(temp, { force: true });
      else store.blobs.commit(temp, digest);
    });
    const unpackedSize = await unpackIntoStore(store, { digest, mediaType, diffId });
    return { digest, diffId, mediaType, size: compressed.size(), unpackedSize };
  } finally {
    fs.rmSync(temp, { force: true });
  }
}
