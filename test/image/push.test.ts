/**
 * `minibox push` against the real registry: a committed image round trip through a registry with
 * a login (checked by skopeo, pulled back into a fresh root), blobs never sent twice, layers
 * mounted across repositories, a chunked upload that survives a dropped connection, tags that move
 * while digests stay, and the refusals.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { expectNoLeaks } from '../helpers/leaks.js';
import { mbAsync, tempRoot } from '../helpers/minibox.js';
import { busyboxImageLayout, pushLayout, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { startTokenServer } from '../helpers/token-server.js';

let source: TestRegistry;
let secured: TestRegistry;
let plain: TestRegistry;
let proxy: FaultProxy;
let root: string;
let dockerConfig: string;
/** The requests the proxy will cut: `PATCH` number N of an upload (1-based), once. */
let resetPatch: number | undefined;
let patches = 0;

const env = (): NodeJS.ProcessEnv => ({ DOCKER_CONFIG: dockerConfig });

async function mb(args: string[], input?: string, inRoot = root) {
  return await mbAsync(inRoot, args, { env: env(), ...(input !== undefined ? { input } : {}) });
}

async function ok(args: string[], inRoot = root): Promise<string> {
  const result = await mb(args, undefined, inRoot);
  expect(result.code, `minibox ${args.join(' ')}: ${result.stderr}`).toBe(0);
  return result.stdout.trim();
}

beforeAll(async () => {
  source = await startRegistry();
  secured = await startRegistry({ htpasswd: [{ user: 'pusher', password: 's3cret-pw' }] });
  plain = await startRegistry();
  proxy = await startFaultProxy(plain.host, (request: http.IncomingMessage) => {
    if (request.method !== 'PATCH') return undefined;
    patches += 1;
    if (resetPatch !== undefined && patches === resetPatch) {
      resetPatch = undefined;
      return { kind: 'reset' };
    }
    return undefined;
  });
  dockerConfig = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-docker-config-'));
  root = tempRoot();
  pushLayout(busyboxImageLayout(), 'latest', `${source.host}/base/busybox:latest`);
  await ok(['pull', '-q', `${source.host}/base/busybox:latest`]);
  // A container whose changes become the image to push: added, changed and deleted files.
  await ok(['run', '--network', 'none', '--name', 'changer', `${source.host}/base/busybox:latest`, 'sh', '-c',
    'echo pushed > /pushed && rm /etc/group && echo more >> /etc/passwd && mkdir -p /data && echo x > /data/x']);
  await ok(['commit', 'changer', 'app:1']);
});

afterAll(async () => {
  expectNoLeaks(root);
  fs.rmSync(root, { recursive: true, force: true });
  fs.rmSync(dockerConfig, { recursive: true, force: true });
  await proxy?.stop();
  for (const registry of [source, secured, plain]) await registry?.stop();
});

