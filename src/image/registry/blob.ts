/**
 * blob.ts — downloading a layer or config blob: streamed, hashed, resumable, verified.
 *
 * `GET /v2/NAME/blobs/<digest>` returns the bytes whose SHA-256 is the digest. Layers can be
 * gigabytes, so the body is never held in memory: each chunk is fed to the hash and appended to
 * the destination file as it arrives. If the connection breaks, we ask for the rest with
 * `Range: bytes=<have>-` (HTTP 206 Partial Content); a server that ignores Range answers 200 with
 * the whole blob and we start over. Only when size *and* digest match is the download finished;
 * otherwise the file is deleted so no corrupted byte can be used.
 *
 * Try: Ctrl-C during a big `minibox pull $IMAGE`, then `minibox pull $IMAGE` → `Downloading` (from
 * where it stopped: `ls -l $MINIBOX_ROOT/tmp` in between shows the partial blob kept).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { crashPoint } from '../../crash-point.js';
import { MiniboxError, NotFoundError } from '../../errors.js';
import type { Descriptor } from '../oci.js';
import { validateDigest, type ImageReference } from '../reference.js';
import { registryErrorMessage, type RegistryClient } from './client.js';
import { DigestMismatchError } from '../digest.js';
import { backoffDelay, isConnectionError, type RetryPolicy } from './retry.js';

export interface DownloadOptions {
  onProgress?: (received: number, total: number) => void;
  signal?: AbortSignal;
  /**
   * Also gets every chunk as it is written, with its offset in the blob (a resumed download
   * starts past 0; a restarted one goes back to 0). The next chunk waits for its promise.
   */
  onChunk?: (chunk: Buffer, offset: number) => Promise<void>;
}

function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
}

/** SHA-256 state after the first `length` bytes of a file already on disk (a partial download). */
async function hashPrefix(file: string, length: number): Promise<crypto.Hash> {
  const hash = crypto.createHash('sha256');
  if (length === 0) return hash;
  for await (const chunk of fs.createReadStream(file, { start: 0, end: length - 1 })) hash.update(chunk as Buffer);
  return hash;
}

function rangeStart(contentRange: string | null): number | undefined {
  const match = /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(contentRange ?? '');
  return match?.[1] !== undefined ? Number(match[1]) : undefined;
}

function discard(file: string): void {
  fs.rmSync(file, { force: true });
}

/** Download one blob into destFile, resuming a partial file, verifying size and sha256 digest. */
export async function downloadBlob(client: RegistryClient, ref: ImageReference, descriptor: Descriptor, destFile: string, options: DownloadOptions = {}): Promise<void> {
  validateDigest(descriptor.digest);
  const what = `blob ${descriptor.digest} of ${ref.name}`;
  const total = descriptor.size;
  const policy = client.transport.options.retry;
  let failures = 0;
  for (;;) {
    let have = sizeOf(destFile);
    if (have > total) {
      discard(destFile);
      have = 0;
    }
    const hash = await hashPrefix(destFile, have);
    try {
      if (have === total && total > 0) {
        finish(hash, destFile, descriptor, what);
        return;
      }
      const response = await client.request(ref, `/blobs/${descriptor.digest}`, {
        headers: have > 0 ? { Range: `bytes=${have}-` } : {},
        signal: options.signal,
      });
      if (response.status === 416) { // our partial file does not fit what the server has
        await response.body?.cancel();
        discard(destFile);
        if (++failures >= policy.attempts) throw new MiniboxError(`${what}: the registry refused to resume the download (HTTP 416)`);
        continue;
      }
      await refuseFailedResponse(response, ref, what);
      const resumed = have > 0 && response.status === 206 && rangeStart(response.headers.get('content-range')) === have;
      if (have > 0 && !resumed) client.transport.debug(`${descriptor.digest}: server ignored Range, restarting from byte 0`);
      const progress = { hash: resumed ? hash : crypto.createHash('sha256'), written: resumed ? have : 0, total, what };
      await writeBody(response, destFile, resumed ? 'a' : 'w', progress, options);
      finish(progress.hash, destFile, descriptor, what);
      return;
    } catch (error) {
      failures += 1;
      const delay = retryDelayOrThrow(error, { what, failures, attempts: policy.attempts, destFile, signal: options.signal }, policy);
      client.transport.debug(`${descriptor.digest}: connection broke at byte ${sizeOf(destFile)} of ${total}; resuming in ${Math.round(delay)} ms`);
      await sleep(delay);
    }
  }
}

