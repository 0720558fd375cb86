/**
 * A pull's layers download at the same time, and each is unpacked while its bytes arrive — yet
 * nothing is recorded from bytes that fail their digest (src/image/pull-layer.ts).
 *
 * Overlap is proven without clocks: a proxy in front of the real registry holds a blob's body
 * until the other thing has *happened* (another layer's request arrived; a file of the held layer
 * appeared in the store's temp dir). If the pull did them one after the other, the condition never
 * comes, the proxy gives up at its deadline and the test fails (checked: the first test fails
 * with `concurrency: 1`, the second on main before the pipelining, where a layer was unpacked
 * only from its complete blob; both then take until the deadline).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pullImage } from '../../src/image/pull.js';
import { ImageStore } from '../../src/image/store/images.js';
import { StateRoot } from '../../src/state-root.js';
import { startFaultProxy, type Fault } from '../helpers/fault-proxy.js';
import { mbAsync, tempRoot } from '../helpers/minibox.js';
import { writeOciLayout, type LayerEntry, type WrittenImage } from '../helpers/oci-layout.js';
import { pushLayout, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { seededRandom, seed } from '../helpers/crash-points.js';
import { UnpackThreads } from '../../src/image/unpack/unpack-thread.js';

let registry: TestRegistry;
let twoLayers: WrittenImage;
const dirs: string[] = [];

/** Bytes gzip cannot shrink, from the seeded generator (the seed is printed on failure). */
function noise(bytes: number, salt: number): Buffer {
  const random = seededRandom(seed ^ salt);
  const buffer = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i += 4) buffer.writeUInt32LE(Math.floor(random() * 2 ** 32), i);
  return buffer;
}

/** A small file first in the tar (unpacked as soon as the first bytes arrive), a big one after. */
function layer(index: number): LayerEntry[] {
  return [
    { path: 'aaa-early', type: 'file', content: `layer ${index}\n` },
    { path: `zzz-big-${index}.bin`, type: 'file', content: noise(2 << 20, index) },
  ];
}

