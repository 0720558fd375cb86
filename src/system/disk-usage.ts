/**
 * disk-usage.ts — `minibox system df`: where the bytes of the state root are, and which of them
 * a prune could give back.
 *
 * Docker's four rows (Images, Containers, Local Volumes, Build Cache: the cached steps of
 * `minibox build`, and the layers only they keep), each with TOTAL, ACTIVE
 * (in use by a container), SIZE and RECLAIMABLE, plus what Docker does not show: every layer
 * directory with its size and how many images and containers stack it. That is the "layers are
 * shared" lesson as a number — a 5 MB base layer under 2 images and 3 containers is on disk
 * once, and each container adds only its upper dir (its own writes).
 *
 * Sizes are measured, not recorded: the bytes of each directory as `du -sb` counts them
 * (remove.ts `diskUsage`), so `system df` and `du` agree. An image's SIZE is the sum of its
 * layers; the Images row counts each layer once, as the disk does.
 *
 * Try: `minibox run --name dd busybox true && minibox system df -v | grep -A1 '^CONTAINER ID'` →
 * `dd` (its SIZE is its upper dir, as `du -sb` counts it).
 */
import { cachedImages } from '../build/build-cache.js';
import { VolumeStore } from '../bundle/volumes.js';
import { ContainerStore, type ContainerRecord } from '../container/container-store.js';
import { reconcileAll } from '../container/reconcile.js';
import { ImageStore, type ImageRecord } from '../image/store/images.js';
import { diskUsage } from '../lifecycle/remove.js';
import type { StateRoot } from '../state-root.js';

export interface LayerUsage {
  diffId: string;
  size: number;
  /** Ids of the images whose layer list includes it, and of the containers created from those. */
  images: string[];
  containers: string[];
}

export interface ImageUsage {
  image: ImageRecord;
  size: number;
  /** Bytes of its layers that another image also uses, and the rest. */
  sharedSize: number;
  uniqueSize: number;
  containers: number;
}

export interface ContainerUsage {
  record: ContainerRecord;
  /** Bytes of its upper dir: what it wrote. */
  size: number;
  /** Volumes it mounts. */
  volumes: number;
}

export interface VolumeUsage {
  name: string;
  size: number;
  links: number;
  anonymous: boolean;
}

export interface SummaryRow {
  type: 'Images' | 'Containers' | 'Local Volumes' | 'Build Cache';
  total: number;
  active: number;
  size: number;
  reclaimable: number;
}

export interface DiskUsageReport {
  layers: LayerUsage[];
  images: ImageUsage[];
  containers: ContainerUsage[];
  volumes: VolumeUsage[];
  summary: SummaryRow[];
}

function measureLayers(store: ImageStore, images: ImageRecord[], containers: ContainerRecord[]): LayerUsage[] {
  return store.layers.list().map((diffId) => {
    const users = images.filter((image) => image.layers.some((layer) => layer.diffId === diffId)).map((image) => image.id);
    return {
      diffId, size: diskUsage(store.layers.dir(diffId)), images: users,
      containers: containers.filter((container) => users.includes(container.ImageID)).map((container) => container.Id),
    };
  });
}

function measureImages(images: ImageRecord[], layers: Map<string, LayerUsage>, containers: ContainerRecord[]): ImageUsage[] {
  return images.map((image) => {
    const own = [...new Set(image.layers.map((layer) => layer.diffId))].map((diffId) => layers.get(diffId)).filter((layer): layer is LayerUsage => layer !== undefined);
    const size = own.reduce((sum, layer) => sum + layer.size, 0);
    const sharedSize = own.filter((layer) => layer.images.length > 1).reduce((sum, layer) => sum + layer.size, 0);
    return { image, size, sharedSize, uniqueSize: size - sharedSize, containers: containers.filter((c) => c.ImageID === image.id).length };
  });
}

/** Measures everything (reconciling containers first, so ACTIVE tells the truth). */
export async function diskUsageReport(root: StateRoot): Promise<DiskUsageReport> {
  const containers = await reconcileAll(root);
  const store = new ImageStore(root);
  const images = store.list();
  const layers = measureLayers(store, images, containers);
  const byDiffId = new Map(layers.map((layer) => [layer.diffId, layer]));
  const imageUsage = measureImages(images, byDiffId, containers);
  const containerStore = new ContainerStore(root);
  const containerUsage = containers.map((record) => ({
    record, size: diskUsage(containerStore.paths(record.Id).upper), volumes: record.Mounts.filter((m) => m.Type === 'volume').length,
  }));
  const volumeStore = new VolumeStore(root);
  const volumes = volumeStore.list().map((volume) => ({
    name: volume.Name, size: diskUsage(volume.Mountpoint), links: volumeStore.usedBy(volume.Name).length, anonymous: volume.Anonymous === true,
  }));

  // The build cache keeps the images of intermediate steps: their layers that no image record
  // uses are its size (all reclaimable: `builder prune`, then garbage collection).
  const cached = cachedImages(root);
  const recorded = new Set(images.flatMap((image) => image.layers.map((layer) => layer.diffId)));
  const cacheOnly = [...new Set(cached.flatMap((image) => image.layers.map((layer) => layer.diffId)))].filter((diffId) => !recorded.has(diffId));
  const cacheBytes = cacheOnly.reduce((total, diffId) => total + (byDiffId.get(diffId)?.size ?? 0), 0);
  const activeImages = new Set(containers.map((c) => c.ImageID));
  const activeLayers = layers.filter((layer) => layer.images.some((id) => activeImages.has(id)));
  const layerBytes = layers.filter((layer) => recorded.has(layer.diffId)).reduce((sum, layer) => sum + layer.size, 0);
  const sum = <T>(items: T[], size: (item: T) => number): number => items.reduce((total, item) => total + size(item), 0);
  const summary: SummaryRow[] = [
    { type: 'Images', total: images.length, active: images.filter((i) => activeImages.has(i.id)).length, size: layerBytes, reclaimable: layerBytes - sum(activeLayers, (l) => l.size) },
    { type: 'Containers', total: containers.length, active: containers.filter((c) => c.State.Running).length, size: sum(containerUsage, (c) => c.size), reclaimable: sum(containerUsage.filter((c) => !c.record.State.Running), (c) => c.size) },
    { type: 'Local Volumes', total: volumes.length, active: volumes.filter((v) => v.links > 0).length, size: sum(volumes, (v) => v.size), reclaimable: sum(volumes.filter((v) => v.links === 0), (v) => v.size) },
    { type: 'Build Cache', total: cached.length, active: 0, size: cacheBytes, reclaimable: cacheBytes },
  ];
  return { layers, images: imageUsage, containers: containerUsage, volumes, summary };
}
