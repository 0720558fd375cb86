/**
 * unpack-into-store.ts — a layer blob already in blobs/ becomes its directory in layers/.
 *
 * Shared by every way a layer arrives: downloaded by `pull`, written by `commit` or `import`.
 * Under the layer's lock, so two processes never unpack the same layer at once; the unpack goes
 * to a temp dir renamed into place (layers.ts), and the diff id of what was unpacked must be the
 * one the image config names — otherwise the layer is refused and nothing appears.
 *
 * Try: `ls $MINIBOX_ROOT/layers/sha256/` → `.json` (one directory per diff id, and its size record
 * beside it).
 */
import { MiniboxError } from '../../errors.js';
import { withLock } from '../../lock.js';
import { shortId } from '../digest.js';
import { unpackLayer } from '../unpack/index.js';
import type { ImageStore } from './images.js';

export interface StoredLayerBlob {
  /** The blob's digest (it is in blobs/). */
  digest: string;
  mediaType: string;
  /** The diff id the image config gives it. */
  diffId: string;
}

/** Unpacks the blob into layers/ unless the layer is there already; returns its unpacked size. */
export async function unpackIntoStore(store: ImageStore, blob: StoredLayerBlob, onProgress?: (read: number) => void): Promise<number> {
  return await withLock(store.root.locks, `layer-${blob.diffId}`, async () => {
    if (store.layers.has(blob.diffId)) return store.layers.size(blob.diffId);
    return await unpackUnlocked(store, blob, onProgress);
  });
}

/** The same, for a caller that already holds the layer's lock (pull). */
export async function unpackUnlocked(store: ImageStore, blob: StoredLayerBlob, onProgress?: (read: number) => void): Promise<number> {
  return await store.layers.create(blob.diffId, async (dir) => {
    const result = await unpackLayer({
      blobPath: store.blobs.path(blob.digest),
      mediaType: blob.mediaType,
      dest: dir,
      layerName: blob.digest,
      ...(onProgress ? { onProgress } : {}),
    });
    if (result.diffId !== blob.diffId) {
      throw new MiniboxError(`layer ${shortId(blob.digest)}: unpacked content has diff id ${result.diffId} but the image config says ${blob.diffId}; the image is corrupt`);
    }
    return result.size;
  });
}
