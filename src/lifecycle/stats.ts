/**
 * stats.ts — `minibox stats`: what each running container uses, read from its cgroup v2 files.
 *
 *   CPU %              cpu.stat usage_usec grows by the CPU time the cgroup's processes used;
 *                      two samples: Δusage / Δwall-clock × 100 (100 % = one whole CPU, as Docker)
 *   MEM USAGE / LIMIT  memory.current minus the page cache the kernel can drop at once
 *                      (memory.stat inactive_file, as Docker subtracts it) / memory.max, or the
 *                      machine's memory when it says "max"
 *   PIDS               pids.current: processes *and* threads
 * NET I/O and BLOCK I/O are not measured yet and show `--`.
 *
 * There is no daemon: each sample is a plain read of files the kernel keeps up to date.
 *
 * Try (cgroup v2): `minibox run -d --name web busybox sleep 60 >/dev/null && minibox stats
 * --no-stream --format '{{.Name}} {{.PIDs}}' web` → `web 1`
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MiniboxError, NoSuchContainerError } from '../errors.js';
import type { StateRoot } from '../state-root.js';
import { formatBinaryBytes } from '../format.js';
import { cgroupMode, describeCgroupMode, parseKeyedFile, readCgroupStats } from '../cgroups/index.js';
import { cgroupOf } from './hooks/cgroup-hooks.js';
import type { ContainerRecord } from '../container/container-store.js';
import { ContainerStore } from '../container/container-store.js';
import { reconcileAll, reconcileContainer } from '../container/reconcile.js';

/** One container's counters at one moment. */
export interface StatsSample {
  record: ContainerRecord;
  /** Wall-clock time of the sample, microseconds. */
  atUsec: number;
  cpuUsageUsec: number;
  memoryUsage: number;
  memoryLimit: number;
  pids: number;
}

/** One row of `minibox stats`, with Docker's `--format json` field names. */
export interface StatsRow {
  ID: string;
  Container: string;
  Name: string;
  CPUPerc: string;
  MemUsage: string;
  MemPerc: string;
  NetIO: string;
  BlockIO: string;
  PIDs: string;
}

export const STATS_HEADER = ['CONTAINER ID', 'NAME', 'CPU %', 'MEM USAGE / LIMIT', 'MEM %', 'NET I/O', 'BLOCK I/O', 'PIDS'];

/** stats reads cgroup v2 files: on another layout it says so, like `run --memory`. */
export function assertStatsSupported(command = '`minibox stats`'): void {
  const mode = cgroupMode();
  if (mode === 'unified') return;
  throw new MiniboxError(`${command} reads cgroup v2 files, but this host's cgroups are ${describeCgroupMode(mode)}; `
    + 'run `minibox doctor` for details, or use the Vagrant VM (see README)');
}

/** Reads a running container's cgroup now; a stopped one counts as all zero. */
export function sampleContainer(record: ContainerRecord): StatsSample {
  const sample: StatsSample = { record, atUsec: Date.now() * 1000, cpuUsageUsec: 0, memoryUsage: 0, memoryLimit: 0, pids: 0 };
  const cgroup = cgroupOf(record);
  if (!record.State.Running || !fs.existsSync(cgroup.path)) return sample;
  const stats = readCgroupStats(cgroup);
  let inactiveFile = 0;
  try {
    inactiveFile = parseKeyedFile(fs.readFileSync(path.join(cgroup.path, 'memory.stat'), 'utf8')).get('inactive_file') ?? 0;
  } catch { /* no memory controller */ }
  const current = stats.memoryCurrent ?? 0;
  return {
    ...sample,
    cpuUsageUsec: stats.cpuUsageUsec,
    memoryUsage: current > inactiveFile ? current - inactiveFile : current,
    memoryLimit: stats.memoryMax ?? os.totalmem(),
    pids: stats.pidsCurrent ?? 0,
  };
}

/** A table row from two samples of the same container (`before` may be missing: CPU 0 %). */
export function statsRow(after: StatsSample, before?: StatsSample): StatsRow {
  const wall = before ? after.atUsec - before.atUsec : 0;
  const cpu = before && wall > 0 ? Math.max(0, ((after.cpuUsageUsec - before.cpuUsageUsec) / wall) * 100) : 0;
  const memPercent = after.memoryLimit > 0 ? (after.memoryUsage / after.memoryLimit) * 100 : 0;
  return {
    ID: after.record.Id.slice(0, 12),
    Container: after.record.Id.slice(0, 12),
    Name: after.record.Name.replace(/^\//, ''),
    CPUPerc: `${cpu.toFixed(2)}%`,
    MemUsage: `${formatBinaryBytes(after.memoryUsage)} / ${formatBinaryBytes(after.memoryLimit)}`,
    MemPerc: `${memPercent.toFixed(2)}%`,
    NetIO: '--',
    BlockIO: '--',
    PIDs: String(after.pids),
  };
}

export function statsCells(row: StatsRow): string[] {
  return [row.ID, row.Name, row.CPUPerc, row.MemUsage, row.MemPerc, row.NetIO, row.BlockIO, row.PIDs];
}

/**
 * The containers to show: the named ones (in order, running or not), or every running one.
 * Reconciles first, so a container that exited meanwhile is not shown as running.
 */
export async function statsTargets(root: StateRoot, names: string[]): Promise<ContainerRecord[]> {
  if (names.length === 0) return (await reconcileAll(root)).filter((record) => record.State.Running);
  const store = new ContainerStore(root);
  const records: ContainerRecord[] = [];
  for (const name of names) {
    const found = store.resolve(name);
    const record = found ? await reconcileContainer(root, found.Id) : undefined;
    if (!record) throw new NoSuchContainerError(name);
    records.push(record);
  }
  return records;
}
