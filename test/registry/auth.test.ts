import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MiniboxError } from '../../src/errors.js';
import { parseReference } from '../../src/image/reference.js';
import { RegistryClient, downloadBlob, findCredentials, login, logout, resolveManifest } from '../../src/image/registry/index.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { busyboxImageLayout, pushLayout, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { startTokenServer, type TokenServer } from '../helpers/token-server.js';

const USER = 'alice';
const PASSWORD = 'correct-horse-battery-staple';
const WRONG = 'wrong-password-123';
const SECRETS = [PASSWORD, WRONG, Buffer.from(`${USER}:${PASSWORD}`).toString('base64'), Buffer.from(`${USER}:${WRONG}`).toString('base64')];

let work: string;
const started: { stop(): Promise<void> }[] = [];

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-auth-test-'));
});

afterAll(async () => {
  for (const thing of started.reverse()) await thing.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

function track<T extends { stop(): Promise<void> }>(thing: T): T {
  started.push(thing);
  return thing;
}

/**
 * skopeo push to a token-auth registry, without blocking the event loop: the token server it must
 * talk to runs in this very process (execFileSync would deadlock).
 */
async function pushThroughTokenServer(destination: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    execFile('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', '--dest-creds', `${USER}:${PASSWORD}`,
      `oci:${busyboxImageLayout()}:latest`, `docker://${destination}`], { timeout: 60_000 },
    (error) => (error ? reject(new Error(`skopeo push failed: ${error.message.replaceAll(PASSWORD, '***')}`)) : resolve()));
  });
}

function configPath(name: string): string {
  return path.join(work, name, 'config.json');
}

function expectNoSecrets(texts: string[], extra: string[] = []): void {
  for (const text of texts) {
    for (const secret of [...SECRETS, ...extra]) expect(text).not.toContain(secret);
    expect(text).not.toMatch(/Basic [A-Za-z0-9+/=]{8,}|Bearer [A-Za-z0-9._-]{8,}/);
  }
}

async function errorOf(promise: Promise<unknown>): Promise<MiniboxError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(MiniboxError);
  return error as MiniboxError;
}

/** Pulls manifest + every blob; returns the number of blobs. */
async function pullAll(client: RegistryClient, image: string): Promise<number> {
  const ref = parseReference(image);
  const resolved = await resolveManifest(client, ref);
  const blobs = [resolved.manifest.config, ...resolved.manifest.layers];
  for (const descriptor of blobs) {
    await downloadBlob(client, ref, descriptor, path.join(work, `blob-${descriptor.digest.slice(7, 19)}-${Math.random()}`));
  }
  return blobs.length;
}

describe('Basic auth (htpasswd registry)', () => {
  let registry: TestRegistry;
  let image: string;
  beforeAll(async () => {
    registry = track(await startRegistry({ htpasswd: [{ user: USER, password: PASSWORD }] }));
    pushLayout(busyboxImageLayout(), 'latest', `${registry.host}/team/app:latest`, ['--dest-creds', `${USER}:${PASSWORD}`]);
    image = `${registry.host}/team/app:latest`;
  });

  it('without credentials: tells the user to log in (exit 125)', async () => {
    const debug: string[] = [];
    const client = new RegistryClient({ dockerConfigPath: configPath('none'), onDebug: (l) => debug.push(l) });
    const error = await errorOf(resolveManifest(client, parseReference(image)));
    expect(error.exitCode).toBe(125);
    expect(error.message).toBe(`authentication required to pull team/app from ${registry.host}: run \`minibox login ${registry.host}\` first`);
  });

  it('login with a wrong password fails clearly and stores nothing', async () => {
    const file = configPath('wrong');
    const error = await errorOf(login(registry.host, USER, WRONG, { dockerConfigPath: file }));
    expect(error.message).toBe(`login to ${registry.host} failed: the registry rejected the username or password for "${USER}"`);
    expect(fs.existsSync(file)).toBe(false);
    expectNoSecrets([error.message]);
  });

  it('stale stored credentials give a clear error without the password', async () => {
    const file = configPath('stale');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from(`${USER}:${WRONG}`).toString('base64') } } }));
    const debug: string[] = [];
    const client = new RegistryClient({ dockerConfigPath: file, onDebug: (l) => debug.push(l) });
    const error = await errorOf(resolveManifest(client, parseReference(image)));
    expect(error.message).toBe(`registry ${registry.host} rejected the stored credentials for "${USER}" (pulling team/app); run \`minibox login ${registry.host}\` again`);
    expectNoSecrets([error.message, ...debug]);
  });

  it('login stores credentials 0600 in a 0700 dir; pull works; logout removes them', async () => {
    const file = configPath('good');
    await login(registry.host, USER, PASSWORD, { dockerConfigPath: file });
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    const stored = JSON.parse(fs.readFileSync(file, 'utf8')) as { auths: Record<string, { auth: string }> };
    expect(Buffer.from(stored.auths[registry.host]?.auth ?? '', 'base64').toString()).toBe(`${USER}:${PASSWORD}`);

    const debug: string[] = [];
    const client = new RegistryClient({ dockerConfigPath: file, onDebug: (l) => debug.push(l) });
    expect(await pullAll(client, image)).toBeGreaterThanOrEqual(2);
    expect(debug.length).toBeGreaterThan(0);
    expectNoSecrets(debug);

    expect(logout(registry.host, { dockerConfigPath: file })).toBe(true);
    expect(findCredentials(registry.host, file)).toBeUndefined();
    expect(logout(registry.host, { dockerConfigPath: file })).toBe(false);
    await expect(resolveManifest(new RegistryClient({ dockerConfigPath: file }), parseReference(image))).rejects.toThrow(/authentication required/);
  });

  it('does not forward Authorization when a blob redirects to another host, nor print its signed query', async () => {
    // "Object storage": an anonymous registry holding the same blobs, behind a recording proxy.
    const storageRegistry = track(await startRegistry());
    pushLayout(busyboxImageLayout(), 'latest', `${storageRegistry.host}/team/app:latest`);
    const storage: FaultProxy = track(await startFaultProxy(storageRegistry.host, () => undefined));
    const front: FaultProxy = track(await startFaultProxy(registry.host, (request) => {
      const blob = /\/v2\/team\/app\/blobs\/(sha256:[0-9a-f]+)/.exec(request.url ?? '');
      return blob && request.method === 'GET'
        ? { kind: 'redirect', location: `http://${storage.host}/v2/team/app/blobs/${blob[1]}?X-Amz-Signature=topsecret-signature` }
        : undefined;
    }));
    const file = configPath('redirect');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify({ auths: { [front.host]: { auth: Buffer.from(`${USER}:${PASSWORD}`).toString('base64') } } }));
    const debug: string[] = [];
    const client = new RegistryClient({ dockerConfigPath: file, onDebug: (l) => debug.push(l) });
    expect(await pullAll(client, `${front.host}/team/app:latest`)).toBeGreaterThanOrEqual(2);
    expect(front.seen.filter((r) => r.path.includes('/blobs/')).every((r) => r.authorization?.startsWith('Basic '))).toBe(true);
    const storageRequests = storage.seen.filter((r) => r.path.includes('/blobs/'));
    expect(storageRequests.length).toBeGreaterThanOrEqual(2);
    expect(storageRequests.every((r) => r.authorization === undefined)).toBe(true);
    expectNoSecrets(debug, ['topsecret-signature']);
  });
});

