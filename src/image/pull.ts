/**
 * pull.ts — `minibox pull`: from a name to layers on disk, the way `docker pull` does it.
 *
 *   1. parse the reference (`alpine` → docker.io/library/alpine:latest)
 *   2. ask the registry for the manifest; if it is an index, pick this platform's manifest
 *   3. fetch the config (it lists each layer's uncompressed digest, the diff id)
 *   4. for each layer not already unpacked: download the blob (verified), unpack it into its
 *      own directory (verified against the diff id) — layers are independent, so several
 *      download and unpack at the same time
 *   5. record the image and its tag
 *
 * Nothing is recorded until every layer is in place, and every file that appears in the store
 * was verified first, so an interrupted pull leaves no half image behind, only a head start.
 * Locks make concurrent pulls in separate processes safe: a layer two pulls both need is
 * fetched by whichever gets its lock first; the other finds it done.
 *
 * Try: `minibox pull $IMAGE` → `Status: Image is up to date for $IMAGE` (already here: only the
 * manifest is fetched).
 */
import { crashPoint } from '../crash-point.js';
import { publishStep } from '../sys/trace.js';
import { MiniboxError } from '../errors.js';
import { STORE_LOCK, withLock } from '../lock.js';
import type { StateRoot } from '../state-root.js';
import { shortId } from './digest.js';
import type { Descriptor, ImageConfig, ImageManifest } from './oci.js';
import { parsePlatform } from './platform.js';
import { quietReporter, type PullReporter } from './pull-progress.js';
import { familiarName, parseReference, type ImageReference } from './reference.js';
import { pullLayer, type LayerSource } from './pull-layer.js';
import { UnpackThreads } from './unpack/unpack-thread.js';
import { RegistryClient, downloadBlob, resolveManifest, type ResolvedManifest } from './registry/index.js';
import type { Credentials } from './registry/credential-store.js';
import { ImageStore, imageRecordFields, type ImageRecord, type LayerRecord } from './store/images.js';
import { recordEvent } from '../events/event-log.js';

export interface PullOptions {
  /** `os/arch[/variant]`; default linux/amd64. */
  platform?: string;
  insecureRegistries?: string[];
  /** Docker Hub mirrors (config.ts "registry-mirrors"). */
  registryMirrors?: string[];
  reporter?: PullReporter;
  /** Credentials for this pull (the API's X-Registry-Auth) instead of ~/.docker/config.json's. */
  credentials?: Credentials;
  /** How many layers download and unpack at once. */
  concurrency?: number;
}

export interface PullResult {
  image: ImageRecord;
  reference: ImageReference;
  /** Layer bytes fetched from the registry in this pull (0 when every layer was here). */
  bytesDownloaded: number;
  layersDownloaded: number;
  /** True when the tag now points at an image it did not point at before. */
  changed: boolean;
}

export { STORE_LOCK }; // defined in lock.ts so that `run` need not load the puller to take it

export async function pullImage(root: StateRoot, name: string, options: PullOptions = {}): Promise<PullResult> {
  const reference = parseReference(name);
  const reporter = options.reporter ?? quietReporter();
  const store = new ImageStore(root);
  const client = new RegistryClient({
    insecureRegistries: options.insecureRegistries ?? [], registryMirrors: options.registryMirrors ?? [],
    ...(options.credentials ? { credentials: options.credentials } : {}),
  });
  const platform = parsePlatform(options.platform);

  reporter.message(`${reference.digest ?? reference.tag}: Pulling from ${reference.repository}`);
  const tag = reference.tag ? `${reference.name}:${reference.tag}` : undefined;
  // What the name pointed at before: for `name@digest`, the image already pulled by that digest
  // (a repeated pull by digest changes nothing: "Image is up to date", as Docker says).
  const before = store.resolve(tag ?? name)?.id;
  // The unpacking threads take ~50–100 ms to boot (a V8 isolate each), and every byte of the
  // first layer waits for them. A name that is not here yet is almost surely a cold pull, so
  // they boot *now*, while the registry is asked for the manifest; a name already here (a
  // re-pull, usually nothing to download) starts them only if the manifest names a missing blob.
  const threads = new UnpackThreads();
  if (before === undefined) threads.warm();
  try {
    const asked = performance.now();
    const resolved = await resolveManifest(client, reference, platform);
    const manifest: ImageManifest = resolved.manifest;
    publishStep('pull.manifest', {
      reference: reference.familiar, digest: resolved.manifestDigest, mediaType: resolved.mediaType,
      ...(resolved.index ? { index: resolved.index.digest } : {}), platform: options.platform ?? 'linux/amd64', layers: manifest.layers.length,
    }, undefined, performance.now() - asked);

    return await withLock(root.locks, STORE_LOCK, async () => {
      await store.blobs.writeVerified(resolved.manifestDigest, resolved.manifestBytes);
      if (resolved.index) await store.blobs.writeVerified(resolved.index.digest, resolved.index.bytes);
      crashPoint('pull:manifest-stored');
      // Layers to download: start the threads now (if not yet), to boot while the config comes.
      if (manifest.layers.some((layer) => !store.blobs.has(layer.digest))) threads.warm();
      return await pullLayers(root, { store, client, reference, reporter, threads }, resolved, options, before);
    }, 'shared');
  } finally {
    await threads.close();
  }
}

