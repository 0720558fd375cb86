/**
 * Two state roots on one host (issue 20, bug 1): each gets a bridge and subnet of its own, chosen
 * automatically; running containers of both keep their network whatever the other root does; a
 * MINIBOX_BRIDGE_NAME that another root uses is refused without changing anything; and a
 * container whose network was taken away is reported by `ps` and `doctor`.
 *
 * Checked against main before the fix: the second root's first `run` failed with "bridge minibox0
 * already exists and does not belong to …" and deleted minibox0, so the first root's published
 * port stopped answering (the "first root's container still answers" assertions fail).
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StateRoot } from '../../src/state-root.js';
import { expectNoContainers, expectNoLeaks } from '../helpers/leaks.js';
import { mbAsync, tempRoot } from '../helpers/minibox.js';
import { startWorld, until, type LifecycleWorld } from '../lifecycle/helpers.js';
import { expectNoNetworkLeaks, snapshotHostNetwork, type HostNetworkSnapshot } from './netns-helpers.js';

// This file is about the automatic choice: no MINIBOX_BRIDGE_* from the environment.
delete process.env.MINIBOX_BRIDGE_NAME;
delete process.env.MINIBOX_BRIDGE_SUBNET;

let world: LifecycleWorld;
let rootB: string;
let before: HostNetworkSnapshot;
const bridgesSeen = new Set<string>(); // for the leak check

interface NetworkConfig { Bridge: string; Subnet: string; Gateway: string }

function defaultNetwork(root: string): NetworkConfig {
  return JSON.parse(fs.readFileSync(path.join(root, 'networks/bridge/config.json'), 'utf8')) as NetworkConfig;
}

async function mbB(args: string[], env: NodeJS.ProcessEnv = {}) {
  return await mbAsync(rootB, ['--insecure-registry', world.registry.host, ...args], { env });
}

async function answer(url: string): Promise<string> {
  let text = '';
  await until(async () => {
    try {
      text = await (await fetch(url, { signal: AbortSignal.timeout(5000) })).text();
      return true;
    } catch {
      return false; // httpd not listening yet
    }
  }, `an answer from ${url}`);
  return text;
}

/** One attempt, no waiting: does the published port answer right now? */
async function answersNow(url: string): Promise<string | undefined> {
  try {
    return await (await fetch(url, { signal: AbortSignal.timeout(5000) })).text();
  } catch {
    return undefined;
  }
}

function webArgs(name: string, port: number): string[] {
  return ['run', '-d', '--name', name, '-p', `${port}:8080`, world.image, 'sh', '-c',
    `echo "hello from ${name}" > /var/www/index.html && exec httpd -f -p 8080 -h /var/www`];
}

beforeAll(async () => {
  before = snapshotHostNetwork();
  world = await startWorld();
  rootB = tempRoot('mb-life-b-');
  expect((await mbB(['pull', '-q', world.image])).code).toBe(0);
});

afterAll(async () => {
  try {
    for (const root of [world.root, rootB]) {
      const ids = fs.existsSync(path.join(root, 'containers')) ? fs.readdirSync(path.join(root, 'containers')) : [];
      if (ids.length > 0) await mbAsync(root, ['rm', '-f', ...ids]);
      expectNoLeaks(root);
      expectNoContainers(root);
      expectNoNetworkLeaks(before, new StateRoot(root));
    }
    for (const bridge of bridgesSeen) expect(spawnSync('ip', ['link', 'show', 'dev', bridge]).status, `bridge ${bridge} left behind`).not.toBe(0);
  } finally {
    await world?.registry.stop();
    // Even after a failure: a root left in /tmp keeps its bridge names claimed (bridge-claims.ts).
    for (const root of [world.root, rootB]) fs.rmSync(root, { recursive: true, force: true });
  }
});

