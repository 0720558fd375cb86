/**
 * upload.ts — the distribution spec's push side: putting blobs and a manifest into a registry.
 *
 * A push is the pull read backwards, and every request checks before it sends:
 *   HEAD  blobs/<digest>                         is it there already? (then nothing to send)
 *   POST  blobs/uploads/?mount=<d>&from=<repo>   the registry has it in another repository:
 *                                                "mount" it here (201) — no bytes travel
 *   POST  blobs/uploads/                         open an upload session (202, Location: its URL)
 *   PUT   <location>?digest=<d>                  small blob: the whole body at once ("monolithic")
 *   PATCH <location>  Content-Range: a-b         large blob: chunk by chunk, each answered with
 *                                                the next Location and the Range received so far
 *   PUT   manifests/<tag>                        last: the manifest, byte for byte as stored, so
 *                                                its digest in the registry is the local one
 * If the connection drops in the middle of a chunked upload, `GET <location>` says how many bytes
 * the registry kept (Range: 0-N), and the upload goes on from there. The registry checks the
 * digest of the whole blob at the final PUT: a wrong byte anywhere is refused, never stored.
 * Spec: opencontainers/distribution-spec, spec.md "Push".
 *
 * Try: `minibox tag busybox $REGISTRY/me/app:1 && minibox push --explain $REGISTRY/me/app:1` →
 * `sha256:` (every request of the upload, and why).
 */
import fs from 'node:fs';
import { MiniboxError } from '../../errors.js';
import { publishStep } from '../../sys/trace.js';
import type { ImageReference } from '../reference.js';
import { registryErrorMessage, type RegistryClient } from './client.js';

/** Blobs up to this size go in one PUT; larger ones in PATCH chunks of this size. */
export const CHUNK_BYTES = 8 * 1024 * 1024;
const PUSH = { actions: 'pull,push' } as const;

async function failure(response: Response, what: string): Promise<MiniboxError> {
  const why = await registryErrorMessage(response);
  return new MiniboxError(`${what} failed: HTTP ${response.status}${why ? ` (${why})` : ''}`);
}

/** Whether the repository already has the blob. */
export async function blobExists(client: RegistryClient, ref: ImageReference, digest: string): Promise<boolean> {
  const response = await client.request(ref, `/blobs/${digest}`, { method: 'HEAD' }, PUSH);
  await response.body?.cancel();
  publishStep('push.head', { digest, exists: response.ok });
  return response.ok;
}

/** Asks the registry to link a blob it holds in `fromRepository`; false when it starts an upload instead. */
export async function mountBlob(client: RegistryClient, ref: ImageReference, digest: string, fromRepository: string): Promise<boolean> {
  const query = `?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(fromRepository)}`;
  const response = await client.request(ref, `/blobs/uploads/${query}`, { method: 'POST', headers: { 'Content-Length': '0' } },
    { ...PUSH, mountFrom: fromRepository }); // a token for both repositories
  await response.body?.cancel();
  if (response.status === 201) {
    publishStep('push.mount', { digest, from: fromRepository });
    return true;
  }
  // 202: the registry cannot mount (no such blob there, or no access) and opened an upload
  // session instead; close it so it does not linger.
  const location = response.headers.get('location');
  if (response.status === 202 && location) {
    const cancel = await client.request(ref, '', { method: 'DELETE' }, { ...PUSH, url: location });
    await cancel.body?.cancel();
  }
  return false;
}

