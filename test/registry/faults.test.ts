import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MiniboxError } from '../../src/errors.js';
import type { Descriptor } from '../../src/image/oci.js';
import { parseReference, type ImageReference } from '../../src/image/reference.js';
import { DigestMismatchError, RegistryClient, downloadBlob, resolveManifest } from '../../src/image/registry/index.js';
import { startFaultProxy, type Fault, type FaultProxy } from '../helpers/fault-proxy.js';
import { busyboxImageLayout, pushLayout, startRegistry, type TestRegistry } from '../helpers/registry.js';

let registry: TestRegistry;
let proxy: FaultProxy;
let work: string;
let ref: ImageReference;
let layer: Descriptor;
/** Faults to inject: each applies to the next `times` requests whose path matches. */
let planned: { match: RegExp; fault: Fault; times: number }[] = [];
const debug: string[] = [];

function newClient(): RegistryClient {
  return new RegistryClient({
    dockerConfigPath: path.join(work, 'none.json'),
    retry: { attempts: 4, baseDelayMs: 10 },
    onDebug: (line) => debug.push(line),
  });
}

function inject(match: RegExp, fault: Fault, times = 1): void {
  planned.push({ match, fault, times });
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-fault-test-'));
  registry = await startRegistry();
  pushLayout(busyboxImageLayout(), 'latest', `${registry.host}/team/app:latest`);
  proxy = await startFaultProxy(registry.host, (request) => {
    const entry = planned.find((p) => p.times > 0 && p.match.test(request.url ?? ''));
    if (!entry) return undefined;
    entry.times--;
    return entry.fault;
  });
  ref = parseReference(`${proxy.host}/team/app:latest`);
  const resolved = await resolveManifest(newClient(), ref);
  const first = resolved.manifest.layers[0];
  if (!first) throw new Error('image has no layer');
  layer = first;
});

beforeEach(() => {
  planned = [];
  proxy.seen.length = 0;
  debug.length = 0;
});

