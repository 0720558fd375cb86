/**
 * blobs.ts — the content-addressed blob store: `<root>/blobs/sha256/<hex>`.
 *
 * A blob (manifest, config or compressed layer) is stored once, under the hash of its bytes.
 * Writing is two-phase: bytes go to a file under `<root>/tmp/`, are verified against the digest,
 * and only then renamed into `blobs/`. rename(2) within one file system is atomic, so another
 * process (or a later run after kill -9) sees either no blob or the whole verified blob — never
 * half of one. Every temp file is written holding the blob's lock (`blob-<digest>`) under one
 * stable name, `tmp/blob-<hex>.partial`: a file left by a killed minibox is the next writer's
 * head start (a download resumes it, a write from memory overwrites it), never an orphan with a
 * dead process's pid in its name. One for a blob nobody fetches again is removed by
 * `system fsck --repair` and by garbage collection (`image prune`, `rmi`).
 *
 * Try: `ls $MINIBOX_ROOT/blobs/sha256 | wc -l` → `3` (for a one-layer image: its manifest, its
 * config and its layer).
 */
import fs from 'node:fs';
import path from 'node:path';
import { crashPoint } from '../../crash-point.js';
import { MiniboxError } from '../../errors.js';
import { withLock } from '../../lock.js';
import type { StateRoot } from '../../state-root.js';
import { digestHex, sha256Digest } from '../digest.js';

/** The lock that owns a blob's partial file (and its arrival in the store). */
export function blobLockName(digest: string): string {
  return `blob-${digest}`;
}

export class BlobStore {
  constructor(private readonly root: StateRoot) {}

  /** Where the verified blob with this digest lives (whether or not it exists yet). */
  path(digest: string): string {
    return path.join(this.root.blobs, 'sha256', digestHex(digest));
  }

  has(digest: string): boolean {
    return fs.existsSync(this.path(digest));
  }

  /**
   * The temp file a download of `digest` writes to. Its name is stable so that a download
   * interrupted by a crash can be resumed; callers hold the blob's lock while writing it.
   */
  partialPath(digest: string): string {
    fs.mkdirSync(this.root.tmp, { recursive: true });
    return path.join(this.root.tmp, `blob-${digestHex(digest)}.partial`);
  }

  /** Moves a fully downloaded and verified temp file into the store. */
  commit(partial: string, digest: string): string {
    const target = this.path(digest);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.renameSync(partial, target);
    return target;
  }

  /** Runs `fn` holding this blob's lock: the only way its partial file is written. */
  async withBlobLock<T>(digest: string, fn: () => Promise<T>): Promise<T> {
    return await withLock(this.root.locks, blobLockName(digest), fn);
  }

  /** Stores bytes already in memory (manifests, configs) after checking their digest. */
  async writeVerified(digest: string, bytes: Buffer): Promise<string> {
    const actual = sha256Digest(bytes);
    if (actual !== digest) throw new MiniboxError(`blob ${digest}: content has digest ${actual}; refusing to store it`);
    if (this.has(digest)) return this.path(digest);
    return await this.withBlobLock(digest, async () => {
      if (this.has(digest)) return this.path(digest);
      const partial = this.partialPath(digest);
      fs.writeFileSync(partial, bytes); // truncates whatever a killed writer left here
      crashPoint('blob:written');
      return this.commit(partial, digest);
    });
  }

  read(digest: string): Buffer {
    try {
      return fs.readFileSync(this.path(digest));
    } catch (error) {
      throw new MiniboxError(`blob ${digest} is missing from the store (${(error as NodeJS.ErrnoException).code}); pull the image again`);
    }
  }

  readJson<T>(digest: string): T {
    return JSON.parse(this.read(digest).toString('utf8')) as T;
  }

  remove(digest: string): void {
    fs.rmSync(this.path(digest), { force: true });
  }

  /** Every digest in the store (for garbage collection). */
  list(): string[] {
    const dir = path.join(this.root.blobs, 'sha256');
    if (!fs.existsSync(dir)) return [];
    return fs.readdirSync(dir).map((hex) => `sha256:${hex}`);
  }
}
