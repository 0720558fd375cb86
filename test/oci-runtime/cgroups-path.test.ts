/**
 * Unit test (no cgroups touched): where minibox-runc puts a container's cgroup for each form of
 * linux.cgroupsPath — runc's cgroupfs rules on cgroup v2 — that `..` never leaves /sys/fs/cgroup,
 * and which linux.resources fields it refuses by name on cgroup v2 instead of ignoring them. The
 * real cgroups are proven in the VM tier (test/vm/oci-cgroups.test.ts). Hostile cases fail on
 * main: it had no cgroupsPath resolution (every container went to minibox/<id>), and — checked
 * with main's dist — cgroupWritesFor({cpu: {mems: '0'}}) gave [] and unsupportedField() accepted
 * blockIO on cgroup v2 (undefined): both silently dropped.
 */
import { describe, expect, it } from 'vitest';
import { cleanCgroupsPath, ownCgroup, resolveCgroupDir, unhonouredResource } from '../../src/oci/oci-cgroup.js';
import { unsupportedField } from '../../src/oci/spec-support.js';
import { cgroupWritesFor } from '../../src/cgroups/index.js';
import type { RuntimeSpec } from '../../src/bundle/oci-bundle.js';

describe('linux.cgroupsPath → the cgroup directory (cgroup v2, no systemd)', () => {
  const own = '/user.slice/session-1.scope';
  it('absolute: below the cgroup v2 mount; relative: beside the caller\'s own cgroup; absent: minibox/<id>', () => {
    expect(resolveCgroupDir('/cgrouptest', 'c1', own)).toBe('/sys/fs/cgroup/cgrouptest');
    expect(resolveCgroupDir('/default/c1', 'c1', own)).toBe('/sys/fs/cgroup/default/c1');
    expect(resolveCgroupDir('testdir/cgrouptest/container', 'c1', own)).toBe('/sys/fs/cgroup/user.slice/testdir/cgrouptest/container');
    expect(resolveCgroupDir('testdir/x', 'c1', '/')).toBe('/sys/fs/cgroup/testdir/x');
    expect(resolveCgroupDir(undefined, 'c1', own)).toBe('/sys/fs/cgroup/minibox/c1');
    expect(resolveCgroupDir('', 'a+b', own)).toBe('/sys/fs/cgroup/minibox/a+b');
  });

  it('`..` is cleaned as runc\'s CleanPath does: it stops at the top of the cgroup tree', () => {
    expect(cleanCgroupsPath('../../../etc')).toBe('etc');
    expect(cleanCgroupsPath('/../../etc/')).toBe('/etc');
    expect(cleanCgroupsPath('a/../../b')).toBe('b');
    expect(resolveCgroupDir('/../../../etc/shadow', 'c1', own)).toBe('/sys/fs/cgroup/etc/shadow');
    expect(resolveCgroupDir('../../../../tmp/x', 'c1', '/')).toBe('/sys/fs/cgroup/tmp/x');
    expect(resolveCgroupDir('../../../../tmp/x', 'c1', own)).toBe('/sys/fs/cgroup/user.slice/tmp/x');
  });

  it('refuses the root cgroup itself, however it is spelled', () => {
    for (const spelled of ['/', '/..', '.', 'a/..']) {
      expect(() => resolveCgroupDir(spelled, 'c1', '/')).toThrow(/names the root cgroup \(\/sys\/fs\/cgroup\)/);
    }
  });

  it('reads the calling process\'s cgroup v2 line from /proc/self/cgroup', () => {
    expect(ownCgroup('12:pids:/x\n0::/user.slice/session-1.scope\n')).toBe('/user.slice/session-1.scope');
    expect(ownCgroup('0::/\n')).toBe('/');
  });
});

describe('linux.resources on cgroup v2: written, or refused by name', () => {
  const spec = (resources: Record<string, unknown>): RuntimeSpec => ({
    ociVersion: '1.0.2', root: { path: 'rootfs' }, process: { args: ['sh'], cwd: '/', user: { uid: 0, gid: 0 } },
    linux: { namespaces: [{ type: 'mount' }], resources },
  } as RuntimeSpec);

  it('accepts what v2-files.ts writes (cpuset.mems included) and engines\' "off" values', () => {
    const honoured = { memory: { limit: 1 << 26, swap: 1 << 27, reservation: 1 << 25, disableOOMKiller: false },
      cpu: { shares: 1024, quota: 50000, period: 100000, cpus: '0-1', mems: '0' }, pids: { limit: 1000 }, devices: [{ allow: false, access: 'rwm' }],
      blockIO: {}, hugepageLimits: [] };
    expect(unsupportedField(spec(honoured), 'unified')).toBeUndefined();
    expect(cgroupWritesFor({ cpu: { mems: '0' } })).toEqual([expect.objectContaining({ file: 'cpuset.mems', value: '0', controller: 'cpuset' })]);
  });

  it('names each field it would otherwise ignore', () => {
    expect(unsupportedField(spec({ blockIO: { weight: 500 } }), 'unified'))
      .toBe('config.json linux.resources.blockIO ({"weight":500}) is not supported: minibox-runc writes only cpu, cpuset, memory (limit, reservation, swap) and pids limits on cgroup v2; remove it');
    expect(unhonouredResource({ hugepageLimits: [{ pageSize: '2MB', limit: 1 << 21 }] })).toMatch(/^config\.json linux\.resources\.hugepageLimits /);
    expect(unhonouredResource({ memory: { limit: 1, swappiness: 10 } })).toMatch(/linux\.resources\.memory\.swappiness \(10\)/);
    expect(unhonouredResource({ cpu: { realtimeRuntime: 1 } })).toMatch(/linux\.resources\.cpu\.realtimeRuntime/);
    expect(unhonouredResource({ unified: { 'io.weight': '100' } })).toMatch(/linux\.resources\.unified/);
    expect(unhonouredResource({ network: { classID: 1 } })).toMatch(/linux\.resources\.network/);
  });
});
