/**
 * digest.ts — content addressing: a blob's name is the SHA-256 of its bytes.
 *
 * `sha256:e3b0c442…` names exactly one byte sequence, so a client can check that what a registry
 * (or anything in between: a proxy, a cache, a flipped bit) delivered is what the manifest asked
 * for. minibox hashes everything it downloads and refuses — and deletes — anything that does not
 * match, so a corrupted layer never reaches the image store.
 * Try: `sha256sum` a blob in the store and compare it with its file name.
 */
import crypto from 'node:crypto';
import { MiniboxError } from '../../errors.js';

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

export function sha256Of(bytes: Buffer): string {
  return `sha256:${crypto.createHash('sha256').update(bytes).digest('hex')}`;
}
