import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  checkCgroups, checkKernel, checkNamespaces, checkOverlay, checkPrivileges, checkSeccomp, checkStateRootFilesystem,
  checkTestTools, checkUserNamespaces, readyToRun,
} from '../../src/doctor/checks.js';
import { describeCgroupMode, type CgroupMode } from '../../src/cgroups/mode.js';
import { bin } from '../helpers/minibox.js';

function doctor(args: string[], env: NodeJS.ProcessEnv = {}): { code: number; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [bin, 'doctor', ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

describe('minibox doctor on this machine', () => {
  it('prints one marked line per check and exits 0 because run can work here', () => {
    const { code, stdout } = doctor([]);
    expect(code).toBe(0);
    for (const name of ['privileges', 'kernel', 'overlayfs', 'state root', 'namespaces', 'cgroups', 'user namespaces', 'network: iptables', 'test suite tools']) {
      expect(stdout).toMatch(new RegExp(`^[✓!✗] ${name} `, 'm'));
    }
    // each networking fact once: the detailed lines, not a summary line repeating them
    expect(stdout).not.toMatch(/^[✓!✗] networking /m);
    expect(stdout.match(/iptables v/g)).toHaveLength(1);
    expect(stdout).toContain('minibox run can work on this machine.');
  });

  // Every layout on every host: the CLI reads the layout from a fixture mountinfo
  // (MINIBOX_TEST_CGROUP_MOUNTINFO, src/cgroups/mode.ts) instead of skipping what this host lacks.
  it.each(['unified', 'hybrid', 'legacy', 'none'])('reports a %s cgroup layout, with a fix when it is not v2', (mode) => {
    const { stdout } = doctor(['--format', 'json'], { MINIBOX_TEST_CGROUP_MOUNTINFO: path.resolve(`test/cgroups/fixtures/mountinfo-${mode}.txt`) });
    const report = JSON.parse(stdout) as { ready: boolean; checks: { name: string; status: string; detail: string; fix?: string }[] };
    expect(report.ready).toBe(true);
    const cgroups = report.checks.find((check) => check.name === 'cgroups');
    expect(cgroups?.detail).toContain(describeCgroupMode(mode as CgroupMode));
    if (mode !== 'unified') {
      expect(cgroups).toMatchObject({ status: 'warn' });
      expect(cgroups?.fix).toMatch(/Vagrant VM/);
    }
  });

  it('refuses an unknown --format with exit 125', () => {
    const { code, stderr } = doctor(['--format', 'yaml']);
    expect(code).toBe(125);
    expect(stderr.trim()).toBe('minibox: unknown --format "yaml": use table or json. See \'minibox doctor --help\'.');
  });
});

describe('doctor as another user', () => {
  it('says reading the nat table needs root, instead of blaming the kernel', () => {
    const result = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, bin, 'doctor', '--format', 'json'], { encoding: 'utf8' });
    const report = JSON.parse(result.stdout) as { checks: { name: string; status: string; detail: string }[] };
    expect(report.checks.find((check) => check.name === 'privileges')).toMatchObject({ status: 'fail' });
    const nat = report.checks.find((check) => check.name === 'network: iptables nat table');
    if (nat && nat.status !== 'ok') {
      expect(nat.detail).toMatch(/only root may read it/);
      expect(nat.detail).not.toMatch(/kernel/);
    }
  });
});

