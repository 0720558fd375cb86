/**
 * Runs INSIDE the test VM (npm run test:vm): a real cgroup v2 tree at /sys/fs/cgroup with every
 * controller. Each test makes a container cgroup with the library, puts a real process in it,
 * and checks what the kernel did.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  addProcess, cgroupMode, createContainerCgroup, parseKeyedFile, parseResourceFlags, readCgroupStats,
  removeContainerCgroup, updateContainerCgroup, type ContainerCgroup, type ResourceFlags,
} from '../../src/cgroups/index.js';
import { onSysEvent, type SysEvent } from '../../src/sys/trace.js';

const host = { count: 2 };
const made: ContainerCgroup[] = [];
const started: ChildProcess[] = [];

function limits(flags: ResourceFlags) {
  return parseResourceFlags(flags, host) ?? {};
}

function cgroupFor(name: string, flags: ResourceFlags): ContainerCgroup {
  const cgroup = createContainerCgroup(`vmtest-${name}-${process.pid}`, limits(flags));
  made.push(cgroup);
  return cgroup;
}

/** A shell that waits for one line on stdin before running `script`: it can be moved into a cgroup first. */
function gatedShell(script: string): { child: ChildProcess; release: () => void; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> } {
  const child = spawn('/bin/sh', ['-c', `read go; ${script}`], { stdio: ['pipe', 'ignore', 'pipe'] });
  started.push(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  return { child, release: () => child.stdin?.write('go\n'), exited };
}

function read(cgroup: ContainerCgroup, file: string): string {
  return fs.readFileSync(`${cgroup.path}/${file}`, 'utf8').trim();
}

async function until(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(50);
  }
}

beforeAll(() => {
  expect(cgroupMode(), 'the VM mounts cgroup2 at /sys/fs/cgroup').toBe('unified');
});

