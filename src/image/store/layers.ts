/**
 * layers.ts — unpacked layers: `<root>/layers/sha256/<diff id hex>/`.
 *
 * Each layer is unpacked into a directory of its own, named by its *diff id* — the digest of the
 * uncompressed tar, as listed in the image config's `rootfs.diff_ids`. Two images that share a
 * layer share the directory, so it is downloaded and unpacked once. These directories become
 * overlayfs *lower* layers: read-only, stacked top layer first, shared by every container.
 *
 * Like blobs, a layer is unpacked under `<root>/tmp/` and renamed into place only when the whole
 * tar was extracted and its diff id verified.
 *
 * Try: `find $MINIBOX_ROOT/layers -path '*bin/busybox'` → `/bin/busybox`
 */
import fs from 'node:fs';
import path from 'node:path';
import type { StateRoot } from '../../state-root.js';
import { digestHex } from '../digest.js';

export class LayerStore {
  constructor(private readonly root: StateRoot) {}

  dir(diffId: string): string {
    return path.join(this.root.layers, 'sha256', digestHex(diffId));
  }

  has(diffId: string): boolean {
    return fs.existsSync(this.dir(diffId));
  }

  /** An empty directory used as the bottom lower layer where overlayfs needs two. */
  emptyDir(): string {
    const dir = path.join(this.root.layers, 'empty');
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    return dir;
  }

  /** Bytes the layer takes unpacked (recorded beside the directory when it was created). */
  size(diffId: string): number {
    try {
      return (JSON.parse(fs.readFileSync(this.metadataPath(diffId), 'utf8')) as { size: number }).size;
    } catch {
      return 0;
    }
  }

  /** `<hex>.json` next to the layer dir — never inside it, where a container would see it. */
  private metadataPath(diffId: string): string {
    return `${this.dir(diffId)}.json`;
  }

  /**
   * Runs `unpack(tempDir)` (which returns the unpacked size), then moves the temp dir into place
   * as layer `diffId`. On failure the temp dir is deleted and nothing appears in the store.
   */
  async create(diffId: string, unpack: (tempDir: string) => Promise<number>): Promise<number> {
    fs.mkdirSync(this.root.tmp, { recursive: true });
    // The caller holds this layer's lock, so a temp dir for it can only be left over from a
    // process that died mid-unpack: delete it before starting again.
    const prefix = `layer-${digestHex(diffId)}-`;
    for (const stale of fs.readdirSync(this.root.tmp).filter((name) => name.startsWith(prefix))) {
      fs.rmSync(path.join(this.root.tmp, stale), { recursive: true, force: true });
    }
    const temp = fs.mkdtempSync(path.join(this.root.tmp, prefix));
    try {
      fs.chmodSync(temp, 0o755);
      const size = await unpack(temp);
      const target = this.dir(diffId);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      // Metadata first: whenever the directory exists, so does its size record.
      fs.writeFileSync(this.metadataPath(diffId), `${JSON.stringify({ diffId, size })}\n`);
      fs.renameSync(temp, target);
      return size;
    } catch (error) {
      fs.rmSync(temp, { recursive: true, force: true });
      throw error;
    }
  }

  remove(diffId: string): void {
    const target = this.dir(diffId);
    if (!fs.existsSync(target)) return;
    // Rename first so a half-deleted layer is never mistaken for a complete one.
    fs.mkdirSync(this.root.tmp, { recursive: true });
    const doomed = path.join(this.root.tmp, `deleting-${digestHex(diffId)}-${process.pid}`);
    fs.renameSync(target, doomed);
    fs.rmSync(this.metadataPath(diffId), { force: true });
    fs.rmSync(doomed, { recursive: true, force: true });
  }

  list(): string[] {
    const dir = path.join(this.root.layers, 'sha256');
    if (!fs.existsSync(dir)) return [];
    return fs.readdirSync(dir).filter((name) => /^[a-f0-9]{64}$/.test(name)).map((hex) => `sha256:${hex}`);
  }
}
