/**
 * fsck-store.ts — checking the image store against its own rules (docs/state.md):
 *
 *   blobs     every file under blobs/sha256/ hashes to its name (re-read, SHA-256)
 *   layers    every layer directory has its completion record, for the right diff id, and the
 *             tree still holds what was unpacked (entries and bytes, layers.ts)
 *   images    every image record's manifest, config and layer directories are present
 *   temps     nothing a dead process left under tmp/ (downloads, unpacks, deletions: temp-files.ts)
 *
 * Run holding the store lock exclusively (as garbage collection does): no pull is in flight
 * while blobs and layers are judged. A damaged layer is re-extracted from its
 * blob when the blob is here (the diff id is verified again); an image that cannot be made whole
 * loses its record, and `minibox pull` brings it back.
 *
 * Try: `echo x >> $MINIBOX_ROOT/blobs/sha256/$(ls $MINIBOX_ROOT/blobs/sha256 | head -1) && minibox
 * system fsck; minibox system fsck --repair` → `the blob is corrupt … repaired`
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { StateRoot } from '../state-root.js';
import { ifLockFree } from '../lock.js';
import { shortId } from '../image/digest.js';
import { IMAGES_LOCK, ImageStore, type ImageRecord } from '../image/store/images.js';
import { summarizeTree } from '../image/store/layers.js';
import { abandonedTemps } from '../image/store/temp-files.js';
import { unpackUnlocked } from '../image/store/unpack-into-store.js';
import type { Finding } from './finding.js';

async function fileDigest(file: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

/** Blobs whose bytes no longer hash to their name. */
export async function checkBlobs(store: ImageStore): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const digest of store.blobs.list()) {
    if (!/^sha256:[a-f0-9]{64}$/.test(digest)) {
      findings.push({ area: 'blob', subject: store.blobs.path(digest), problem: 'a file in the blob store that is not named by a digest', repair: 'delete it', fix: async () => store.blobs.remove(digest) });
      continue;
    }
    const actual = await fileDigest(store.blobs.path(digest));
    if (actual === digest) continue;
    findings.push({
      area: 'blob', subject: digest, problem: `content hashes to ${shortId(actual)}: the blob is corrupt`,
      repair: 'delete it (a layer still unpacked keeps working; `pull` fetches the blob again)',
      fix: async () => store.blobs.remove(digest),
    });
  }
  return findings;
}

/** The images that use a layer, and a blob it can be extracted from again. */
function layerSources(store: ImageStore, diffId: string): { users: ImageRecord[]; blob?: { digest: string; mediaType: string } } {
  const users = store.list().filter((image) => image.layers.some((layer) => layer.diffId === diffId));
  const source = users.flatMap((image) => image.layers).find((layer) => layer.diffId === diffId && store.blobs.has(layer.digest));
  return { users, ...(source ? { blob: { digest: source.digest, mediaType: source.mediaType } } : {}) };
}

/** Deletes a layer directory and, when an image needs it, extracts it again from its blob. */
async function rebuildLayer(store: ImageStore, diffId: string): Promise<void> {
  store.layers.remove(diffId);
  fs.rmSync(store.layers.metadataPath(diffId), { force: true });
  const { users, blob } = layerSources(store, diffId);
  if (users.length === 0) return;
  if (!blob) {
    await forgetImages(store, users.map((image) => image.id));
    return;
  }
  await unpackUnlocked(store, { digest: blob.digest, mediaType: blob.mediaType, diffId });
}

async function forgetImages(store: ImageStore, ids: string[]): Promise<void> {
  await store.update((index) => {
    for (const id of ids) {
      delete index.images[id];
      for (const [tag, owner] of Object.entries(index.tags)) if (owner === id) delete index.tags[tag];
    }
  });
}

function layerRepair(store: ImageStore, diffId: string): string {
  const { users, blob } = layerSources(store, diffId);
  if (users.length === 0) return 'delete it (no image uses it)';
  return blob ? `extract it again from blob ${shortId(blob.digest)}` : `delete it and the record of ${users.length} image(s) using it (pull again)`;
}

