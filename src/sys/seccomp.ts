/**
 * seccomp.ts — libseccomp, the library that compiles a list of syscall rules into the BPF program
 * the kernel runs on every system call of a process (seccomp(2), SECCOMP_SET_MODE_FILTER).
 *
 * A seccomp filter sees the syscall number, the architecture (x86_64, i386 and x32 calls all
 * reach a 64-bit kernel, with different numbers) and the six argument registers, and answers
 * ALLOW, ERRNO(n), KILL… Writing that BPF by hand means a table of syscall numbers per
 * architecture, 64-bit comparisons done as two 32-bit ones, and jumps that must stay in range.
 * runc, crun and youki all leave this to libseccomp; minibox does the same, through koffi, with
 * Debian's `libseccomp2` (/lib/x86_64-linux-gnu/libseccomp.so.2), so that a filter built from
 * Docker's profile here is the filter runc would load. The library is loaded on first use, so a
 * container without a filter (`--security-opt seccomp=unconfined`) never needs it.
 *
 * libseccomp reports errors as a negative errno in the return value, not in `errno`.
 *
 * Try: `grep Seccomp /proc/self/status` inside a container → `Seccomp: 2` (filter mode).
 */
import { koffi } from './libc.js';
import { invoke } from './call.js';

/** Filter actions (seccomp.h); ERRNO and TRACE carry a 16-bit value in the low bits. */
export const SCMP_ACT = {
  KILL_PROCESS: 0x80000000, KILL_THREAD: 0x00000000, TRAP: 0x00030000, ERRNO: 0x00050000,
  TRACE: 0x7ff00000, LOG: 0x7ffc0000, ALLOW: 0x7fff0000, NOTIFY: 0x7fc00000,
} as const;

/** Argument comparisons (enum scmp_compare). */
export const SCMP_CMP = { NE: 1, LT: 2, LE: 3, EQ: 4, GE: 5, GT: 6, MASKED_EQ: 7 } as const;

/** Filter attributes (enum scmp_filter_attr) minibox sets. */
export const SCMP_FLTATR = { CTL_NNP: 3, CTL_TSYNC: 4, CTL_LOG: 6, CTL_SSB: 7 } as const;

const attributeNames: Record<number, string> = { 3: 'CTL_NNP', 4: 'CTL_TSYNC', 6: 'CTL_LOG', 7: 'CTL_SSB' };

/** One argument test: `(args[arg] & valueA) == valueB` for MASKED_EQ, `args[arg] OP valueA` otherwise. */
export interface ArgumentComparison { arg: number; op: number; valueA: bigint; valueB: bigint }

type Context = unknown;

interface Library {
  init: (action: number) => Context | null;
  archAdd: (ctx: Context, arch: number) => number;
  archResolveName: (name: string) => number;
  attrSet: (ctx: Context, attr: number, value: number) => number;
  resolveName: (name: string) => number;
  ruleAddArray: (ctx: Context, action: number, syscall: number, count: number, args: Buffer | null) => number;
  load: (ctx: Context) => number;
  release: (ctx: Context) => void;
}

let library: Library | undefined;

/** Loads libseccomp.so.2 and declares its functions (before pivot_root: the file must be reachable). */
export function declareSeccompCalls(): void {
  if (library) return;
  let lib;
  try {
    lib = koffi.load('libseccomp.so.2');
  } catch (error) {
    throw new Error(`cannot load libseccomp.so.2 (${(error as Error).message.split('\n')[0]}) — install it: apt-get install libseccomp2`);
  }
  library = {
    init: lib.func('void *seccomp_init(uint32_t def_action)') as Library['init'],
    archAdd: lib.func('int seccomp_arch_add(void *ctx, uint32_t arch_token)') as Library['archAdd'],
    archResolveName: lib.func('uint32_t seccomp_arch_resolve_name(const char *name)') as Library['archResolveName'],
    attrSet: lib.func('int seccomp_attr_set(void *ctx, int attr, uint32_t value)') as Library['attrSet'],
    resolveName: lib.func('int seccomp_syscall_resolve_name(const char *name)') as Library['resolveName'],
    ruleAddArray: lib.func('int seccomp_rule_add_array(void *ctx, uint32_t action, int syscall, unsigned int count, const void *args)') as Library['ruleAddArray'],
    load: lib.func('int seccomp_load(void *ctx)') as Library['load'],
    release: lib.func('void seccomp_release(void *ctx)') as Library['release'],
  };
}

