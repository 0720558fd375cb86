/**
 * route_localnet (needed for `curl 127.0.0.1:PUBLISHED_PORT` on the host) must not open the
 * host's loopback to containers: a service the host binds to 127.0.0.1 stays unreachable from a
 * container, even one that routes 127.0.0.1 to its gateway on purpose (CVE-2020-8558 class).
 * On the kernels tried so far the reply path already fails without MINIBOX-INPUT's DROP rule
 * (firewall.ts); the rule is defence in depth, and this test guards the property either way —
 * and counts the packets the rule dropped, so that deleting the rule fails it (checked by running
 * it with the DROP rule removed from networkRules: "packets dropped by MINIBOX-INPUT" was 0).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { attachContainer, detachContainer } from '../../src/network/index.js';
import { freePort } from '../helpers/registry.js';
import {
  expectNoNetworkLeaks, inNetns, snapshotHostNetwork, startFakeContainer, stopAllFakeContainers, tempStateRoot, webRoot,
  type HostNetworkSnapshot,
} from './netns-helpers.js';
import { useFreeBridge } from '../helpers/free-subnet.js';

// A bridge and subnet of this file's own, free on this host: other minibox runs never meet it.
const BRIDGE = useFreeBridge('host-loopback').name;

/** Packets MINIBOX-INPUT's DROP rule for this file's bridge has matched (0 when there is no such rule). */
function droppedByInputRule(): number {
  const listing = spawnSync('iptables', ['-w', '-L', 'MINIBOX-INPUT', '-n', '-v', '-x'], { encoding: 'utf8' }).stdout;
  const line = listing.split('\n').find((l) => l.includes(' DROP ') && l.split(/\s+/).includes(BRIDGE));
  return Number(line?.trim().split(/\s+/)[0] ?? 0);
}

let before: HostNetworkSnapshot;
const root = tempStateRoot();
let server: ChildProcess | undefined;
let www: string;
let port: number;

beforeAll(async () => {
  before = snapshotHostNetwork();
  www = webRoot('host-only secret');
  port = await freePort();
  server = spawn('busybox', ['httpd', '-f', '-p', `127.0.0.1:${port}`, '-h', www], { stdio: 'ignore' });
});
afterEach(async () => {
  await stopAllFakeContainers();
  expectNoNetworkLeaks(before, root);
});
afterAll(() => {
  server?.kill('SIGKILL');
  for (const dir of [www, root.dir]) fs.rmSync(dir, { recursive: true, force: true });
});

describe("the host's loopback", () => {
  it('stays closed to a container that routes 127.0.0.1 through the bridge', async () => {
    const container = await startFakeContainer(root, 'prober');
    const endpoint = await attachContainer(root, { id: container.id, name: container.name, pid: container.pid });
    try {
      expect(endpoint?.Gateway).toBeTruthy();
      // The container (root in its own namespace here) sends 127.0.0.1 out of eth0, to the host.
      const setup = inNetns(container.pid, ['sh', '-c', [
        'sysctl -qw net.ipv4.conf.eth0.route_localnet=1',
        'ip route del table local 127.0.0.0/8 dev lo',
        'ip route del table local 127.0.0.1 dev lo',
        `ip route add 127.0.0.1/32 via ${endpoint!.Gateway} dev eth0`,
      ].join(' && ')]);
      expect(setup.stderr).toBe('');
      const droppedBefore = droppedByInputRule();
      const probe = inNetns(container.pid, ['timeout', '4', 'busybox', 'wget', '-qO-', `http://127.0.0.1:${port}/`]);
      expect(probe.stdout).not.toContain('host-only secret');
      expect(probe.code).not.toBe(0);
      expect(droppedByInputRule() - droppedBefore, 'packets dropped by MINIBOX-INPUT').toBeGreaterThan(0);
      // The host itself still reaches its own service.
      const local = await (await fetch(`http://127.0.0.1:${port}/`)).text();
      expect(local).toContain('host-only secret');
    } finally {
      await detachContainer(root, container.id);
      await container.stop();
    }
  });
});
