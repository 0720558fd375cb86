/**
 * stats-route.ts — `GET /containers/{id}/stats`: what `docker stats` reads, from the same samples
 * as `minibox stats` (lifecycle/stats.ts: the container's cgroup v2 files).
 *
 * The docker CLI computes the columns itself from dockerd's raw counters (moby types.StatsJSON):
 *   CPU %     (cpu_stats.cpu_usage.total_usage − precpu_stats…) / (system_cpu_usage − precpu…)
 *             × online_cpus × 100 — the container's CPU time (cgroup cpu.stat usage_usec, in ns)
 *             over the whole machine's (/proc/stat's first line, jiffies → ns), two samples apart;
 *   MEM       memory_stats.usage (memory.current less the droppable page cache, as minibox stats
 *             shows it) / memory_stats.limit (memory.max, or the machine's memory);
 *   PIDS      pids_stats.current (pids.current);
 *   NET I/O   networks.<interface>.rx_bytes / tx_bytes — /proc/<init pid>/net/dev, which the
 *             kernel answers for the network namespace of that process: the container's;
 *   BLOCK I/O not measured (an empty list: the CLI shows 0B / 0B).
 * `stream=false` answers once: two samples a second apart, as dockerd does (`one-shot=true`:
 * one sample, no CPU %). Otherwise one JSON object a second, until the client leaves or the
 * container stops. A host without cgroup v2 (this project's hybrid machines) has no such files:
 * the answer is `minibox stats`' own refusal (500), so `docker stats` says why instead of zeros.
 *
 * Try (cgroup v2): `docker -H unix:///tmp/mb.sock run -d --name web busybox sleep 60 >/dev/null &&
 * docker -H unix:///tmp/mb.sock stats --no-stream --format '{{.Name}} {{.PIDs}}' web` → `web 1`
 */
import fs from 'node:fs';
import os from 'node:os';
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeError } from '../errors.js';
import { findContainer, type ContainerRecord } from '../container/container-store.js';
import { reconcileContainer } from '../container/reconcile.js';
import { assertStatsSupported, sampleContainer, type StatsSample } from '../lifecycle/stats.js';
import { ApiError } from './api-errors.js';
import { queryFlag, type ApiRequest } from './request.js';

/** dockerd's collection interval: a sample a second. */
const SAMPLE_INTERVAL_MS = 1000;
/** USER_HZ: /proc/stat counts in these (100 on every Linux architecture minibox runs on). */
const CLOCK_TICKS_PER_SECOND = 100;

/** The whole machine's CPU time so far, in ns: the first line of /proc/stat. */
export function systemCpuNanoseconds(stat = fs.readFileSync('/proc/stat', 'utf8')): number {
  const fields = stat.split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number); // user … steal
  return (fields.reduce((sum, value) => sum + value, 0) * 1e9) / CLOCK_TICKS_PER_SECOND;
}

/** `/proc/<pid>/net/dev` → Docker's networks map (the loopback left out, as dockerd does). */
export function networkCounters(netDev: string): Record<string, Record<string, number>> {
  const networks: Record<string, Record<string, number>> = {};
  for (const line of netDev.split('\n').slice(2)) {
    const match = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!match || match[1] === 'lo') continue;
    const v = match[2]!.trim().split(/\s+/).map(Number);
    networks[match[1]!] = {
      rx_bytes: v[0]!, rx_packets: v[1]!, rx_errors: v[2]!, rx_dropped: v[3]!,
      tx_bytes: v[8]!, tx_packets: v[9]!, tx_errors: v[10]!, tx_dropped: v[11]!,
    };
  }
  return networks;
}

interface Sample { stats: StatsSample; systemNs: number; networks: Record<string, Record<string, number>> }

function takeSample(record: ContainerRecord): Sample {
  let networks: Record<string, Record<string, number>> = {};
  if (record.State.Running && record.State.Pid > 0) {
    try { networks = networkCounters(fs.readFileSync(`/proc/${record.State.Pid}/net/dev`, 'utf8')); } catch { /* it just exited */ }
  }
  return { stats: sampleContainer(record), systemNs: systemCpuNanoseconds(), networks };
}

function cpuStats(sample: Sample | undefined): Record<string, unknown> {
  const totalNs = (sample?.stats.cpuUsageUsec ?? 0) * 1000;
  return {
    cpu_usage: { total_usage: totalNs, usage_in_kernelmode: 0, usage_in_usermode: 0 },
    ...(sample ? { system_cpu_usage: sample.systemNs } : {}),
    online_cpus: sample ? os.cpus().length : 0,
    throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
  };
}

/** One stats object as dockerd sends it (the fields the docker CLI reads, and their neighbours). */
function statsJson(record: ContainerRecord, now: Sample, before: Sample | undefined): Record<string, unknown> {
  return {
    read: new Date(now.stats.atUsec / 1000).toISOString(),
    preread: before ? new Date(before.stats.atUsec / 1000).toISOString() : '0001-01-01T00:00:00Z',
    id: record.Id,
    name: record.Name,
    num_procs: 0,
    pids_stats: { current: now.stats.pids },
    cpu_stats: cpuStats(now),
    precpu_stats: cpuStats(before),
    memory_stats: record.State.Running ? { usage: now.stats.memoryUsage, limit: now.stats.memoryLimit, stats: {} } : {},
    blkio_stats: { io_service_bytes_recursive: [] },
    storage_stats: {},
    networks: now.networks,
  };
}

export async function containerStatsRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const { root } = api.daemon;
  const id = findContainer(root, api.params[0]!).Id;
  try {
    assertStatsSupported('`docker stats` through minibox serve');
  } catch (error) {
    throw new ApiError(500, describeError(error));
  }
  const stream = api.query.get('stream') === null || queryFlag(api.query, 'stream');
  const oneShot = !stream && queryFlag(api.query, 'one-shot');
  let gone = false;
  res.once('close', () => { gone = true; });
  let record = await reconcileContainer(root, id);
  let before: Sample | undefined;
  if (record && !oneShot) {
    before = takeSample(record);
    if (record.State.Running) await sleep(SAMPLE_INTERVAL_MS);
  }
  res.writeHead(200, { 'Content-Type': 'application/json' });
  while (record && !gone) {
    const now = takeSample(record);
    res.write(`${JSON.stringify(statsJson(record, now, before))}\n`);
    if (!stream || !record.State.Running) break;
    before = now;
    await sleep(SAMPLE_INTERVAL_MS);
    record = await reconcileContainer(root, id);
  }
  res.end();
}