/** Reads `length` bytes of `file` at `offset`. */
function readChunk(file: string, offset: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  const fd = fs.openSync(file, 'r');
  try {
    let read = 0;
    while (read < length) {
      const n = fs.readSync(fd, buffer, read, length - read, offset + read);
      if (n === 0) throw new MiniboxError(`${file} is shorter than expected (${offset + read} of ${offset + length} bytes)`);
      read += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return buffer;
}

function withDigest(location: string, digest: string): string {
  const url = new URL(location, 'http://placeholder');
  url.searchParams.set('digest', digest);
  return /^https?:/.test(location) ? url.toString() : `${url.pathname}${url.search}`;
}

/** Where a chunked upload stands after a dropped connection: bytes the registry kept. */
async function uploadOffset(client: RegistryClient, ref: ImageReference, location: string): Promise<{ offset: number; location: string }> {
  const response = await client.request(ref, '', {}, { ...PUSH, url: location });
  await response.body?.cancel();
  if (response.status !== 204) throw await failure(response, 'asking the registry how much of the upload it has');
  const range = /^0-(\d+)$/.exec(response.headers.get('range') ?? '');
  return { offset: range ? Number(range[1]) + 1 : 0, location: response.headers.get('location') ?? location };
}

/** Uploads the blob in `file` (`size` bytes, digest `digest`); `onProgress` gets bytes sent. */
export async function uploadBlob(client: RegistryClient, ref: ImageReference, file: string, digest: string, size: number, onProgress?: (sent: number) => void): Promise<void> {
  const start = await client.request(ref, '/blobs/uploads/', { method: 'POST', headers: { 'Content-Length': '0' } }, PUSH);
  await start.body?.cancel();
  let location = start.headers.get('location');
  if (start.status !== 202 || !location) throw await failure(start, `starting the upload of ${digest}`);
  publishStep('push.upload', { digest, size, chunked: size > CHUNK_BYTES });

  let offset = 0;
  if (size > CHUNK_BYTES) {
    let drops = 0;
    while (offset < size) {
      const length = Math.min(CHUNK_BYTES, size - offset);
      let response: Response;
      try {
        response = await client.request(ref, '', {
          method: 'PATCH', noRetry: true, body: readChunk(file, offset, length),
          headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${offset}-${offset + length - 1}`, 'Content-Length': String(length) },
        }, { ...PUSH, url: location });
      } catch (error) {
        // The connection dropped: ask where the upload stands and go on from there.
        if (++drops > 5) throw new MiniboxError(`uploading ${digest}: the connection dropped ${drops} times: ${(error as Error).message}`);
        ({ offset, location } = await uploadOffset(client, ref, location));
        publishStep('push.resume', { digest, offset });
        continue;
      }
      await response.body?.cancel();
      if (response.status !== 202) throw await failure(response, `uploading ${digest} (bytes ${offset}–${offset + length - 1})`);
      location = response.headers.get('location') ?? location;
      offset += length;
      onProgress?.(offset);
    }
  }
  const body = size > CHUNK_BYTES ? undefined : fs.readFileSync(file);
  const finish = await client.request(ref, '', {
    method: 'PUT', ...(body ? { body } : {}),
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(body?.length ?? 0) },
  }, { ...PUSH, url: withDigest(location, digest) });
  await finish.body?.cancel();
  if (finish.status !== 201) throw await failure(finish, `finishing the upload of ${digest}`);
  onProgress?.(size);
}

/** PUTs the manifest under `tag`; returns the digest the registry gives it (checked by the caller). */
export async function putManifest(client: RegistryClient, ref: ImageReference, tag: string, bytes: Buffer, mediaType: string): Promise<string | undefined> {
  const response = await client.request(ref, `/manifests/${tag}`, {
    method: 'PUT', body: bytes, headers: { 'Content-Type': mediaType },
  }, PUSH);
  await response.body?.cancel();
  if (response.status !== 201) throw await failure(response, `pushing the manifest of ${ref.name}:${tag}`);
  publishStep('push.manifest', { tag, mediaType });
  return response.headers.get('docker-content-digest') ?? undefined;
}

/** `--explain`'s sentence for each push step (narrate.ts calls this for `push.*` events). */
export function describePushStep(call: string, args: Record<string, unknown>): string | undefined {
  const digest = String(args.digest ?? '').slice(7, 19);
  switch (call) {
    case 'push.head':
      return args.exists
        ? `HEAD blobs/${digest}: the registry already has this blob in the repository — nothing to send`
        : `HEAD blobs/${digest}: not in the repository yet`;
    case 'push.mount':
      return `POST blobs/uploads/?mount=${digest}&from=${String(args.from)}: the registry links the blob it holds in ${String(args.from)} — no bytes travel`;
    case 'push.upload':
      return args.chunked
        ? `POST blobs/uploads/, then PATCH in ${CHUNK_BYTES / 1024 / 1024} MiB chunks and PUT ?digest=${digest}: ${String(args.size)} bytes; the registry checks the digest before it keeps the blob`
        : `POST blobs/uploads/, then PUT ?digest=${digest} with all ${String(args.size)} bytes: the registry checks the digest before it keeps the blob`;
    case 'push.resume':
      return `the connection dropped: GET the upload's status, the registry has ${String(args.offset)} bytes; going on from there`;
    case 'push.manifest':
      return `PUT manifests/${String(args.tag)}: the manifest last, once every blob it names is there; the tag now points at it`;
    default:
      return undefined;
  }
}
