/**
 * manifest-format.ts — which kind of manifest did the registry send?
 *
 * One tag can name four kinds of JSON document, told apart by media type:
 *   OCI index / Docker manifest list   → one entry per platform (resolve.ts picks one)
 *   OCI manifest / Docker schema 2     → config + layers
 * We list all four in `Accept`, most preferred first, so the registry may send any of them
 * (without it, some registries downgrade to the ancient schema 1). The `Content-Type` header
 * usually says which one came back; when it is missing or generic we read the JSON's own
 * `mediaType` field, then its shape. Docker schema 1 (2015, signed JWS, no content-addressed
 * config) was removed from Docker in 2023 and is refused with a clear message.
 *
 * Try: `curl -sI -H 'Accept: application/vnd.oci.image.manifest.v1+json'
 * http://$REGISTRY/v2/busybox/manifests/latest` → `application/vnd.oci.image.manifest.v1+json`
 */
import { MiniboxError } from '../../errors.js';
import { MediaType } from '../oci.js';

export const MANIFEST_ACCEPT = [
  MediaType.OciIndex,
  MediaType.OciManifest,
  MediaType.DockerManifestList,
  MediaType.DockerManifest,
].join(', ');

const INDEX_TYPES: readonly string[] = [MediaType.OciIndex, MediaType.DockerManifestList];
const IMAGE_MANIFEST_TYPES: readonly string[] = [MediaType.OciManifest, MediaType.DockerManifest];
const SCHEMA1_TYPES: readonly string[] = [MediaType.DockerManifestV1, MediaType.DockerManifestV1Signed];

export function isIndexMediaType(mediaType: string): boolean {
  return INDEX_TYPES.includes(mediaType);
}

export function isImageManifestMediaType(mediaType: string): boolean {
  return IMAGE_MANIFEST_TYPES.includes(mediaType);
}

function schema1Error(what: string): MiniboxError {
  return new MiniboxError(`${what} is a Docker schema 1 manifest, which is unsupported (schema 1 is deprecated; ask the publisher to push a schema 2 or OCI image)`);
}

/** Returns the manifest's media type, or throws for schema 1 and for things that are not manifests. */
export function identifyManifest(bytes: Buffer, contentType: string | null, what: string): string {
  const headerType = contentType?.split(';')[0]?.trim().toLowerCase();
  if (headerType && SCHEMA1_TYPES.includes(headerType)) throw schema1Error(what);
  let json: { schemaVersion?: unknown; mediaType?: unknown; manifests?: unknown; config?: unknown; layers?: unknown };
  try {
    json = JSON.parse(bytes.toString('utf8')) as typeof json;
  } catch {
    throw new MiniboxError(`${what}: the registry sent a manifest that is not valid JSON`);
  }
  if (json === null || typeof json !== 'object') throw new MiniboxError(`${what}: the registry sent a manifest that is not a JSON object`);
  if (json.schemaVersion === 1) throw schema1Error(what);
  if (headerType && (INDEX_TYPES.includes(headerType) || IMAGE_MANIFEST_TYPES.includes(headerType))) return headerType;
  if (typeof json.mediaType === 'string') {
    if (SCHEMA1_TYPES.includes(json.mediaType)) throw schema1Error(what);
    if (INDEX_TYPES.includes(json.mediaType) || IMAGE_MANIFEST_TYPES.includes(json.mediaType)) return json.mediaType;
  }
  // OCI allows omitting mediaType; the shape still tells.
  if (json.schemaVersion === 2 && Array.isArray(json.manifests)) return MediaType.OciIndex;
  if (json.schemaVersion === 2 && json.config && Array.isArray(json.layers)) return MediaType.OciManifest;
  throw new MiniboxError(`${what}: unsupported manifest type ${headerType ?? String(json.mediaType ?? 'unknown')}`);
}
