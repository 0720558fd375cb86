/**
 * `minibox pull` against a real registry: records, shared layers fetched once, kill -9 at any
 * moment leaves nothing half-written, concurrent pulls in separate processes.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pullImage } from '../../src/image/pull.js';
import { ImageStore } from '../../src/image/store/images.js';
import { StateRoot } from '../../src/state-root.js';
import { deriveImage, writeRandomFile } from '../helpers/derived-image.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { bin, mbAsync, minibox, tempRoot } from '../helpers/minibox.js';
import { busyboxImageLayout, pushLayout, startRegistry, type TestRegistry } from '../helpers/registry.js';

let registry: TestRegistry;
let base: string;
let derived: string;
let big: string;
const roots: string[] = [];

function newRoot(): string {
  const root = tempRoot();
  roots.push(root);
  return root;
}

/** Every blob in the store hashes to its name, and every recorded image has all its parts. */
function expectConsistentStore(root: string): void {
  const state = new StateRoot(root);
  const store = new ImageStore(state);
  for (const digest of store.blobs.list()) {
    const hash = crypto.createHash('sha256').update(fs.readFileSync(store.blobs.path(digest))).digest('hex');
    expect(`sha256:${hash}`).toBe(digest);
  }
  for (const image of store.list()) {
    expect(store.blobs.has(image.manifestDigest)).toBe(true);
    expect(store.blobs.has(image.configDigest)).toBe(true);
    for (const layer of image.layers) expect(store.layers.has(layer.diffId)).toBe(true);
  }
  for (const diffId of store.layers.list()) expect(fs.existsSync(`${store.layers.dir(diffId)}.json`)).toBe(true);
}

beforeAll(async () => {
  registry = await startRegistry();
  base = busyboxImageLayout();
  pushLayout(base, 'latest', `${registry.host}/test/busybox:latest`);
  pushLayout(base, 'latest', `${registry.host}/test/busybox-v2s2:latest`, ['--format', 'v2s2']);
  derived = deriveImage(base, 'latest', (rootfs) => fs.writeFileSync(path.join(rootfs, 'etc/derived'), 'second layer\n'));
  pushLayout(derived, 'latest', `${registry.host}/test/derived:latest`);
  big = deriveImage(base, 'latest', (rootfs) => writeRandomFile(path.join(rootfs, 'big.bin'), 48 << 20));
  pushLayout(big, 'latest', `${registry.host}/test/big:latest`);
});

afterAll(async () => {
  await registry?.stop();
  for (const root of roots) fs.rmSync(root, { recursive: true, force: true });
});

