/**
 * layers.ts — unpacked layers: `<root>/layers/sha256/<diff id hex>/`.
 *
 * Each layer is unpacked into a directory of its own, named by its *diff id* — the digest of the
 * uncompressed tar, as listed in the image config's `rootfs.diff_ids`. Two images that share a
 * layer share the directory, so it is downloaded and unpacked once. These directories become
 * overlayfs *lower* layers: read-only, stacked top layer first, shared by every container.
 *
 * Like blobs, a layer is unpacked under `<root>/tmp/` and renamed into place only when the whole
 * tar was extracted and its diff id verified. Its completion record `<hex>.json` is written
 * last, just before that rename: the diff id, the tar's size, and a summary of the tree that was
 * unpacked (how many entries, how many bytes in regular files). `system fsck` walks the directory
 * again and compares, so a layer someone changed, truncated or half-deleted is found. A record
 * from an older minibox has no summary: fsck reports it as unverifiable and `--repair` records
 * one from what is on disk now.
 *
 * Try: `find $MINIBOX_ROOT/layers -path '*bin/busybox'` → `/bin/busybox`
 */
import fs from 'node:fs';
import path from 'node:path';
import { crashPoint } from '../../crash-point.js';
import type { StateRoot } from '../../state-root.js';
import { digestHex } from '../digest.js';

/** What `<hex>.json` says about a layer directory. */
export interface LayerRecordFile {
  diffId: string;
  /** Bytes of the uncompressed tar (what `docker images` counts). */
  size: number;
  /** Entries under the directory (files, dirs, links, devices), and bytes of its regular files
   * (each inode once). Absent in records written by older versions. */
  entries?: number;
  fileBytes?: number;
}

/** Counts the entries of a tree and the bytes of its regular files (hard links counted once). */
export function summarizeTree(dir: string): { entries: number; fileBytes: number } {
  let entries = 0;
  let fileBytes = 0;
  const seen = new Set<string>();
  const walk = (current: string): void => {
    for (const entry of fs.readdirSync(current, { withFileTypes: true })) {
      entries += 1;
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) {
        const stat = fs.lstatSync(full, { bigint: true });
        const inode = `${stat.dev}:${stat.ino}`;
        if (!seen.has(inode)) fileBytes += Number(stat.size);
        seen.add(inode);
      }
    }
  };
  walk(dir);
  return { entries, fileBytes };
}

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

  /** The completion record, or undefined when there is none (or it cannot be read). */
  record(diffId: string): LayerRecordFile | undefined {
    try {
      return JSON.parse(fs.readFileSync(this.metadataPath(diffId), 'utf8')) as LayerRecordFile;
    } catch {
      return undefined;
    }
  }

  /** Rewrites the completion record (fsck --repair: adding a summary to an old record). */
  writeRecord(record: LayerRecordFile): void {
    const file = this.metadataPath(record.diffId);
    fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(record)}\n`);
    fs.renameSync(`${file}.tmp`, file);
  }

  /** `<hex>.json` next to the layer dir — never inside it, where a container would see it. */
  metadataPath(diffId: string): string {
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
      crashPoint('layer:unpacked');
      const target = this.dir(diffId);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      // The completion record first: whenever the directory exists, so does its record.
      this.writeRecord({ diffId, size, ...summarizeTree(temp) });
      crashPoint('layer:recorded');
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
    crashPoint('layer:removing');
    fs.rmSync(this.metadataPath(diffId), { force: true });
    fs.rmSync(doomed, { recursive: true, force: true });
  }

  list(): string[] {
    const dir = path.join(this.root.layers, 'sha256');
    if (!fs.existsSync(dir)) return [];
    return fs.readdirSync(dir).filter((name) => /^[a-f0-9]{64}$/.test(name)).map((hex) => `sha256:${hex}`);
  }
}
