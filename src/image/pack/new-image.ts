/**
 * new-image.ts — recording an image minibox made itself (`commit`, `import`).
 *
 * An image is three kinds of blobs pointing at each other by digest (oci.ts): layers, a config
 * that lists the layers' diff ids and says how to run the image, and a manifest that lists the
 * config and the layer blobs. A pulled image arrives with all three; a new one has them written
 * here, bottom up — layers (already in the store), then the config, then the manifest — so that
 * every digest a blob mentions is already in the store when it is written. The image ID is the
 * config's digest, as in Docker's classic store; there is no repo digest until the image is
 * pushed, because a repo digest is a registry's name for a manifest.
 *
 * The manifest is OCI's. Layers pulled in Docker's schema 2 keep their bytes; only their media
 * type is given its OCI name, which means the same (a gzip-compressed tar).
 *
 * Try: `minibox run --name box busybox true && minibox commit box x:1 >/dev/null && minibox inspect
 * x:1 | grep -A3 RootFS` → `"Type": "layers"`
 */
import { sha256Digest } from '../digest.js';
import { MediaType, type Descriptor, type ImageConfig, type ImageManifest } from '../oci.js';
import { imageRecordFields, type ImageRecord, type ImageStore, type LayerRecord } from '../store/images.js';

/** The tar of nothing (two 512-byte zero blocks): a layer that changes no file. */
export const EMPTY_LAYER_DIFF_ID = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';

const OCI_NAME_OF: Record<string, string> = {
  [MediaType.DockerLayerGzip]: MediaType.OciLayerGzip,
  [MediaType.DockerLayerZstd]: MediaType.OciLayerZstd,
};

function layerDescriptor(layer: LayerRecord): Descriptor {
  return { mediaType: OCI_NAME_OF[layer.mediaType] ?? layer.mediaType, digest: layer.digest, size: layer.size };
}

/**
 * Writes config and manifest for `layers` (bottom first), records the image, and tags it (or
 * them) if asked. A config given as bytes (`load`) is stored as it is: its digest is the image ID.
 */
export async function storeNewImage(store: ImageStore, configOrBytes: ImageConfig | Buffer, layers: LayerRecord[], tag?: string | string[]): Promise<ImageRecord> {
  const configBytes = Buffer.isBuffer(configOrBytes) ? configOrBytes : Buffer.from(JSON.stringify(configOrBytes));
  const config = Buffer.isBuffer(configOrBytes) ? JSON.parse(configOrBytes.toString('utf8')) as ImageConfig : configOrBytes;
  const configDigest = sha256Digest(configBytes);
  await store.blobs.writeVerified(configDigest, configBytes);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: configDigest, size: configBytes.length },
    layers: layers.map(layerDescriptor),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const manifestDigest = sha256Digest(manifestBytes);
  await store.blobs.writeVerified(manifestDigest, manifestBytes);
  const tags = tag === undefined ? [] : Array.isArray(tag) ? tag : [tag];
  const record = await store.record(imageRecordFields({ repoDigests: [], manifestDigest, manifestMediaType: MediaType.OciManifest, configDigest }, config, layers), tags[0]);
  for (const other of tags.slice(1)) await store.tag(record.id, other);
  return tags.length > 1 ? store.get(record.id) : record;
}
