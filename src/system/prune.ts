/**
 * prune.ts — `minibox system prune [-a] [--volumes]`: everything nothing uses, in one go.
 *
 * Docker's order, and the reason for it: stopped containers first (a stopped container keeps
 * its image, its networks and its volumes in use), then networks no container is on, then
 * (with `--volumes`) anonymous volumes no container mounts, then dangling images — or with `-a`
 * every image no container uses — and the layers and blobs only they needed; the build cache
 * (`builder prune`) is emptied first, so the layers only it kept go in the same sweep. Each step is the
 * same library call as its own prune command (`container prune`, `image prune`…).
 *
 * Try: `minibox run busybox true; minibox system prune -f` → `Deleted Containers: … Total
 * reclaimed space:`
 */
import { pruneCache } from '../build/build-cache.js';
import { VolumeStore } from '../bundle/volumes.js';
import { reconcileAll } from '../container/reconcile.js';
import { imagesInUse } from '../container/container-store.js';
import { pruneImages } from '../image/store/garbage.js';
import type { ImageRecord } from '../image/store/images.js';
import { diskUsage, pruneContainers } from '../lifecycle/remove.js';
import { pruneNetworks } from '../network/index.js';
import type { StateRoot } from '../state-root.js';

export interface PruneOptions {
  /** `-a`: every image no container uses, not only dangling ones. */
  all?: boolean;
  /** `--volumes`: anonymous volumes no container uses. */
  volumes?: boolean;
}

export interface PruneResult {
  containers: string[];
  networks: string[];
  volumes: string[];
  images: ImageRecord[];
  /** Cached build steps forgotten. */
  buildCache: number;
  reclaimed: number;
}

/** The confirmation Docker prints before pruning, for these options. */
export function pruneWarning(options: PruneOptions): string {
  return [
    'WARNING! This will remove:',
    '  - all stopped containers',
    '  - all networks not used by at least one container',
    ...(options.volumes ? ['  - all anonymous volumes not used by at least one container'] : []),
    options.all ? '  - all images without at least one container associated to them' : '  - all dangling images',
    '  - all dangling build cache',
  ].join('\n');
}

async function pruneVolumes(root: StateRoot): Promise<{ names: string[]; bytes: number }> {
  const store = new VolumeStore(root);
  const names: string[] = [];
  let bytes = 0;
  for (const volume of store.list().filter((v) => v.Anonymous && store.usedBy(v.Name).length === 0)) {
    const size = diskUsage(volume.Mountpoint);
    try {
      await store.remove(volume.Name);
      names.push(volume.Name);
      bytes += size;
    } catch { /* mounted by a container created meanwhile */ }
  }
  return { names, bytes };
}

export async function pruneSystem(root: StateRoot, options: PruneOptions = {}): Promise<PruneResult> {
  const containers = await pruneContainers(root, await reconcileAll(root));
  const networks = await pruneNetworks(root);
  const volumes = options.volumes ? await pruneVolumes(root) : { names: [], bytes: 0 };
  const buildCache = await pruneCache(root); // before the images: the layers only it kept go too
  const images = await pruneImages(root, imagesInUse(root), options.all === true);
  return {
    containers: containers.ids, networks, volumes: volumes.names, images: images.deleted, buildCache,
    reclaimed: containers.bytes + volumes.bytes + images.reclaimed,
  };
}
