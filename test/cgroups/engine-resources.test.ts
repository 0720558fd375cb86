/**
 * The pure parts of wiring limits into the engine: Docker's HostConfig fields from OCI resources,
 * `update` merging, the stats arithmetic and format, and the --explain sentences for cgroup steps.
 */
import { describe, expect, it } from 'vitest';
import { parseResourceFlags } from '../../src/cgroups/index.js';
import { hostConfigLimits, mergeResources } from '../../src/lifecycle/resources.js';
import { formatBinaryBytes } from '../../src/format.js';
import { statsRow, type StatsSample } from '../../src/lifecycle/stats.js';
import type { ContainerRecord } from '../../src/container/container-store.js';
import { describeEvent } from '../../src/explain/narrate.js';
import type { SysEvent } from '../../src/sys/trace.js';

const host = { count: 2 };

describe('HostConfig limits', () => {
  it('records limits in Docker units', () => {
    const resources = parseResourceFlags({ memory: '256m', cpus: '0.5', pidsLimit: '20', cpuShares: '512', cpusetCpus: '0' }, host);
    expect(hostConfigLimits(resources)).toEqual({
      Memory: 268435456, MemorySwap: 536870912, NanoCpus: 500_000_000, CpuShares: 512, CpusetCpus: '0', PidsLimit: 20,
    });
    expect(hostConfigLimits(undefined)).toEqual({});
  });

  it('an update replaces only the limits it names', () => {
    const current = parseResourceFlags({ memory: '64m', pidsLimit: '10', cpus: '1' }, host) ?? {};
    const merged = mergeResources(current, parseResourceFlags({ memory: '128m' }, host) ?? {});
    expect(merged.memory?.limit).toBe(128 * 1024 * 1024);
    expect(merged.pids).toEqual({ limit: 10 });
    expect(merged.cpu).toEqual({ quota: 100_000, period: 100_000 });
  });
});

describe('stats', () => {
  const record = { Id: 'a'.repeat(64), Name: '/web' } as ContainerRecord;
  const sample = (atUsec: number, cpuUsageUsec: number): StatsSample => ({
    record, atUsec, cpuUsageUsec, memoryUsage: 16 * 1024 * 1024, memoryLimit: 64 * 1024 * 1024, pids: 3,
  });

  it('formats sizes as Docker does', () => {
    expect(formatBinaryBytes(0)).toBe('0B');
    expect(formatBinaryBytes(64 * 1024 * 1024)).toBe('64MiB');
    expect(formatBinaryBytes(2_048_000)).toBe('1.953MiB');
  });

  it('CPU % is CPU time over wall time between two samples; 100 % = one CPU', () => {
    const row = statsRow(sample(2_000_000, 1_500_000), sample(1_000_000, 1_000_000));
    expect(row).toEqual({
      ID: 'aaaaaaaaaaaa', Container: 'aaaaaaaaaaaa', Name: 'web', CPUPerc: '50.00%', MemUsage: '16MiB / 64MiB', MemPerc: '25.00%',
      NetIO: '--', BlockIO: '--', PIDs: '3',
    });
    expect(statsRow(sample(1, 5)).CPUPerc).toBe('0.00%');
  });
});

describe('--explain for cgroup steps', () => {
  const step = (call: string, args: Record<string, unknown>): SysEvent => ({ kind: 'step', call, args, result: 0, ms: 0, pid: 1, time: 0 });

  it('narrates a limit write with what the kernel will do', () => {
    expect(describeEvent(step('cgroup.write', {
      file: '/sys/fs/cgroup/minibox/abc/memory.max', value: '268435456', meaning: 'the kernel will reclaim, then OOM-kill, beyond 256 MiB',
    }))).toBe('write 268435456 to memory.max: the kernel will reclaim, then OOM-kill, beyond 256 MiB');
  });

  it('narrates creating and removing the cgroup', () => {
    expect(describeEvent(step('cgroup.create', { dir: '/sys/fs/cgroup/minibox/abc', meaning: 'the cgroup of container abc' })))
      .toMatch(/^mkdir \/sys\/fs\/cgroup\/minibox\/abc: the cgroup of container abc/);
    expect(describeEvent(step('cgroup.remove', { dir: '/sys/fs/cgroup/minibox/abc', meaning: 'remove the cgroup of container abc' })))
      .toMatch(/^rmdir \/sys\/fs\/cgroup\/minibox\/abc: remove the cgroup/);
  });
});
