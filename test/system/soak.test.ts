/**
 * Many containers, in a row and at once: nothing accumulates and nothing is fetched twice.
 *   - concurrency: 20 parallel `run --rm` and 5 parallel `pull`s of one image not yet in the
 *     store, through a counting proxy: all succeed, each blob is downloaded once and stored
 *     once, and `system fsck` is clean;
 *   - soak: 200 sequential `run --rm IMG true` (every other one on a bridge network), then
 *     `system fsck` clean and 0 mounts, veths, rules, cgroups and processes left; the CLI's peak
 *     RSS (GNU time's %M) does not grow from the first tenth of the runs to the last.
 * Run under `flock /tmp/minibox-net.lock` on a shared machine (bridge networking).
 * Fails on main before issue 19: no `system fsck` (and the soak's fsck is the check).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageStore } from '../../src/image/store/images.js';
import { StateRoot } from '../../src/state-root.js';
import { fsck } from '../../src/system/fsck.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { expectNoLeaks } from '../helpers/leaks.js';
import { bin, mbAsync, minibox, tempRoot } from '../helpers/minibox.js';
import { busyboxImageLayout, pushLayout, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { useFreeBridge } from '../helpers/free-subnet.js';

const free = useFreeBridge('soak');
const BRIDGE = free.name;
const SUBNET = free.subnet.replace(/\.0\/24$/, '');
const SOAK_RUNS = Number(process.env.MINIBOX_SOAK_RUNS ?? 200);

let registry: TestRegistry;
let proxy: FaultProxy;
const roots: string[] = [];

function lines(command: string): string[] {
  return execFileSync('sh', ['-c', `${command} 2>/dev/null || true`], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

/** Nothing of this root's containers left in the kernel or on disk. */
async function expectClean(root: string): Promise<void> {
  expect((await fsck(new StateRoot(root))).findings.map((f) => `${f.area} ${f.subject}: ${f.problem}`)).toEqual([]);
  expectNoLeaks(root);
  expect(fs.readdirSync(path.join(root, 'containers')), 'containers').toEqual([]);
  expect(lines(`ip -o link show master ${BRIDGE}`), 'veths').toEqual([]);
  expect(lines('iptables-save').filter((line) => line.includes(BRIDGE) || line.includes(SUBNET)), 'iptables rules').toEqual([]);
  const cgroups = '/sys/fs/cgroup/minibox';
  expect(fs.existsSync(cgroups) ? fs.readdirSync(cgroups).filter((name) => /^[0-9a-f]{64}$/.test(name)) : [], 'cgroups').toEqual([]);
}

beforeAll(async () => {
  registry = await startRegistry();
  pushLayout(busyboxImageLayout(), 'latest', `${registry.host}/test/soak:latest`);
  proxy = await startFaultProxy(registry.host, () => undefined);
});

afterAll(async () => {
  await proxy?.stop();
  await registry?.stop();
  for (const root of roots) fs.rmSync(root, { recursive: true, force: true });
});

describe('many containers', () => {
  it('20 parallel run --rm and 5 parallel pulls of one image: all succeed, each blob fetched and stored once', { timeout: 300_000 }, async () => {
    const root = tempRoot();
    roots.push(root);
    const image = `${proxy.host}/test/soak:latest`;
    const results = await Promise.all([
      ...Array.from({ length: 5 }, () => mbAsync(root, ['pull', '-q', image])),
      ...Array.from({ length: 20 }, (_, i) => mbAsync(root, ['run', '--rm', '--network', i % 2 === 0 ? 'none' : 'bridge', image, 'true'])),
    ]);
    for (const result of results.slice(0, 5)) expect(result.stderr).toBe('');
    for (const result of results.slice(5)) expect(result.stderr).not.toMatch(/^minibox:/m); // run prints its pull's progress
    expect(results.map((result) => result.code)).toEqual(new Array(25).fill(0));
    const blobGets = proxy.seen.filter((request) => request.method === 'GET' && request.path.includes('/blobs/'));
    const perBlob = new Map<string, number>();
    for (const request of blobGets) perBlob.set(request.path, (perBlob.get(request.path) ?? 0) + 1);
    expect([...perBlob.values()]).toEqual(new Array(perBlob.size).fill(1));
    const store = new ImageStore(new StateRoot(root));
    const [record] = store.list();
    expect(store.list()).toHaveLength(1);
    expect(store.blobs.list().sort()).toEqual([...new Set([record!.manifestDigest, record!.configDigest, ...record!.layers.map((l) => l.digest)])].sort());
    expect(store.layers.list()).toEqual(record!.layers.map((l) => l.diffId));
    expect(fs.readdirSync(path.join(root, 'tmp'))).toEqual([]);
    await expectClean(root);
    // Its network's claim on the bridge name (/run/minibox/networks) lasts as long as the root:
    // the soak's root below takes the same name, so this one goes now.
    fs.rmSync(root, { recursive: true, force: true });
  });

  it(`soak: ${SOAK_RUNS} sequential run --rm, then nothing left and the CLI's peak RSS did not grow`, { timeout: 900_000 }, async () => {
    const root = tempRoot();
    roots.push(root);
    const image = `${registry.host}/test/soak:latest`;
    expect(minibox(root, ['pull', '-q', image]).code).toBe(0);
    const peaks: number[] = [];
    for (let i = 0; i < SOAK_RUNS; i++) {
      const network = i % 2 === 0 ? 'none' : 'bridge';
      const result = spawnSync('/usr/bin/time', ['-f', 'maxrss=%M', process.execPath, bin, '--root', root, 'run', '--rm', '--network', network, image, 'true'], { encoding: 'utf8' });
      expect(result.status, `run ${i}: ${result.stderr}`).toBe(0);
      peaks.push(Number(/maxrss=(\d+)/.exec(result.stderr)?.[1]));
    }
    await expectClean(root);
    // Each run is a new process, so growth would mean per-run state that piles up on disk and is
    // read back (records, ledgers, logs). A generous bound, not a benchmark: medians of deciles.
    const decile = Math.max(1, Math.floor(SOAK_RUNS / 10));
    const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const first = median(peaks.slice(0, decile));
    const last = median(peaks.slice(-decile));
    expect(last, `peak RSS (KiB): first tenth ${first}, last tenth ${last}`).toBeLessThanOrEqual(first * 1.2 + 8 * 1024);
  });
});
