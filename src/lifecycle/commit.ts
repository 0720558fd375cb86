/**
 * commit.ts — `minibox commit` and `minibox export`: a container's files become an image, or a tar.
 *
 * Everything a container changed is in its overlay upper dir (diff.ts). `commit` turns that dir
 * into one more layer (image/pack/) on top of the image's own layers, and writes a config that
 * is the image's, plus a `history` line, plus any `--change`: a new image whose bottom layers are
 * *shared* with the old one — the layer lesson in one command. Mount points the runtime created
 * (an empty /etc/hostname for its bind mount) are left out, as Docker leaves out its "-init"
 * layer. A running container is committed without pausing it (minibox has no freezer on hybrid
 * hosts): a file written during the commit may or may not be in the layer, never half of it
 * beyond its size when read.
 *
 * `export` writes the container's whole merged tree as a plain tar: the image's layers with the
 * upper dir on top, mounted read-only as one more overlay (the upper dir as the top *lower*
 * layer — read-only, so the running container's own overlay is not disturbed). Volumes are not
 * part of it, as with Docker.
 *
 * Try: `minibox run --name greeter busybox sh -c 'echo hello from the layer > /greeting';
 * minibox commit greeter greeted; minibox run --rm greeted cat /greeting` → `hello from the layer`.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { MiniboxError } from '../errors.js';
import { STORE_LOCK, withLock } from '../lock.js';
import type { StateRoot } from '../state-root.js';
import { MNT, MS, mount, umount } from '../sys/mount.js';
import { LayerStack } from '../bundle/layer-view.js';
import type { ContainerConfig, ImageConfig } from '../image/oci.js';
import { parseReference } from '../image/reference.js';
import { ImageStore, type ImageRecord, type LayerRecord } from '../image/store/images.js';
import { applyConfigChanges } from '../image/pack/config-changes.js';
import { writeLayerBlob } from '../image/pack/layer-blob.js';
import { writeLayerTar } from '../image/pack/layer-tar.js';
import { EMPTY_LAYER_DIFF_ID, storeNewImage } from '../image/pack/new-image.js';
import { containerLayers, mountArtefactTests } from './diff.js';
import { findContainer } from '../container/container-store.js';

export interface CommitOptions {
  /** `REPOSITORY[:TAG]` for the new image (none: an untagged image, as Docker makes). */
  reference?: string;
  message?: string;
  author?: string;
  /** Config fields that replace the image's before the changes apply (the Engine API's commit body). */
  config?: ContainerConfig;
  /** `--change` instructions: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, WORKDIR, VOLUME. */
  changes?: string[];
  /** How the new layer is compressed (default gzip). */
  compression?: 'gzip' | 'zstd';
}

/** The canonical `name:tag` to record for a user's `REPOSITORY[:TAG]`. */
export function tagFor(reference: string | undefined): string | undefined {
  if (reference === undefined) return undefined;
  const parsed = parseReference(reference);
  if (parsed.digest) throw new MiniboxError(`invalid reference format: ${reference} (a new image gets a tag, not a digest)`);
  return `${parsed.name}:${parsed.tag ?? 'latest'}`;
}

/**
 * The container's changes as a layer in the store, or undefined when it changed nothing (Docker
 * then records history only). The caller holds the store lock (shared).
 */
export async function containerChangesLayer(root: StateRoot, record: { Id: string }, compression: 'gzip' | 'zstd' = 'gzip'): Promise<LayerRecord | undefined> {
  const { upper, layers, mountPoints } = containerLayers(root, record);
  const { isRuntimeOnly } = mountArtefactTests(upper, new LayerStack(layers), mountPoints);
  const layer = await writeLayerBlob(new ImageStore(root), upper, { overlayUpper: true, compression, skip: (rel, stats) => isRuntimeOnly(`/${rel}`, stats) });
  return layer.diffId === EMPTY_LAYER_DIFF_ID ? undefined : layer;
}

/** `commit CONTAINER [REPOSITORY[:TAG]]`: the new image's record. */
export async function commitContainer(root: StateRoot, idOrName: string, options: CommitOptions = {}): Promise<ImageRecord> {
  const record = findContainer(root, idOrName);
  const tag = tagFor(options.reference);
  const store = new ImageStore(root);
  const parent = store.get(record.Image);
  return await withLock(root.locks, STORE_LOCK, async () => {
    const layer = await containerChangesLayer(root, record, options.compression ?? 'gzip');
    const parentConfig = store.config(parent);
    const created = new Date().toISOString();
    const config: ImageConfig = {
      ...parentConfig,
      created,
      ...(options.author !== undefined ? { author: options.author } : {}),
      config: applyConfigChanges({ ...parentConfig.config, ...options.config }, options.changes ?? []),
      rootfs: { type: 'layers', diff_ids: [...parentConfig.rootfs.diff_ids, ...(layer ? [layer.diffId] : [])] },
      history: [...(parentConfig.history ?? []), {
        created,
        created_by: (record.Config.Cmd ?? []).join(' '),
        ...(options.author !== undefined ? { author: options.author } : {}),
        ...(options.message !== undefined ? { comment: options.message } : {}),
        // Docker records an empty change as history only (empty_layer), with no layer.
        ...(layer ? {} : { empty_layer: true }),
      }],
    };
    return await storeNewImage(store, config, [...parent.layers, ...(layer ? [layer] : [])], tag);
  }, 'shared');
}

/** `export CONTAINER`: the merged tree as a plain tar, streamed into `out`. */
export async function exportContainer(root: StateRoot, idOrName: string, out: Writable): Promise<void> {
  const record = findContainer(root, idOrName);
  const { upper, layers, mountPoints } = containerLayers(root, record);
  const { isArtefact } = mountArtefactTests(upper, new LayerStack(layers), mountPoints);
  fs.mkdirSync(root.tmp, { recursive: true });
  const target = fs.mkdtempSync(path.join(root.tmp, `export-${process.pid}-${record.Id.slice(0, 12)}-`));
  try {
    const lowers = [upper, ...layers];
    mount({ source: 'overlay', target, fstype: 'overlay', flags: MS.RDONLY, data: `lowerdir=${lowers.join(':')}` });
    try {
      await writeLayerTar(target, out, { overlayUpper: false, skip: (rel, stats) => isArtefact(`/${rel}`, stats) });
    } finally {
      umount(target, MNT.DETACH);
    }
  } finally {
    fs.rmdirSync(target);
  }
}
