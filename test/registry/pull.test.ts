import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaType, type ImageManifest } from '../../src/image/oci.js';
import { parsePlatform } from '../../src/image/platform.js';
import { parseReference } from '../../src/image/reference.js';
import { RegistryClient, downloadBlob, resolveManifest } from '../../src/image/registry/index.js';
import { busyboxImageLayout, freePort, pushLayout, startRegistry, type TestRegistry } from '../helpers/registry.js';

let registry: TestRegistry;
let work: string;
let client: RegistryClient;
const debug: string[] = [];

function sha256(bytes: Buffer): string {
  return `sha256:${crypto.createHash('sha256').update(bytes).digest('hex')}`;
}

/** Uploads a blob with the distribution spec's two-step (POST, then PUT ?digest=) upload. */
async function uploadBlob(repository: string, bytes: Buffer): Promise<string> {
  const digest = sha256(bytes);
  const start = await fetch(`http://${registry.host}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
  expect(start.status).toBe(202);
  const location = new URL(start.headers.get('location') ?? '', `http://${registry.host}`);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, { method: 'PUT', body: bytes, headers: { 'Content-Type': 'application/octet-stream' } });
  expect(put.status).toBe(201);
  return digest;
}

async function putManifest(repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<void> {
  const response = await fetch(`http://${registry.host}/v2/${repository}/manifests/${reference}`,
    { method: 'PUT', body: bytes, headers: { 'Content-Type': mediaType } });
  expect(response.status, await response.text()).toBe(201);
}

async function rawGet(pathName: string, accept = MediaType.OciManifest): Promise<Buffer> {
  const response = await fetch(`http://${registry.host}${pathName}`, { headers: { Accept: accept } });
  expect(response.status).toBe(200);
  return Buffer.from(await response.arrayBuffer());
}

let amd64Digest: string;
let arm64Digest: string;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-pull-test-'));
  registry = await startRegistry();
  const layout = busyboxImageLayout();
  pushLayout(layout, 'latest', `${registry.host}/team/app:oci`);
  pushLayout(layout, 'latest', `${registry.host}/team/app:v2s2`, ['--format', 'v2s2']);
  // A two-platform index: the busybox image as amd64, and a copy of it relabelled arm64.
  pushLayout(layout, 'latest', `${registry.host}/multi:amd64`);
  const amd64Bytes = await rawGet('/v2/multi/manifests/amd64');
  amd64Digest = sha256(amd64Bytes);
  const amd64 = JSON.parse(amd64Bytes.toString()) as ImageManifest;
  const config = JSON.parse((await rawGet(`/v2/multi/blobs/${amd64.config.digest}`)).toString()) as Record<string, unknown>;
  const armConfig = Buffer.from(JSON.stringify({ ...config, architecture: 'arm64', variant: 'v8' }));
  const armConfigDigest = await uploadBlob('multi', armConfig);
  const armManifest = Buffer.from(JSON.stringify({ ...amd64, config: { ...amd64.config, digest: armConfigDigest, size: armConfig.length } }));
  arm64Digest = sha256(armManifest);
  await putManifest('multi', arm64Digest, armManifest, MediaType.OciManifest);
  const index = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: MediaType.OciIndex,
    manifests: [
      { mediaType: MediaType.OciManifest, digest: amd64Digest, size: amd64Bytes.length, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: MediaType.OciManifest, digest: arm64Digest, size: armManifest.length, platform: { os: 'linux', architecture: 'arm64' } },
    ],
  }));
  await putManifest('multi', 'latest', index, MediaType.OciIndex);
  client = new RegistryClient({ dockerConfigPath: path.join(work, 'no-docker-config.json'), onDebug: (line) => debug.push(line) });
});

afterAll(async () => {
  await registry?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('anonymous pull from a real registry', () => {
  it.each([
    ['oci', MediaType.OciManifest],
    ['v2s2', MediaType.DockerManifest],
  ])('resolves the %s manifest and downloads its config and layers, verified', async (tag, mediaType) => {
    const ref = parseReference(`${registry.host}/team/app:${tag}`);
    const resolved = await resolveManifest(client, ref);
    expect(resolved.mediaType).toBe(mediaType);
    expect(resolved.index).toBeUndefined();
    expect(resolved.manifestDigest).toBe(sha256(resolved.manifestBytes));
    for (const descriptor of [resolved.manifest.config, ...resolved.manifest.layers]) {
      const dest = path.join(work, `${tag}-${descriptor.digest.slice(7)}`);
      let lastProgress = 0;
      await downloadBlob(client, ref, descriptor, dest, { onProgress: (received) => { lastProgress = received; } });
      const bytes = fs.readFileSync(dest);
      expect(bytes.length).toBe(descriptor.size);
      expect(sha256(bytes)).toBe(descriptor.digest);
      expect(lastProgress).toBe(descriptor.size);
    }
    expect(debug.some((line) => line.includes(`/v2/team/app/manifests/${tag} → 200`))).toBe(true);
  });

  it('fetches a manifest by digest and verifies it against that digest', async () => {
    const byTag = await client.fetchManifest(parseReference(`${registry.host}/team/app:oci`), 'oci');
    const pinned = parseReference(`${registry.host}/team/app@${byTag.digest}`);
    const resolved = await resolveManifest(client, pinned);
    expect(resolved.manifestDigest).toBe(byTag.digest);
    expect(resolved.manifestBytes.equals(byTag.bytes)).toBe(true);
  });

  it('reports a missing tag as not found', async () => {
    await expect(resolveManifest(client, parseReference(`${registry.host}/team/app:nope`)))
      .rejects.toThrow(/manifest for 127\.0\.0\.1:\d+\/team\/app:nope not found \(manifest unknown\)/);
  });

  it('reports an unreachable registry clearly', async () => {
    const silent = new RegistryClient({ retry: { attempts: 1, baseDelayMs: 1 }, dockerConfigPath: path.join(work, 'none.json') });
    const port = await freePort();
    await expect(silent.fetchManifest(parseReference(`127.0.0.1:${port}/x`), 'latest'))
      .rejects.toThrow(new RegExp(`^nothing listens at 127\\.0\\.0\\.1:${port} \\(connection refused\\): is the registry running\\?$`));
  });
});

describe('multi-platform index', () => {
  it('picks the default linux/amd64 manifest and keeps the index', async () => {
    const resolved = await resolveManifest(client, parseReference(`${registry.host}/multi`));
    expect(resolved.manifestDigest).toBe(amd64Digest);
    expect(resolved.index?.mediaType).toBe(MediaType.OciIndex);
    expect(resolved.index?.digest).toBe(sha256(resolved.index?.bytes ?? Buffer.alloc(0)));
  });

  it('picks arm64 for --platform linux/arm64/v8 and linux/aarch64 (an index entry without variant is v8)', async () => {
    for (const spec of ['linux/arm64/v8', 'linux/aarch64', 'linux/arm64']) {
      const resolved = await resolveManifest(client, parseReference(`${registry.host}/multi:latest`), parsePlatform(spec));
      expect(resolved.manifestDigest).toBe(arm64Digest);
    }
  });

  it('lists the available platforms when none matches', async () => {
    await expect(resolveManifest(client, parseReference(`${registry.host}/multi`), parsePlatform('linux/riscv64')))
      .rejects.toThrow(/no manifest for platform linux\/riscv64 in 127\.0\.0\.1:\d+\/multi:latest \(available: linux\/amd64, linux\/arm64\/v8\)/);
  });
});