/** Waits for `condition` (checked every 20 ms) up to a generous deadline; true if it came. */
async function eventually(condition: () => boolean, deadlineMs = 60_000): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    if (condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

function newRoot(): string {
  const root = tempRoot();
  dirs.push(root);
  return root;
}

function blobPath(request: { url?: string | undefined }): string {
  return request.url?.replace(/^.*\/blobs\//, '') ?? '';
}

beforeAll(async () => {
  registry = await startRegistry();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-pipeline-'));
  dirs.push(work);
  twoLayers = await writeOciLayout(path.join(work, 'two'), 'latest', [
    { entries: layer(1), compression: 'gzip' }, { entries: layer(2), compression: 'gzip' },
  ]);
  pushLayout(path.join(work, 'two'), 'latest', `${registry.host}/test/two-layers:latest`);
});

afterAll(async () => {
  await registry?.stop();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe('pull: concurrent, pipelined layers', () => {
  it('downloads layers at the same time: layer 1 is held until layer 2 is asked for', async () => {
    const [first, second] = twoLayers.layers.map((l) => l.descriptor.digest);
    let secondAsked = false;
    let overlapped: boolean | undefined;
    const proxy = await startFaultProxy(registry.host, (request): Fault | undefined => {
      if (blobPath(request) === second) secondAsked = true;
      if (blobPath(request) !== first) return undefined;
      return { kind: 'hold', sendFirst: 0, release: async () => { overlapped = await eventually(() => secondAsked); } };
    });
    try {
      const root = new StateRoot(newRoot());
      const result = await pullImage(root, `${proxy.host}/test/two-layers:latest`);
      expect(result.layersDownloaded).toBe(2);
      expect(overlapped, `seed ${seed}: layer 2 was not requested while layer 1 was held`).toBe(true);
    } finally {
      await proxy.stop();
    }
  });

  it('unpacks a layer while its blob is still arriving, and records it only once all of it is verified', async () => {
    const [first] = twoLayers.layers.map((l) => l.descriptor.digest);
    const root = newRoot();
    const tmp = path.join(root, 'tmp');
    // The first layer's early file, in *its* temp dir (`layer-<diff id hex>-…`; the second layer
    // has an aaa-early too), while most of its blob is held back. Seen to fail when the unpacker
    // was handed only full 2 MiB batches: the held 64 KiB never reached it.
    const heldDir = `layer-${twoLayers.layers[0]!.diffId.replace('sha256:', '')}-`;
    const early = () => fs.existsSync(tmp) && fs.readdirSync(tmp)
      .some((name) => name.startsWith(heldDir) && fs.existsSync(path.join(tmp, name, 'aaa-early')));
    let unpackedEarly: boolean | undefined;
    let recordedWhileHeld = false;
    const proxy = await startFaultProxy(registry.host, (request): Fault | undefined => {
      if (blobPath(request) !== first) return undefined;
      return { kind: 'hold', sendFirst: 64 * 1024, release: async () => {
        unpackedEarly = await eventually(early);
        recordedWhileHeld = new ImageStore(new StateRoot(root)).layers.list().includes(twoLayers.layers[0]!.diffId);
      } };
    });
    try {
      const result = await mbAsync(root, ['pull', '-q', `${proxy.host}/test/two-layers:latest`]);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(unpackedEarly, 'the held layer had no file unpacked before the rest of its blob came').toBe(true);
      expect(recordedWhileHeld).toBe(false);
      const store = new ImageStore(new StateRoot(root));
      const dir = store.layers.dir(twoLayers.layers[0]!.diffId);
      expect(fs.readFileSync(path.join(dir, 'aaa-early'), 'utf8')).toBe('layer 1\n');
      expect(fs.statSync(path.join(dir, 'zzz-big-1.bin')).size).toBe(2 << 20);
      expect(fs.readdirSync(tmp)).toEqual([]);
    } finally {
      await proxy.stop();
    }
  });

  it.each([
    // Byte 4 is in the gzip header's MTIME, which gunzip ignores: the layer unpacks to exactly the
    // diff id the config names, and only the blob's digest tells that the download was altered.
    ['the gzip header (the layer still unpacks to the right diff id)', 4],
    ['the compressed data (the unpacker fails too)', undefined],
  ])('a digest mismatch in %s is reported as one, and nothing is recorded', async (_where, offset) => {
    const target = twoLayers.layers[0]!.descriptor.digest;
    const diffId = twoLayers.layers[0]!.diffId;
    const proxy = await startFaultProxy(registry.host, (request) => (blobPath(request) === target ? { kind: 'corrupt-byte', ...(offset === undefined ? {} : { offset }) } : undefined));
    try {
      const root = newRoot();
      const result = await mbAsync(root, ['pull', '-q', `${proxy.host}/test/two-layers:latest`]);
      expect(result.code).toBe(125);
      expect(result.stderr).toMatch(new RegExp(`^minibox: digest mismatch for blob ${target}`));
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      const store = new ImageStore(new StateRoot(root));
      expect(store.list()).toEqual([]);
      expect(store.layers.list()).not.toContain(diffId);
      expect(store.blobs.has(target)).toBe(false);
      expect(fs.readdirSync(path.join(root, 'tmp'))).toEqual([]);
    } finally {
      await proxy.stop();
    }
  });

  it.each([0, 1])('an unpack job with %i thread(s) unpacks fed bytes to the diff id; bytes out of order stop it', async (count) => {
    const written = twoLayers.layers[0]!;
    const blob = fs.readFileSync(written.blobPath);
    const threads = new UnpackThreads(count);
    try {
      const dest = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-unpack-job-'));
      dirs.push(dest);
      const job = threads.unpack({ dest, layerName: written.descriptor.digest, mediaType: written.descriptor.mediaType });
      for (let offset = 0; offset < blob.length; offset += 100_000) await job.write(blob.subarray(offset, offset + 100_000), offset);
      expect((await job.end()).diffId).toBe(written.diffId);
      expect(fs.readFileSync(path.join(dest, 'aaa-early'), 'utf8')).toBe('layer 1\n');

      const other = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-unpack-job-'));
      dirs.push(other);
      const resumed = threads.unpack({ dest: other, layerName: written.descriptor.digest, mediaType: written.descriptor.mediaType });
      await resumed.write(blob.subarray(1000, 2000), 1000); // a download resuming at byte 1000
      expect(resumed.stopped).toBe(true);
      expect(resumed.received).toBe(0);
    } finally {
      await threads.close();
    }
  });
});
