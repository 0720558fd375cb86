/**
 * limits.ts — Docker's resource flags (`--memory 256m`, `--cpus 0.5`, `--pids-limit 20`…) checked
 * and turned into the OCI runtime spec's `linux.resources` (runtime-spec config-linux.md,
 * "Control groups"), the same values Docker hands to runc.
 *
 * This module only parses and validates: it touches no file, so a bad flag fails with one line
 * and exit 125 *before* anything is created. Writing the values into cgroup v2 files is
 * v2-files.ts (the conversions runc/crun make) and cgroup.ts (the writes).
 *
 * Units follow Docker (go-units RAMInBytes): `b`, `k`, `m`, `g`, `t`, `p` are powers of 1024,
 * with an optional `b`/`ib` (`256m`, `256MB`, `256MiB`, `1.5g`); a bare number is bytes.
 *
 * Try: `minibox run --rm --memory 1x busybox true; echo $?` → `invalid --memory "1x": expected a
 * size such as 256m … 125`
 */
import { UsageError } from '../errors.js';

/** The subset of OCI `linux.resources` minibox sets (values as runc reads them). */
export interface LinuxResources {
  memory?: {
    /** Bytes; memory.max. */
    limit?: number;
    /** Bytes; memory.low (protection from reclaim, capped by the parent's — see v2-files.ts). */
    reservation?: number;
    /** Memory + swap in bytes (Docker's --memory-swap); -1 = unlimited swap. */
    swap?: number;
  };
  cpu?: {
    /** Relative weight, cgroup v1 scale 2…262144 (Docker's --cpu-shares). */
    shares?: number;
    /** Microseconds of CPU time allowed per period. */
    quota?: number;
    /** Period length in microseconds. */
    period?: number;
    /** CPU list, e.g. "0-2,4". */
    cpus?: string;
    /** Memory (NUMA) node list, e.g. "0" (OCI configs; Docker's --cpuset-mems, not a minibox flag). */
    mems?: string;
  };
  pids?: {
    /** Maximum number of tasks; ≤ 0 = unlimited. */
    limit: number;
  };
}

/** The flags as typed on the command line (strings, as commander gives them). */
export interface ResourceFlags {
  memory?: string;
  memorySwap?: string;
  memoryReservation?: string;
  cpus?: string;
  cpuShares?: string;
  cpusetCpus?: string;
  pidsLimit?: string;
}

/** What the host offers, for the checks that depend on it (default: this machine). */
export interface HostCpus {
  /** Number of CPUs available, for --cpus. */
  count: number;
}

/** Docker's smallest --memory and --memory-reservation: below it a container cannot even start. */
export const MIN_MEMORY_BYTES = 6 * 1024 * 1024;
/** The CFS period Docker uses for --cpus (100 ms). */
export const CPU_PERIOD_USEC = 100_000;
const MIN_CPU_SHARES = 2;
const MAX_CPU_SHARES = 262_144;

const FLAG_NAMES: Record<keyof ResourceFlags, string> = {
  memory: '--memory', memorySwap: '--memory-swap', memoryReservation: '--memory-reservation',
  cpus: '--cpus', cpuShares: '--cpu-shares', cpusetCpus: '--cpuset-cpus', pidsLimit: '--pids-limit',
};

/** True when any resource flag was given (then cgroup v2 is required). */
export function hasResourceFlags(flags: ResourceFlags): boolean {
  return (Object.keys(FLAG_NAMES) as (keyof ResourceFlags)[]).some((key) => flags[key] !== undefined);
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/**
 * `256m` → 268435456, as Docker's RAMInBytes: digits with an optional fraction, an optional unit
 * letter (powers of 1024), an optional `i` and `b`. Throws a UsageError naming the flag.
 */
export function parseMemorySize(text: string, flag = '--memory'): number {
  const match = /^(\d+(?:\.\d+)?) ?([kmgtpb])?i?b?$/i.exec(text.trim());
  if (!match || text.trim() === '') {
    throw new UsageError(`invalid ${flag} "${text}": expected a size such as 256m, 1g, 1024k or a number of bytes`);
  }
  const bytes = Math.floor(Number(match[1]) * (UNITS[(match[2] ?? '').toLowerCase()] ?? 1));
  if (!Number.isSafeInteger(bytes)) throw new UsageError(`invalid ${flag} "${text}": the size is too large`);
  return bytes;
}

function parseInteger(text: string, flag: string): number {
  if (!/^-?\d+$/.test(text.trim())) throw new UsageError(`invalid ${flag} "${text}": expected a whole number`);
  return Number(text.trim());
}

/** `0-2,4` → [0, 1, 2, 4], or a UsageError for anything that is not a CPU list. */
export function parseCpuList(text: string, flag = '--cpuset-cpus'): number[] {
  const cpus = new Set<number>();
  const trimmed = text.trim();
  if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(trimmed)) {
    throw new UsageError(`invalid ${flag} "${text}": expected a CPU list such as 0-3, 0,2 or 0-1,3`);
  }
  for (const part of trimmed.split(',')) {
    const [first = '', last = first] = part.split('-');
    const from = Number(first);
    const to = Number(last);
    if (to < from) throw new UsageError(`invalid ${flag} "${text}": the range ${part} runs backwards`);
    for (let cpu = from; cpu <= to; cpu += 1) cpus.add(cpu);
  }
  return [...cpus].sort((a, b) => a - b);
}

