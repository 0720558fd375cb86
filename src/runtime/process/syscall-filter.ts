/**
 * syscall-filter.ts — config.json's `linux.seccomp` becomes a seccomp filter on the process.
 *
 * Capabilities decide what root may do *through* a system call; seccomp decides which system
 * calls reach the kernel at all. Most kernel escapes start in a rarely used, rarely audited call
 * (io_uring, userfaultfd, perf_event_open, bpf, keyctl, a user namespace with fresh capabilities);
 * Docker's default profile allows ~370 calls ordinary programs use and answers every other one
 * with EPERM before the kernel code behind it runs. The filter answers the runc CVE class of
 * "kernel bug reachable from a container" (e.g. CVE-2022-0185, a user namespace + fsconfig
 * overflow, blocked by Docker's profile), not a runtime bug.
 *
 * This module does what runc's libcontainer/seccomp does with the spec, through libseccomp
 * (sys/seccomp.ts): the default action, the extra architectures (x86 and x32 on x86_64), one rule
 * per syscall name (names libseccomp does not know are skipped, rules equal to the default action
 * too), and the argument tests — all in one rule, or, when two test the same argument, one rule
 * each (runc's "old behaviour", an OR). The rules are compiled to BPF early, while the init stage
 * waits for the engine; installing the program at the end is one seccomp(2) call. no_new_privs
 * stays the runtime's business (libseccomp's seccomp_load would set it by itself).
 * Compiling costs ~25 ms of CPU; the same section of config.json always gives the same program,
 * so the engine names a cache directory (annotation `org.minibox.seccomp.cache`, root-owned,
 * 0700) where each program is kept with the section, the architecture and libseccomp's version
 * it was made from (filter-cache.ts). The spec stays the truth: a program is used only for the
 * very text the spec says.
 *
 * The filter is per thread, and execve keeps the calling thread's filter: it is loaded on Node's
 * main thread, the one that execs, with CTL_TSYNC so that Node's helper threads get it too.
 * When: as late as possible (fewer calls run under it), after no_new_privs; without
 * no_new_privs, loading a filter needs CAP_SYS_ADMIN, so then it comes *before* the capabilities
 * are dropped — runc's standard_init_linux.go has the same two places (privileges.ts).
 *
 * Try: `minibox run --rm busybox unshare -U true` → `unshare(0x10000000): Operation not permitted`
 * (Docker's profile refuses a user namespace without CAP_SYS_ADMIN).
 */
import {
  SCMP_ACT, SCMP_CMP, SECCOMP_FILTER_FLAG, SeccompFilter, declareSeccompInstall, installFilter, libseccompVersion,
  type ArgumentComparison,
} from '../../sys/seccomp.js';
import { readCachedProgram, trustedCacheDir, writeCachedProgram } from './filter-cache.js';
import type { SpecSeccomp, SpecSeccompArg, SpecSyscall } from '../../bundle/oci-bundle.js';

const EPERM = 1;

/** `SCMP_ACT_ERRNO` + errnoRet → libseccomp's action number (runc: ERRNO without errnoRet is EPERM). */
export function actionNumber(action: string, errnoRet?: number): number {
  switch (action) {
    case 'SCMP_ACT_ALLOW': return SCMP_ACT.ALLOW;
    case 'SCMP_ACT_ERRNO': return (SCMP_ACT.ERRNO | ((errnoRet ?? EPERM) & 0xffff)) >>> 0;
    case 'SCMP_ACT_KILL': case 'SCMP_ACT_KILL_THREAD': return SCMP_ACT.KILL_THREAD;
    case 'SCMP_ACT_KILL_PROCESS': return SCMP_ACT.KILL_PROCESS;
    case 'SCMP_ACT_TRAP': return SCMP_ACT.TRAP;
    case 'SCMP_ACT_TRACE': return (SCMP_ACT.TRACE | ((errnoRet ?? EPERM) & 0xffff)) >>> 0;
    case 'SCMP_ACT_LOG': return SCMP_ACT.LOG;
    default:
      throw new Error(`seccomp action ${action} in config.json is not supported (SCMP_ACT_NOTIFY needs a listener minibox does not have)`);
  }
}

function comparison(arg: SpecSeccompArg): ArgumentComparison {
  const op = SCMP_CMP[arg.op.replace(/^SCMP_CMP_/, '') as keyof typeof SCMP_CMP];
  if (op === undefined) throw new Error(`seccomp operator ${arg.op} in config.json is unknown`);
  if (arg.index < 0 || arg.index > 5) throw new Error(`seccomp argument index ${arg.index} in config.json is out of range (0–5)`);
  return { arg: arg.index, op, valueA: BigInt(arg.value), valueB: BigInt(arg.valueTwo ?? 0) };
}

/** The libseccomp rules for one spec entry: one with every test, or one per test (runc). */
export function ruleComparisons(rule: SpecSyscall): ArgumentComparison[][] {
  const comparisons = (rule.args ?? []).map(comparison);
  const indexes = comparisons.map((cmp) => cmp.arg);
  const sharesAnArgument = new Set(indexes).size !== indexes.length;
  return sharesAnArgument ? comparisons.map((cmp) => [cmp]) : [comparisons];
}

