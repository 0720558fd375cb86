/**
 * image-inspect.ts — `minibox image inspect`: an image as Docker describes it (the same keys as
 * `docker image inspect`), built from the image record and its config blob.
 *
 * Try: `minibox inspect --format '{{.RootFS.Type}} {{.Architecture}}' busybox` → `layers` (the diff
 * ids of its layers follow in `.RootFS.Layers`).
 */
import path from 'node:path';
import type { StateRoot } from '../state-root.js';
import { lowerDirs } from './image-mount.js';
import { ImageStore } from './store/images.js';

export function inspectImage(root: StateRoot, refOrId: string): Record<string, unknown> {
  const store = new ImageStore(root);
  const image = store.get(refOrId);
  const config = store.config(image);
  const lowers = lowerDirs(store, image);
  return {
    Id: image.id,
    RepoTags: image.repoTags,
    RepoDigests: image.repoDigests,
    Parent: '',
    Comment: config.history?.at(-1)?.comment ?? '',
    Created: config.created ?? '',
    DockerVersion: '',
    Author: config.author ?? '',
    Config: config.config ?? {},
    Architecture: config.architecture,
    ...(config.variant ? { Variant: config.variant } : {}),
    Os: config.os,
    Size: image.size,
    GraphDriver: {
      Name: 'overlay',
      Data: {
        // As in Docker's overlay2: the top layer is the "UpperDir" of the image, the rest below.
        LowerDir: lowers.slice(1).join(':'),
        UpperDir: lowers[0] ?? '',
        MergedDir: path.join(root.mounts, image.id.replace('sha256:', '')),
      },
    },
    RootFS: { Type: 'layers', Layers: image.layers.map((layer) => layer.diffId) },
    Metadata: { LastTagTime: image.pulledAt },
    Descriptor: { mediaType: image.manifestMediaType, digest: image.manifestDigest },
  };
}
