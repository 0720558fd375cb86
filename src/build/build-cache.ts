/**
 * build-cache.ts — why the second build is instant, and why instruction order matters.
 *
 * Each step of a build turns one image into the next. If the same step was taken before from the
 * same image — same parent image ID, same instruction after variable expansion, and for COPY/ADD
 * the same bytes and metadata in every source file — its result can be reused instead of run
 * again: "Using cache". A change invalidates that step *and every step after it*, because their
 * parent image is now different. So a Dockerfile copies `package.json` and installs dependencies
 * before it copies the rest of the source: an edit to the source then reuses the slow install.
 *
 * The cache is a table in the state root (`builder/cache.json`): key → the image record the step
 * produced. A hit is used only if that image's config blob and every layer are still in the
 * store (`image prune` may have removed them: then it is a miss). `builder prune` empties it.
 *
 * Try: `printf 'FROM busybox\nRUN echo hi > /f\n' > Dockerfile && minibox build -t c . >/dev/null
 * && minibox build -t c .` → `Using cache` (every step; touch a file a COPY reads and the steps
 * from that COPY on run again).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { withLock } from '../lock.js';
import type { StateRoot } from '../state-root.js';
import type { ImageRecord, ImageStore } from '../image/store/images.js';

type CachedImage = Omit<ImageRecord, 'repoTags'>;

interface CacheFile {
  entries: Record<string, CachedImage>;
}

function cachePath(root: StateRoot): string {
  return path.join(root.dir, 'builder', 'cache.json');
}

function read(root: StateRoot): CacheFile {
  try {
    return JSON.parse(fs.readFileSync(cachePath(root), 'utf8')) as CacheFile;
  } catch {
    return { entries: {} };
  }
}

/** Every cached step's image (for `system df`: what the cache keeps on disk). */
export function cachedImages(root: StateRoot): CachedImage[] {
  return Object.values(read(root).entries);
}

/** The key of a step: its parent image and everything that decides its result. */
export function stepKey(parentId: string, instruction: string, sources = ''): string {
  return createHash('sha256').update(`${parentId}\n${instruction}\n${sources}`).digest('hex');
}

/** The image a step made before, if it and all it needs are still in the store. */
export function lookup(root: StateRoot, store: ImageStore, key: string): CachedImage | undefined {
  const entry = read(root).entries[key];
  if (!entry) return undefined;
  const complete = store.blobs.has(entry.configDigest) && store.blobs.has(entry.manifestDigest)
    && entry.layers.every((layer) => store.blobs.has(layer.digest) && store.layers.has(layer.diffId));
  return complete ? entry : undefined;
}

export async function remember(root: StateRoot, key: string, image: ImageRecord): Promise<void> {
  await withLock(root.locks, 'build-cache', async () => {
    const cache = read(root);
    const { repoTags: _tags, ...stored } = image;
    cache.entries[key] = stored;
    fs.mkdirSync(path.dirname(cachePath(root)), { recursive: true, mode: 0o700 });
    const temp = `${cachePath(root)}.${process.pid}.tmp`;
    fs.writeFileSync(temp, JSON.stringify(cache));
    fs.renameSync(temp, cachePath(root));
  });
}

/** `builder prune`: forgets every cached step; returns how many there were. */
export async function pruneCache(root: StateRoot): Promise<number> {
  return await withLock(root.locks, 'build-cache', async () => {
    const count = Object.keys(read(root).entries).length;
    fs.rmSync(cachePath(root), { force: true });
    return count;
  });
}
