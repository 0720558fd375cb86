/**
 * The network across a container's life, with real containers: bad `-p`/`--network` input and a
 * taken port fail with one line and exit 125 leaving nothing; 20 containers started and removed
 * in parallel get 20 addresses and leave nothing; `run --rm -p` leaves nothing; a container
 * reaches a test-made "internet" namespace through NAT.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { StateRoot } from '../../src/state-root.js';
import type { LifecycleWorld } from '../lifecycle/helpers.js';
import {
  expectNoNetworkLeaks, inNetns, startFakeContainer, stopAllFakeContainers, tempStateRoot, webRoot, withNetworkWorld,
  type HostNetworkSnapshot,
} from './netns-helpers.js';
import { useFreeBridge } from '../helpers/free-subnet.js';

// This file's own bridge and subnet (see run-web.test.ts).
const free = useFreeBridge('run-lifecycle');

let world: LifecycleWorld;
let before: HostNetworkSnapshot;
const scratch: string[] = [];

withNetworkWorld((started, snapshot) => { world = started; before = snapshot; });
afterEach(async () => { await stopAllFakeContainers(); }); // runs before the frame's checks (hooks stack)
afterAll(() => { for (const dir of scratch) fs.rmSync(dir, { recursive: true, force: true }); });

function containerDirs(): string[] {
  const dir = path.join(world.root, 'containers');
  return fs.existsSync(dir) ? fs.readdirSync(dir) : [];
}

describe('bad input fails before anything is made', () => {
  it.each([
    [['-p', '99999:80'], /invalid port "99999" in -p 99999:80: must be between 1 and 65535/],
    [['-p', 'abc'], /invalid port "abc" in -p abc/],
    [['--network', 'nosuchnet'], /network nosuchnet not found/],
    [['--network', 'none', '-p', '18099:80'], /conflicting options: port publishing and --network none/],
    [['--add-host', 'bad'], /invalid --add-host "bad"/],
    [['--dns', 'not-an-ip'], /invalid --dns "not-an-ip"/],
  ])('run %j: one line, exit 125, nothing left', async (flags, message) => {
    const result = await world.mb(['run', '--rm', ...flags, world.image, 'true']);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.code).toBe(125);
    expect(containerDirs()).toEqual([]);
    expectNoNetworkLeaks(before, new StateRoot(world.root));
  });

  it('a host port taken by a program on the host, or by another container, is refused with nothing left', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(18094, '127.0.0.1', resolve));
    try {
      const taken = await world.mb(['run', '-d', '-p', '18094:8080', world.image, 'sleep', '300']);
      expect(taken.stderr).toMatch(/^minibox: .*port is already allocated: 0\.0\.0\.0:18094 is in use by a program on the host/);
      expect(taken.stderr.trim().split('\n')).toHaveLength(1);
      expect(taken.code).toBe(125);
      expect(containerDirs()).toEqual([]);
      expectNoNetworkLeaks(before, new StateRoot(world.root));
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }

    const first = await world.mb(['run', '-d', '--name', 'holder', '-p', '18095:8080', world.image, 'sleep', '300']);
    expect(first.code).toBe(0);
    const ours = (): string[] => spawnSync('iptables-save', { encoding: 'utf8' }).stdout.split('\n').filter((line) => line.includes(free.name) || line.includes(free.subnet.replace(/0\/24$/, '')));
    const rulesBefore = ours();
    const second = await world.mb(['run', '-d', '-p', '18095:8080', world.image, 'sleep', '300']);
    expect(second.stderr).toMatch(/port is already allocated: 0\.0\.0\.0:18095\/tcp is published by another container/);
    expect(second.code).toBe(125);
    expect(containerDirs()).toHaveLength(1);
    expect(ours()).toEqual(rulesBefore);
  });
});

describe('many containers and --rm', () => {
  it('20 containers started and removed in parallel get 20 distinct addresses and leave nothing', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `par${i}`);
    const runs = await Promise.all(names.map((name) => world.mb(['run', '-d', '--name', name, world.image, 'sleep', '300'])));
    for (const run of runs) expect(run.stderr).toBe('');
    const addresses = await Promise.all(names.map(async (name) => (await world.mb(['inspect', '--format', '{{.NetworkSettings.IPAddress}}', name])).stdout.trim()));
    for (const address of addresses) expect(address).toMatch(new RegExp(`^${free.pattern}$`));
    expect(new Set(addresses).size).toBe(20);
    const ledger = JSON.parse(fs.readFileSync(path.join(world.root, 'networks/bridge/allocations.json'), 'utf8')) as Record<string, string>;
    expect(Object.keys(ledger).sort()).toEqual([...addresses].sort());
    const removed = await Promise.all(names.map((name) => world.mb(['rm', '-f', name])));
    for (const result of removed) expect(result.code).toBe(0);
    expect(containerDirs()).toEqual([]);
    expectNoNetworkLeaks(before, new StateRoot(world.root));
  });

  it('run --rm with a published port leaves nothing', async () => {
    const result = await world.mb(['run', '--rm', '-p', '18096:8080', world.image, 'sh', '-c', 'ip -4 -o addr show eth0']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`inet ${free.pattern}/24`));
    expect(containerDirs()).toEqual([]);
    expectNoNetworkLeaks(before, new StateRoot(world.root));
  });
});

describe('egress through NAT', () => {
  it('a container on the default bridge reaches a server in a test-made "internet" namespace, which sees the host\'s address', async () => {
    // The "internet": a namespace of this test's own with a veth to the host, 198.51.100.0/24
    // (TEST-NET-2); its CGI script answers with the client address it saw.
    const fakeRoot = tempStateRoot();
    const site = webRoot('internet');
    scratch.push(fakeRoot.dir, site);
    fs.mkdirSync(path.join(site, 'cgi-bin'));
    fs.writeFileSync(path.join(site, 'cgi-bin/ip'), '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n%s\\n" "$REMOTE_ADDR"\n', { mode: 0o755 });
    const internet = await startFakeContainer(fakeRoot, 'internet', ['busybox', 'httpd', '-f', '-p', '80', '-h', site]);
    const ip = (...args: string[]): void => {
      const result = spawnSync('ip', args, { encoding: 'utf8' });
      if (result.status !== 0) throw new Error(`ip ${args.join(' ')}: ${result.stderr}`);
    };
    try {
      ip('link', 'add', 'mbt-inet2-h', 'type', 'veth', 'peer', 'name', 'mbt-inet2-n');
      ip('link', 'set', 'mbt-inet2-n', 'netns', String(internet.pid));
      ip('addr', 'add', '198.51.100.1/24', 'dev', 'mbt-inet2-h');
      ip('link', 'set', 'mbt-inet2-h', 'up');
      for (const args of [['addr', 'add', '198.51.100.2/24', 'dev', 'mbt-inet2-n'], ['link', 'set', 'mbt-inet2-n', 'up'], ['link', 'set', 'lo', 'up']]) {
        expect(inNetns(internet.pid, ['ip', ...args]).code).toBe(0);
      }
      const seen = await world.mb(['run', '--rm', world.image, 'wget', '-qO-', 'http://198.51.100.2/cgi-bin/ip']);
      expect(seen.stderr).toBe('');
      expect(seen.code).toBe(0);
      // busybox httpd prints IPv4 clients as [::ffff:a.b.c.d]. MASQUERADE: the host's address, not the container's.
      expect(seen.stdout.trim().replace(/^\[::ffff:(.*)\]$/, '$1')).toBe('198.51.100.1');
    } finally {
      spawnSync('ip', ['link', 'del', 'mbt-inet2-h']);
      await internet.stop();
    }
  });
});
