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
 * Compiling is the slow part (10–30 ms for Docker's ~370 rules on three ABIs); installing is one
 * system call. So, as crun does, the two are split: `compile()` has libseccomp write the BPF
 * program (seccomp_export_bpf) while the init stage waits for the engine anyway, and
 * `installFilter()` hands that program to the kernel with seccomp(2) as the last step before
 * execve — the same call, with the same flags, that seccomp_load would make.
 *
 * Try: `minibox run --rm busybox grep Seccomp: /proc/self/status` → `Seccomp: 2` (filter mode).
 */
import fs from 'node:fs';
import { koffi, libcFunction } from './libc.js';
import { invoke } from './call.js';

/** Filter actions (seccomp.h); ERRNO and TRACE carry a 16-bit value in the low bits. */
export const SCMP_ACT = {
  KILL_PROCESS: 0x80000000, KILL_THREAD: 0x00000000, TRAP: 0x00030000, ERRNO: 0x00050000,
  TRACE: 0x7ff00000, LOG: 0x7ffc0000, ALLOW: 0x7fff0000, NOTIFY: 0x7fc00000,
} as const;

/** Argument comparisons (enum scmp_compare). */
export const SCMP_CMP = { NE: 1, LT: 2, LE: 3, EQ: 4, GE: 5, GT: 6, MASKED_EQ: 7 } as const;

/** One argument test: `(args[arg] & valueA) == valueB` for MASKED_EQ, `args[arg] OP valueA` otherwise. */
export interface ArgumentComparison { arg: number; op: number; valueA: bigint; valueB: bigint }

type Context = unknown;

interface Library {
  init: (action: number) => Context | null;
  archAdd: (ctx: Context, arch: number) => number;
  archResolveName: (name: string) => number;
  resolveName: (name: string) => number;
  ruleAddArray: (ctx: Context, action: number, syscall: number, count: number, args: Buffer | null) => number;
  exportBpf: (ctx: Context, fd: number) => number;
  release: (ctx: Context) => void;
  version: () => unknown;
}

let library: Library | undefined;

/** Loads libseccomp.so.2 and declares its functions (before pivot_root: the file must be reachable). */
export function declareSeccompCalls(): void {
  if (library) return;
  let lib;
  try {
    lib = koffi().load('libseccomp.so.2');
  } catch (error) {
    throw new Error(`cannot load libseccomp.so.2 (${(error as Error).message.split('\n')[0]}) — install it: apt-get install libseccomp2`);
  }
  library = {
    init: lib.func('void *seccomp_init(uint32_t def_action)') as Library['init'],
    archAdd: lib.func('int seccomp_arch_add(void *ctx, uint32_t arch_token)') as Library['archAdd'],
    archResolveName: lib.func('uint32_t seccomp_arch_resolve_name(const char *name)') as Library['archResolveName'],
    resolveName: lib.func('int seccomp_syscall_resolve_name(const char *name)') as Library['resolveName'],
    ruleAddArray: lib.func('int seccomp_rule_add_array(void *ctx, uint32_t action, int syscall, unsigned int count, const void *args)') as Library['ruleAddArray'],
    exportBpf: lib.func('int seccomp_export_bpf(void *ctx, int fd)') as Library['exportBpf'],
    release: lib.func('void seccomp_release(void *ctx)') as Library['release'],
    version: lib.func('void *seccomp_version(void)') as Library['version'],
  };
}

/** `2.5.4`: the library's version (a compiled program is only reused with the same one). */
export function libseccompVersion(): string {
  const version = koffi().decode(seccompLibrary().version(), koffi().array('uint32_t', 3)) as Uint32Array;
  return [...version].join('.');
}

function seccompLibrary(): Library {
  declareSeccompCalls();
  return library!;
}

/** A filter being built in libseccomp's memory; nothing reaches the kernel until installFilter(). */
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
   * seccomp_export_bpf: the rules compiled to a BPF program (an array of 8-byte sock_filter
   * instructions), written to a memfd and read back; then libseccomp's copy is released.
   */
  compile(): Buffer {
    const fd = invoke('memfd_create', { name: 'minibox-seccomp' }, () => memfdCreate()('minibox-seccomp', MFD_CLOEXEC));
    try {
      invoke('seccomp_export_bpf', {}, () => this.lib.exportBpf(this.ctx, fd), { returnsNegativeErrno: true });
      const program = Buffer.alloc(fs.fstatSync(fd).size);
      fs.readSync(fd, program, 0, program.length, 0);
      return program;
    } finally {
      fs.closeSync(fd);
      this.lib.release(this.ctx);
    }
  }
}

const MFD_CLOEXEC = 1;
const memfdCreate = libcFunction<(name: string, flags: number) => number>('int memfd_create(const char *name, unsigned int flags)');

/** seccomp(2) flags (linux/seccomp.h). */
export const SECCOMP_FILTER_FLAG = { TSYNC: 1, LOG: 2, SPEC_ALLOW: 4 } as const;

const SYS_seccomp: Record<string, number> = { x64: 317, arm64: 277 };
const SECCOMP_SET_MODE_FILTER = 1;
let seccompSyscall: ((nr: number, op: number, flags: number, prog: Buffer) => number) | undefined;

/** Declares the seccomp(2) entry point now, while the host's libc is reachable. */
export function declareSeccompInstall(): void {
  // syscall(2) with a fixed prototype: glibc's syscall() only moves registers, so this is safe.
  seccompSyscall ??= libcFunction<(nr: number, op: number, flags: number, prog: Buffer) => number>(
    'long syscall(long nr, unsigned int op, unsigned int flags, void *prog)')();
}

/**
 * seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog): from here on the kernel runs `program` on every
 * system call of this thread — of every thread with TSYNC — and of every program it execs.
 * Without no_new_privs the kernel allows it only with CAP_SYS_ADMIN.
 */
export function installFilter(program: Buffer, flags: number, summary: Record<string, unknown>): void {
  const nr = SYS_seccomp[process.arch];
  if (nr === undefined) throw new Error(`seccomp: unsupported architecture ${process.arch}`);
  declareSeccompInstall();
  const fprog = Buffer.alloc(16); // struct sock_fprog { unsigned short len; struct sock_filter *filter; }
  fprog.writeUInt16LE(program.length / 8, 0);
  fprog.writeBigUInt64LE(BigInt(koffi().address(program)), 8);
  invoke('seccomp', { operation: 'SECCOMP_SET_MODE_FILTER', instructions: program.length / 8, ...summary }, () => {
    const result = seccompSyscall!(nr, SECCOMP_SET_MODE_FILTER, flags, fprog);
    return result > 0 ? -1 : result; // TSYNC: a positive result is the id of a thread that could not sync
  }, { hint: (errno) => (errno === 'EACCES' ? 'installing a filter without no_new_privs needs CAP_SYS_ADMIN' : undefined) });
}
