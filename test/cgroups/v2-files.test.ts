import { describe, expect, it } from 'vitest';
import { cgroupWritesFor, controllersFor, cpuSharesToWeight } from '../../src/cgroups/v2-files.js';
import { describeBytes } from '../../src/format.js';
import { parseResourceFlags } from '../../src/cgroups/limits.js';

const MiB = 1024 * 1024;
const filesOf = (flags: Parameters<typeof parseResourceFlags>[0]) =>
  Object.fromEntries(cgroupWritesFor(parseResourceFlags(flags, { count: 2 }) ?? {}).map((w) => [w.file, w.value]));

// Values from opencontainers/cgroups' own test of ConvertCPUSharesToCgroupV2Value (the old linear
// formula gave 1024 → 39 and 512 → 20: this table fails on it).
describe('cpu.shares → cpu.weight (runc ≥ 1.3.2 / crun ≥ 1.23 conversion)', () => {
  it.each([[2, 1], [1, 1], [1024, 100], [512, 59], [2048, 174], [262_144, 10_000], [300_000, 10_000], [0, 0]])('%d shares → weight %d', (shares, weight) => {
    expect(cpuSharesToWeight(shares)).toBe(weight);
  });
});

describe('Docker flags → cgroup v2 files', () => {
  it('--memory 256m writes memory.max and a swap allowance equal to memory', () => {
    expect(filesOf({ memory: '256m' })).toEqual({ 'memory.max': String(256 * MiB), 'memory.swap.max': String(256 * MiB) });
  });
  it('--memory-swap is a total: swap.max = swap − memory; -1 is max', () => {
    expect(filesOf({ memory: '64m', memorySwap: '100m' })['memory.swap.max']).toBe(String(36 * MiB));
    expect(filesOf({ memory: '64m', memorySwap: '64m' })['memory.swap.max']).toBe('0');
    expect(filesOf({ memory: '64m', memorySwap: '-1' })['memory.swap.max']).toBe('max');
  });
  it('--memory-reservation → memory.low', () => {
    expect(filesOf({ memoryReservation: '32m' })).toEqual({ 'memory.low': String(32 * MiB) });
  });
  it('--cpus 0.5 → cpu.max "50000 100000"', () => {
    expect(filesOf({ cpus: '0.5' })).toEqual({ 'cpu.max': '50000 100000' });
  });
  it('--cpu-shares 1024 (Docker\'s default) → cpu.weight 100 (the kernel\'s default); --cpuset-cpus → cpuset.cpus', () => {
    expect(filesOf({ cpuShares: '1024', cpusetCpus: '0' })).toEqual({ 'cpu.weight': '100', 'cpuset.cpus': '0' });
  });
  it('--pids-limit 20 → pids.max 20; 0 → max', () => {
    expect(filesOf({ pidsLimit: '20' })).toEqual({ 'pids.max': '20' });
    expect(filesOf({ pidsLimit: '0' })).toEqual({ 'pids.max': 'max' });
  });
  it('says in plain words what the kernel will do', () => {
    const [write] = cgroupWritesFor({ memory: { limit: 256 * MiB } });
    expect(write).toMatchObject({ file: 'memory.max', value: '268435456', meaning: 'the kernel will reclaim, then OOM-kill, beyond 256 MiB' });
    expect(cgroupWritesFor({ cpu: { quota: 50_000, period: 100_000 } })[0]?.meaning).toBe('at most 50 ms of CPU time every 100 ms (0.50 CPUs)');
  });
  it('names the controllers the parent must enable', () => {
    expect([...controllersFor({ memory: { limit: MiB * 10 }, pids: { limit: 5 }, cpu: { cpus: '0' } })].sort()).toEqual(['cpuset', 'memory', 'pids']);
  });
  it('refuses swap below memory like runc', () => {
    expect(() => cgroupWritesFor({ memory: { limit: 64 * MiB, swap: 32 * MiB } })).toThrow(/at least the memory limit/);
  });
  it('describes sizes in binary units', () => {
    expect(describeBytes(64 * MiB)).toBe('64 MiB');
    expect(describeBytes(1536 * MiB)).toBe('1.5 GiB');
  });
});
