/**
 * A state root on a file system that cannot hold overlay upper dirs (issue 20): here a real
 * overlay mount made by the test, as inside a container or some CI sandboxes. `pull` works, `run`
 * fails — and must say why in words, not a bare EINVAL; `doctor --root` flags it beforehand.
 * (On main `run` said only "mount overlay on …: EINVAL (Invalid argument) — check that the
 * lower, upper and work dirs exist…", and doctor checked nothing under the state root.)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bin, minibox } from '../helpers/minibox.js';
import { busyboxImageLayout, pushLayout, startRegistry, type TestRegistry } from '../helpers/registry.js';

let registry: TestRegistry;
let work: string;
let merged: string;
let image: string;

beforeAll(async () => {
  registry = await startRegistry();
  image = `${registry.host}/busybox:latest`;
  pushLayout(busyboxImageLayout(), 'latest', image);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-ovl-root-'));
  for (const dir of ['lower', 'upper', 'work', 'merged']) fs.mkdirSync(path.join(work, dir));
  merged = path.join(work, 'merged');
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${work}/lower,upperdir=${work}/upper,workdir=${work}/work`, merged]);
});

afterAll(async () => {
  if (merged) spawnSync('umount', ['-l', merged]);
  if (work) fs.rmSync(work, { recursive: true, force: true });
  await registry?.stop();
});

describe('a state root on overlayfs', () => {
  it('pull works, run explains that the file system cannot hold a writable layer', () => {
    const root = path.join(merged, 'minibox');
    expect(minibox(root, ['pull', '-q', image]).code).toBe(0);
    const result = minibox(root, ['run', '--rm', '--network', 'none', image, 'true']);
    expect(result.code).toBe(125);
    expect(result.stderr).toContain(`${root}/containers/`);
    expect(result.stderr).toMatch(/is on overlay, which overlayfs cannot use for a container's writable layer; put the state root on ext4, xfs, btrfs or tmpfs/);
    expect(fs.readdirSync(path.join(root, 'containers'))).toEqual([]);
  });

  it('doctor --root flags it before anyone tries', () => {
    const result = spawnSync(process.execPath, [bin, '--root', path.join(merged, 'minibox'), 'doctor'], { encoding: 'utf8' });
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(new RegExp(`^✗ state root +${merged}/minibox is on overlay$`, 'm'));
  });
});
