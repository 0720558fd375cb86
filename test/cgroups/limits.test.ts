import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { parseCpuList, parseMemorySize, parseResourceFlags, type ResourceFlags } from '../../src/cgroups/limits.js';

const host = { count: 2 };
const MiB = 1024 * 1024;

describe('memory sizes as Docker parses them', () => {
  it.each([
    ['256m', 256 * MiB], ['256M', 256 * MiB], ['256mb', 256 * MiB], ['256MiB', 256 * MiB],
    ['1g', 1024 * MiB], ['1.5g', 1536 * MiB], ['1024k', MiB], ['7340032', 7 * MiB], ['100b', 100],
  ])('%s is %d bytes', (text, bytes) => {
    expect(parseMemorySize(text)).toBe(bytes);
  });

  it.each(['1x', '', 'm', '-5m', '12 34', '0x10'])('%j is refused in one line', (text) => {
    expect(() => parseMemorySize(text)).toThrow(UsageError);
    expect(() => parseMemorySize(text)).toThrow(/^invalid --memory ".*": expected a size such as 256m/);
  });
});

describe('CPU lists', () => {
  it.each([['0', [0]], ['0-3', [0, 1, 2, 3]], ['1,3', [1, 3]], ['0-1,3', [0, 1, 3]], ['2,0-1', [0, 1, 2]]])('%s → %j', (text, cpus) => {
    expect(parseCpuList(text)).toEqual(cpus);
  });
  it.each(['', 'a', '1-', '-1', '3-1', '0,,1', '0-1-2'])('%j is refused', (text) => {
    expect(() => parseCpuList(text)).toThrow(/--cpuset-cpus/);
  });
});

describe('resource flags → OCI linux.resources', () => {
  const ok: [string, ResourceFlags, unknown][] = [
    ['no flags: nothing', {}, undefined],
    ['--memory alone gets as much swap as memory (Docker default)', { memory: '64m' }, { memory: { limit: 64 * MiB, swap: 128 * MiB } }],
    ['--memory-swap total', { memory: '64m', memorySwap: '100m' }, { memory: { limit: 64 * MiB, swap: 100 * MiB } }],
    ['--memory-swap -1 is unlimited', { memory: '64m', memorySwap: '-1' }, { memory: { limit: 64 * MiB, swap: -1 } }],
    ['--memory-swap equal to --memory: no swap', { memory: '64m', memorySwap: '64m' }, { memory: { limit: 64 * MiB, swap: 64 * MiB } }],
    ['--memory-reservation', { memoryReservation: '32m' }, { memory: { reservation: 32 * MiB } }],
    ['--cpus 0.5', { cpus: '0.5' }, { cpu: { quota: 50_000, period: 100_000 } }],
    ['--cpus 2 on 2 CPUs', { cpus: '2' }, { cpu: { quota: 200_000, period: 100_000 } }],
    ['--cpus 0.01 is the smallest', { cpus: '0.01' }, { cpu: { quota: 1000, period: 100_000 } }],
    ['--cpu-shares 512', { cpuShares: '512' }, { cpu: { shares: 512 } }],
    ['--cpu-shares 1 is raised to 2', { cpuShares: '1' }, { cpu: { shares: 2 } }],
    ['--cpu-shares above the maximum is lowered', { cpuShares: '1000000' }, { cpu: { shares: 262_144 } }],
    ['--cpuset-cpus', { cpusetCpus: '0-1' }, { cpu: { cpus: '0-1' } }],
    ['--pids-limit 20', { pidsLimit: '20' }, { pids: { limit: 20 } }],
    ['--pids-limit 0 is unlimited', { pidsLimit: '0' }, { pids: { limit: -1 } }],
    ['--pids-limit -1 is unlimited', { pidsLimit: '-1' }, { pids: { limit: -1 } }],
  ];
  it.each(ok)('%s', (_name, flags, resources) => {
    expect(parseResourceFlags(flags, host)).toEqual(resources);
  });

  const bad: [ResourceFlags, RegExp][] = [
    [{ memory: '1x' }, /^invalid --memory "1x": expected a size/],
    [{ memory: '4m' }, /^invalid --memory "4m": the minimum memory limit allowed is 6MB/],
    [{ memoryReservation: '1m' }, /minimum memory reservation allowed is 6MB/],
    [{ memory: '64m', memoryReservation: '128m' }, /--memory-reservation must be smaller than --memory/],
    [{ memorySwap: '128m' }, /--memory-swap needs --memory too/],
    [{ memory: '64m', memorySwap: '32m' }, /--memory-swap .* must be at least --memory/],
    [{ cpus: '0' }, /^invalid --cpus "0": range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available$/],
    [{ cpus: '-1' }, /range of CPUs is from 0.01 to 2.00/],
    [{ cpus: '3' }, /range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available/],
    [{ cpus: 'half' }, /^invalid --cpus "half": expected a number/],
    [{ cpuShares: '-5' }, /--cpu-shares/],
    [{ cpuShares: '1.5' }, /^invalid --cpu-shares "1.5": expected a whole number/],
    [{ cpusetCpus: '0-7' }, /requested CPUs are not available, available: 0-1/],
    [{ cpusetCpus: 'x' }, /^invalid --cpuset-cpus "x"/],
    [{ pidsLimit: 'many' }, /^invalid --pids-limit "many"/],
  ];
  it.each(bad)('%j is refused with exit 125 and one line', (flags, message) => {
    let caught: unknown;
    try {
      parseResourceFlags(flags, host);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(UsageError);
    expect((caught as UsageError).exitCode).toBe(125);
    expect((caught as Error).message).toMatch(message);
    expect((caught as Error).message).not.toContain('\n');
  });
});
