import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  checkCgroups, checkKernel, checkNamespaces, checkOverlay, checkPrivileges, checkUserNamespaces, readyToRun,
} from '../../src/doctor/checks.js';
import { cgroupMode } from '../../src/cgroups/mode.js';
import { bin } from '../helpers/minibox.js';

function doctor(args: string[]): { code: number; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [bin, 'doctor', ...args], { encoding: 'utf8' });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

describe('minibox doctor on this machine', () => {
  it('prints one marked line per check and exits 0 because run can work here', () => {
    const { code, stdout } = doctor([]);
    expect(code).toBe(0);
    for (const name of ['privileges', 'kernel', 'overlayfs', 'namespaces', 'cgroups', 'user namespaces', 'networking', 'test tools']) {
      expect(stdout).toMatch(new RegExp(`^[✓!✗] ${name} `, 'm'));
    }
    expect(stdout).toContain('minibox run can work on this machine.');
  });

  it('reports the cgroup layout it really finds, with a fix when it is not v2', () => {
    const { stdout } = doctor(['--format', 'json']);
    const report = JSON.parse(stdout) as { ready: boolean; checks: { name: string; status: string; detail: string; fix?: string }[] };
    expect(report.ready).toBe(true);
    const cgroups = report.checks.find((check) => check.name === 'cgroups');
    if (cgroupMode() === 'unified') {
      expect(cgroups?.detail).toMatch(/^cgroup v2/);
    } else {
      expect(cgroups).toMatchObject({ status: 'warn' });
      expect(cgroups?.fix).toMatch(/Vagrant VM/);
    }
  });

  it('refuses an unknown --format with exit 125', () => {
    const { code, stderr } = doctor(['--format', 'yaml']);
    expect(code).toBe(125);
    expect(stderr.trim()).toBe('minibox: unknown --format "yaml": use table or json');
  });
});

describe('doctor checks on given facts', () => {
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
});
