import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { assertCgroupV2ForLimits } from '../../src/cgroups/index.js';
import { cgroupMode, cgroupModeFrom, cgroupMountsFrom, v1ControllersFrom } from '../../src/cgroups/mode.js';

const fixture = (name: string) => fs.readFileSync(path.join(import.meta.dirname, 'fixtures', `mountinfo-${name}.txt`), 'utf8');

describe('cgroup mode detection from mountinfo', () => {
  it.each([
    ['unified', 'unified'],
    ['hybrid', 'hybrid'],
    ['legacy', 'legacy'],
    ['none', 'none'],
  ] as const)('%s mount table reads as %s', (name, mode) => {
    expect(cgroupModeFrom(fixture(name))).toBe(mode);
  });

  it('finds the v2 mount and the v1 controllers of a hybrid table', () => {
    const mounts = cgroupMountsFrom(fixture('hybrid'));
    expect(mounts.filter((m) => m.fstype === 'cgroup2').map((m) => m.mountPoint)).toEqual(['/sys/fs/cgroup/unified']);
    expect(mounts.find((m) => m.mountPoint === '/sys/fs/cgroup/memory')?.superOptions).toContain('memory');
  });

  it('this host agrees with its own /proc/self/mountinfo', () => {
    expect(cgroupMode()).toBe(cgroupModeFrom(fs.readFileSync('/proc/self/mountinfo', 'utf8')));
  });

  it('reads enabled v1 controllers from /proc/cgroups', () => {
    const text = '#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t3\t1\t1\ncpu\t1\t1\t1\nrdma\t0\t1\t1\nmisc\t4\t1\t0\n';
    expect(v1ControllersFrom(text)).toEqual(['cpuset', 'cpu']);
  });
});

describe('limits on a host without cgroup v2', () => {
  it('are refused with a pointer to minibox doctor and the VM', () => {
    expect(() => assertCgroupV2ForLimits({ memory: '64m' }, 'hybrid')).toThrow(
      "resource limits need cgroup v2, but this host's cgroups are hybrid (v1 controllers + an empty v2 tree); run `minibox doctor` for details, or use the Vagrant VM (see README)");
    expect(() => assertCgroupV2ForLimits({ pidsLimit: '10' }, 'legacy')).toThrow(/cgroup v1 only/);
  });

  it('are not checked at all when no limit flag is given', () => {
    expect(() => assertCgroupV2ForLimits({}, 'hybrid')).not.toThrow();
    expect(() => assertCgroupV2ForLimits({ memory: '64m' }, 'unified')).not.toThrow();
  });

  it('fail with exit code 125', () => {
    try {
      assertCgroupV2ForLimits({ cpus: '1' }, 'none');
      expect.unreachable();
    } catch (error) {
      expect((error as { exitCode: number }).exitCode).toBe(125);
    }
  });
});
