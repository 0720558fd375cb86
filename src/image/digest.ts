/**
 * digest.ts — content addressing. A digest is `algorithm:hex`, e.g. `sha256:9c7a…`, the hash of a
 * blob's exact bytes, so it names exactly one byte sequence. Anything named by a digest can be
 * checked after download: recompute the hash and compare. This is why a registry, a proxy, a
 * cache or a flipped bit cannot silently change an image: minibox hashes everything it
 * downloads and refuses — and deletes — anything that does not match.
 *
 * Try: `cd $MINIBOX_ROOT/blobs/sha256 && sha256sum * | awk '$1 != $2' | wc -l` → `0` (every file is
 * named by the SHA-256 of its bytes).
 */
import crypto from 'node:crypto';
import { Transform } from 'node:stream';
import { MiniboxError } from '../errors.js';

const SHA256 = /^sha256:[a-f0-9]{64}$/;

/** Throws unless `value` is a well-formed sha256 digest (the only algorithm minibox accepts). */
export function assertDigest(value: string, what = 'digest'): string {
  if (!SHA256.test(value)) throw new MiniboxError(`invalid ${what} "${value}": expected sha256:<64 hex digits>`);
  return value;
}

export function sha256Digest(bytes: Buffer | string): string {
  return `sha256:${crypto.createHash('sha256').update(bytes).digest('hex')}`;
}

/** `sha256:9c7a…` → `9c7a…` (the hex part, used as a file name). */
export function digestHex(digest: string): string {
  return assertDigest(digest).slice('sha256:'.length);
}

/** The 12-hex short form Docker shows: `sha256:9c7a54a9a43c…` → `9c7a54a9a43c`. */
export function shortId(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
}

/** Downloaded bytes whose hash (or size) is not the one they were asked for by. */
export class DigestMismatchError extends MiniboxError {
  readonly expected: string;
  readonly actual: string;

  constructor(what: string, expected: string, actual: string) {
    super(`digest mismatch for ${what}: expected ${expected}, got ${actual} (the data was corrupted on the way; nothing was kept — try again)`);
    this.name = 'DigestMismatchError';
    this.expected = expected;
    this.actual = actual;
  }
}

/** A pass-through stream that hashes (SHA-256) and counts the bytes that flow through it. */
export function hashingStream(): { stream: Transform; digest: () => string; size: () => number } {
  const hash = crypto.createHash('sha256');
  let size = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
  });
  return { stream, digest: () => `sha256:${hash.digest('hex')}`, size: () => size };
}
