/**
 * pull-layer.ts — one layer of a pull: downloaded and unpacked at the same time.
 *
 * The simple order is download the blob → verify its digest → read it back → unpack. Each byte
 * then waits for the whole blob before it is decompressed, and is read from the disk a second
 * time. Here the two are a pipeline, as in `curl | tar -xz`: every chunk that arrives is hashed
 * and appended to the blob's partial file *and* handed to a thread that is already unpacking the
 * layer into a temp directory (unpack/unpack-thread.ts). When the last byte has arrived:
 *
 *   1. the blob's size and sha256 must match the manifest (else: the temp dir is deleted);
 *   2. the blob is renamed into blobs/ (it is kept: `save`, `push` and fsck need it);
 *   3. the unpacker finishes; the diff id of what it unpacked must match the image config;
 *   4. only then is the temp dir renamed into layers/ (store/layers.ts).
 *
 * So a layer is never recorded from bytes that were not verified, exactly as before: unpacking
 * early only fills a private temp directory that a failure, a digest mismatch or a kill discards
 * (a kill leaves it to `system fsck --repair` and garbage collection, store/temp-files.ts).
 * A download that resumes a partial blob from an earlier, interrupted pull cannot feed the
 * unpacker from byte 0: that layer is unpacked from the verified blob afterwards, as before.
 *
 * Try: `minibox rmi busybox $IMAGE >/dev/null; minibox pull $IMAGE | grep -c Extracting` → `1`
 * (plain output: one line per layer downloaded; on a terminal the bars show each layer's
 * download and extraction moving together).
 */
import fs from 'node:fs';
import { crashPoint } from '../crash-point.js';
import { MiniboxError } from '../errors.js';
import { withLock } from '../lock.js';
import { publishStep } from '../sys/trace.js';
import { shortId } from './digest.js';
import type { Descriptor } from './oci.js';
import type { PullReporter } from './pull-progress.js';
import type { ImageReference } from './reference.js';
import { downloadBlob, type RegistryClient } from './registry/index.js';
import type { ImageStore } from './store/images.js';
import { unpackUnlocked } from './store/unpack-into-store.js';
import { unpackLayer, type UnpackResult } from './unpack/index.js';
import type { UnpackThreads } from './unpack/unpack-thread.js';

export interface LayerSource {
  store: ImageStore;
  client: RegistryClient;
  reference: ImageReference;
  reporter: PullReporter;
  threads: UnpackThreads;
}

/**
 * Makes one layer present as an unpacked directory. Holding the layer's lock, a second pull
 * of the same layer waits and then finds it done ("Already exists" — 0 bytes fetched).
 */
export async function pullLayer(source: LayerSource, descriptor: Descriptor, diffId: string): Promise<{ downloaded: number; unpackedSize: number }> {
  const { store, reporter } = source;
  const started = performance.now();
  return await withLock(store.root.locks, `layer-${diffId}`, async () => {
    if (store.layers.has(diffId)) {
      publishStep('pull.layer', { digest: descriptor.digest, diffId, action: 'cached' });
      reporter.layer(descriptor.digest, 'Already exists');
      return { downloaded: 0, unpackedSize: store.layers.size(diffId) };
    }
    let downloaded = 0;
    let pipelined = false;
    let unpackedSize: number;
    if (store.blobs.has(descriptor.digest)) {
      unpackedSize = await unpackUnlocked(store, { digest: descriptor.digest, mediaType: descriptor.mediaType, diffId },
        (read) => reporter.layer(descriptor.digest, 'Extracting', read, descriptor.size));
    } else {
      unpackedSize = await store.layers.create(diffId, async (dir) => {
        const unpacked = await downloadWhileUnpacking(source, descriptor, dir);
        downloaded = unpacked.downloaded;
        pipelined = unpacked.pipelined;
        if (unpacked.diffId !== diffId) {
          throw new MiniboxError(`layer ${shortId(descriptor.digest)}: unpacked content has diff id ${unpacked.diffId} but the image config says ${diffId}; the image is corrupt`);
        }
        return unpacked.size;
      });
    }
    crashPoint('layer:stored');
    publishStep('pull.layer', { digest: descriptor.digest, diffId, action: 'unpacked', downloaded: downloaded > 0, pipelined, size: descriptor.size, unpackedSize },
      undefined, performance.now() - started);
    reporter.layer(descriptor.digest, 'Pull complete', descriptor.size, descriptor.size);
    return { downloaded, unpackedSize };
  });
}

/**
 * Steps 1–3 of the header, into `dir` (the layer's temp directory). `pipelined` says whether the
 * unpacker ran behind the download, or (a resumed download) afterwards from the stored blob.
 */
async function downloadWhileUnpacking(source: LayerSource, descriptor: Descriptor, dir: string): Promise<UnpackResult & { downloaded: number; pipelined: boolean }> {
  const { store, client, reference, reporter } = source;
  const { digest, size } = descriptor;
  let downloading = true;
  const thread = source.threads.unpack({ dest: dir, layerName: digest, mediaType: descriptor.mediaType },
    (read) => { if (!downloading) reporter.layer(digest, 'Extracting', read, size); });
  let downloaded: number;
  try {
    // The layer lock is held, but a config or manifest could share the digest: take the blob's too.
    downloaded = await store.blobs.withBlobLock(digest, async () => {
      if (store.blobs.has(digest)) return 0; // stored meanwhile by another process's `load` or pull
      const partial = store.blobs.partialPath(digest);
      await downloadBlob(client, reference, descriptor, partial, {
        onProgress: (received, total) => reporter.layer(digest, 'Downloading', received, total),
        onChunk: async (chunk, offset) => await thread.write(chunk, offset),
      });
      reporter.layer(digest, 'Verifying Checksum', size, size);
      crashPoint('blob:downloaded');
      store.blobs.commit(partial, digest);
      reporter.layer(digest, 'Download complete', size, size);
      return size;
    });
  } catch (error) {
    await thread.stop(); // before the caller deletes `dir`: the thread writes nothing more
    throw error;
  } finally {
    downloading = false;
  }
  if (downloaded > 0 && !thread.stopped && thread.received === size) {
    reporter.layer(digest, 'Extracting', thread.consumed, size);
    return { ...(await thread.end()), downloaded, pipelined: true }; // or the unpacker's error
  }
  await thread.stop();
  // The download resumed an earlier partial file (or the blob came from elsewhere): unpack the
  // verified blob into a clean dir, as a pull did before pipelining.
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { mode: 0o755 });
  fs.chmodSync(dir, 0o755);
  const unpacked = await unpackLayer({ blobPath: store.blobs.path(digest), mediaType: descriptor.mediaType, dest: dir, layerName: digest,
    onProgress: (read) => reporter.layer(digest, 'Extracting', read, size) });
  return { ...unpacked, downloaded, pipelined: false };
}
