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
 * each (runc's "old behaviour", an OR). libseccomp's own no_new_privs attribute is turned off:
 * the runtime sets no_new_privs itself, when config.json asks.
 *
 * The filter is per thread, and execve keeps the calling thread's filter: it is loaded on Node's
 * main thread, the one that execs, with CTL_TSYNC so that Node's helper threads get it too.
 * When: as late as possible (fewer calls run under it), after no_new_privs; without
 * no_new_privs, loading a filter needs CAP_SYS_ADMIN, so then it comes *before* the capabilities
 * are dropped — runc's standard_init_linux.go has the same two places (privileges.ts).
 *
 * Try: `minibox run --rm IMAGE unshare -U true` → Operation not permitted;
 * with `--security-opt seccomp=unconfined` it works.
 */
import { SCMP_ACT, SCMP_CMP, SCMP_FLTATR, SeccompFilter, type ArgumentComparison } from '../../sys/seccomp.js';
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

const FLAG_ATTRIBUTES: Record<string, number> = {
  SECCOMP_FILTER_FLAG_TSYNC: SCMP_FLTATR.CTL_TSYNC,
  SECCOMP_FILTER_FLAG_LOG: SCMP_FLTATR.CTL_LOG,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: SCMP_FLTATR.CTL_SSB,
};

/** A filter built from the spec, waiting in libseccomp's memory for `load()`. */
export interface PreparedSyscallFilter {
  load(): void;
}

/**
 * Builds the filter (seccomp_init, arch_add, attr_set, rule_add…) without loading it. Call it
 * while the host's libseccomp.so.2 is still reachable (before pivot_root or setns into the mount
 * namespace); `load()` it last.
 */
export function prepareSyscallFilter(seccomp: SpecSeccomp | undefined): PreparedSyscallFilter | undefined {
  if (!seccomp) return undefined;
  const defaultAction = actionNumber(seccomp.defaultAction, seccomp.defaultErrnoRet);
  const filter = new SeccompFilter(defaultAction, `${seccomp.defaultAction}${seccomp.defaultErrnoRet ? `(${seccomp.defaultErrnoRet})` : ''}`);
  for (const arch of seccomp.architectures ?? []) filter.addArchitecture(architectureName(arch));
  filter.setAttribute(SCMP_FLTATR.CTL_NNP, 0);
  filter.setAttribute(SCMP_FLTATR.CTL_TSYNC, 1);
  for (const flag of seccomp.flags ?? []) {
    const attribute = FLAG_ATTRIBUTES[flag];
    if (attribute === undefined) throw new Error(`seccomp flag ${flag} in config.json is not supported`);
    filter.setAttribute(attribute, 1);
  }
  const counts = { allowed: 0, refused: 0, unknown: [] as string[] };
  for (const rule of seccomp.syscalls ?? []) {
    const action = actionNumber(rule.action, rule.errnoRet);
    if (action === defaultAction) continue; // redundant: libseccomp would refuse it (EACCES)
    const ruleSets = ruleComparisons(rule);
    for (const name of rule.names) {
      const number = filter.syscallNumber(name);
      if (number === undefined) {
        counts.unknown.push(name); // newer than this libseccomp: the default action answers it
        continue;
      }
      for (const comparisons of ruleSets) filter.addRule(name, number, action, comparisons, rule.action);
      if (action === SCMP_ACT.ALLOW) counts.allowed++;
      else counts.refused++;
    }
  }
  return {
    load(): void {
      filter.load({
        defaultAction: seccomp.defaultAction, allowed: counts.allowed, refused: counts.refused,
        unknownToLibseccomp: counts.unknown.length, architectures: (seccomp.architectures ?? []).map(architectureName).join(','),
      });
      filter.release();
    },
  };
}