/**
 * Checks every resource flag and returns OCI `linux.resources`, or `undefined` when no flag was
 * given. Throws a UsageError (exit 125) with Docker's reasoning for the first bad flag.
 */
export function parseResourceFlags(flags: ResourceFlags, host: HostCpus): LinuxResources | undefined {
  if (!hasResourceFlags(flags)) return undefined;
  const resources: LinuxResources = {};

  const memory = flags.memory !== undefined ? parseMemorySize(flags.memory, '--memory') : undefined;
  if (memory !== undefined && memory < MIN_MEMORY_BYTES) {
    throw new UsageError(`invalid --memory "${flags.memory}": the minimum memory limit allowed is 6MB (${MIN_MEMORY_BYTES} bytes)`);
  }
  const reservation = flags.memoryReservation !== undefined ? parseMemorySize(flags.memoryReservation, '--memory-reservation') : undefined;
  if (reservation !== undefined && reservation < MIN_MEMORY_BYTES) {
    throw new UsageError(`invalid --memory-reservation "${flags.memoryReservation}": the minimum memory reservation allowed is 6MB`);
  }
  if (memory !== undefined && reservation !== undefined && reservation > memory) {
    throw new UsageError('--memory-reservation must be smaller than --memory: the limit can not be less than the reservation');
  }
  let swap: number | undefined;
  if (flags.memorySwap !== undefined) {
    swap = flags.memorySwap.trim() === '-1' ? -1 : parseMemorySize(flags.memorySwap, '--memory-swap');
    if (memory === undefined) throw new UsageError('--memory-swap needs --memory too: set the memory limit when limiting memory + swap');
    if (swap !== -1 && swap < memory) {
      throw new UsageError(`--memory-swap (memory + swap, ${flags.memorySwap}) must be at least --memory (${flags.memory}); use -1 for unlimited swap`);
    }
  } else if (memory !== undefined) {
    swap = memory * 2; // Docker's default: as much swap as memory.
  }
  if (memory !== undefined || reservation !== undefined) {
    resources.memory = {
      ...(memory !== undefined ? { limit: memory } : {}),
      ...(reservation !== undefined ? { reservation } : {}),
      ...(swap !== undefined ? { swap } : {}),
    };
  }

  const cpu: NonNullable<LinuxResources['cpu']> = {};
  if (flags.cpus !== undefined) {
    const count = host.count;
    const value = /^-?\d*\.?\d+$/.test(flags.cpus.trim()) ? Number(flags.cpus) : Number.NaN;
    if (Number.isNaN(value)) throw new UsageError(`invalid --cpus "${flags.cpus}": expected a number of CPUs such as 0.5 or 2`);
    const quota = Math.round(value * CPU_PERIOD_USEC);
    if (quota < 1000 || value > count) {
      throw new UsageError(`invalid --cpus "${flags.cpus}": range of CPUs is from 0.01 to ${count}.00, as there are only ${count} CPUs available`);
    }
    cpu.quota = quota;
    cpu.period = CPU_PERIOD_USEC;
  }
  if (flags.cpuShares !== undefined) {
    const shares = parseInteger(flags.cpuShares, '--cpu-shares');
    if (shares < 0) throw new UsageError(`invalid --cpu-shares "${flags.cpuShares}": shares must be a positive number (default 1024)`);
    // Docker clamps rather than refuses: 1 becomes 2, a million becomes 262144.
    if (shares > 0) cpu.shares = Math.min(MAX_CPU_SHARES, Math.max(MIN_CPU_SHARES, shares));
  }
  if (flags.cpusetCpus !== undefined) {
    const wanted = parseCpuList(flags.cpusetCpus);
    const missing = wanted.filter((n) => n >= host.count);
    if (missing.length > 0) {
      throw new UsageError(`invalid --cpuset-cpus "${flags.cpusetCpus}": requested CPUs are not available, available: 0-${host.count - 1}`);
    }
    cpu.cpus = flags.cpusetCpus.trim();
  }
  if (Object.keys(cpu).length > 0) resources.cpu = cpu;

  if (flags.pidsLimit !== undefined) {
    const limit = parseInteger(flags.pidsLimit, '--pids-limit');
    resources.pids = { limit: limit > 0 ? limit : -1 };
  }
  return resources;
}