/** Layer directories that are not what their completion record says, and records without a directory. */
export function checkLayers(store: ImageStore): Finding[] {
  const findings: Finding[] = [];
  const dir = path.join(store.root.layers, 'sha256');
  const names = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
  for (const diffId of store.layers.list()) {
    const record = store.layers.record(diffId);
    const rebuild = (problem: string): Finding => ({ area: 'layer', subject: diffId, problem, repair: layerRepair(store, diffId), fix: async () => rebuildLayer(store, diffId) });
    if (!record || record.diffId !== diffId) {
      findings.push(rebuild(record ? `its completion record is for ${record.diffId}` : 'no completion record: the unpack never finished'));
      continue;
    }
    const found = summarizeTree(store.layers.dir(diffId));
    if (record.entries === undefined || record.fileBytes === undefined) {
      findings.push({
        area: 'layer', subject: diffId, problem: 'recorded by an older minibox without a tree summary: its content cannot be verified',
        repair: `record the tree as it is now (${found.entries} entries, ${found.fileBytes} bytes)`,
        fix: async () => store.layers.writeRecord({ ...record, ...found }),
      });
    } else if (found.entries !== record.entries || found.fileBytes !== record.fileBytes) {
      findings.push(rebuild(`holds ${found.entries} entries and ${found.fileBytes} bytes; ${record.entries} and ${record.fileBytes} were unpacked`));
    }
  }
  for (const name of names) {
    const match = /^([a-f0-9]{64})\.json$/.exec(name);
    if (match && !names.includes(match[1]!)) {
      const file = path.join(dir, name);
      findings.push({ area: 'layer', subject: file, problem: 'a completion record without its layer directory (a removal that was cut short)', repair: 'delete it', fix: async () => fs.rmSync(file, { force: true }) });
    } else if (name.endsWith('.tmp')) {
      const file = path.join(dir, name);
      findings.push({ area: 'temp', subject: file, problem: 'a record write that never finished', repair: 'delete it', fix: async () => fs.rmSync(file, { force: true }) });
    }
  }
  return findings;
}

/** Image records that point at a blob or layer the store does not have. */
export function checkImages(store: ImageStore, damagedLayers: Set<string>): Finding[] {
  const findings: Finding[] = [];
  for (const image of store.list()) {
    const name = image.repoTags[0] ?? shortId(image.id);
    const missingBlobs = [image.manifestDigest, image.configDigest].filter((digest) => !store.blobs.has(digest));
    if (missingBlobs.length > 0) {
      findings.push({
        area: 'image', subject: name, problem: `its ${missingBlobs.length === 2 ? 'manifest and config are' : missingBlobs[0] === image.manifestDigest ? 'manifest is' : 'config is'} missing from the blob store`,
        repair: 'delete the image record (pull it again)', fix: async () => forgetImages(store, [image.id]),
      });
      continue;
    }
    for (const layer of image.layers) {
      if (store.layers.has(layer.diffId) || damagedLayers.has(layer.diffId)) continue;
      findings.push({
        area: 'image', subject: name, problem: `layer ${shortId(layer.diffId)} is not unpacked`,
        repair: store.blobs.has(layer.digest) ? `extract it from blob ${shortId(layer.digest)}` : 'delete the image record (pull it again)',
        fix: async () => rebuildLayer(store, layer.diffId),
      });
    }
  }
  return findings;
}

/** What dead processes left under tmp/ (temp-files.ts), and a stale index temp. */
export async function checkTemps(root: StateRoot): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const file of await abandonedTemps(root)) {
    const name = path.basename(file);
    const what = name.startsWith('blob-') ? 'a download' : name.startsWith('layer-write-') ? 'a layer write' : name.startsWith('layer-') ? 'an unpack'
      : name.startsWith('deleting-') ? 'a layer deletion' : name.startsWith('import-') ? 'an import' : name.startsWith('load-') ? 'a load' : 'something';
    findings.push({ area: 'temp', subject: file, problem: `${what} that a process which died left behind`, repair: 'delete it', fix: async () => fs.rmSync(file, { recursive: true, force: true }) });
  }
  // `builder/cache.json.<pid>.tmp`: a build cache write whose process is gone.
  const builder = path.join(root.dir, 'builder');
  for (const name of fs.existsSync(builder) ? fs.readdirSync(builder) : []) {
    const pid = /\.(\d+)\.tmp$/.exec(name)?.[1];
    if (!pid || fs.existsSync(`/proc/${pid}`)) continue;
    const file = path.join(builder, name);
    findings.push({ area: 'temp', subject: file, problem: 'a build cache write that never finished', repair: 'delete it', fix: async () => fs.rmSync(file, { force: true }) });
  }
  const indexTemp = path.join(root.images, 'index.json.tmp');
  if (fs.existsSync(indexTemp)) {
    const free = await ifLockFree(root.locks, IMAGES_LOCK, async () => true);
    if (!free.busy) findings.push({ area: 'temp', subject: indexTemp, problem: 'an image index write that never finished', repair: 'delete it', fix: async () => fs.rmSync(indexTemp, { force: true }) });
  }
  return findings;
}

/** All store checks, in the order their repairs must run (a layer rebuilt before images are judged). */
export async function checkStore(root: StateRoot): Promise<Finding[]> {
  const store = new ImageStore(root);
  const temps = await checkTemps(root);
  const blobs = await checkBlobs(store);
  const layers = checkLayers(store);
  const damaged = new Set(layers.filter((finding) => /^sha256:/.test(finding.subject)).map((finding) => finding.subject));
  return [...temps, ...blobs, ...layers, ...checkImages(store, damaged)];
}
