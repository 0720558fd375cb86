/**
 * push.ts — `minibox push`: a local image into a registry, the way `docker push` does it.
 *
 * The image goes up bottom-first: each layer blob, then the config blob, then the manifest that
 * names them all (registry/upload.ts for the requests). A blob the registry already has in this
 * repository is not sent again ("Layer already exists"); one it has in *another* repository of
 * the same registry — known here because a local image was pulled from there — is mounted across
 * ("Mounted from …"), so pushing the same base to ten repositories costs its bytes once.
 *
 * The manifest is sent as the exact bytes in the local store, so the digest the registry prints
 * is the local one: `images --digests` can show it before and after. A tag is a *name* that the
 * manifest PUT moves; the digest is the content and never moves — push a new image under the same
 * tag, and a later `pull` of the tag gets the new digest.
 *
 * Try: `minibox tag busybox $REGISTRY/me/app:1 && minibox push $REGISTRY/me/app:1 >/dev/null &&
 * minibox push $REGISTRY/me/app:1` → `Layer already exists`
 */
import { MiniboxError } from '../errors.js';
import { STORE_LOCK, withLock } from '../lock.js';
import type { StateRoot } from '../state-root.js';
import { shortId } from './digest.js';
import type { Descriptor, ImageManifest } from './oci.js';
import { quietReporter, type PullReporter } from './pull-progress.js';
import { parseReference, type ImageReference } from './reference.js';
import { RegistryClient } from './registry/index.js';
import type { Credentials } from './registry/credential-store.js';
import { blobExists, mountBlob, putManifest, uploadBlob } from './registry/upload.js';
import { ImageStore, type ImageRecord } from './store/images.js';

export interface PushOptions {
  reporter?: PullReporter;
  insecureRegistries?: string[];
  /** The client's credentials (the API's X-Registry-Auth); else the stored ones. */
  credentials?: Credentials;
}

export interface PushResult {
  /** The canonical repository name, e.g. `127.0.0.1:5000/me/app`. */
  name: string;
  tag: string;
  digest: string;
  size: number;
  /** Layer and config bytes sent (0 when the registry had every blob). */
  bytesUploaded: number;
}

/** Repositories of the same registry that a local image came from and that hold `digest`. */
function mountSources(store: ImageStore, target: ImageReference, digest: string): string[] {
  const sources = new Set<string>();
  for (const image of store.list()) {
    if (!image.layers.some((layer) => layer.digest === digest) && image.configDigest !== digest) continue;
    for (const repoDigest of image.repoDigests) {
      const name = repoDigest.split('@')[0]!;
      const source = parseReference(name);
      if (source.registryHost === target.registryHost && source.repository !== target.repository) sources.add(source.repository);
    }
  }
  return [...sources];
}

/** Sends one blob unless the registry has it; returns the bytes sent. */
async function pushBlob(client: RegistryClient, store: ImageStore, ref: ImageReference, descriptor: Descriptor, reporter: PullReporter): Promise<number> {
  const { digest, size } = descriptor;
  if (await blobExists(client, ref, digest)) {
    reporter.layer(digest, 'Layer already exists', size, size);
    return 0;
  }
  for (const source of mountSources(store, ref, digest)) {
    if (await mountBlob(client, ref, digest, source)) {
      reporter.layer(digest, `Mounted from ${source}`, size, size);
      return 0;
    }
  }
  if (!store.blobs.has(digest)) throw new MiniboxError(`blob ${shortId(digest)} of ${ref.familiar} is not in the local store: pull the image again before pushing it`);
  await uploadBlob(client, ref, store.blobs.path(digest), digest, size, (sent) => reporter.layer(digest, 'Pushing', sent, size));
  reporter.layer(digest, 'Pushed', size, size);
  return size;
}

/** `push NAME[:TAG]`. */
export async function pushImage(root: StateRoot, name: string, options: PushOptions = {}): Promise<PushResult> {
  const ref = parseReference(name);
  if (ref.digest) throw new MiniboxError(`cannot push ${name}: push a tag, not a digest (tag the image first: minibox tag ${name} NAME:TAG)`);
  const tag = ref.tag ?? 'latest';
  const store = new ImageStore(root);
  const image: ImageRecord | undefined = store.resolve(`${ref.name}:${tag}`);
  if (!image) throw new MiniboxError(`An image does not exist locally with the tag: ${ref.familiar}`);
  const reporter = options.reporter ?? quietReporter();
  const client = new RegistryClient({
    insecureRegistries: options.insecureRegistries ?? [], ...(options.credentials ? { credentials: options.credentials } : {}),
  });

  // Shared: no `rmi` may sweep a blob while it is being sent.
  return await withLock(root.locks, STORE_LOCK, async () => {
    const manifestBytes = store.blobs.read(image.manifestDigest);
    const manifest = JSON.parse(manifestBytes.toString('utf8')) as ImageManifest;
    reporter.message(`The push refers to repository [${ref.name}]`);
    for (const layer of manifest.layers) reporter.layer(layer.digest, 'Preparing');
    let bytesUploaded = 0;
    try {
      for (const blob of [...manifest.layers, manifest.config]) bytesUploaded += await pushBlob(client, store, ref, blob, reporter);
    } finally {
      reporter.done();
    }
    const announced = await putManifest(client, ref, tag, manifestBytes, image.manifestMediaType);
    if (announced !== undefined && announced !== image.manifestDigest) {
      throw new MiniboxError(`the registry stored the manifest of ${ref.familiar} as ${announced}, not ${image.manifestDigest}: it changed the bytes`);
    }
    await store.addRepoDigest(image.id, `${ref.name}@${image.manifestDigest}`);
    reporter.message(`${tag}: digest: ${image.manifestDigest} size: ${manifestBytes.length}`);
    return { name: ref.name, tag, digest: image.manifestDigest, size: manifestBytes.length, bytesUploaded };
  }, 'shared');
}