describe('push', () => {
  it('round trip through a registry with a login: skopeo sees it, a fresh root pulls and runs it', async () => {
    const target = `${secured.host}/team/app:1`;
    await ok(['tag', 'app:1', target]);
    const refused = await mb(['push', target]);
    expect(refused.code).toBe(125);
    expect(refused.stderr).toMatch(/authentication required to push to team\/app on .*minibox login/);

    const login = await mb(['login', '-u', 'pusher', '--password-stdin', secured.host], 's3cret-pw\n');
    expect(login.code, login.stderr).toBe(0);
    const push = await mb(['push', target]);
    expect(push.code, push.stderr).toBe(0);
    expect(push.stdout).toMatch(/The push refers to repository \[.*team\/app\]/);
    expect(push.stdout).toMatch(/: Pushed/);
    const digest = /1: digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(push.stdout)?.[1];
    expect(digest).toBeDefined();
    expect(push.stdout + push.stderr).not.toContain('s3cret-pw');

    const local = await ok(['inspect', '--type', 'image', '--format', '{{json .RepoDigests}}', 'app:1']);
    expect(JSON.parse(local) as string[]).toContain(`${secured.host}/team/app@${digest}`);

    const inspected = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', '--creds', 'pusher:s3cret-pw', `docker://${target}`], { encoding: 'utf8' })) as { Digest: string; Layers: string[] };
    expect(inspected.Digest).toBe(digest);
    const layers = JSON.parse(await ok(['inspect', '--type', 'image', '--format', '{{json .RootFS.Layers}}', 'app:1'])) as string[];
    expect(inspected.Layers).toHaveLength(layers.length);

    const fresh = tempRoot();
    try {
      await ok(['pull', '-q', target], fresh);
      const out = await ok(['run', '--rm', '--network', 'none', target, 'sh', '-c', 'cat /pushed /data/x; ls /etc/group 2>&1; tail -1 /etc/passwd'], fresh);
      expect(out).toMatch(/^pushed\nx\n.*No such file.*\nmore$/s);
      expectNoLeaks(fresh);
    } finally {
      fs.rmSync(fresh, { recursive: true, force: true });
    }
  });

  it('sends no layer twice, and mounts layers into a second repository of the same registry', async () => {
    const first = `${proxy.host}/one/app:1`;
    await ok(['tag', 'app:1', first]);
    await ok(['push', first]);

    proxy.seen.length = 0;
    const explained = await mb(['push', '--explain', first]);
    expect(explained.code, explained.stderr).toBe(0);
    expect(explained.stderr).toMatch(/HEAD blobs\/[0-9a-f]{12}: the registry already has this blob/);
    expect(explained.stderr).toMatch(/PUT manifests\/1: the manifest last/);
    const again = explained.stdout;
    expect(again).toMatch(/Layer already exists/);
    expect(again).not.toMatch(/Pushed/);
    expect(proxy.seen.filter((r) => ['PATCH', 'PUT'].includes(r.method) && r.path.includes('/blobs/uploads/'))).toEqual([]);

    // The image now has a repo digest in one/app: its blobs can be mounted into two/app.
    const second = `${proxy.host}/two/app:1`;
    await ok(['tag', 'app:1', second]);
    proxy.seen.length = 0;
    const mounted = await ok(['push', second]);
    expect(mounted).toMatch(/Mounted from one\/app/);
    expect(proxy.seen.filter((r) => r.method === 'POST' && r.path.includes('mount=')).length).toBeGreaterThan(0);
    expect(proxy.seen.filter((r) => ['PATCH', 'PUT'].includes(r.method) && r.path.includes('/blobs/uploads/'))).toEqual([]);
  });

  it('a chunked upload whose connection drops in the middle resumes and succeeds', async () => {
    // ~20 MB of random bytes: incompressible, so the layer blob takes three 8 MiB chunks.
    await ok(['run', '--network', 'none', '--name', 'big', `${source.host}/base/busybox:latest`, 'sh', '-c',
      'head -c 20000000 /dev/urandom > /big && md5sum /big > /big.md5']);
    await ok(['commit', 'big', `${proxy.host}/big/app:1`]);
    patches = 0;
    resetPatch = 2;
    const push = await mb(['push', `${proxy.host}/big/app:1`]);
    expect(push.code, push.stderr).toBe(0);
    expect(resetPatch).toBeUndefined(); // the fault happened
    const fresh = tempRoot();
    try {
      await ok(['pull', '-q', `${proxy.host}/big/app:1`], fresh);
      expect(await ok(['run', '--rm', '--network', 'none', `${proxy.host}/big/app:1`, 'md5sum', '-c', '/big.md5'], fresh)).toBe('/big: OK');
    } finally {
      fs.rmSync(fresh, { recursive: true, force: true });
    }
  });

  it('a tag is a movable name, a digest is not', async () => {
    const name = `${plain.host}/moving/app`;
    await ok(['tag', 'app:1', `${name}:stable`]);
    const firstPush = await ok(['push', `${name}:stable`]);
    const firstDigest = /digest: (sha256:\S+)/.exec(firstPush)![1]!;
    await ok(['run', '--network', 'none', '--name', 'thursday', 'app:1', 'sh', '-c', 'echo thursday > /release']);
    await ok(['commit', 'thursday', `${name}:stable`]);
    const secondDigest = /digest: (sha256:\S+)/.exec(await ok(['push', `${name}:stable`]))![1]!;
    expect(secondDigest).not.toBe(firstDigest);

    const elsewhere = tempRoot();
    try {
      await ok(['pull', '-q', `${name}:stable`], elsewhere);
      expect(await ok(['images', '--digests', '--no-trunc'], elsewhere)).toContain(secondDigest);
      // The old content is still there under its digest.
      await ok(['pull', '-q', `${name}@${firstDigest}`], elsewhere);
      expect(await ok(['run', '--rm', '--network', 'none', `${name}@${firstDigest}`, 'sh', '-c', 'cat /release 2>/dev/null || echo tuesday'], elsewhere)).toBe('tuesday');
    } finally {
      fs.rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it('pushes with a Bearer token of push,pull scope; anonymous may pull but not push; a wrong password is refused', async () => {
    const tokens = await startTokenServer({ users: [{ user: 'tok', password: 'tok-secret' }], anonymousPull: true });
    const registry = await startRegistry({ token: tokens });
    try {
      const target = `${registry.host}/bearer/app:1`;
      await ok(['tag', 'app:1', target]);
      const anonymous = await mb(['push', target]);
      expect(anonymous.code).toBe(125);
      expect(anonymous.stderr).toMatch(/authentication required to push to bearer\/app/);

      const wrongConfig = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-wrong-config-'));
      fs.writeFileSync(path.join(wrongConfig, 'config.json'), JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from('tok:not-the-password').toString('base64') } } }));
      const wrong = await mbAsync(root, ['push', target], { env: { DOCKER_CONFIG: wrongConfig } });
      fs.rmSync(wrongConfig, { recursive: true, force: true });
      expect(wrong.code).toBe(125);
      expect(wrong.stderr.trim().split('\n')).toHaveLength(1);
      expect(wrong.stderr).not.toContain('not-the-password');

      expect((await mb(['login', '-u', 'tok', '--password-stdin', registry.host], 'tok-secret\n')).code).toBe(0);
      const push = await mb(['push', target]);
      expect(push.code, push.stderr).toBe(0);
      expect(tokens.requests.some((r) => r.authenticated && r.scope?.includes('bearer/app:pull,push') && r.status === 200)).toBe(true);
      for (const token of tokens.issuedTokens) expect(push.stdout + push.stderr).not.toContain(token);
    } finally {
      await registry.stop();
      await tokens.stop();
    }
  });

  it('refuses an image that does not exist, and a digest reference', async () => {
    const missing = await mb(['push', `${plain.host}/nothing/here:1`]);
    expect(missing.code).toBe(125);
    expect(missing.stderr).toMatch(/An image does not exist locally with the tag: .*nothing\/here:1/);
    const byDigest = await mb(['push', `${plain.host}/x@sha256:${'a'.repeat(64)}`]);
    expect(byDigest.code).toBe(125);
    expect(byDigest.stderr).toMatch(/push a tag, not a digest/);
  });
});