/** `SCMP_ARCH_X86_64` → `x86_64`, the name libseccomp resolves. */
function architectureName(arch: string): string {
  return arch.replace(/^SCMP_ARCH_/, '').toLowerCase();
}

const FLAGS: Record<string, number> = {
  SECCOMP_FILTER_FLAG_TSYNC: SECCOMP_FILTER_FLAG.TSYNC,
  SECCOMP_FILTER_FLAG_LOG: SECCOMP_FILTER_FLAG.LOG,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: SECCOMP_FILTER_FLAG.SPEC_ALLOW,
};

/** A filter built from the spec, waiting in libseccomp's memory for `load()`. */
export interface PreparedSyscallFilter {
  load(): void;
}

/** A compiled filter: the BPF program, the spec's flags (SECCOMP_FILTER_FLAG_*), and words for --explain. */
export interface CompiledSyscallFilter {
  program: Buffer;
  flags: number;
  summary: Record<string, unknown>;
}

/**
 * Builds and compiles the filter (seccomp_init, arch_add, rule_add…, export_bpf) without
 * installing it — or finds the program in the cache. The engine calls it for `exec` and hands the
 * bytes to the C exec stage (native/minibox-exec.c), which installs them with one seccomp(2).
 */
export function compileSyscallFilter(seccomp: SpecSeccomp | undefined, cacheDir?: string): CompiledSyscallFilter | undefined {
  if (!seccomp) return undefined;
  let flags = 0;
  for (const flag of seccomp.flags ?? []) {
    const bit = FLAGS[flag];
    if (bit === undefined) throw new Error(`seccomp flag ${flag} in config.json is not supported`);
    flags |= bit;
  }
  // What the program is made from: the same text, the same program (filter-cache.ts).
  const source = JSON.stringify({ seccomp, arch: process.arch, libseccomp: libseccompVersion() });
  const cache = cacheDir !== undefined && trustedCacheDir(cacheDir) ? cacheDir : undefined;
  const cached = cache ? readCachedProgram(cache, source) : undefined;
  const program = cached ?? compileProgram(seccomp);
  if (cache && !cached) writeCachedProgram(cache, source, program);
  const summary = {
    defaultAction: seccomp.defaultAction, ...ruleCounts(seccomp), cached: cached !== undefined,
    architectures: (seccomp.architectures ?? []).map(architectureName).join(','),
  };
  return { program, flags, summary };
}

/**
 * The same, ready to `load()` on this thread (the init stage). Call it while the host's
 * libseccomp.so.2 is still reachable (before pivot_root or setns into the mount namespace).
 */
export function prepareSyscallFilter(seccomp: SpecSeccomp | undefined, cacheDir?: string): PreparedSyscallFilter | undefined {
  const compiled = compileSyscallFilter(seccomp, cacheDir);
  if (!compiled) return undefined;
  declareSeccompInstall();
  const flags = compiled.flags | SECCOMP_FILTER_FLAG.TSYNC; // Node's helper threads get the filter too
  return { load: () => installFilter(compiled.program, flags, compiled.summary) };
}

/** How many names the spec allows, and answers otherwise than the default (for --explain). */
function ruleCounts(seccomp: SpecSeccomp): { allowed: number; refused: number } {
  const defaultAction = actionNumber(seccomp.defaultAction, seccomp.defaultErrnoRet);
  let allowed = 0;
  let refused = 0;
  for (const rule of seccomp.syscalls ?? []) {
    const action = actionNumber(rule.action, rule.errnoRet);
    if (action === SCMP_ACT.ALLOW) allowed += rule.names.length;
    else if (action !== defaultAction) refused += rule.names.length;
  }
  return { allowed, refused };
}

/** libseccomp: seccomp_init, arch_add, one rule_add per syscall and argument test, export_bpf. */
function compileProgram(seccomp: SpecSeccomp): Buffer {
  const defaultAction = actionNumber(seccomp.defaultAction, seccomp.defaultErrnoRet);
  const filter = new SeccompFilter(defaultAction, `${seccomp.defaultAction}${seccomp.defaultErrnoRet ? `(${seccomp.defaultErrnoRet})` : ''}`);
  for (const arch of seccomp.architectures ?? []) filter.addArchitecture(architectureName(arch));
  for (const rule of seccomp.syscalls ?? []) {
    const action = actionNumber(rule.action, rule.errnoRet);
    if (action === defaultAction) continue; // redundant: libseccomp would refuse it (EACCES)
    const ruleSets = ruleComparisons(rule);
    for (const name of rule.names) {
      const number = filter.syscallNumber(name);
      if (number === undefined) continue; // newer than this libseccomp: the default action answers it
      for (const comparisons of ruleSets) filter.addRule(name, number, action, comparisons, rule.action);
    }
  }
  return filter.compile();
}