afterEach(async () => {
  for (const cgroup of made.splice(0)) await removeContainerCgroup(cgroup);
  for (const child of started.splice(0)) {
    if (child.exitCode === null && child.signalCode === null && child.pid) {
      try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }
});

describe('a container cgroup with limits', () => {
  it('lives under /sys/fs/cgroup/minibox/<id> with the limits in its files', () => {
    const cgroup = cgroupFor('files', { memory: '64m', memorySwap: '96m', memoryReservation: '32m', cpus: '0.5', cpuShares: '512', cpusetCpus: '0', pidsLimit: '20' });
    expect(cgroup.path).toBe(`/sys/fs/cgroup/minibox/vmtest-files-${process.pid}`);
    expect(read(cgroup, 'memory.max')).toBe(String(64 * 1024 * 1024));
    expect(read(cgroup, 'memory.low')).toBe(String(32 * 1024 * 1024));
    if (fs.existsSync(`${cgroup.path}/memory.swap.max`)) expect(read(cgroup, 'memory.swap.max')).toBe(String(32 * 1024 * 1024));
    expect(read(cgroup, 'cpu.max')).toBe('50000 100000');
    expect(read(cgroup, 'cpu.weight')).toBe('59'); // 512 shares, runc ≥ 1.3.2's conversion
    expect(read(cgroup, 'cpuset.cpus')).toBe('0');
    expect(read(cgroup, 'pids.max')).toBe('20');
    expect(fs.readFileSync('/sys/fs/cgroup/minibox/cgroup.subtree_control', 'utf8')).toMatch(/memory/);
  });

  it('changes its limits while a process runs in it (update)', async () => {
    const cgroup = cgroupFor('update', { memory: '64m', cpus: '1', pidsLimit: '10' });
    const { child, release, exited } = gatedShell('sleep 600');
    addProcess(cgroup, child.pid!);
    release();
    updateContainerCgroup(cgroup, limits({ memory: '128m', cpus: '0.25', pidsLimit: '30' }));
    expect(read(cgroup, 'memory.max')).toBe(String(128 * 1024 * 1024));
    expect(read(cgroup, 'cpu.max')).toBe('25000 100000');
    expect(read(cgroup, 'pids.max')).toBe('30');
    expect(readCgroupStats(cgroup)).toMatchObject({ memoryMax: 128 * 1024 * 1024, pidsMax: 30 });
    await removeContainerCgroup(cgroup);
    expect((await exited).signal).toBe('SIGKILL');
  });

  it('narrates every file write for --explain', () => {
    const events: SysEvent[] = [];
    const stop = onSysEvent((event) => events.push(event));
    try {
      cgroupFor('explain', { memory: '256m' });
    } finally {
      stop();
    }
    const write = events.find((event) => event.call === 'cgroup.write' && String(event.args.file).endsWith('/memory.max'));
    expect(write?.args).toMatchObject({ value: '268435456', meaning: 'the kernel will reclaim, then OOM-kill, beyond 256 MiB' });
  });

  it('is gone after removal, with its processes killed', async () => {
    const cgroup = cgroupFor('remove', { pidsLimit: '50' });
    const { child, release, exited } = gatedShell('sleep 600 & sleep 600 & wait');
    addProcess(cgroup, child.pid!);
    release();
    await until(() => (readCgroupStats(cgroup).pidsCurrent ?? 0) >= 3, 'three processes in the cgroup');
    await removeContainerCgroup(cgroup);
    expect(fs.existsSync(cgroup.path)).toBe(false);
    expect((await exited).signal).toBe('SIGKILL');
  });
});

describe('the kernel enforces the limits', () => {
  it('OOM-kills a memory hog at --memory 64m and counts it in memory.events', async () => {
    const cgroup = cgroupFor('oom', { memory: '64m', memorySwap: '64m' });
    // dd's 200 MiB buffer is really allocated: read() from /dev/zero touches every page.
    const { child, release, exited } = gatedShell('exec dd if=/dev/zero of=/dev/null bs=200M count=1');
    addProcess(cgroup, child.pid!);
    release();
    const { signal } = await exited;
    expect(signal).toBe('SIGKILL');
    expect(readCgroupStats(cgroup).oomKills).toBe(1);
    expect(parseKeyedFile(read(cgroup, 'memory.events')).get('oom_kill')).toBe(1);
  });

  it('stops a fork loop at --pids-limit 20', async () => {
    const cgroup = cgroupFor('pids', { pidsLimit: '20' });
    const { child, release } = gatedShell('i=0; while [ $i -lt 60 ]; do sleep 600 & i=$((i+1)); done; sleep 600');
    addProcess(cgroup, child.pid!);
    release();
    // pids.events counts the forks the limit refused.
    await until(() => (parseKeyedFile(read(cgroup, 'pids.events')).get('max') ?? 0) > 0, 'a refused fork');
    const stats = readCgroupStats(cgroup);
    expect(stats.pidsMax).toBe(20);
    expect(stats.pidsCurrent).toBeLessThanOrEqual(20);
    await removeContainerCgroup(cgroup);
    expect(fs.existsSync(cgroup.path)).toBe(false);
  });

  // Counters, not throughput: under TCG emulation a share of CPU over wall time is a bound that
  // can miss either way; the kernel's own count of throttled periods cannot.
  it('throttles a busy loop at --cpus 0.5: cpu.stat counts throttled periods', async () => {
    const cgroup = cgroupFor('cpu', { cpus: '0.5' });
    const { child, release } = gatedShell('while :; do :; done');
    addProcess(cgroup, child.pid!);
    release();
    const stat = () => parseKeyedFile(read(cgroup, 'cpu.stat'));
    await until(() => (stat().get('nr_throttled') ?? 0) >= 3, 'three throttled periods');
    const counters = stat();
    expect(counters.get('throttled_usec')).toBeGreaterThan(0);
    expect(counters.get('nr_throttled')).toBeLessThanOrEqual(counters.get('nr_periods')!);
  });
});
