/**
 * garbage.ts — removing images, and the layers and blobs nothing needs any more.
 *
 * Blobs and layers are shared between images, so deleting an image record frees only what no
 * other image (and no container) still points at: a mark-and-sweep over the image records.
 * It runs holding the store lock exclusively, so it never sweeps a layer a concurrent pull has
 * just unpacked but not yet recorded (pulls hold the same lock shared).
 *
 * Which images containers use is the caller's to say (`ImageUsers`, from the container store's
 * `imagesInUse`): the image store knows nothing of how containers are kept on disk.
 *
 * Try: `minibox run --name keep busybox true; minibox rmi busybox` → `container … is using its referenced image`
 */
import fs from 'node:fs';
import { MiniboxError } from '../../errors.js';
import { withLock } from '../../lock.js';
import type { StateRoot } from '../../state-root.js';
import { shortId } from '../digest.js';
import { defaultMountDir, isMountPoint } from '../image-mount.js';
import { STORE_LOCK } from '../pull.js';
import { parseReference } from '../reference.js';
import { ImageStore, type ImageRecord } from './images.js';
import { abandonedTemps } from './temp-files.js';

/** Image id → the ids of the containers that use it (and so must keep it). */
export type ImageUsers = ReadonlyMap<string, readonly string[]>;

export interface RemoveResult {
  untagged: string[];
  deleted: string[];
}

/**
 * `minibox rmi`: removes a name; the image goes when its last name goes. Refuses an image a
 * container uses unless `force` (then only its names go; the data stays while in use).
 */
export async function removeImage(root: StateRoot, refOrId: string, imageUsers: ImageUsers, force = false): Promise<RemoveResult> {
  const store = new ImageStore(root);
  const image = store.get(refOrId);
  const users = imageUsers.get(image.id) ?? [];
  const byName = image.repoTags.find((tag) => tag === canonicalTag(refOrId));
  if (users.length > 0 && !force) {
    throw new MiniboxError(`conflict: unable to remove repository reference "${refOrId}" (must force) - container ${shortId(users[0]!)} is using its referenced image ${shortId(image.id)}`);
  }
  const mounted = defaultMountDir(root, image);
  if (isMountPoint(mounted)) {
    throw new MiniboxError(`image ${refOrId} is mounted at ${mounted}; run \`minibox image unmount ${refOrId}\` first`);
  }
  if (!byName && image.repoTags.length > 1 && !force) {
    throw new MiniboxError(`conflict: unable to delete ${shortId(image.id)} (must be forced) - image is referenced in multiple repositories`);
  }
  const { untagged, deleted } = await store.untagOrDelete(image.id, byName);
  if (deleted && users.length > 0) {
    // Forced while in use: keep the record (as an untagged image) so the container can still run.
    await store.update((index) => { index.images[image.id] = { ...image, repoDigests: [] }; });
    return { untagged, deleted: [] };
  }
  // Docker lists the image id, then each layer that went with it.
  const swept = deleted ? await collectGarbage(root) : { layers: [], blobs: [] };
  return { untagged, deleted: deleted ? [image.id, ...swept.layers] : [] };
}

function canonicalTag(refOrId: string): string | undefined {
  try {
    const ref = parseReference(refOrId);
    return ref.tag && !ref.digest ? `${ref.name}:${ref.tag}` : undefined;
  } catch {
    return undefined;
  }
}

/** `minibox image prune`: removes untagged images (or, with `all`, every image no container uses). */
export async function pruneImages(root: StateRoot, imageUsers: ImageUsers, all = false): Promise<{ deleted: ImageRecord[]; reclaimed: number; swept: Swept }> {
  const store = new ImageStore(root);
  const doomed = store.list().filter((image) => !imageUsers.has(image.id) && (all || image.repoTags.length === 0));
  for (const image of doomed) {
    await store.update((index) => {
      for (const [tag, id] of Object.entries(index.tags)) if (id === image.id) delete index.tags[tag];
      delete index.images[image.id];
    });
  }
  const before = diskUsage(store);
  const swept = await collectGarbage(root);
  return { deleted: doomed, reclaimed: Math.max(before - diskUsage(store), 0), swept };
}

function diskUsage(store: ImageStore): number {
  return store.layers.list().reduce((sum, diffId) => sum + store.layers.size(diffId), 0);
}

export interface Swept {
  /** Diff ids of the layer directories deleted. */
  layers: string[];
  /** Digests of the blobs deleted. */
  blobs: string[];
}

/** Deletes blobs and layer directories that no image record references. Returns what went. */
export async function collectGarbage(root: StateRoot): Promise<Swept> {
  return await withLock(root.locks, STORE_LOCK, async () => {
    const store = new ImageStore(root);
    const liveBlobs = new Set<string>();
    const liveLayers = new Set<string>();
    for (const image of store.list()) {
      liveBlobs.add(image.manifestDigest);
      liveBlobs.add(image.configDigest);
      for (const digest of image.repoDigests.map((d) => d.slice(d.indexOf('@') + 1))) liveBlobs.add(digest);
      for (const layer of image.layers) {
        liveBlobs.add(layer.digest);
        liveLayers.add(layer.diffId);
      }
    }
    const swept: Swept = { layers: [], blobs: [] };
    for (const diffId of store.layers.list()) {
      if (!liveLayers.has(diffId)) {
        store.layers.remove(diffId);
        swept.layers.push(diffId);
      }
    }
    for (const digest of store.blobs.list()) {
      if (!liveBlobs.has(digest)) {
        store.blobs.remove(digest);
        swept.blobs.push(digest);
      }
    }
    // What dead processes left in tmp/ (a partial download nobody resumed, an unpack cut short).
    for (const file of await abandonedTemps(root)) fs.rmSync(file, { recursive: true, force: true });
    return swept;
  }, 'exclusive');
}

