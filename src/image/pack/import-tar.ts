/**
 * import-tar.ts — `minibox import FILE|- [REPOSITORY[:TAG]]`: any root file system tar becomes a
 * one-layer image.
 *
 * The tar (plain, gzip or zstd — told by its first bytes) is kept as it is, as the layer blob:
 * a layer *is* a tar. Its diff id is the sha256 of the uncompressed bytes; the unpacker then
 * checks every entry exactly as for a pulled layer (the tar is untrusted: `../` names, links out
 * of the root and device tricks are refused the same way). The config gets the platform minibox
 * runs images for, the `--change` instructions, and a history line naming where it came from.
 *
 * Try: `minibox run --name box busybox true && minibox export box > rootfs.tar && minibox import
 * rootfs.tar flat:1 >/dev/null && minibox history flat:1` → `Imported from`
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MiniboxError } from '../../errors.js';
import { STORE_LOCK, withLock } from '../../lock.js';
import type { StateRoot } from '../../state-root.js';
import { MediaType, type ImageConfig } from '../oci.js';
import { parsePlatform } from '../platform.js';
import { ImageStore, type ImageRecord } from '../store/images.js';
import { unpackIntoStore } from '../store/unpack-into-store.js';
import { createDecompressor, detectCompression } from '../unpack/compression.js';
import { applyConfigChanges } from './config-changes.js';
import { storeNewImage } from './new-image.js';

export interface ImportOptions {
  /** Canonical `name:tag`, or none for an untagged image. */
  tag?: string;
  message?: string;
  changes?: string[];
  /** How the source is named in history (`-` for stdin). */
  sourceName: string;
}

const MEDIA_TYPE = { gzip: MediaType.OciLayerGzip, zstd: MediaType.OciLayerZstd, none: MediaType.OciLayer } as const;

/** sha256 of the uncompressed bytes of a (possibly compressed) tar file. */
async function uncompressedDigest(file: string, compression: keyof typeof MEDIA_TYPE): Promise<string> {
  const hash = createHash('sha256');
  const sink = new Transform({ transform(chunk: Buffer, _e, callback) { hash.update(chunk); callback(); } });
  await pipeline(fs.createReadStream(file), createDecompressor(compression), sink);
  return `sha256:${hash.digest('hex')}`;
}

/** Imports the tar read from `source`; returns the new image's record. */
export async function importTar(root: StateRoot, source: Readable, options: ImportOptions): Promise<ImageRecord> {
  const store = new ImageStore(root);
  fs.mkdirSync(root.tmp, { recursive: true });
  const temp = path.join(root.tmp, `import-${process.pid}-${randomBytes(4).toString('hex')}.partial`);
  try {
    const blobHash = createHash('sha256');
    const hashing = new Transform({ transform(chunk: Buffer, _e, callback) { blobHash.update(chunk); callback(null, chunk); } });
    await pipeline(source, hashing, fs.createWriteStream(temp, { mode: 0o600 }));
    const digest = `sha256:${blobHash.digest('hex')}`;
    if (fs.statSync(temp).size === 0) throw new MiniboxError(`import ${options.sourceName}: the input is empty; give a tar file or pipe one in`);
    const compression = detectCompression(temp, options.sourceName);
    let diffId: string;
    try {
      diffId = await uncompressedDigest(temp, compression);
    } catch (error) {
      throw new MiniboxError(`import ${options.sourceName}: cannot read it as a ${compression === 'none' ? '' : `${compression}-compressed `}tar: ${(error as Error).message}`);
    }
    return await withLock(root.locks, STORE_LOCK, async () => {
      const size = fs.statSync(temp).size;
      await withLock(root.locks, `blob-${digest}`, async () => {
        if (!store.blobs.has(digest)) store.blobs.commit(temp, digest);
      });
      const mediaType = MEDIA_TYPE[compression];
      const unpackedSize = await unpackIntoStore(store, { digest, mediaType, diffId });
      const created = new Date().toISOString();
      const platform = parsePlatform();
      const config: ImageConfig = {
        created,
        architecture: platform.architecture,
        os: platform.os,
        config: applyConfigChanges({}, options.changes ?? []),
        rootfs: { type: 'layers', diff_ids: [diffId] },
        history: [{ created, comment: options.message ?? `Imported from ${options.sourceName}` }],
      };
      return await storeNewImage(store, config, [{ digest, diffId, mediaType, size, unpackedSize }], options.tag);
    }, 'shared');
  } finally {
    fs.rmSync(temp, { force: true });
  }
}
