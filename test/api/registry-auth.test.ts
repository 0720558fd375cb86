/**
 * Registry credentials through the API are the client's, as with dockerd: `docker login`
 * (`POST /auth`) is checked by the daemon against the registry and stored by the CLI in its own
 * config; each `docker pull` then sends them in `X-Registry-Auth`. The daemon's user has no
 * credentials here (its HOME is empty), so a pull can only succeed with the client's.
 *
 * Hostile: on main before `minibox serve`, no daemon; and before X-Registry-Auth was read, the
 * pull after the login failed with the registry's "unauthorized" (checked by dropping the header
 * in image-routes.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCKER_CLIS, docker, startDaemon, type Daemon } from '../helpers/api-daemon.js';
import { expectNoLeaks } from '../helpers/leaks.js';
import { tempRoot } from '../helpers/minibox.js';
import { busyboxImageLayout, pushLayout, startRegistry, type TestRegistry } from '../helpers/registry.js';

const user = { user: 'alice', password: 'wonderland' };
let registry: TestRegistry;
let daemon: Daemon;
let root: string;
let home: string;
let clientConfig: string;

beforeAll(async () => {
  if (DOCKER_CLIS.length === 0) return;
  registry = await startRegistry({ htpasswd: [user] });
  pushLayout(busyboxImageLayout(), 'latest', `${registry.host}/private/busybox:latest`, ['--dest-creds', `${user.user}:${user.password}`]);
  root = tempRoot();
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-api-home-'));
  clientConfig = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-api-client-'));
  daemon = await startDaemon(root, [], { HOME: home, DOCKER_CONFIG: path.join(home, '.docker') });
});

afterAll(async () => {
  if (DOCKER_CLIS.length === 0) return;
  await daemon.stop();
  expectNoLeaks(root);
  for (const dir of [root, home, clientConfig]) fs.rmSync(dir, { recursive: true, force: true });
  await registry.stop();
});

describe.skipIf(DOCKER_CLIS.length === 0)('docker login and pull through minibox serve (needs a docker CLI)', () => {
  it('a pull without credentials is refused; login is checked, then the pull uses the client\'s credentials', async () => {
    const image = `${registry.host}/private/busybox:latest`;
    const refused = await docker(daemon, ['pull', image], { config: clientConfig });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/authentication required to pull private\/busybox/);
    const wrong = await docker(daemon, ['login', '-u', user.user, '--password-stdin', registry.host], { config: clientConfig, input: 'nope\n' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/rejected the username or password/);
    const login = await docker(daemon, ['login', '-u', user.user, '--password-stdin', registry.host], { config: clientConfig, input: `${user.password}\n` });
    expect(login.stdout).toMatch(/Login Succeeded/);
    expect(login.code).toBe(0);
    const pulled = await docker(daemon, ['pull', image], { config: clientConfig });
    expect(pulled.stderr).toBe('');
    expect(pulled.code).toBe(0);
    expect(pulled.stdout).toMatch(/Digest: sha256:/);
    expect(fs.existsSync(path.join(home, '.docker', 'config.json')), 'the daemon stored credentials').toBe(false);
  });

  // Hostile: with the push route's credentials dropped (push-route.ts), the logged-in push failed
  // with the registry's "unauthorized" like the anonymous one (checked).
  it('a push uses the client\'s credentials too: refused without a login, sent with one', async () => {
    const target = `${registry.host}/private/pushed:1`;
    expect((await docker(daemon, ['tag', `${registry.host}/private/busybox:latest`, target])).code).toBe(0);
    const anonymous = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-api-anon-'));
    try {
      const refused = await docker(daemon, ['push', target], { config: anonymous });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/unauthorized|authentication required|401/i);
    } finally {
      fs.rmSync(anonymous, { recursive: true, force: true });
    }
    const pushed = await docker(daemon, ['push', target], { config: clientConfig });
    expect(pushed.stderr).toBe('');
    expect(pushed.code).toBe(0);
    expect(pushed.stdout).toMatch(/^1: digest: sha256:[0-9a-f]{64} size: \d+$/m);
    expect(fs.existsSync(path.join(home, '.docker', 'config.json')), 'the daemon stored credentials').toBe(false);
    expect((await docker(daemon, ['rmi', target])).code).toBe(0);
  });
});