function seccompLibrary(): Library {
  declareSeccompCalls();
  return library!;
}

/** A filter being built in libseccomp's memory; nothing reaches the kernel until `load()`. */
export class SeccompFilter {
  private ctx: Context;
  private readonly lib = seccompLibrary();

  /** seccomp_init: an empty filter whose answer to every call no rule matches is `defaultAction`. */
  constructor(defaultAction: number, described: string) {
    let ctx: Context | null = null;
    invoke('seccomp_init', { defaultAction: described }, () => {
      ctx = this.lib.init(defaultAction);
      return ctx === null ? -22 : 0; // libseccomp returns NULL only for an invalid action
    }, { returnsNegativeErrno: true });
    this.ctx = ctx;
  }

  /** seccomp_arch_add: also filter calls made with this ABI (e.g. `x86` int 0x80 calls on x86_64). */
  addArchitecture(name: string): void {
    const token = this.lib.archResolveName(name);
    invoke('seccomp_arch_add', { arch: name }, () => {
      if (token === 0) return -22;
      const result = this.lib.archAdd(this.ctx, token);
      return result === -17 ? 0 : result; // EEXIST: the native architecture is always there
    }, { returnsNegativeErrno: true, what: name });
  }

  /** seccomp_attr_set: e.g. CTL_NNP=0 (leave no_new_privs to the runtime), CTL_TSYNC=1 (all threads). */
  setAttribute(attribute: number, value: number): void {
    const name = attributeNames[attribute] ?? String(attribute);
    invoke('seccomp_attr_set', { attribute: name, value },
      () => this.lib.attrSet(this.ctx, attribute, value), { returnsNegativeErrno: true, what: name });
  }

  /** The native syscall number for a name, or undefined when libseccomp does not know it. */
  syscallNumber(name: string): number | undefined {
    const number = this.lib.resolveName(name);
    return number === -1 ? undefined : number; // __NR_SCMP_ERROR; other negatives are pseudo-syscalls
  }

  /** seccomp_rule_add_array: `action` when syscall `number` is made and every comparison holds. */
  addRule(name: string, number: number, action: number, comparisons: ArgumentComparison[], described: string): void {
    const args = comparisons.length === 0 ? null : Buffer.alloc(24 * comparisons.length);
    comparisons.forEach((cmp, i) => { // struct scmp_arg_cmp { u32 arg; u32 op; u64 datum_a; u64 datum_b; }
      args!.writeUInt32LE(cmp.arg, i * 24);
      args!.writeUInt32LE(cmp.op, i * 24 + 4);
      args!.writeBigUInt64LE(BigInt.asUintN(64, cmp.valueA), i * 24 + 8);
      args!.writeBigUInt64LE(BigInt.asUintN(64, cmp.valueB), i * 24 + 16);
    });
    invoke('seccomp_rule_add', { syscall: name, action: described, args: comparisons.length },
      () => this.lib.ruleAddArray(this.ctx, action, number, comparisons.length, args),
      { returnsNegativeErrno: true, what: name });
  }

  /**
   * seccomp_load: compile the rules to BPF and hand them to the kernel (seccomp(2)). From here on
   * the kernel checks every system call of this thread — of every thread with CTL_TSYNC — and of
   * every program it execs. Without no_new_privs this needs CAP_SYS_ADMIN.
   */
  load(summary: Record<string, unknown>): void {
    invoke('seccomp_load', summary, () => this.lib.load(this.ctx), {
      returnsNegativeErrno: true,
      hint: (errno) => (errno === 'EACCES' ? 'loading a filter without no_new_privs needs CAP_SYS_ADMIN' : undefined),
    });
  }

  /** seccomp_release: frees libseccomp's copy (a loaded filter stays in the kernel). */
  release(): void {
    this.lib.release(this.ctx);
  }
}