/** 404 and every other failure status become one-line errors quoting the registry's reason. */
async function refuseFailedResponse(response: Response, ref: ImageReference, what: string): Promise<void> {
  if (response.status === 404) {
    const why = await registryErrorMessage(response);
    throw new NotFoundError(`${what} not found on ${ref.domain}${why ? ` (${why})` : ''}`);
  }
  if (!response.ok || !response.body) {
    const why = await registryErrorMessage(response);
    throw new MiniboxError(`downloading ${what} failed: HTTP ${response.status}${why ? ` (${why})` : ''}`);
  }
}

interface Progress { hash: crypto.Hash; written: number; total: number; what: string }

/**
 * Streams the body into the file (append or overwrite), hashing each chunk; never more than
 * `total` bytes. The body is read straight from fetch's stream and each chunk is written with
 * write(2) before the next is read: a write into the page cache takes microseconds, where an
 * fs.WriteStream would send each chunk through libuv's thread pool — the pool that zlib's inflate
 * (the unpack thread's gunzip) needs at the same moment. So when this returns or throws, every byte
 * received is in the file, in order: the file is always a prefix of the blob (resumable).
 */
async function writeBody(response: Response, destFile: string, flags: 'a' | 'w', progress: Progress, options: DownloadOptions): Promise<void> {
  const { onProgress, onChunk } = options;
  const fd = fs.openSync(destFile, flags);
  try {
    for await (const piece of response.body as unknown as AsyncIterable<Uint8Array>) {
      const chunk = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
      const offset = progress.written;
      progress.written += chunk.length;
      if (progress.written > progress.total) {
        throw new DigestMismatchError(progress.what, `${progress.total} bytes`, `more than ${progress.total} bytes`);
      }
      progress.hash.update(chunk);
      crashPoint('blob:chunk');
      for (let done = 0; done < chunk.length;) done += fs.writeSync(fd, chunk, done, chunk.length - done);
      onProgress?.(progress.written, progress.total);
      if (onChunk) await onChunk(chunk, offset);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * After a failed attempt: the delay before resuming, for a broken connection with attempts left;
 * otherwise the error to give up with (a corrupt blob is deleted, a cancelled one kept to resume).
 */
function retryDelayOrThrow(error: unknown, attempt: { what: string; failures: number; attempts: number; destFile: string; signal?: AbortSignal | undefined },
  policy: RetryPolicy): number {
  if (error instanceof DigestMismatchError) {
    discard(attempt.destFile);
    throw error;
  }
  if (attempt.signal?.aborted) throw new MiniboxError(`download of ${attempt.what} was cancelled (the partial file is kept for resuming)`);
  if (error instanceof MiniboxError) throw error;
  if (!isConnectionError(error) || attempt.failures >= attempt.attempts) {
    throw new MiniboxError(`downloading ${attempt.what} failed after ${attempt.failures} attempt(s): ${(error as Error).message}; run the command again to resume`, undefined, { cause: error });
  }
  return backoffDelay(policy, attempt.failures - 1);
}

function finish(hash: crypto.Hash, destFile: string, descriptor: Descriptor, what: string): void {
  const size = sizeOf(destFile);
  const actual = `sha256:${hash.digest('hex')}`;
  if (size !== descriptor.size) {
    discard(destFile);
    throw new DigestMismatchError(what, `${descriptor.size} bytes`, `${size} bytes`);
  }
  if (actual !== descriptor.digest) {
    discard(destFile);
    throw new DigestMismatchError(what, descriptor.digest, actual);
  }
}