describe('two state roots with running containers side by side', () => {
  it('each root gets its own bridge and subnet, and both keep their network', async () => {
    expect((await world.mb(webArgs('a1', 18291))).code).toBe(0);
    const a = defaultNetwork(world.root);
    bridgesSeen.add(a.Bridge);
    expect(await answer('http://127.0.0.1:18291/')).toBe('hello from a1\n');

    // The scenario of the bug report: a second root's first `run` while the first root's container runs.
    const first = await mbB(['run', '--rm', world.image, 'true']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(await answersNow('http://127.0.0.1:18291/'), "the first root's container still answers").toBe('hello from a1\n');

    const b1 = await mbB(webArgs('b1', 18292));
    expect(b1.stderr).toBe('');
    expect(b1.code).toBe(0);
    const b = defaultNetwork(rootB);
    bridgesSeen.add(b.Bridge);
    // Recorded in the root's network record: a different device and a non-overlapping subnet.
    expect(b.Bridge).not.toBe(a.Bridge);
    expect(b.Subnet).not.toBe(a.Subnet);
    expect(b.Bridge).toMatch(/^minibox\d+$/);
    const [inspected] = JSON.parse((await mbB(['network', 'inspect', 'bridge'])).stdout) as { Options: Record<string, string>; IPAM: { Config: { Subnet: string }[] } }[];
    expect(inspected!.Options['com.docker.network.bridge.name']).toBe(b.Bridge);
    expect(inspected!.IPAM.Config[0]!.Subnet).toBe(b.Subnet);

    expect(await answer('http://127.0.0.1:18292/')).toBe('hello from b1\n');
    expect(await answersNow('http://127.0.0.1:18291/'), "the first root's container still answers").toBe('hello from a1\n');

    // From a peer on each network, by address.
    const ipA = (await world.mb(['inspect', '--format', '{{.NetworkSettings.IPAddress}}', 'a1'])).stdout.trim();
    const ipB = (await mbB(['inspect', '--format', '{{.NetworkSettings.IPAddress}}', 'b1'])).stdout.trim();
    const peerA = await world.mb(['run', '--rm', world.image, 'wget', '-qO-', `http://${ipA}:8080/`]);
    expect(peerA.stdout).toBe('hello from a1\n');
    const peerB = await mbB(['run', '--rm', world.image, 'wget', '-qO-', `http://${ipB}:8080/`]);
    expect(peerB.stdout).toBe('hello from b1\n');

    // Removing all of B's containers keeps B's bridge (as docker0); pruning takes down B's bridge only.
    expect((await mbB(['rm', '-f', 'b1'])).code).toBe(0);
    expect(spawnSync('ip', ['link', 'show', 'dev', b.Bridge]).status, "B's bridge is kept").toBe(0);
    expect((await mbB(['network', 'prune', '-f'])).code).toBe(0);
    expect(spawnSync('ip', ['link', 'show', 'dev', b.Bridge]).status).not.toBe(0);
    expect(await answersNow('http://127.0.0.1:18291/'), "the first root's container still answers").toBe('hello from a1\n');
    expect((await world.mb(['ps'])).stdout).not.toContain('network lost');
  });

  it("MINIBOX_BRIDGE_NAME naming another root's bridge is refused and changes nothing; a free one works", async () => {
    const a = defaultNetwork(world.root);
    const recordBefore = fs.readFileSync(path.join(rootB, 'networks/bridge/config.json'), 'utf8');
    const rulesBefore = spawnSync('iptables-save', { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.includes(a.Bridge)).sort();

    const refused = await mbB(['run', '--rm', world.image, 'true'], { MINIBOX_BRIDGE_NAME: a.Bridge, MINIBOX_BRIDGE_SUBNET: '172.23.0.0/16' });
    expect(refused.code).toBe(125);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toContain(`bridge ${a.Bridge} (MINIBOX_BRIDGE_NAME) is used by network bridge of state root ${world.root}`);
    expect(fs.readFileSync(path.join(rootB, 'networks/bridge/config.json'), 'utf8')).toBe(recordBefore);
    expect(spawnSync('iptables-save', { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.includes(a.Bridge)).sort()).toEqual(rulesBefore);
    expect(await answersNow('http://127.0.0.1:18291/'), "the first root's container still answers").toBe('hello from a1\n');

    const chosen = await mbB(['run', '--rm', world.image, 'ip', '-4', '-o', 'addr', 'show', 'eth0'],
      { MINIBOX_BRIDGE_NAME: 'minibox-t2r', MINIBOX_BRIDGE_SUBNET: '172.23.0.0/16' });
    expect(chosen.code).toBe(0);
    expect(chosen.stdout).toMatch(/inet 172\.23\.0\.\d+\/16/);
    expect(defaultNetwork(rootB)).toMatchObject({ Bridge: 'minibox-t2r', Subnet: '172.23.0.0/16', Gateway: '172.23.0.1' });
    bridgesSeen.add('minibox-t2r');
  });

  it('ps and doctor notice a running container whose network was taken away', async () => {
    expect((await world.mb(['ps'])).stdout).not.toContain('network lost');
    const veth = (await world.mb(['inspect', '--format', '{{.NetworkSettings.Networks.bridge.EndpointID}}', 'a1'])).stdout.trim();
    expect(veth).toMatch(/^veth/);
    expect(spawnSync('ip', ['link', 'del', veth]).status).toBe(0); // the pair goes: a1 has no eth0 now

    const ps = (await world.mb(['ps'])).stdout.split('\n').find((line) => line.endsWith(' a1'));
    expect(ps).toMatch(/Up .* \(network lost\)/);
    const doctor = JSON.parse((await world.mb(['doctor', '--format', 'json'])).stdout) as { checks: { name: string; status: string; detail: string; fix?: string }[] };
    expect(doctor.checks.find((check) => check.name === 'container networks')).toMatchObject({
      status: 'warn', detail: `a1 lost network bridge (its veth ${veth} is gone)`, fix: 'minibox restart a1',
    });

    // restart plugs it in again.
    expect((await world.mb(['restart', '-t', '0', 'a1'])).code).toBe(0);
    expect(await answer('http://127.0.0.1:18291/')).toBe('hello from a1\n');
    expect((await world.mb(['ps'])).stdout).not.toContain('network lost');
  });
});
