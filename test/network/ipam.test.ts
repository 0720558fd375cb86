/**
 * IPAM: one address per container, never twice — also across processes racing for the ledger —
 * and 20 containers attached and detached in parallel leave nothing behind.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { attachContainer, detachContainer } from '../../src/network/index.js';
import { allocateAddress, readAllocations, releaseAddress } from '../../src/network/ipam.js';
import { createNetwork, readNetwork } from '../../src/network/networks.js';
import { repoRoot } from '../helpers/registry.js';
import {
  expectNoNetworkLeaks, inNetns, snapshotHostNetwork, startFakeContainer, stopAllFakeContainers, tempStateRoot,
  type FakeContainer, type HostNetworkSnapshot,
} from './netns-helpers.js';
import { useFreeBridge } from '../helpers/free-subnet.js';

// A bridge and subnet of this file's own: other minibox runs on the machine never meet it.
useFreeBridge('ipam');

let before: HostNetworkSnapshot;
const root = tempStateRoot();

beforeAll(() => { before = snapshotHostNetwork(); });
afterEach(async () => {
  await stopAllFakeContainers();
  expectNoNetworkLeaks(before, root);
});
afterAll(() => { fs.rmSync(root.dir, { recursive: true, force: true }); });

describe('the address ledger', () => {
  it('keeps .1 for the gateway, gives the lowest free address, the same one again, and reuses released ones', async () => {
    const network = await createNetwork(root, 'ledger', { subnet: '172.30.200.0/29' });
    expect(await allocateAddress(root, network, 'c1')).toBe('172.30.200.2');
    expect(await allocateAddress(root, network, 'c2')).toBe('172.30.200.3');
    expect(await allocateAddress(root, network, 'c1')).toBe('172.30.200.2');
    await releaseAddress(root, 'ledger', 'c1');
    expect(await allocateAddress(root, network, 'c3')).toBe('172.30.200.2');
    for (const id of ['c4', 'c5', 'c6']) await allocateAddress(root, network, id);
    // A /29 has 8 addresses: network, gateway, 5 hosts (.2–.6) used up, broadcast.
    await expect(allocateAddress(root, network, 'c7')).rejects.toThrow('network ledger (172.30.200.0/29) has no free address left');
    for (const id of ['c2', 'c3', 'c4', 'c5', 'c6']) await releaseAddress(root, 'ledger', id);
    expect(readAllocations(root, 'ledger')).toEqual({});
  });

  it('never hands out an address twice when 20 processes allocate at once', async () => {
    // The IPAM module compiled to dist/ (npm test builds first; build here if it is missing or stale).
    const built = path.join(repoRoot, 'dist/network/ipam.js');
    if (!fs.existsSync(built) || fs.statSync(built).mtimeMs < fs.statSync(path.join(repoRoot, 'src/network/ipam.ts')).mtimeMs) {
      spawnSync('npm', ['run', 'build', '--silent'], { cwd: repoRoot, stdio: 'ignore' }); // the whole build: dist/startup stays as new as dist/
    }
    await createNetwork(root, 'race', { subnet: '172.30.201.0/24' });
    const script = `
      const { allocateAddress } = await import(${JSON.stringify(built)});
      const { readNetwork } = await import(${JSON.stringify(path.join(repoRoot, 'dist/network/networks.js'))});
      const { StateRoot } = await import(${JSON.stringify(path.join(repoRoot, 'dist/state-root.js'))});
      const root = new StateRoot(process.argv[1]);
      process.stdout.write(await allocateAddress(root, readNetwork(root, 'race'), process.argv[2]));`;
    const run = (id: string): Promise<string> => new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script, root.dir, id], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
      child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`allocation ${id} exited ${code}`))));
    });
    const ids = Array.from({ length: 20 }, (_, i) => `racer${i}`);
    const addresses = await Promise.all(ids.map(run));
    expect(new Set(addresses).size).toBe(20);
    expect(addresses.every((a) => /^172\.30\.201\.(\d+)$/.test(a) && a !== '172.30.201.1')).toBe(true);
    const ledger = readAllocations(root, 'race');
    expect(Object.keys(ledger).sort()).toEqual([...addresses].sort());
    expect(Object.values(ledger).sort()).toEqual([...ids].sort());
    for (const id of ids) await releaseAddress(root, 'race', id);
    expect(readNetwork(root, 'race')).toBeDefined();
  });
});

describe('20 containers at once', () => {
  it('get 20 distinct addresses, all reachable, and leave nothing after detaching in parallel', async () => {
    const containers: FakeContainer[] = await Promise.all(Array.from({ length: 20 }, (_, i) => startFakeContainer(root, `par${i}`)));
    try {
      const endpoints = await Promise.all(containers.map((c) => attachContainer(root, { id: c.id, name: c.name, pid: c.pid })));
      const addresses = endpoints.map((e) => e!.IPAddress);
      expect(new Set(addresses).size).toBe(20);
      expect(new Set(endpoints.map((e) => e!.HostVeth)).size).toBe(20);
      // The first container pings the last across the bridge.
      expect(inNetns(containers[0]!.pid, ['busybox', 'ping', '-c', '1', '-W', '5', addresses[19]!]).code).toBe(0);
    } finally {
      await Promise.all(containers.map((c) => detachContainer(root, c.id)));
      await Promise.all(containers.map((c) => c.stop()));
    }
    expect(readAllocations(root, 'bridge')).toEqual({});
  });
});
