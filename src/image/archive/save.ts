/**
 * save.ts — `minibox save`: images as one tar file, to carry between machines without a registry.
 *
 * The tar holds two descriptions of the same blobs, as `docker save` writes since Docker 25:
 *   oci-layout, index.json     an OCI image layout (image-spec image-layout.md): index → manifest
 *                              → config + layers, every file named by its digest under blobs/;
 *   manifest.json              Docker's older "docker-archive" table: per image its config file,
 *                              its tags and its layer files, bottom first.
 * Readers of either format (docker load, skopeo's `docker-archive:` and `oci-archive:`, podman)
 * find what they need. Layers are written *uncompressed*, their file named by the diff id:
 * docker-archive readers expect plain layer tars whose sha256 is the diff id in the config. So
 * the archive's manifest is not the registry's (that one names compressed blobs) — the image ID,
 * the config digest, stays the same.
 *
 * Everything streams: one layer at a time is decompressed straight into the archive, its size
 * known beforehand (the store recorded each layer's uncompressed size at unpack time).
 *
 * Try: `minibox save -o b.tar busybox && tar -tf b.tar` → `blobs/sha256/ … index.json …
 * manifest.json … oci-layout`
 */
import fs from 'node:fs';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pack as tarPack, type Pack } from 'tar-stream';
import { MiniboxError } from '../../errors.js';
import { STORE_LOCK, withLock } from '../../lock.js';
import type { StateRoot } from '../../state-root.js';
import { digestHex, sha256Digest } from '../digest.js';
import { MediaType, type ImageManifest } from '../oci.js';
import { familiarName, parseReference } from '../reference.js';
import { ImageStore, type ImageRecord } from '../store/images.js';
import { createDecompressor, detectCompression } from '../unpack/compression.js';

const MTIME = new Date(0); // the archive describes content, not when it was written

async function addFile(pack: Pack, name: string, bytes: Buffer | string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    pack.entry({ name, size: Buffer.byteLength(bytes), mode: 0o644, mtime: MTIME }, bytes, (error) => (error ? reject(error) : resolve()));
  });
}

/** One layer, decompressed into the archive as `blobs/sha256/<diff id>`. */
async function addLayer(pack: Pack, store: ImageStore, digest: string, diffId: string, size: number): Promise<void> {
  const blob = store.blobs.path(digest);
  let sink!: ReturnType<Pack['entry']>;
  const taken = new Promise<void>((resolve, reject) => {
    sink = pack.entry({ name: `blobs/sha256/${digestHex(diffId)}`, size, mode: 0o644, mtime: MTIME }, (error) => (error ? reject(error) : resolve()));
  });
  await pipeline(fs.createReadStream(blob), createDecompressor(detectCompression(blob, digest)), sink as unknown as Writable);
  await taken;
}

/** The names an image is saved under: the tags asked for, or all its tags when asked by id. */
function tagsToSave(image: ImageRecord, asked: string): string[] {
  try {
    const ref = parseReference(asked);
    if (!ref.digest && !/^(sha256:)?[0-9a-f]{4,64}$/.test(asked)) return [`${ref.name}:${ref.tag ?? 'latest'}`];
  } catch { /* an id */ }
  return image.repoTags;
}

/** `save IMAGE…` into `out`. */
export async function saveImages(root: StateRoot, names: string[], out: Writable): Promise<void> {
  if (names.length === 0) throw new MiniboxError('"save" requires at least 1 argument: the images to save');
  const store = new ImageStore(root);
  const asked = names.map((name) => ({ image: store.get(name), tags: [] as string[], name }));
  for (const entry of asked) entry.tags = tagsToSave(entry.image, entry.name);

  await withLock(root.locks, STORE_LOCK, async () => {
    const pack = tarPack();
    const written = pipeline(pack as unknown as NodeJS.ReadableStream, out);
    const blobsDone = new Set<string>();
    const docker: { Config: string; RepoTags: string[]; Layers: string[] }[] = [];
    const index: { mediaType: string; digest: string; size: number; annotations?: Record<string, string> }[] = [];
    const repositories: Record<string, Record<string, string>> = {};
    try {
      for (const { image, tags } of asked) {
        const configBytes = store.blobs.read(image.configDigest);
        const manifest: ImageManifest = {
          schemaVersion: 2,
          mediaType: MediaType.OciManifest,
          config: { mediaType: MediaType.OciConfig, digest: image.configDigest, size: configBytes.length },
          layers: image.layers.map((layer) => ({ mediaType: MediaType.OciLayer, digest: layer.diffId, size: layer.unpackedSize })),
        };
        const manifestBytes = Buffer.from(JSON.stringify(manifest));
        const manifestDigest = sha256Digest(manifestBytes);
        for (const layer of image.layers) {
          if (blobsDone.has(layer.diffId)) continue;
          blobsDone.add(layer.diffId);
          await addLayer(pack, store, layer.digest, layer.diffId, layer.unpackedSize);
        }
        for (const [digest, bytes] of [[image.configDigest, configBytes], [manifestDigest, manifestBytes]] as const) {
          if (blobsDone.has(digest)) continue;
          blobsDone.add(digest);
          await addFile(pack, `blobs/sha256/${digestHex(digest)}`, bytes);
        }
        const familiarTags = tags.map((tag) => {
          const ref = parseReference(tag);
          return `${familiarName(ref)}:${ref.tag ?? 'latest'}`;
        });
        docker.push({ Config: `blobs/sha256/${digestHex(image.configDigest)}`, RepoTags: familiarTags, Layers: image.layers.map((l) => `blobs/sha256/${digestHex(l.diffId)}`) });
        const descriptor = { mediaType: MediaType.OciManifest, digest: manifestDigest, size: manifestBytes.length };
        if (tags.length === 0) index.push(descriptor);
        for (const tag of tags) {
          const ref = parseReference(tag);
          index.push({ ...descriptor, annotations: { 'io.containerd.image.name': tag, 'org.opencontainers.image.ref.name': ref.tag ?? 'latest' } });
          const top = image.layers.at(-1);
          if (top) (repositories[familiarName(ref)] ??= {})[ref.tag ?? 'latest'] = digestHex(top.diffId);
        }
      }
      await addFile(pack, 'index.json', JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: index }));
      await addFile(pack, 'manifest.json', JSON.stringify(docker));
      await addFile(pack, 'oci-layout', JSON.stringify({ imageLayoutVersion: '1.0.0' }));
      await addFile(pack, 'repositories', JSON.stringify(repositories));
      pack.finalize();
    } catch (error) {
      pack.destroy(error as Error);
    }
    await written;
  }, 'shared');
}