describe('pull', () => {
  it('pulls an OCI image and records name, manifest, config and unpacked layers', () => {
    const root = newRoot();
    const result = minibox(root, ['pull', `${registry.host}/test/busybox`]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Using default tag: latest');
    expect(result.stdout).toContain('Pull complete');
    expect(result.stdout).toMatch(/Digest: sha256:[a-f0-9]{64}/);
    expect(result.stdout).toContain(`Status: Downloaded newer image for ${registry.host}/test/busybox:latest`);
    expect(result.stdout.trim().split('\n').at(-1)).toBe(`${registry.host}/test/busybox:latest`);
    const store = new ImageStore(new StateRoot(root));
    const image = store.get(`${registry.host}/test/busybox`);
    expect(image.manifestMediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(image.layers).toHaveLength(1);
    const layerDir = store.layers.dir(image.layers[0]!.diffId);
    expect(fs.readlinkSync(path.join(layerDir, 'bin/sh'))).toBe('busybox');
    expect(fs.statSync(path.join(layerDir, 'bin/busybox')).mode & 0o111).not.toBe(0);
    // Layers may hold setuid programs and device nodes: no other host user may reach them.
    for (const dir of ['layers', 'blobs', 'tmp', 'containers', 'volumes']) {
      expect(fs.statSync(path.join(root, dir)).mode & 0o777, dir).toBe(0o700);
    }
    expectConsistentStore(root);

    const again = minibox(root, ['pull', `${registry.host}/test/busybox:latest`]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('Already exists');
    expect(again.stdout).toContain(`Status: Image is up to date for ${registry.host}/test/busybox:latest`);
  });

  it('pulls Docker schema 2 images and prints only the name with -q', () => {
    const root = newRoot();
    const result = minibox(root, ['pull', '-q', `${registry.host}/test/busybox-v2s2`]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${registry.host}/test/busybox-v2s2:latest\n`);
    const image = new ImageStore(new StateRoot(root)).get(`${registry.host}/test/busybox-v2s2`);
    expect(image.manifestMediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    expect(image.layers[0]!.mediaType).toBe('application/vnd.docker.image.rootfs.diff.tar.gzip');
  });

  it('fetches a layer shared by two images once, and nothing for an image it already has', async () => {
    const root = new StateRoot(newRoot());
    const first = await pullImage(root, `${registry.host}/test/busybox:latest`);
    expect(first.layersDownloaded).toBe(1);
    const second = await pullImage(root, `${registry.host}/test/derived:latest`);
    expect(second.image.layers).toHaveLength(2);
    expect(second.image.layers[0]!.diffId).toBe(first.image.layers[0]!.diffId);
    expect(second.layersDownloaded).toBe(1);
    expect(second.bytesDownloaded).toBe(second.image.layers[1]!.size);
    const same = await pullImage(root, `${registry.host}/test/busybox-v2s2:latest`);
    // Same uncompressed layer under a different manifest format: already unpacked, 0 bytes.
    expect(same.bytesDownloaded).toBe(0);
    expect(new ImageStore(root).layers.list()).toHaveLength(2);
  });

  it('an unknown image or tag is a one-line error with exit code 125 and records nothing', () => {
    const root = newRoot();
    const result = minibox(root, ['pull', `${registry.host}/test/busybox:nope`]);
    expect(result.code).toBe(125);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^minibox: .*nope/);
    expect(new ImageStore(new StateRoot(root)).list()).toHaveLength(0);
  });

  it('kill -9 at any moment of a pull leaves no partial blob, layer or record, and a later pull completes', async () => {
    const root = newRoot();
    for (const delay of [150, 300, 450, 600, 800, 1000, 1300]) {
      const child = spawn(process.execPath, [bin, '--root', root, 'pull', '-q', `${registry.host}/test/big:latest`], { stdio: 'ignore' });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      await sleep(delay);
      child.kill('SIGKILL'); // a no-op if the pull already finished
      await exited;
      expectConsistentStore(root);
    }
    const result = await mbAsync(root, ['pull', `${registry.host}/test/big:latest`]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expectConsistentStore(root);
    const image = new ImageStore(new StateRoot(root)).get(`${registry.host}/test/big`);
    const bigFile = path.join(new ImageStore(new StateRoot(root)).layers.dir(image.layers[1]!.diffId), 'big.bin');
    expect(fs.statSync(bigFile).size).toBe(48 << 20);
    expect(fs.readdirSync(path.join(root, 'tmp')).filter((name) => !name.endsWith('.partial'))).toEqual([]);
  });

  it('concurrent pulls of overlapping images in separate processes fetch each blob once', async () => {
    const proxy: FaultProxy = await startFaultProxy(registry.host, () => undefined);
    try {
      const root = newRoot();
      const names = ['busybox', 'derived', 'busybox', 'derived'].map((name) => `${proxy.host}/test/${name}:latest`);
      const results = await Promise.all(names.map((name) => mbAsync(root, ['pull', '-q', name])));
      for (const result of results) {
        expect(result.stderr).toBe('');
        expect(result.code).toBe(0);
      }
      expectConsistentStore(root);
      const store = new ImageStore(new StateRoot(root));
      expect(store.list()).toHaveLength(2);
      const layerGets = proxy.seen.filter((request) => request.method === 'GET' && request.path.includes('/blobs/'));
      const perBlob = new Map<string, number>();
      for (const request of layerGets) perBlob.set(request.path, (perBlob.get(request.path) ?? 0) + 1);
      for (const [blob, count] of perBlob) expect(count, blob).toBe(1);
    } finally {
      await proxy.stop();
    }
  });
});