afterAll(async () => {
  await proxy?.stop();
  await registry?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

function destination(name: string): string {
  return path.join(work, `${name}-${crypto.randomUUID()}`);
}

function sha256File(file: string): string {
  return `sha256:${crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')}`;
}

describe('integrity', () => {
  it('refuses a corrupted blob, deletes the partial file and keeps nothing', async () => {
    inject(/\/blobs\//, { kind: 'corrupt-byte' });
    const dest = destination('corrupt');
    const error = await downloadBlob(newClient(), ref, layer, dest).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DigestMismatchError);
    expect(error).toBeInstanceOf(MiniboxError);
    expect((error as Error).message).toContain(`digest mismatch for blob ${layer.digest}`);
    expect(fs.existsSync(dest)).toBe(false);
  });

  it('refuses a corrupted manifest fetched by tag', async () => {
    inject(/\/manifests\/latest/, { kind: 'corrupt-byte' });
    await expect(resolveManifest(newClient(), ref)).rejects.toBeInstanceOf(DigestMismatchError);
  });

  it('refuses a manifest that does not hash to the digest it was fetched by', async () => {
    const good = await newClient().fetchManifest(ref, 'latest');
    inject(/\/manifests\/sha256:/, { kind: 'replace-body', body: good.bytes.toString().replace('"schemaVersion":2', '"schemaVersion": 2'), contentType: good.mediaType });
    await expect(newClient().fetchManifest(ref, good.digest)).rejects.toThrow(new RegExp(`digest mismatch for manifest .*expected ${good.digest}`));
  });

  it('refuses a Docker schema 1 manifest with a clear message', async () => {
    inject(/\/manifests\/latest/, {
      kind: 'replace-body', contentType: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
      body: JSON.stringify({ schemaVersion: 1, name: 'team/app', tag: 'latest', fsLayers: [] }),
    });
    await expect(resolveManifest(newClient(), ref)).rejects.toThrow(
      'is a Docker schema 1 manifest, which is unsupported (schema 1 is deprecated; ask the publisher to push a schema 2 or OCI image)');
    inject(/\/manifests\/latest/, { kind: 'replace-body', contentType: 'application/json', body: JSON.stringify({ schemaVersion: 1 }) });
    await expect(resolveManifest(newClient(), ref)).rejects.toThrow(/schema 1 is deprecated/);
  });
});

describe('transient failures are retried', () => {
  it('retries a manifest request answered 503', async () => {
    inject(/\/manifests\/latest/, { kind: 'status', status: 503 });
    const resolved = await resolveManifest(newClient(), ref);
    expect(resolved.manifest.layers.length).toBeGreaterThan(0);
    expect(proxy.seen.filter((r) => r.path.endsWith('/manifests/latest'))).toHaveLength(2);
    expect(debug.some((line) => /retrying GET .*\/manifests\/latest in \d+ ms: HTTP 503/.test(line))).toBe(true);
  });

  it('honours a short Retry-After on 429', async () => {
    inject(/\/manifests\/latest/, { kind: 'status', status: 429, headers: { 'Retry-After': '1' } });
    await resolveManifest(newClient(), ref);
    expect(debug.some((line) => /in 1000 ms: HTTP 429/.test(line))).toBe(true);
  });

  it('gives up with a clear message when Retry-After is long', async () => {
    inject(/\/manifests\/latest/, { kind: 'status', status: 429, headers: { 'Retry-After': '3600' } });
    await expect(resolveManifest(newClient(), ref)).rejects.toThrow('the registry is rate limiting (HTTP 429) and asks to retry after 3600 s; try again later');
  });

  it('gives up after the configured attempts when the registry keeps failing', async () => {
    inject(/\/manifests\/latest/, { kind: 'status', status: 503 }, 10);
    await expect(resolveManifest(newClient(), ref)).rejects.toThrow(/HTTP 503/);
    expect(proxy.seen.filter((r) => r.path.endsWith('/manifests/latest'))).toHaveLength(4);
  });

  it('retries a blob request whose connection is reset', async () => {
    inject(/\/blobs\//, { kind: 'reset' });
    const dest = destination('reset');
    await downloadBlob(newClient(), ref, layer, dest);
    expect(sha256File(dest)).toBe(layer.digest);
    expect(proxy.seen.filter((r) => r.path.includes('/blobs/'))).toHaveLength(2);
  });

  it('resumes a blob download cut off halfway with a Range request', async () => {
    inject(/\/blobs\//, { kind: 'cut-half' });
    const dest = destination('resume');
    await downloadBlob(newClient(), ref, layer, dest);
    expect(sha256File(dest)).toBe(layer.digest);
    const blobRequests = proxy.seen.filter((r) => r.path.includes('/blobs/'));
    expect(blobRequests).toHaveLength(2);
    // Resumed from wherever the connection broke (the proxy sent half; some may be lost in flight).
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(blobRequests[1]?.range ?? '')?.[1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(Math.floor(layer.size / 2));
  });

  it('resumes a partial file left by an earlier run', async () => {
    const dest = destination('partial');
    await downloadBlob(newClient(), ref, layer, dest);
    fs.truncateSync(dest, 1000);
    await downloadBlob(newClient(), ref, layer, dest);
    expect(sha256File(dest)).toBe(layer.digest);
    expect(proxy.seen.at(-1)?.range).toBe('bytes=1000-');
  });

  it('starts over when the server ignores Range', async () => {
    inject(/\/blobs\//, { kind: 'cut-half' });
    inject(/\/blobs\//, { kind: 'ignore-range' });
    const dest = destination('norange');
    await downloadBlob(newClient(), ref, layer, dest);
    expect(sha256File(dest)).toBe(layer.digest);
    expect(debug.some((line) => line.includes('server ignored Range, restarting from byte 0'))).toBe(true);
  });
});
