/**
 * Runs INSIDE the test VM: the `minibox` command on a cgroup v2 machine, with the busybox image
 * that build-initramfs.sh put in /minibox-store (the VM has no network to pull from).
 * The limit tests run once `minibox run` has the limit flags (`run --help` lists --memory).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MINIBOX_CGROUP_PARENT } from '../../src/cgroups/index.js';
import { bin } from '../helpers/minibox.js';

let root = '';

function minibox(args: string[]): { code: number; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [bin, '--root', root, ...args], { encoding: 'utf8', timeout: 240_000 });
  return { code: result.status ?? 128 + 9, stdout: result.stdout, stderr: result.stderr };
}

const runHelp = spawnSync(process.execPath, [bin, 'run', '--help'], { encoding: 'utf8' }).stdout;
const runHasLimits = runHelp.includes('--memory');
const containerCgroups = () => (fs.existsSync(`/sys/fs/cgroup/${MINIBOX_CGROUP_PARENT}`)
  ? fs.readdirSync(`/sys/fs/cgroup/${MINIBOX_CGROUP_PARENT}`, { withFileTypes: true }).filter((entry) => entry.isDirectory()).map((entry) => entry.name)
  : []);

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-vm-root-'));
  // cp -a keeps the layers' symlinks, owners and modes exactly (bin/echo -> busybox).
  expect(spawnSync('cp', ['-a', '/minibox-store/.', root]).status).toBe(0);
});

afterAll(() => {
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

describe('minibox on a cgroup v2 machine', () => {
  it('doctor reports cgroup v2 with the memory, cpu and pids controllers', () => {
    const result = minibox(['doctor', '--format', 'json']);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { checks: { name: string; status: string; detail: string }[] };
    const cgroups = report.checks.find((check) => check.name === 'cgroups');
    expect(cgroups?.status).toBe('ok');
    expect(cgroups?.detail).toMatch(/^cgroup v2 \(unified\).*\bmemory\b/);
  });

  it('runs a container from the pre-filled store', () => {
    const result = minibox(['run', '--rm', '--pull', 'never', 'busybox', 'echo', 'hello from the VM']);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('hello from the VM\n');
    expect(result.code).toBe(0);
  });

  it.skipIf(!runHasLimits)('OOM-kills a container over --memory 64m: exit 137, OOMKilled, no cgroup left', () => {
    const before = containerCgroups();
    const result = minibox(['run', '--name', 'hog', '--memory', '64m', '--memory-swap', '64m', '--pull', 'never', 'busybox',
      'dd', 'if=/dev/zero', 'of=/dev/null', 'bs=200M', 'count=1']);
    expect(result.code).toBe(137);
    const inspect = minibox(['inspect', 'hog']);
    expect(inspect.code).toBe(0);
    const [state] = JSON.parse(inspect.stdout) as { State: { OOMKilled: boolean; ExitCode: number } }[];
    expect(state?.State).toMatchObject({ OOMKilled: true, ExitCode: 137 });
    expect(minibox(['rm', 'hog']).code).toBe(0);
    expect(containerCgroups()).toEqual(before);
  });

  it.skipIf(!runHasLimits)('gives the container a cgroup namespace rooted at its own cgroup', () => {
    const result = minibox(['run', '--rm', '--memory', '64m', '--pull', 'never', 'busybox', 'cat', '/proc/self/cgroup']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('0::/\n');
  });
});