describe('Bearer token auth (token server + registry trusting its certificate)', () => {
  it('anonymous pull follows 401 → token → retry, with a pull-scoped token', async () => {
    const tokens: TokenServer = track(await startTokenServer({ users: [{ user: USER, password: PASSWORD }], anonymousPull: true }));
    const registry = track(await startRegistry({ token: tokens }));
    await pushThroughTokenServer(`${registry.host}/team/app:latest`);
    tokens.requests.length = 0;

    const debug: string[] = [];
    const client = new RegistryClient({ dockerConfigPath: configPath('bearer-anon'), onDebug: (l) => debug.push(l) });
    expect(await pullAll(client, `${registry.host}/team/app:latest`)).toBeGreaterThanOrEqual(2);
    // The flow: the registry challenges, the client gets a token, then asks again with it.
    const ping = debug.findIndex((l) => l === `GET http://${registry.host}/v2/ → 401`);
    const token = debug.findIndex((l) => l === `GET ${tokens.realm} → 200`);
    const manifest = debug.findIndex((l) => l === `GET http://${registry.host}/v2/team/app/manifests/latest → 200`);
    expect(ping).toBeGreaterThanOrEqual(0);
    expect(token).toBeGreaterThan(ping);
    expect(manifest).toBeGreaterThan(token);
    // One token per scope, cached for the blobs.
    expect(tokens.requests).toEqual([{ scope: 'repository:team/app:pull', account: undefined, authenticated: false, status: 200 }]);
    expectNoSecrets(debug, tokens.issuedTokens);
  });

  it('credentials-required: clear error, then login (token with Basic) and pull work; logout removes', async () => {
    const tokens: TokenServer = track(await startTokenServer({ users: [{ user: USER, password: PASSWORD }], anonymousPull: false }));
    const registry = track(await startRegistry({ token: tokens }));
    await pushThroughTokenServer(`${registry.host}/team/app:latest`);
    const image = `${registry.host}/team/app:latest`;
    const file = configPath('bearer-private');
    const debug: string[] = [];
    const options = { dockerConfigPath: file, onDebug: (l: string) => debug.push(l) };

    const anonymous = await errorOf(resolveManifest(new RegistryClient(options), parseReference(image)));
    expect(anonymous.message).toBe(`authentication required by ${registry.host}: run \`minibox login ${registry.host}\` first`);
    expect(anonymous.exitCode).toBe(125);

    const wrong = await errorOf(login(registry.host, USER, WRONG, options));
    expect(wrong.message).toBe(`the token server for ${registry.host} rejected the username or password for "${USER}"; run \`minibox login ${registry.host}\` again`);
    expect(fs.existsSync(file)).toBe(false);

    await login(registry.host, USER, PASSWORD, options);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    tokens.requests.length = 0;
    expect(await pullAll(new RegistryClient(options), image)).toBeGreaterThanOrEqual(2);
    expect(tokens.requests).toEqual([{ scope: 'repository:team/app:pull', account: USER, authenticated: true, status: 200 }]);

    expect(logout(registry.host, options)).toBe(true);
    await expect(resolveManifest(new RegistryClient(options), parseReference(image))).rejects.toThrow(/authentication required/);
    expectNoSecrets([anonymous.message, wrong.message, ...debug], tokens.issuedTokens);
  });
});
