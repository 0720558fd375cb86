/**
 * Docker's seccomp profile format resolved as moby does (includes/excludes against the
 * container's capabilities, archMap, minKernel), and `--security-opt` parsed as Docker's CLI.
 * The filter these rules become is loaded and probed in test/runtime/seccomp.test.ts.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CAPABILITIES } from '../../src/bundle/docker-defaults.js';
import {
  dockerDefaultProfile, kernelAtLeast, specSeccompFromProfile, type DockerSeccompProfile,
} from '../../src/bundle/seccomp-profile.js';
import { noNewPrivileges, parseSecurityOptions, specSeccomp } from '../../src/bundle/security-options.js';
import { actionNumber, ruleComparisons } from '../../src/runtime/process/syscall-filter.js';
import type { SpecSeccomp } from '../../src/bundle/oci-bundle.js';

const amd64 = { arch: 'amd64', kernel: '6.18.44' };

function allowed(spec: SpecSeccomp | undefined): Set<string> {
  return new Set((spec?.syscalls ?? []).filter((rule) => rule.action === 'SCMP_ACT_ALLOW' && !rule.args).flatMap((rule) => rule.names));
}

function rulesFor(spec: SpecSeccomp | undefined, name: string): SpecSeccomp['syscalls'] {
  return (spec?.syscalls ?? []).filter((rule) => rule.names.includes(name));
}

describe('the shipped default profile', () => {
  it('is moby/profiles seccomp/default.json at 02e898b, unchanged', () => {
    const file = path.join(import.meta.dirname, '../../src/bundle/docker-seccomp.json');
    const digest = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    expect(digest).toBe('36b21b1bc2636d6af06bda8c083c39a520e79042f8caafe5a2af3dfe13aca0ac');
    const profile = dockerDefaultProfile();
    expect(profile.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(profile.defaultErrnoRet).toBe(1);
    expect(profile.syscalls?.[0]?.names).toHaveLength(361);
  });
});

describe('a Docker profile becomes config.json\'s linux.seccomp (moby setupSeccomp)', () => {
  const defaults = specSeccompFromProfile(dockerDefaultProfile(), { capabilities: DEFAULT_CAPABILITIES, ...amd64 });

  it('with Docker\'s 14 capabilities: no mount, unshare, setns, bpf, keyctl or io_uring', () => {
    const names = allowed(defaults);
    expect(names.has('read')).toBe(true);
    expect(names.has('chroot')).toBe(true); // CAP_SYS_CHROOT is one of the 14
    for (const name of ['mount', 'unshare', 'setns', 'bpf', 'perf_event_open', 'keyctl', 'add_key', 'io_uring_setup', 'userfaultfd', 'kcmp', 'reboot']) {
      expect(names.has(name), name).toBe(false);
    }
    expect(rulesFor(defaults, 'clone')).toEqual([{
      names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2114060288, op: 'SCMP_CMP_MASKED_EQ' }],
    }]);
    expect(rulesFor(defaults, 'clone3')).toEqual([{ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }]);
    expect(defaults?.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    expect(defaults?.defaultErrnoRet).toBe(1);
  });

  it('with CAP_SYS_ADMIN: mount, unshare and setns are allowed, clone without its namespace test', () => {
    const admin = specSeccompFromProfile(dockerDefaultProfile(), { capabilities: [...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'], ...amd64 });
    const names = allowed(admin);
    for (const name of ['mount', 'unshare', 'setns', 'bpf', 'clone', 'clone3']) expect(names.has(name), name).toBe(true);
    expect(rulesFor(admin, 'clone')?.every((rule) => !rule.args)).toBe(true);
    expect(rulesFor(admin, 'clone3')?.some((rule) => rule.action === 'SCMP_ACT_ERRNO')).toBe(false);
  });

  it('capability rules need every listed capability; ptrace also on kernels from 4.8', () => {
    expect(allowed(specSeccompFromProfile(dockerDefaultProfile(), { capabilities: ['CAP_SYS_PTRACE'], ...amd64 })).has('kcmp')).toBe(true);
    expect(allowed(specSeccompFromProfile(dockerDefaultProfile(), { capabilities: [], arch: 'amd64', kernel: '4.4.0' })).has('ptrace')).toBe(false);
    expect(allowed(specSeccompFromProfile(dockerDefaultProfile(), { capabilities: [], arch: 'amd64', kernel: '4.8.0' })).has('ptrace')).toBe(true);
  });

  it('architecture rules: arch_prctl only on amd64/x32, s390 clone tests the second argument', () => {
    expect(allowed(defaults).has('arch_prctl')).toBe(true);
    const s390 = specSeccompFromProfile(dockerDefaultProfile(), { capabilities: DEFAULT_CAPABILITIES, arch: 's390x', kernel: '6.1' });
    expect(allowed(s390).has('arch_prctl')).toBe(false);
    expect(rulesFor(s390, 'clone')?.map((rule) => rule.args?.[0]?.index)).toEqual([1]);
  });

  it('compares kernel versions by major, then minor', () => {
    expect(kernelAtLeast('6.18.44-fc-v657', '4.8')).toBe(true);
    expect(kernelAtLeast('4.10.0', '4.8')).toBe(true);
    expect(kernelAtLeast('4.7.10', '4.8')).toBe(false);
  });

  it('refuses what moby refuses; a profile with nothing in it means no filter', () => {
    expect(() => specSeccompFromProfile({ defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64'], archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: null }] }, { capabilities: [] }))
      .toThrow('both \'architectures\' and \'archMap\' are specified');
    expect(() => specSeccompFromProfile({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ name: 'read', names: ['read'], action: 'SCMP_ACT_ALLOW' }] }, { capabilities: [] }))
      .toThrow('both \'name\' and \'names\' are specified');
    expect(specSeccompFromProfile({}, { capabilities: [] })).toBeUndefined();
    const old: DockerSeccompProfile = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ name: 'mkdir', action: 'SCMP_ACT_ERRNO' }] };
    expect(specSeccompFromProfile(old, { capabilities: [] })?.syscalls).toEqual([{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }]);
  });
});

describe('--security-opt and --privileged', () => {
  it('parses Docker\'s forms', () => {
    expect(parseSecurityOptions(['seccomp=unconfined']).seccomp).toBe('unconfined');
    expect(parseSecurityOptions(['seccomp:unconfined']).seccomp).toBe('unconfined');
    expect(parseSecurityOptions(['seccomp=builtin']).seccomp).toBe('default');
    expect(parseSecurityOptions(['no-new-privileges']).noNewPrivileges).toBe(true);
    expect(parseSecurityOptions(['no-new-privileges=false']).noNewPrivileges).toBe(false);
    expect(parseSecurityOptions(['no-new-privileges:true']).noNewPrivileges).toBe(true);
  });

  it('reads a profile file; a bad one is a one-line error', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-profile-'));
    try {
      const file = path.join(dir, 'profile.json');
      fs.writeFileSync(file, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] }));
      const parsed = parseSecurityOptions([`seccomp=${file}`]);
      expect(specSeccomp(parsed, [])).toEqual({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] });
      fs.writeFileSync(file, '{ not json');
      expect(() => parseSecurityOptions([`seccomp=${file}`])).toThrow(`decoding seccomp profile ${file} failed`);
      expect(() => parseSecurityOptions([`seccomp=${dir}/missing.json`])).toThrow(`opening seccomp profile (${dir}/missing.json) failed: ENOENT`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects what it does not know', () => {
    expect(() => parseSecurityOptions(['seccomp'])).toThrow('invalid --security-opt: "seccomp"');
    expect(() => parseSecurityOptions(['no-new-privileges=maybe'])).toThrow('maybe is not true or false');
    expect(() => parseSecurityOptions(['apparmor=unconfined'])).toThrow('--security-opt apparmor is not supported by minibox');
  });

  it('no_new_privs: on by default (stricter than Docker), off when asked or with --privileged', () => {
    expect(noNewPrivileges(parseSecurityOptions([]))).toBe(true);
    expect(noNewPrivileges(parseSecurityOptions(['no-new-privileges=false']))).toBe(false);
    expect(noNewPrivileges(parseSecurityOptions([], true))).toBe(false);
    expect(noNewPrivileges(parseSecurityOptions(['no-new-privileges'], true))).toBe(true);
  });

  it('--privileged and seccomp=unconfined mean no filter', () => {
    expect(specSeccomp(parseSecurityOptions([], true), DEFAULT_CAPABILITIES)).toBeUndefined();
    expect(specSeccomp(parseSecurityOptions(['seccomp=unconfined']), DEFAULT_CAPABILITIES)).toBeUndefined();
    expect(specSeccomp(parseSecurityOptions([]), DEFAULT_CAPABILITIES)?.defaultAction).toBe('SCMP_ACT_ERRNO');
  });
});

describe('the runtime\'s translation for libseccomp (runc\'s rules)', () => {
  it('ERRNO carries its errno, EPERM when none is given', () => {
    expect(actionNumber('SCMP_ACT_ERRNO', 38)).toBe(0x00050026);
    expect(actionNumber('SCMP_ACT_ERRNO')).toBe(0x00050001);
    expect(actionNumber('SCMP_ACT_ALLOW')).toBe(0x7fff0000);
    expect(() => actionNumber('SCMP_ACT_NOTIFY')).toThrow('not supported');
  });

  it('tests on different arguments form one rule; two on the same argument, one rule each', () => {
    const two = ruleComparisons({ names: ['x'], action: 'SCMP_ACT_ALLOW', args: [
      { index: 0, value: 1, op: 'SCMP_CMP_EQ' }, { index: 1, value: 2, valueTwo: 2, op: 'SCMP_CMP_MASKED_EQ' }] });
    expect(two).toHaveLength(1);
    expect(two[0]).toEqual([{ arg: 0, op: 4, valueA: 1n, valueB: 0n }, { arg: 1, op: 7, valueA: 2n, valueB: 2n }]);
    const same = ruleComparisons({ names: ['x'], action: 'SCMP_ACT_ALLOW', args: [
      { index: 0, value: 1, op: 'SCMP_CMP_GE' }, { index: 0, value: 9, op: 'SCMP_CMP_LE' }] });
    expect(same).toHaveLength(2);
    expect(ruleComparisons({ names: ['x'], action: 'SCMP_ACT_ALLOW' })).toEqual([[]]);
  });
});