describe('doctor checks on given facts', () => {
  it('checks that the state root can hold overlay upper dirs', () => {
    expect(checkStateRootFilesystem('/var/lib/minibox', 'ext4')).toMatchObject({ status: 'ok' });
    expect(checkStateRootFilesystem('/var/lib/minibox', 'tmpfs')).toMatchObject({ status: 'ok' });
    for (const fstype of ['overlay', 'nfs4', 'vfat', 'fuse.sshfs']) {
      expect(checkStateRootFilesystem('/var/lib/minibox', fstype)).toMatchObject({
        status: 'fail', detail: `/var/lib/minibox is on ${fstype}`, fix: expect.stringMatching(/ext4, xfs, btrfs or tmpfs \(--root DIR/),
      });
    }
  });

  it('says that stats and update need cgroup v2 too; test tools are for the test suite only', () => {
    expect(checkCgroups('hybrid', [], ['memory']).fix).toMatch(/`minibox stats` and `minibox update` need cgroup v2/);
    expect(checkTestTools(() => false)).toMatchObject({ status: 'ok', detail: expect.stringMatching(/minibox does not need them, only its own test suite/) });
  });

  it('fails without root, which run needs', () => {
    expect(checkPrivileges(1000)).toMatchObject({ status: 'fail', fix: expect.stringMatching(/sudo/) });
    expect(readyToRun([checkPrivileges(1000)])).toBe(false);
    expect(readyToRun([checkPrivileges(0)])).toBe(true);
  });

  it('grades kernel versions', () => {
    expect(checkKernel('6.1.0-56-amd64').status).toBe('ok');
    expect(checkKernel('4.19.0').status).toBe('warn');
    expect(checkKernel('3.10.0').status).toBe('fail');
  });

  it('finds overlay in /proc/filesystems or as a module', () => {
    expect(checkOverlay('nodev\tproc\nnodev\toverlay\n', false).status).toBe('ok');
    expect(checkOverlay('nodev\tproc\n', true).status).toBe('ok');
    expect(checkOverlay('nodev\tproc\n', false).status).toBe('fail');
  });

  it('names the cgroup mode and what it means for limits', () => {
    expect(checkCgroups('unified', ['cpuset', 'cpu', 'memory', 'pids'], [])).toMatchObject({ status: 'ok', detail: 'cgroup v2 (unified) at /sys/fs/cgroup; controllers: cpuset cpu memory pids' });
    expect(checkCgroups('unified', ['cpu'], []).fix).toMatch(/memory, pids/);
    expect(checkCgroups('hybrid', [], ['cpu', 'memory'])).toMatchObject({ status: 'warn', detail: 'hybrid (v1 controllers + an empty v2 tree); v1 controllers: cpu memory' });
    expect(checkCgroups('legacy', [], ['memory']).fix).toMatch(/systemd.unified_cgroup_hierarchy=1/);
  });

  it('needs the mount, uts, ipc, pid and net namespaces', () => {
    expect(checkNamespaces(['mnt', 'uts', 'ipc', 'pid', 'net', 'cgroup']).status).toBe('ok');
    expect(checkNamespaces(['mnt', 'uts', 'ipc', 'pid', 'net']).status).toBe('warn');
    expect(checkNamespaces(['mnt', 'uts'])).toMatchObject({ status: 'fail', detail: 'missing: ipc pid net' });
  });

  it('treats user namespaces as optional', () => {
    expect(checkUserNamespaces({ maxUserNamespaces: '15000', unprivilegedClone: '1' })).toMatchObject({ status: 'ok', detail: 'up to 15000; unprivileged allowed' });
    expect(checkUserNamespaces({ maxUserNamespaces: '0' }).status).toBe('warn');
    expect(checkUserNamespaces({}).status).toBe('warn');
  });

  it('seccomp needs the kernel\'s filter mode and libseccomp2', () => {
    expect(checkSeccomp('kill_process kill_thread trap errno user_notif trace log allow', true).status).toBe('ok');
    expect(checkSeccomp('kill_process errno allow', false)).toMatchObject({ status: 'fail', detail: 'libseccomp.so.2 is missing' });
    expect(checkSeccomp('', true)).toMatchObject({ status: 'fail', detail: 'the kernel has no seccomp filter mode (CONFIG_SECCOMP_FILTER)' });
    expect(checkSeccomp().status).toBe('ok'); // this machine: provision.sh installs libseccomp2
  });
});
