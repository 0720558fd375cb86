/**
 * A classroom without internet (issue 20): Docker Hub names served by a local registry named in
 * "registry-mirrors" (/etc/minibox/config.json, here $MINIBOX_CONFIG), as Docker's daemon.json
 * does. The mirror is the real CNCF registry; `minibox pull alpine` gets `library/alpine` from
 * it and records the image under its usual name. Without a mirror, an unreachable Docker Hub is
 * explained in words, with the way out. (On main `registry-mirrors` was ignored and the pull
 * failed with "cannot reach registry registry-1.docker.io: ENOTFOUND; is it running…".)
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { describeConnectionFailure } from '../../src/image/registry/ping.js';
import { freePort, busyboxImageLayout, pushLayout, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { minibox, tempRoot } from '../helpers/minibox.js';

let mirror: TestRegistry;
let root: string;

beforeAll(async () => {
  mirror = await startRegistry();
  pushLayout(busyboxImageLayout(), 'latest', `${mirror.host}/library/alpine:latest`);
  root = tempRoot();
});

afterAll(async () => {
  if (root) fs.rmSync(root, { recursive: true, force: true });
  if (root) fs.rmSync(`${root}-config.json`, { force: true });
  await mirror?.stop();
});

function configWith(settings: object): string {
  const file = path.join(root, '..', `${path.basename(root)}-config.json`);
  fs.writeFileSync(file, JSON.stringify(settings));
  return file;
}

describe('registry-mirrors', () => {
  it('are read from the config file as base URLs', () => {
    const file = configWith({ 'registry-mirrors': ['http://10.0.0.5:5000/', '127.0.0.1:5000', 'https://mirror.example'] });
    expect(loadConfig(file).registryMirrors).toEqual(['http://10.0.0.5:5000', 'http://127.0.0.1:5000', 'https://mirror.example']);
    expect(() => loadConfig(configWith({ 'registry-mirrors': ['http://h:5000/v2/x'] }))).toThrow(/without a path/);
  });

  it('serve Docker Hub names: pull alpine comes from the first mirror that answers', async () => {
    const down = `http://127.0.0.1:${await freePort()}`; // nobody listens: skipped
    const env = { MINIBOX_CONFIG: configWith({ 'registry-mirrors': [down, `http://${mirror.host}`] }) };
    const pulled = minibox(root, ['pull', 'alpine'], { env });
    expect(pulled.stderr).toBe('');
    expect(pulled.code).toBe(0);
    expect(pulled.stdout).toContain('Status: Downloaded newer image for alpine:latest');
    expect(pulled.stdout.trim().split('\n').pop()).toBe('docker.io/library/alpine:latest');
    expect(minibox(root, ['images', '--format', '{{.Repository}}:{{.Tag}}']).stdout).toBe('alpine:latest\n');
    const ran = minibox(root, ['run', '--rm', '--network', 'none', 'alpine', 'echo', 'from the mirror'], { env });
    expect(ran).toMatchObject({ code: 0, stdout: 'from the mirror\n' });
  });

  it('an unreachable Docker Hub is explained in words, with the way out', () => {
    expect(describeConnectionFailure('registry-1.docker.io', 'ENOTFOUND', 'x'))
      .toBe('cannot resolve the name registry-1.docker.io (no DNS answer: is this machine offline, or without a DNS server?)');
    expect(describeConnectionFailure('127.0.0.1:1', 'ECONNREFUSED', 'x')).toBe('nothing listens at 127.0.0.1:1 (connection refused): is the registry running?');
    // A name that never resolves (RFC 6761 reserves .invalid), with the same words.
    const result = minibox(root, ['pull', 'registry.invalid/busybox'], { env: { MINIBOX_CONFIG: configWith({}) } });
    expect(result.code).toBe(125);
    expect(result.stderr).toMatch(/^minibox: cannot resolve the name registry\.invalid \(no DNS answer/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });
});
