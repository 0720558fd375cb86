/**
 * The default bridge network with real namespaces: three web servers on one port, published
 * ports on 127.0.0.1, egress NAT to a test-made "internet", `none`, and clean failures.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { useFreeBridge } from '../helpers/free-subnet.js';
import { attachContainer, containerPorts, detachContainer, parsePublish, type Endpoint } from '../../src/network/index.js';
import {
  expectNoNetworkLeaks, fetchFrom, inNetns, startFakeContainer, tempStateRoot, webRoot, type FakeContainer, networkTestFrame,
} from './netns-helpers.js';

// A bridge and subnet of this file's own, free on this host (the default network's
// MINIBOX_BRIDGE_* settings), so that other minibox runs on the machine never meet this file's.
const free = useFreeBridge('bridge-network');
const BRIDGE = free.name;
const SUBNET = free.subnet;

const frame = networkTestFrame();
const { root, dirs } = frame;

async function httpGet(url: string): Promise<string> {
  return await (await fetch(url)).text();
}

async function webServer(name: string): Promise<FakeContainer> {
  const dir = webRoot(`hello from ${name}`);
  dirs.push(dir);
  return await startFakeContainer(root, name, ['busybox', 'httpd', '-f', '-p', '8080', '-h', dir]);
}

describe('three containers listen on port 8080 at once, each in its own namespace', () => {
  it('answers on its own address from the host and from another container, and on its published port', async () => {
    const containers = await Promise.all(['web1', 'web2', 'web3'].map((name) => webServer(name)));
    const endpoints: Endpoint[] = [];
    try {
      for (const [index, c] of containers.entries()) {
        const endpoint = await attachContainer(root, { id: c.id, name: c.name, pid: c.pid, ports: [parsePublish(`1808${index + 1}:8080`)] });
        endpoints.push(endpoint!);
      }
      const addresses = endpoints.map((e) => e.IPAddress);
      expect(new Set(addresses).size).toBe(3);
      for (const address of addresses) expect(address).toMatch(new RegExp(`^${free.pattern}$`));

      for (const [index, c] of containers.entries()) {
        const address = addresses[index]!;
        // From the host, straight to the container's address through the bridge.
        expect(spawnSync('busybox', ['wget', '-qO-', `http://${address}:8080/`], { encoding: 'utf8', timeout: 30_000 }).stdout).toBe(`hello from ${c.name}\n`);
        // From the next container, across the bridge.
        const other = containers[(index + 1) % 3]!;
        expect(fetchFrom(other.pid, `http://${address}:8080/`).stdout).toBe(`hello from ${c.name}\n`);
        // Published: 127.0.0.1:1808N on the host, through DNAT.
        expect(await httpGet(`http://127.0.0.1:1808${index + 1}/`)).toBe(`hello from ${c.name}\n`);
        expect(containerPorts(root, c.id)).toEqual([{ hostIp: '0.0.0.0', hostPort: 18081 + index, containerPort: 8080, protocol: 'tcp' }]);
      }

      // Inside: eth0 with the address, default route via the gateway, lo up.
      const inside = inNetns(containers[0]!.pid, ['ip', '-o', '-4', 'addr']).stdout;
      expect(inside).toContain(`eth0    inet ${addresses[0]}/24`);
      expect(inside).toContain('lo    inet 127.0.0.1/8');
      expect(inNetns(containers[0]!.pid, ['ip', 'route']).stdout).toContain(`default via ${free.gateway} dev eth0`);
      // The engine's hosts file now maps the hostname to the real address.
      expect(fs.readFileSync(containers[0]!.hostsFile, 'utf8')).toContain(`${addresses[0]}\t${containers[0]!.id.slice(0, 12)}`);
    } finally {
      for (const c of containers) await detachContainer(root, c.id);
      for (const c of containers) await c.stop();
    }
    expectNoNetworkLeaks(frame.before(), root);
  });
});

describe('published ports', () => {
  it('picks a free host port for -p CONTAINERPORT', async () => {
    const c = await webServer('random');
    try {
      const endpoint = await attachContainer(root, { id: c.id, name: c.name, pid: c.pid, ports: [parsePublish('127.0.0.1::8080')] });
      const port = endpoint!.Ports[0]!.hostPort;
      expect(port).toBeGreaterThan(1023);
      expect(await httpGet(`http://127.0.0.1:${port}/`)).toBe('hello from random\n');
    } finally {
      await detachContainer(root, c.id);
      await c.stop();
    }
    expectNoNetworkLeaks(frame.before(), root);
  });

  it('refuses a host port a host program listens on, leaving nothing half-made', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(18090, '127.0.0.1', resolve));
    const c = await webServer('taken');
    try {
      await expect(attachContainer(root, { id: c.id, name: c.name, pid: c.pid, ports: [parsePublish('18090:8080')] }))
        .rejects.toThrow(/port is already allocated: 0\.0\.0\.0:18090 is in use/);
      expect(inNetns(c.pid, ['ip', '-o', 'link']).stdout).not.toContain('eth0');
      expectNoNetworkLeaks(frame.before(), root);
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await detachContainer(root, c.id);
      await c.stop();
    }
  });

  it('refuses a host port another container already publishes; the first keeps working', async () => {
    const first = await webServer('first');
    const second = await webServer('second');
    try {
      await attachContainer(root, { id: first.id, name: first.name, pid: first.pid, ports: [parsePublish('18091:8080')] });
      const error = await attachContainer(root, { id: second.id, name: second.name, pid: second.pid, ports: [parsePublish('127.0.0.1:18091:8080')] })
        .then(() => undefined, (e: unknown) => e as { exitCode: number; message: string });
      expect(error?.exitCode).toBe(125);
      expect(error?.message).toMatch(/port is already allocated: 127\.0\.0\.1:18091\/tcp is published by another container/);
      expect(await httpGet('http://127.0.0.1:18091/')).toBe('hello from first\n');
      expect(JSON.parse(fs.readFileSync(path.join(root.dir, 'networks/bridge/allocations.json'), 'utf8'))).toEqual({ [free.address(2)]: first.id });
    } finally {
      await detachContainer(root, first.id);
      await detachContainer(root, second.id);
      await first.stop();
      await second.stop();
    }
    expectNoNetworkLeaks(frame.before(), root);
  });
});

describe('a container started again', () => {
  it('gets a fresh attachment with the same published port, the stale one cleaned up', async () => {
    const first = await webServer('again');
    await attachContainer(root, { id: first.id, name: first.name, pid: first.pid, ports: [parsePublish('18095:8080')] });
    await first.stop(); // its namespace dies, and with it the veth pair; rules and address remain
    const second = await webServer('again');
    try {
      await attachContainer(root, { id: second.id, name: second.name, pid: second.pid, ports: [parsePublish('18095:8080')] });
      expect(await httpGet('http://127.0.0.1:18095/')).toBe('hello from again\n');
      expect(spawnSync('sh', ['-c', 'iptables -t nat -S MINIBOX-DNAT | grep -c -- "--dport 18095"'], { encoding: 'utf8' }).stdout.trim()).toBe('1');
    } finally {
      await detachContainer(root, second.id);
      await second.stop();
    }
  });
});

describe('egress through NAT, and ingress through a published port', () => {
  it('reaches a server in a test-made "internet" namespace, which sees the host\'s address, not the container\'s, and is reached back', async () => {
    // The "internet": its own namespace, a veth to the host, 198.51.100.0/24 (TEST-NET-2).
    // A CGI script answers with the client address the server saw.
    const site = webRoot('internet');
    dirs.push(site);
    fs.mkdirSync(path.join(site, 'cgi-bin'));
    fs.writeFileSync(path.join(site, 'cgi-bin/ip'), '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n%s\\n" "$REMOTE_ADDR"\n', { mode: 0o755 });
    const internet = await startFakeContainer(root, 'internet', ['busybox', 'httpd', '-f', '-p', '80', '-h', site]);
    const client = await webServer('client');
    const ip = (...args: string[]): void => {
      const result = spawnSync('ip', args, { encoding: 'utf8' });
      if (result.status !== 0) throw new Error(`ip ${args.join(' ')}: ${result.stderr}`);
    };
    try {
      ip('link', 'add', 'mbt-inet-h', 'type', 'veth', 'peer', 'name', 'mbt-inet-n');
      ip('link', 'set', 'mbt-inet-n', 'netns', String(internet.pid));
      ip('addr', 'add', '198.51.100.1/24', 'dev', 'mbt-inet-h');
      ip('link', 'set', 'mbt-inet-h', 'up');
      for (const args of [['addr', 'add', '198.51.100.2/24', 'dev', 'mbt-inet-n'], ['link', 'set', 'mbt-inet-n', 'up'], ['link', 'set', 'lo', 'up']]) {
        expect(inNetns(internet.pid, ['ip', ...args]).code).toBe(0);
      }

      const endpoint = await attachContainer(root, { id: client.id, name: client.name, pid: client.pid, ports: [parsePublish('18085:8080')] });
      expect(fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim()).toBe('1');
      const seen = fetchFrom(client.pid, 'http://198.51.100.2/cgi-bin/ip');
      expect(seen.stderr).toBe('');
      // busybox httpd listens on IPv6 too and prints IPv4 clients as [::ffff:a.b.c.d].
      const source = seen.stdout.trim().replace(/^\[::ffff:(.*)\]$/, '$1');
      expect(source).toBe('198.51.100.1');
      expect(source).not.toBe(endpoint!.IPAddress);

      // The other way: "another host" reaches the published port at the host's address (PREROUTING DNAT).
      expect(fetchFrom(internet.pid, 'http://198.51.100.1:18085/').stdout).toBe('hello from client\n');
    } finally {
      await detachContainer(root, client.id);
      spawnSync('ip', ['link', 'del', 'mbt-inet-h']);
      await client.stop();
      await internet.stop();
    }
    expectNoNetworkLeaks(frame.before(), root);
  });
});

describe('other modes and bad input', () => {
  it('--network none adds nothing: only lo (which the init stage itself brings up, test/runtime/isolation.test.ts)', async () => {
    const c = await startFakeContainer(root, 'lonely');
    try {
      expect(await attachContainer(root, { id: c.id, name: c.name, pid: c.pid, network: 'none' })).toBeUndefined();
      const links = inNetns(c.pid, ['ip', '-o', 'link']).stdout.trim().split('\n');
      expect(links).toHaveLength(1);
      expect(links[0]).toMatch(/^1: lo: /);
    } finally {
      await detachContainer(root, c.id);
      await c.stop();
    }
    expectNoNetworkLeaks(frame.before(), root);
  });

  it('an unknown network is a clear 125 error and nothing is made', async () => {
    const c = await startFakeContainer(root, 'lost');
    try {
      const error = await attachContainer(root, { id: c.id, name: c.name, pid: c.pid, network: 'nosuchnet' })
        .then(() => undefined, (e: unknown) => e as { exitCode: number; message: string });
      expect(error?.exitCode).toBe(125);
      expect(error?.message).toBe('network nosuchnet not found');
    } finally {
      await c.stop();
    }
    expectNoNetworkLeaks(frame.before(), root);
  });

  it('refuses a default subnet that overlaps a host route; a second state root gets a bridge of its own and leaves the first one alone', async () => {
    const hostSubnet = spawnSync('ip', ['-4', '-o', 'route', 'show', 'scope', 'link'], { encoding: 'utf8' }).stdout.split(/\s+/)[0]!;
    const c = await startFakeContainer(root, 'clash');
    const otherRoot = tempStateRoot();
    dirs.push(otherRoot.dir);
    const owner = await webServer('owner');
    const reachable = (endpoint: Endpoint): string =>
      spawnSync('busybox', ['wget', '-qO-', `http://${endpoint.IPAddress}:8080/`], { encoding: 'utf8', timeout: 30_000 }).stdout;
    try {
      process.env.MINIBOX_BRIDGE_NAME = `${BRIDGE.slice(0, 14)}x`; // device names: at most 15 characters
      process.env.MINIBOX_BRIDGE_SUBNET = hostSubnet;
      await expect(attachContainer(otherRoot, { id: c.id, name: c.name, pid: c.pid }))
        .rejects.toThrow(new RegExp(`^subnet ${hostSubnet.replace(/\./g, '\\.')} overlaps .* on host interface \\S+: choose another one`));
      expect(fs.existsSync(path.join(otherRoot.dir, 'networks/bridge/config.json')), 'a refused subnet is not recorded').toBe(false);
      process.env.MINIBOX_BRIDGE_NAME = BRIDGE;
      process.env.MINIBOX_BRIDGE_SUBNET = SUBNET;

      // `root` owns this file's bridge while its container runs: asked for by name, a second root
      // is refused and nothing changes (on main before the fix, the bridge was deleted here).
      const first = await attachContainer(root, { id: owner.id, name: owner.name, pid: owner.pid });
      await expect(attachContainer(otherRoot, { id: c.id, name: c.name, pid: c.pid }))
        .rejects.toThrow(new RegExp(`^bridge ${BRIDGE} \\(MINIBOX_BRIDGE_NAME\\) is used by network bridge of state root ${root.dir}: `));
      expect(reachable(first!)).toBe('hello from owner\n');

      // Not asked for: the second root gets a free bridge and subnet of its own, and both work.
      delete process.env.MINIBOX_BRIDGE_NAME;
      delete process.env.MINIBOX_BRIDGE_SUBNET;
      const second = await attachContainer(otherRoot, { id: c.id, name: c.name, pid: c.pid });
      expect(second!.Gateway).not.toBe(first!.Gateway);
      expect(reachable(first!)).toBe('hello from owner\n');
      await detachContainer(otherRoot, c.id);
      expect(spawnSync('ip', ['link', 'show', 'dev', BRIDGE]).status, "the other root's last container leaving keeps this root's bridge").toBe(0);
      expect(reachable(first!)).toBe('hello from owner\n');
    } finally {
      process.env.MINIBOX_BRIDGE_NAME = BRIDGE;
      process.env.MINIBOX_BRIDGE_SUBNET = SUBNET;
      await detachContainer(otherRoot, c.id);
      await detachContainer(root, owner.id);
      await owner.stop();
      await c.stop();
    }
    expect(JSON.parse(fs.readFileSync(path.join(otherRoot.dir, 'networks/bridge/allocations.json'), 'utf8'))).toEqual({});
    expectNoNetworkLeaks(frame.before(), otherRoot);
  });

  it('a PID that is gone fails with the failing command named, and is rolled back', async () => {
    const c = await startFakeContainer(root, 'ghost');
    const pid = c.pid;
    await c.stop();
    await expect(attachContainer(root, { id: c.id, name: c.name, pid })).rejects.toThrow(/^net\.veth: `ip link add veth\w+ up master \S+ type veth peer name eth0 address \S+ netns \d+` failed/);
    expectNoNetworkLeaks(frame.before(), root);
  });
});
