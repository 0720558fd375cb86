/**
 * The exec plan (src/runtime/exec-plan.ts): what the engine writes for the C exec stage
 * (native/minibox-exec.c) on its fd 3. The stage itself is exercised by real containers
 * (test/lifecycle/exec.test.ts, test/security/exec-stage-escape.test.ts); here, the records it
 * is given: their order (the mount namespace last), the capability numbers behind the names, an
 * ambient capability the kernel would refuse left out, the compiled seccomp program, and a NUL
 * byte — the one byte the record format cannot carry — refused with a one-line error. Checked
 * to fail: without the NUL check, and with every ambient capability passed on unfiltered, one
 * test fails each.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CAPABILITIES } from '../../src/bundle/docker-defaults.js';
import { dockerDefaultProfile, specSeccompFromProfile } from '../../src/bundle/seccomp-profile.js';
import { encodeExecPlan, type ExecStageConfig } from '../../src/runtime/exec-plan.js';
import { MiniboxError } from '../../src/errors.js';

function config(overrides: Partial<ExecStageConfig> = {}): ExecStageConfig {
  return {
    containerPid: 4242,
    namespaces: ['ipc', 'uts', 'network', 'cgroup', 'mount'],
    rootIdentity: { dev: 2049, ino: 77 },
    args: ['sh', '-c', 'echo "$A"'],
    env: ['PATH=/bin', 'A=1=2'],
    cwd: '/srv',
    user: { uid: 1000, gid: 1000, additionalGids: [10, 20] },
    noNewPrivileges: true,
    sessionKeyring: '_ses.abc',
    trace: false,
    ...overrides,
  };
}

/** The records as [key, value] pairs, in order. */
function records(plan: Buffer): [string, string][] {
  return plan.toString('utf8').split('\0').filter(Boolean).map((record) => {
    const equals = record.indexOf('=');
    return [record.slice(0, equals), record.slice(equals + 1)];
  });
}

const values = (plan: Buffer, key: string): string[] => records(plan).filter(([k]) => k === key).map(([, v]) => v);

describe('the exec plan', () => {
  it('lists the namespaces in order, the mount one last, by their /proc/PID/ns names', () => {
    const plan = encodeExecPlan(config());
    expect(values(plan, 'ns')).toEqual(['ipc', 'uts', 'net', 'cgroup', 'mnt']);
    expect(values(plan, 'pid')).toEqual(['4242']);
    expect(values(plan, 'root')).toEqual(['2049:77']);
  });

  it('keeps argv and the environment in order, values with = and spaces intact', () => {
    const plan = encodeExecPlan(config());
    expect(values(plan, 'arg')).toEqual(['sh', '-c', 'echo "$A"']);
    expect(values(plan, 'env')).toEqual(['PATH=/bin', 'A=1=2']);
    expect(values(plan, 'user')).toEqual(['1000:1000']);
    expect(values(plan, 'group')).toEqual(['10', '20']);
    expect(values(plan, 'nnp')).toEqual(['1']);
    expect(values(plan, 'trace')).toEqual([]);
  });

  it('gives the capabilities by number: the bounding set\'s complement, the masks, ambient only when allowed', () => {
    const plan = encodeExecPlan(config({
      capabilities: {
        bounding: DEFAULT_CAPABILITIES, effective: DEFAULT_CAPABILITIES, permitted: DEFAULT_CAPABILITIES,
        inheritable: ['CAP_KILL'], ambient: ['CAP_KILL', 'CAP_CHOWN'],
      },
    }));
    const dropped = values(plan, 'drop');
    expect(dropped).toContain('21 CAP_SYS_ADMIN');
    expect(dropped).not.toContain('0 CAP_CHOWN');
    expect(values(plan, 'inheritable')).toEqual([`${1n << 5n} CAP_KILL`]);
    expect(values(plan, 'ambient')).toEqual(['5 CAP_KILL']); // CAP_CHOWN is not inheritable: the kernel would refuse it
  });

  it('carries the compiled seccomp program as whole BPF instructions', () => {
    const seccomp = specSeccompFromProfile(dockerDefaultProfile(), { capabilities: DEFAULT_CAPABILITIES })!;
    const plan = encodeExecPlan(config({ seccomp }));
    const [program] = values(plan, 'seccomp');
    expect(program!.length % 16).toBe(0); // 8 bytes an instruction, two hex digits a byte
    expect(program!.length).toBeGreaterThan(16 * 100);
    expect(values(plan, 'seccomp.flags')).toEqual(['0']); // no TSYNC: the C stage has one thread
    expect(JSON.parse(`{${values(plan, 'seccomp.summary')[0]!}}`)).toMatchObject({ defaultAction: 'SCMP_ACT_ERRNO' });
  });

  it('refuses a NUL byte in an argument, in one line naming it', () => {
    expect(() => encodeExecPlan(config({ args: ['echo', 'a\0b'] }))).toThrow(MiniboxError);
    expect(() => encodeExecPlan(config({ args: ['echo', 'a\0b'] }))).toThrow(/^exec: the arg "a\\0b" contains a NUL byte/);
  });
});
