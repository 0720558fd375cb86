/**
 * What another machine on the host's LAN can reach once ip_forward is on (issue 10, item 6).
 *
 * The "LAN host" is a test-made network namespace joined to the host by a veth pair with
 * addresses from TEST-NET-3 (203.0.113.0/24, which no host interface uses — checked first), and a
 * route to the container's address via the host: exactly what a neighbour that knows the
 * container subnet would configure. Routes exist only inside the test's namespaces.
 *
 * Proven: a published port is reachable at the host's address; an unpublished port is not, nor a
 * published container port addressed directly at the container; the drop is minibox's rule.
 * Also: the container's namespace has IPv6 off and ignores router advertisements.
 *
 * Checked to fail on main before the fix (18d62ab): its `-o minibox0 -j ACCEPT` let the LAN host
 * fetch the unpublished port (the first "not reachable" expectation failed with the page text).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { attachContainer, detachContainer, parsePublish } from '../../src/network/index.js';
import { freePort } from '../helpers/registry.js';
import {
  expectNoNetworkLeaks, inNetns, snapshotHostNetwork, startFakeContainer, stopAllFakeContainers, tempStateRoot, webRoot,
  type FakeContainer, type HostNetworkSnapshot,
} from './netns-helpers.js';
import { useFreeBridge } from '../helpers/free-subnet.js';

// This file's own bridge and subnet, so that containers of other suites on the default bridge
// cannot meet this one's rules (see run-web.test.ts).
const free = useFreeBridge('lan-exposure');

const root = tempStateRoot();
const dirs: string[] = [];
let before: HostNetworkSnapshot;
beforeAll(() => { before = snapshotHostNetwork(); });
afterEach(async () => {
  await stopAllFakeContainers();
  expect(spawnSync('ip', ['link', 'show', LAN_HOST_END]).status, 'LAN veth left behind').not.toBe(0);
  expectNoNetworkLeaks(before, root);
});
afterAll(() => {
  for (const dir of [...dirs, root.dir]) fs.rmSync(dir, { recursive: true, force: true });
});

const LAN_HOST_END = 'mbt-lan-h';
const LAN_PEER = 'mbt-lan-n';
const HOST_ADDRESS = '203.0.113.1';
const LAN_ADDRESS = '203.0.113.2';

function ip(...args: string[]): void {
  const result = spawnSync('ip', args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ip ${args.join(' ')}: ${result.stderr}`);
}

/** Waits (deadline 10 s) until something listens on TCP `port` inside the namespace of `pid`. */
async function waitForListener(pid: number, port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!inNetns(pid, ['ss', '-Hltn', `sport = :${port}`]).stdout.includes(`:${port}`)) {
    if (Date.now() > deadline) throw new Error(`nothing listens on port ${port} in pid ${pid}'s namespace`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Packets counted by minibox's "nothing else into containers" DROP rule(s). */
function droppedIntoContainers(): number {
  const listing = spawnSync('iptables', ['-w', '-L', 'MINIBOX-FORWARD', '-n', '-v', '-x'], { encoding: 'utf8' }).stdout;
  return listing.split('\n').filter((line) => line.includes('DROP') && line.includes('nothing else into containers'))
    .reduce((sum, line) => sum + (Number(line.trim().split(/\s+/)[0]) || 0), 0);
}

/** `wget` from the LAN host; `timeout` bounds how long a dropped SYN is retried (busybox's own -T crashes here). */
function fetchFromLan(lan: FakeContainer, url: string): { code: number; stdout: string; stderr: string } {
  return inNetns(lan.pid, ['timeout', '4', 'busybox', 'wget', '-qO-', url]);
}

describe('a machine on the LAN', () => {
  it('reaches a published port at the host address, and no unpublished port of a container', async () => {
    expect(spawnSync('ip', ['-o', 'addr'], { encoding: 'utf8' }).stdout, 'TEST-NET-3 already in use on this host').not.toContain('203.0.113.');
    const published = webRoot('published page');
    const unpublished = webRoot('unpublished page');
    dirs.push(published, unpublished);
    const web = await startFakeContainer(root, 'exposed', ['sh', '-c',
      `busybox httpd -p 9090 -h ${unpublished} && exec busybox httpd -f -p 8080 -h ${published}`]);
    const lan = await startFakeContainer(root, 'lanhost');
    const hostPort = await freePort();
    try {
      const endpoint = await attachContainer(root, { id: web.id, name: web.name, pid: web.pid, ports: [parsePublish(`${hostPort}:8080`)] });
      const container = endpoint!.IPAddress;
      ip('link', 'add', LAN_HOST_END, 'type', 'veth', 'peer', 'name', LAN_PEER);
      ip('link', 'set', LAN_PEER, 'netns', String(lan.pid));
      ip('addr', 'add', `${HOST_ADDRESS}/24`, 'dev', LAN_HOST_END);
      ip('link', 'set', LAN_HOST_END, 'up');
      for (const args of [
        ['addr', 'add', `${LAN_ADDRESS}/24`, 'dev', LAN_PEER], ['link', 'set', LAN_PEER, 'up'], ['link', 'set', 'lo', 'up'],
        ['route', 'add', `${container}/32`, 'via', HOST_ADDRESS], // the neighbour knows where the containers are
      ]) expect(inNetns(lan.pid, ['ip', ...args]).stderr).toBe('');
      expect(spawnSync('cat', ['/proc/sys/net/ipv4/ip_forward'], { encoding: 'utf8' }).stdout.trim()).toBe('1');
      await waitForListener(web.pid, 8080);
      await waitForListener(web.pid, 9090);

      // Published: the host's address and port, redirected by DNAT, answered through conntrack.
      const viaHost = fetchFromLan(lan, `http://${HOST_ADDRESS}:${hostPort}/`);
      expect(viaHost.stdout, viaHost.stderr).toBe('published page\n');

      // Unpublished: routed straight at the container's private address — dropped.
      const droppedBefore = droppedIntoContainers();
      const direct = fetchFromLan(lan, `http://${container}:9090/`);
      expect(direct.stdout, 'the LAN host read an unpublished port').not.toContain('unpublished page');
      expect(direct.code).not.toBe(0);
      // The published container port is no door either when addressed at the container itself.
      const around = fetchFromLan(lan, `http://${container}:8080/`);
      expect(around.stdout).not.toContain('published page');
      expect(around.code).not.toBe(0);
      expect(droppedIntoContainers(), 'packets dropped by MINIBOX-FORWARD').toBeGreaterThan(droppedBefore);

      // The container itself still reaches the LAN host (egress, and its replies come back).
      expect(inNetns(web.pid, ['busybox', 'ping', '-c', '1', '-W', '3', LAN_ADDRESS]).code).toBe(0);
    } finally {
      await detachContainer(root, web.id);
      spawnSync('ip', ['link', 'del', LAN_HOST_END]);
      await web.stop();
      await lan.stop();
    }
  });

  it('cannot give a container IPv6 routes: IPv6 is off and router advertisements are ignored', async () => {
    const c = await startFakeContainer(root, 'v6');
    try {
      await attachContainer(root, { id: c.id, name: c.name, pid: c.pid });
      const read = (file: string): string => inNetns(c.pid, ['cat', `/proc/sys/net/ipv6/conf/${file}`]).stdout.trim();
      for (const scope of ['all', 'default', 'eth0']) {
        expect(read(`${scope}/disable_ipv6`), `${scope}/disable_ipv6`).toBe('1');
        expect(read(`${scope}/accept_ra`), `${scope}/accept_ra`).toBe('0');
      }
      expect(inNetns(c.pid, ['ip', '-6', 'addr', 'show', 'dev', 'eth0']).stdout.trim()).toBe('');
    } finally {
      await detachContainer(root, c.id);
      await c.stop();
    }
  });
});
