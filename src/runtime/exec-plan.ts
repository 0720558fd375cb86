/**
 * exec-plan.ts — everything `minibox exec` decides, written down for the C exec stage.
 *
 * Joining a running container is a fixed list of system calls (native/minibox-exec.c): setns into
 * each namespace, chdir, then drop to the container's user, capabilities, no_new_privs and seccomp
 * filter, and execve. What varies is their *arguments*, and working those out needs the spec,
 * capability names, libseccomp and a cache of compiled filters — TypeScript's work, done here in
 * the engine, before the stage is spawned. The stage then only carries the plan out: it starts in
 * ~1 ms where a Node stage took ~50 ms of boot time (docs/benchmarks.md, issue #17).
 *
 * The plan travels on the stage's fd 3 as `KEY=VALUE` records, each ended by a NUL byte: C reads
 * it with strchr and strcmp, no JSON parser needed, and a NUL is the one byte no argument,
 * environment entry or path can contain (execve(2) could not pass it either). Keys that repeat
 * keep their order:
 *   pid=HOST_PID  root=DEV:INO  ns=ipc … ns=mnt      which namespaces to join, last the mount one
 *   chroot=1                                         then chroot to PID 1's root (runc --no-pivot)
 *   drop=21 CAP_SYS_ADMIN …                          capabilities out of the bounding set
 *   user=UID:GID  group=GID …                        who the program runs as
 *   effective|permitted|inheritable=MASK NAMES       capset(2)'s sets (names for --explain)
 *   ambient=NUMBER NAME …   nnp=1                    ambient capabilities, no_new_privs
 *   seccomp=HEX  seccomp.flags=N  seccomp.summary=…  the compiled BPF program, ready to install
 *   keyring=_ses.ID  cwd=DIR  pty=N  arg=… env=…  trace=1
 *
 * Try: `minibox run -d --name plan busybox sleep 60 >/dev/null && minibox exec --trace t.jsonl plan
 * true && grep -c CLONE_NEWNS t.jsonl` → `1` (the stage's setns into the mount namespace, from C).
 */
import { MiniboxError } from '../errors.js';
import type { SpecCapabilities, SpecSeccomp, SpecUser } from '../bundle/oci-bundle.js';
import { ambientToRaise, capabilitiesToDrop, capabilityMask } from './process/privileges.js';
import { compileSyscallFilter } from './process/syscall-filter.js';
import { namespaceFile, type JoinedNamespace } from './namespace-table.js';

/** The program to run and what it runs as: the same for the engine's request and the stage's plan. */
export interface ExecProgram {
  /** Host PID of the container's PID 1. */
  containerPid: number;
  args: string[];
  env: string[];
  cwd: string;
  user: SpecUser;
  capabilities?: SpecCapabilities;
  noNewPrivileges: boolean;
  /** The container's `linux.seccomp`: an exec'd process gets the same filter (none if unconfined). */
  seccomp?: SpecSeccomp;
  /** Where compiled filters are kept (the container's `org.minibox.seccomp.cache` annotation). */
  seccompCache?: string;
  /** The container's session keyring, joined by name (`_ses.<id>`, session-keyring.ts). */
  sessionKeyring: string;
}

/** What the engine found out about the running container, on top of the request. */
export interface ExecStageConfig extends ExecProgram {
  namespaces: JoinedNamespace[];
  /** stat() of /proc/<pid>/root: the stage checks its `/` is the same directory after setns. */
  rootIdentity: { dev: number; ino: number };
  /** The container's root is a chroot (minibox-runc --no-pivot, or no mount namespace): enter it too. */
  chrootToInitRoot?: boolean;
  ptyNumber?: number;
  /** Send a trace event for every call (`--trace`, `--explain`). */
  trace: boolean;
}

function record(key: string, value: string | number): string {
  const text = String(value);
  if (text.includes('\0')) throw new MiniboxError(`exec: the ${key} "${text.replaceAll('\0', '\\0')}" contains a NUL byte, which no program can receive`);
  return `${key}=${text}\0`;
}

function capabilityRecords(capabilities: SpecCapabilities): string[] {
  const set = (key: 'effective' | 'permitted' | 'inheritable'): string =>
    record(key, `${capabilityMask(capabilities[key])} ${(capabilities[key] ?? []).join(',')}`);
  return [
    ...capabilitiesToDrop(capabilities).map(({ number, name }) => record('drop', `${number} ${name}`)),
    set('effective'), set('permitted'), set('inheritable'),
    ...ambientToRaise(capabilities).map(({ number, name }) => record('ambient', `${number} ${name}`)),
  ];
}

function seccompRecords(seccomp: SpecSeccomp | undefined, cacheDir: string | undefined): string[] {
  const compiled = compileSyscallFilter(seccomp, cacheDir);
  if (!compiled) return [];
  return [
    record('seccomp', compiled.program.toString('hex')),
    record('seccomp.flags', compiled.flags),
    record('seccomp.summary', JSON.stringify(compiled.summary).slice(1, -1)), // the inside of the event's args
  ];
}

/** The plan as the bytes fd 3 carries (see the header). */
export function encodeExecPlan(config: ExecStageConfig): Buffer {
  const records = [
    ...(config.trace ? [record('trace', 1)] : []),
    record('pid', config.containerPid),
    record('root', `${config.rootIdentity.dev}:${config.rootIdentity.ino}`),
    ...config.namespaces.map((type) => record('ns', namespaceFile(config.containerPid, type).split('/').pop()!)),
    ...(config.chrootToInitRoot ? [record('chroot', 1)] : []),
    ...(config.capabilities ? capabilityRecords(config.capabilities) : []),
    record('user', `${config.user.uid}:${config.user.gid}`),
    ...(config.user.additionalGids ?? []).map((gid) => record('group', gid)),
    ...(config.noNewPrivileges ? [record('nnp', 1)] : []),
    ...seccompRecords(config.seccomp, config.seccompCache),
    record('keyring', config.sessionKeyring),
    record('cwd', config.cwd),
    ...(config.ptyNumber !== undefined ? [record('pty', config.ptyNumber)] : []),
    ...config.args.map((arg) => record('arg', arg)),
    ...config.env.map((entry) => record('env', entry)),
  ];
  return Buffer.from(records.join(''), 'utf8');
}
