/**
 * On a host without cgroup v2 at /sys/fs/cgroup (hybrid, legacy v1, or no cgroups at all) limit
 * flags must fail cleanly — exit 125, one line, before anything exists — and never touch
 * /sys/fs/cgroup. Every such layout is tested on every host: the CLI reads the layout from a
 * fixture mountinfo (MINIBOX_TEST_CGROUP_MOUNTINFO, src/cgroups/mode.ts), so a stock unified
 * Debian 12 proves the refusals as well as this hybrid machine does. Bad values fail the same way
 * on any host. The limits themselves are proven in the VM tier (test/vm/run-limits.test.ts).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import path from 'node:path';
import { describeCgroupMode, type CgroupMode } from '../../src/cgroups/index.js';
import { minibox, tempRoot } from '../helpers/minibox.js';

const roots: string[] = [];
const fixture = (mode: string): string => path.resolve('test/cgroups/fixtures', `mountinfo-${mode}.txt`);
const withoutV2: Exclude<CgroupMode, 'unified'>[] = ['hybrid', 'legacy', 'none'];

function freshRoot(): string {
  const root = tempRoot('mb-limits-');
  roots.push(root);
  return root;
}

/** Every directory under /sys/fs/cgroup (a few levels deep) whose name mentions minibox. */
function miniboxCgroups(): string[] {
  return execFileSync('find', ['/sys/fs/cgroup', '-maxdepth', '4', '-type', 'd', '-name', '*minibox*'], { encoding: 'utf8' })
    .split('\n').filter(Boolean).sort();
}

function containerDirs(root: string): string[] {
  const dir = `${root}/containers`;
  return fs.existsSync(dir) ? fs.readdirSync(dir) : [];
}

afterEach(() => {
  for (const root of roots.splice(0)) fs.rmSync(root, { recursive: true, force: true });
});

describe.each(withoutV2)('resource limits on a host whose cgroups are %s', (mode) => {
  const env = { MINIBOX_TEST_CGROUP_MOUNTINFO: fixture(mode) };
  const described = describeCgroupMode(mode).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

  it('refuses run --memory with a pointer to doctor and the VM: exit 125, no container, no cgroup', () => {
    const root = freshRoot();
    const before = miniboxCgroups();
    const result = minibox(root, ['run', '--name', 'limited', '--memory', '64m', '--pull', 'never', 'busybox', 'true'], { env });
    expect(result.code).toBe(125);
    expect(result.stderr).toMatch(new RegExp(`^minibox: resource limits need cgroup v2, but this host's cgroups are ${described}.*minibox doctor.*Vagrant VM`));
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(containerDirs(root)).toEqual([]);
    expect(minibox(root, ['ps', '-a', '-q'], { env }).stdout).toBe('');
    expect(miniboxCgroups()).toEqual(before);
  });

  it('refuses every limit flag, and stats and update, the same way', () => {
    const root = freshRoot();
    for (const flag of [['--cpus', '0.5'], ['--pids-limit', '10'], ['-c', '512'], ['--cpuset-cpus', '0'], ['--memory-reservation', '32m']]) {
      const result = minibox(root, ['run', ...flag, '--pull', 'never', 'busybox', 'true'], { env });
      expect(result.code, flag.join(' ')).toBe(125);
      expect(result.stderr).toMatch(/need cgroup v2/);
    }
    const stats = minibox(root, ['stats', '--no-stream'], { env });
    expect(stats.code).toBe(125);
    expect(stats.stderr).toMatch(new RegExp(`^minibox: \`minibox stats\` reads cgroup v2 files, but this host's cgroups are ${described}`));
    // Like `docker update`, a missing container is the first thing said (exit 1), before any
    // question of cgroups.
    const update = minibox(root, ['update', '--memory', '64m', 'nothing'], { env });
    expect(update.code).toBe(1);
    expect(update.stderr).toMatch(/No such container: nothing/);
    expect(containerDirs(root)).toEqual([]);
  });
});

describe('bad limit values fail before anything is created', () => {
  const cases: [string[], RegExp][] = [
    [['--memory', '1x'], /invalid --memory "1x": expected a size/],
    [['--memory', '1k'], /invalid --memory "1k": the minimum memory limit allowed is 6MB/],
    [['--cpus', '0'], /invalid --cpus "0": range of CPUs is from 0.01/],
    [['--pids-limit', 'many'], /invalid --pids-limit "many": expected a whole number/],
    [['--memory', '64m', '--memory-swap', '32m'], /--memory-swap .* must be at least --memory/],
  ];
  for (const [flags, message] of cases) {
    it(`run ${flags.join(' ')} → exit 125, one line`, () => {
      const root = freshRoot();
      const result = minibox(root, ['run', ...flags, '--pull', 'never', 'busybox', 'true']);
      expect(result.code).toBe(125);
      expect(result.stderr).toMatch(message);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(containerDirs(root)).toEqual([]);
    });
  }

  it('update without any limit flag says which flags it takes', () => {
    const result = minibox(freshRoot(), ['update', 'some-container']);
    expect(result.code).toBe(125);
    expect(result.stderr).toMatch(/you must provide one or more flags/);
  });
});
