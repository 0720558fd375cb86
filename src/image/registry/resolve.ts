/**
 * resolve.ts — from a name to the one image manifest this machine should run.
 *
 * `alpine:latest` usually names an *index* listing an image per platform. Resolving means:
 * fetch what the tag (or digest) names; if it is an index, pick the entry for our platform
 * (platform.ts) and fetch that manifest *by digest* — so its bytes are verified against the
 * index, which is itself verified against its own digest. A chain of hashes from the name you
 * pinned down to every layer is what makes `image@sha256:…` trustworthy.
 *
 * Try: `minibox images --digests` → `DIGEST … sha256:` (the manifest this machine resolved the tag
 * to).
 */
import { MiniboxError } from '../../errors.js';
import type { ImageIndex, ImageManifest, Platform } from '../oci.js';
import { DEFAULT_PLATFORM, selectManifest } from '../platform.js';
import type { ImageReference } from '../reference.js';
import type { RegistryClient } from './client.js';
import { isImageManifestMediaType, isIndexMediaType } from './manifest-format.js';

export interface ResolvedManifest {
  manifest: ImageManifest;
  manifestBytes: Buffer;
  manifestDigest: string;
  mediaType: string;
  /** The index the manifest was chosen from, when the reference named one. */
  index?: { digest: string; bytes: Buffer; mediaType: string };
}

function parseImageManifest(bytes: Buffer, what: string): ImageManifest {
  const manifest = JSON.parse(bytes.toString('utf8')) as ImageManifest;
  if (!manifest.config || typeof manifest.config.digest !== 'string' || !Array.isArray(manifest.layers)) {
    throw new MiniboxError(`${what}: the manifest has no config or layers`);
  }
  return manifest;
}

/** Resolve a reference to one platform's image manifest (walking an index if needed). */
export async function resolveManifest(client: RegistryClient, ref: ImageReference, platform: Platform = DEFAULT_PLATFORM): Promise<ResolvedManifest> {
  const first = await client.fetchManifest(ref, ref.digest ?? ref.tag ?? 'latest');
  if (isImageManifestMediaType(first.mediaType)) {
    return {
      manifest: parseImageManifest(first.bytes, ref.canonical),
      manifestBytes: first.bytes, manifestDigest: first.digest, mediaType: first.mediaType,
    };
  }
  if (!isIndexMediaType(first.mediaType)) throw new MiniboxError(`${ref.canonical}: unsupported manifest type ${first.mediaType}`);
  const index = JSON.parse(first.bytes.toString('utf8')) as ImageIndex;
  if (!Array.isArray(index.manifests)) throw new MiniboxError(`${ref.canonical}: the index has no manifests list`);
  const chosen = selectManifest(index, platform, ref.familiar);
  const child = await client.fetchManifest(ref, chosen.digest);
  if (child.bytes.length !== chosen.size) {
    throw new MiniboxError(`${ref.canonical}: manifest ${chosen.digest} is ${child.bytes.length} bytes but the index says ${chosen.size}`);
  }
  if (!isImageManifestMediaType(child.mediaType)) {
    throw new MiniboxError(`${ref.canonical}: the index entry for this platform is a ${child.mediaType}, not an image manifest (nested indexes are not supported)`);
  }
  return {
    manifest: parseImageManifest(child.bytes, `${ref.name}@${chosen.digest}`),
    manifestBytes: child.bytes, manifestDigest: child.digest, mediaType: child.mediaType,
    index: { digest: first.digest, bytes: first.bytes, mediaType: first.mediaType },
  };
}
