/**
 * `system df` against `du -sb` of the same directories (within 1 %), shared layers counted by
 * image and container, and `system prune` as Docker's. Real registry, real overlay.
 *
 * On main before issue 19 there is no `system` command: every test here fails (exit 125).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageStore } from '../../src/image/store/images.js';
import { StateRoot } from '../../src/state-root.js';
import { deriveImage, writeRandomFile } from '../helpers/derived-image.js';
import { expectNoLeaks } from '../helpers/leaks.js';
import { minibox, tempRoot } from '../helpers/minibox.js';
import { busyboxImageLayout, pushLayout, startRegistry, type TestRegistry } from '../helpers/registry.js';

let registry: TestRegistry;
let root: string;
let base: string;
let derived: string;

interface DfJson {
  summary: { type: string; total: number; active: number; size: number; reclaimable: number }[];
  layers: { diffId: string; size: number; images: string[]; containers: string[] }[];
  containers: { id: string; size: number }[];
  volumes: { name: string; size: number }[];
}

function du(...dirs: string[]): number {
  return Number(execFileSync('du', ['-sbc', ...dirs], { encoding: 'utf8' }).trim().split('\n').at(-1)!.split('\t')[0]);
}

function expectClose(actual: number, expected: number, what: string): void {
  expect(Math.abs(actual - expected), `${what}: df ${actual}, du ${expected}`).toBeLessThanOrEqual(expected * 0.01);
}

beforeAll(async () => {
  registry = await startRegistry();
  base = `${registry.host}/test/df-base:latest`;
  derived = `${registry.host}/test/df-derived:latest`;
  pushLayout(busyboxImageLayout(), 'latest', base);
  pushLayout(deriveImage(busyboxImageLayout(), 'latest', (rootfs) => writeRandomFile(path.join(rootfs, 'extra.bin'), 300_000)), 'latest', derived);
  root = tempRoot();
  for (const image of [base, derived]) expect(minibox(root, ['pull', '-q', image]).code).toBe(0);
});

afterAll(async () => {
  if (root) {
    expectNoLeaks(root);
    fs.rmSync(root, { recursive: true, force: true });
  }
  await registry?.stop();
});

describe('system df', () => {
  it('reports what du measures, and a layer shared by 2 images and 3 containers', () => {
    const names = ['df-a', 'df-b', 'df-c'];
    expect(minibox(root, ['run', '--network', 'none', '--name', 'df-a', base, 'sh', '-c', 'head -c 200000 /dev/zero > /written']).code).toBe(0);
    expect(minibox(root, ['run', '--network', 'none', '--name', 'df-b', base, 'true']).code).toBe(0);
    expect(minibox(root, ['run', '--network', 'none', '--name', 'df-c', derived, 'sh', '-c', 'echo hi > /note']).code).toBe(0);
    expect(minibox(root, ['volume', 'create', 'df-vol']).code).toBe(0);
    writeRandomFile(path.join(root, 'volumes/df-vol/_data/data.bin'), 123_456);

    const result = minibox(root, ['system', 'df', '--format', 'json']);
    expect(result.code).toBe(0);
    const df = JSON.parse(result.stdout) as DfJson;
    const store = new ImageStore(new StateRoot(root));
    const [shared, top] = store.get(derived).layers.map((layer) => layer.diffId);
    const sharedLayer = df.layers.find((layer) => layer.diffId === shared)!;
    expect(sharedLayer.images).toHaveLength(2);
    expect(sharedLayer.containers).toHaveLength(3);
    const topLayer = df.layers.find((layer) => layer.diffId === top)!;
    expect([topLayer.images.length, topLayer.containers.length]).toEqual([1, 1]);
    for (const layer of df.layers) expectClose(layer.size, du(store.layers.dir(layer.diffId)), `layer ${layer.diffId}`);

    const row = (type: string) => df.summary.find((r) => r.type === type)!;
    expectClose(row('Images').size, du(...df.layers.map((layer) => store.layers.dir(layer.diffId))), 'Images');
    expect([row('Images').total, row('Images').active]).toEqual([2, 2]);
    const uppers = df.containers.map((c) => path.join(root, 'containers', c.id, 'upper'));
    for (const [i, container] of df.containers.entries()) expectClose(container.size, du(uppers[i]!), `container ${container.id}`);
    expectClose(row('Containers').size, du(...uppers), 'Containers');
    expect([row('Containers').total, row('Containers').active]).toEqual([3, 0]);
    expect(row('Containers').reclaimable).toBe(row('Containers').size);
    expectClose(row('Local Volumes').size, du(path.join(root, 'volumes/df-vol/_data')), 'Local Volumes');
    expect(row('Local Volumes').reclaimable).toBe(row('Local Volumes').size); // no container uses it

    const table = minibox(root, ['system', 'df']).stdout.split('\n');
    expect(table[0]).toMatch(/^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE$/);
    expect(table.slice(1, 5).map((line) => line.split(/\s{2,}/)[0])).toEqual(['Images', 'Containers', 'Local Volumes', 'Build Cache']);
    const verbose = minibox(root, ['system', 'df', '-v']).stdout;
    for (const heading of ['Images space usage:', 'Containers space usage:', 'Local Volumes space usage:', 'Layers space usage', 'Build cache usage: 0B']) expect(verbose).toContain(heading);
    expect(verbose).toMatch(new RegExp(`${shared!.slice(7, 19)}\\s+\\S+\\s+2\\s+3`));
    for (const name of names) expect(verbose).toContain(name);
  });

  it('system prune asks, reads the answer from stdin, and removes stopped containers and dangling data', () => {
    const refused = minibox(root, ['system', 'prune'], { input: 'n\n' });
    expect(refused.code).toBe(0);
    expect(refused.stdout).toContain('WARNING! This will remove:');
    expect(refused.stdout).toContain('  - all stopped containers');
    expect(minibox(root, ['ps', '-aq']).stdout.trim().split('\n')).toHaveLength(3);

    expect(minibox(root, ['network', 'create', 'df-net']).code).toBe(0);
    const context = fs.mkdtempSync(path.join(root, '..', 'mb-df-context-'));
    fs.writeFileSync(path.join(context, 'Dockerfile'), `FROM ${base}\nWORKDIR /made/by/build\n`);
    const built = minibox(root, ['build', '-q', '-t', 'df-built:1', context]);
    fs.rmSync(context, { recursive: true, force: true });
    expect(built.code, built.stderr).toBe(0);
    const withCache = JSON.parse(minibox(root, ['system', 'df', '--format', 'json']).stdout) as DfJson;
    expect(withCache.summary.find((r) => r.type === 'Build Cache')!.total).toBeGreaterThan(0);
    const pruned = minibox(root, ['system', 'prune', '-a', '--volumes'], { input: 'y\n' });
    expect(pruned.code).toBe(0);
    expect(pruned.stdout).toContain('Deleted Containers:');
    expect(pruned.stdout).toContain('Deleted Networks:\ndf-net');
    expect(pruned.stdout).toContain('Deleted Images:');
    expect(pruned.stdout).toMatch(/Deleted build cache objects:\n\d+ cached steps/);
    expect(pruned.stdout).toMatch(/Total reclaimed space: \d/);
    expect(minibox(root, ['ps', '-aq']).stdout).toBe('');
    expect(minibox(root, ['images', '-q']).stdout).toBe('');
    // --volumes takes anonymous volumes only (Docker 23+): the named one stays.
    expect(minibox(root, ['volume', 'ls', '-q']).stdout.trim()).toBe('df-vol');
    expect(minibox(root, ['volume', 'rm', 'df-vol']).code).toBe(0);
    expect(minibox(root, ['system', 'fsck']).code).toBe(0);
    expect(fs.readdirSync(path.join(root, 'layers/sha256'))).toEqual([]);
    const after = JSON.parse(minibox(root, ['system', 'df', '--format', 'json']).stdout) as DfJson;
    expect(after.summary.find((r) => r.type === 'Build Cache')!.total).toBe(0);
  });
});