/** Steps 3–5 of the header, holding the store's shared lock. */
async function pullLayers(root: StateRoot, source: LayerSource, resolved: ResolvedManifest, options: PullOptions, before: string | undefined): Promise<PullResult> {
  const { store, client, reference, reporter } = source;
  const manifest: ImageManifest = resolved.manifest;
  const tag = reference.tag ? `${reference.name}:${reference.tag}` : undefined;
  const config = await fetchConfig(store, client, reference, manifest.config);
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== manifest.layers.length) {
    throw new MiniboxError(`image ${reference.familiar}: the config lists ${diffIds.length} layers but the manifest has ${manifest.layers.length}; the image is malformed`);
  }

  let bytesDownloaded = 0;
  let layersDownloaded = 0;
  const layers: LayerRecord[] = new Array(manifest.layers.length);
  const jobs = manifest.layers.map((descriptor, i) => async () => {
    const diffId = diffIds[i]!;
    const result = await pullLayer(source, descriptor, diffId);
    bytesDownloaded += result.downloaded;
    if (result.downloaded > 0) layersDownloaded += 1;
    layers[i] = { digest: descriptor.digest, diffId, mediaType: descriptor.mediaType, size: descriptor.size, unpackedSize: result.unpackedSize };
  });
  for (const descriptor of manifest.layers) reporter.layer(descriptor.digest, 'Waiting');
  try {
    await runLimited(jobs, options.concurrency ?? 3);
  } finally {
    reporter.done(); // stop drawing bars, whether the layers arrived or not
  }

  const image = await store.record(imageRecordFields({
    repoDigests: [`${reference.name}@${resolved.index?.digest ?? resolved.manifestDigest}`],
    manifestDigest: resolved.manifestDigest,
    manifestMediaType: resolved.mediaType,
    configDigest: manifest.config.digest,
  }, config, layers), tag);

  reporter.message(`Digest: ${resolved.index?.digest ?? resolved.manifestDigest}`);
  const changed = before !== image.id;
  reporter.message(changed
    ? `Status: Downloaded newer image for ${reference.familiar}`
    : `Status: Image is up to date for ${reference.familiar}`);
  // Docker's `image pull busybox:latest (name=busybox)`
  recordEvent(root, 'image', 'pull', reference.familiar, { name: familiarName(reference) });
  return { image, reference, bytesDownloaded, layersDownloaded, changed };
}

async function fetchConfig(store: ImageStore, client: RegistryClient, reference: ImageReference, descriptor: Descriptor): Promise<ImageConfig> {
  publishStep('pull.config', { digest: descriptor.digest, cached: store.blobs.has(descriptor.digest) });
  if (!store.blobs.has(descriptor.digest)) {
    await store.blobs.withBlobLock(descriptor.digest, async () => {
      if (store.blobs.has(descriptor.digest)) return;
      const partial = store.blobs.partialPath(descriptor.digest);
      await downloadBlob(client, reference, descriptor, partial);
      crashPoint('blob:downloaded');
      store.blobs.commit(partial, descriptor.digest);
    });
  }
  const config = store.blobs.readJson<ImageConfig>(descriptor.digest);
  if (!config.rootfs || !Array.isArray(config.rootfs.diff_ids)) {
    throw new MiniboxError(`image ${reference.familiar}: config ${shortId(descriptor.digest)} has no rootfs.diff_ids; it is not an OCI/Docker image config`);
  }
  return config;
}

/** Runs async jobs with at most `limit` in flight; rejects with the first failure after all settle. */
async function runLimited(jobs: (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++]!;
      try {
        await job();
      } catch (error) {
        errors.push(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  if (errors.length > 0) throw errors[0];
}
