/**
 * v2-files.ts — which cgroup v2 file each OCI resource becomes, with which value, and what the
 * kernel will do with it, in plain words.
 *
 * cgroup v2 is a file system: a cgroup is a directory, a limit is a file in it. The OCI spec
 * (and Docker) still speak cgroup v1's language, so a runtime converts, as runc and crun do:
 *   memory.limit        → memory.max        bytes, or "max"
 *   memory.swap (total) → memory.swap.max   swap only: total − memory ("max" for -1)
 *   memory.reservation  → memory.low        protection from reclaim — see below
 *   cpu.quota/period    → cpu.max           "50000 100000" = 50 ms every 100 ms = half a CPU
 *   cpu.shares (2…262144) → cpu.weight (1…10000)   see cpuSharesToWeight: 1024 → 100
 *   cpu.cpus            → cpuset.cpus
 *   cpu.mems            → cpuset.mems       memory (NUMA) nodes it may allocate from
 *   pids.limit          → pids.max          "max" when ≤ 0
 * (See the kernel's Documentation/admin-guide/cgroup-v2.rst for each file.)
 *
 * memory.low is weaker than it looks: a cgroup's *effective* protection is capped by its
 * parent's, all the way up. minibox's parent cgroup (/sys/fs/cgroup/minibox) keeps memory.low
 * at 0, so `--memory-reservation` is written (and shown by `inspect`) but protects nothing yet —
 * like Docker on a cgroup v2 host whose slice has no memory.low of its own.
 *
 * Try (cgroup v2): `minibox run --rm --cpu-shares 1024 busybox cat /sys/fs/cgroup/cpu.weight` → `100`
 * (in the cgroup v2 VM, docs/vm.md; the container's cgroup namespace makes its cgroup `/`).
 *
 * Pure: nothing is written here; cgroup.ts writes what `cgroupWritesFor` returns.
 */
import { describeBytes } from '../format.js';
import type { LinuxResources } from './limits.js';

/** One write: `value` into the file `file` of a cgroup directory, and why. */
export interface CgroupWrite {
  file: string;
  value: string;
  /** What the kernel will do, for `--explain` ("the kernel will reclaim, then OOM-kill, beyond 256 MiB"). */
  meaning: string;
  /** The controller that must be enabled in the parent for the file to exist. */
  controller: 'memory' | 'cpu' | 'cpuset' | 'pids';
}

/**
 * cgroup v1 cpu.shares (2…262144, default 1024) → cgroup v2 cpu.weight (1…10000, default 100),
 * as runc ≥ 1.3.2 and crun ≥ 1.23 convert it: opencontainers/cgroups utils.go
 * ConvertCPUSharesToCgroupV2Value (opencontainers/cgroups#20, crun#1767). A quadratic in
 * log2(shares), fitted so that the minimum, the default and the maximum map onto each other:
 * 2 → 1, 1024 → 100, 262144 → 10000. The older linear formula, 1 + ((shares − 2) × 9999) / 262142,
 * turned Docker's default 1024 into 39 — less than half of an unconfigured cgroup's share
 * (runc#4772, kubernetes#131216).
 */
export function cpuSharesToWeight(shares: number): number {
  if (shares <= 0) return 0; // unset
  if (shares <= 2) return 1;
  if (shares >= 262_144) return 10_000;
  const l = Math.log2(shares);
  return Math.ceil(10 ** ((l * l + 125 * l) / 612 - 7 / 34));
}

/**
 * The writes that apply `resources` to a cgroup, in a safe order (cpuset before tasks run on
 * other CPUs, memory.max before swap). Throws for combinations runc also refuses.
 */
export function cgroupWritesFor(resources: LinuxResources): CgroupWrite[] {
  const writes: CgroupWrite[] = [];
  const { memory, cpu, pids } = resources;

  if (cpu?.cpus !== undefined) {
    writes.push({ file: 'cpuset.cpus', value: cpu.cpus, controller: 'cpuset', meaning: `its processes may run only on CPUs ${cpu.cpus}` });
  }
  if (cpu?.mems !== undefined && cpu.mems !== '') {
    writes.push({ file: 'cpuset.mems', value: cpu.mems, controller: 'cpuset', meaning: `its processes may allocate memory only on NUMA nodes ${cpu.mems}` });
  }
  if (memory?.limit !== undefined) {
    writes.push(memory.limit > 0
      ? { file: 'memory.max', value: String(memory.limit), controller: 'memory', meaning: `the kernel will reclaim, then OOM-kill, beyond ${describeBytes(memory.limit)}` }
      : { file: 'memory.max', value: 'max', controller: 'memory', meaning: 'no memory limit' });
  }
  if (memory?.swap !== undefined && memory.swap !== 0) {
    const limit = memory.limit ?? 0;
    if (memory.swap === -1) {
      writes.push({ file: 'memory.swap.max', value: 'max', controller: 'memory', meaning: 'it may use as much swap as the machine has' });
    } else {
      if (limit <= 0) throw new Error('a swap limit needs a memory limit (memory.swap without memory.limit)');
      if (memory.swap < limit) throw new Error('memory+swap limit must be at least the memory limit');
      const swap = memory.swap - limit;
      writes.push({ file: 'memory.swap.max', value: String(swap), controller: 'memory', meaning: swap === 0 ? 'it may not swap at all' : `it may push at most ${describeBytes(swap)} out to swap` });
    }
  }
  if (memory?.reservation !== undefined) {
    writes.push({ file: 'memory.low', value: String(memory.reservation), controller: 'memory', meaning: `protect ${describeBytes(memory.reservation)} from reclaim — only as far as the parent cgroup's memory.low allows, and minibox's is 0, so for now this protects nothing` });
  }
  if (cpu?.quota !== undefined || cpu?.period !== undefined) {
    const period = cpu.period ?? 100_000;
    const quota = cpu.quota !== undefined && cpu.quota > 0 ? String(cpu.quota) : 'max';
    writes.push({
      file: 'cpu.max', value: `${quota} ${period}`, controller: 'cpu',
      meaning: quota === 'max' ? 'no CPU time limit'
        : `at most ${Number(cpu.quota) / 1000} ms of CPU time every ${period / 1000} ms (${(Number(cpu.quota) / period).toFixed(2)} CPUs)`,
    });
  }
  if (cpu?.shares !== undefined && cpu.shares > 0) {
    const weight = cpuSharesToWeight(cpu.shares);
    writes.push({ file: 'cpu.weight', value: String(weight), controller: 'cpu', meaning: `when CPUs are contended it gets time in proportion to weight ${weight} (the default is 100)` });
  }
  if (pids !== undefined) {
    writes.push(pids.limit > 0
      ? { file: 'pids.max', value: String(pids.limit), controller: 'pids', meaning: `fork() and clone() fail once ${pids.limit} processes and threads exist in it` }
      : { file: 'pids.max', value: 'max', controller: 'pids', meaning: 'no limit on the number of processes' });
  }
  return writes;
}

/** The controllers `resources` need enabled in the parent's cgroup.subtree_control. */
export function controllersFor(resources: LinuxResources): Set<CgroupWrite['controller']> {
  return new Set(cgroupWritesFor(resources).map((write) => write.controller));
}
