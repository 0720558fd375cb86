/**
 * Runs INSIDE the test VM: the `minibox` command on a cgroup v2 machine, with the busybox image
 * that build-initramfs.sh put in /minibox-store (the VM has no network to pull from).
 * Limits are checked where the kernel keeps them: the container's cgroup files, seen from the VM.
 * Containers run with `--network host`: these tests are about cgroups, and the VM has no iproute2,
 * iptables or nsenter for the bridge and none networks yet.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MINIBOX_CGROUP_PARENT, parseKeyedFile } from '../../src/cgroups/index.js';
import { until, withStoreCopy } from './vm-helpers.js';

const vm = withStoreCopy('mb-vm-root-');
const minibox = vm.minibox;

const containerCgroups = () => (fs.existsSync(`/sys/fs/cgroup/${MINIBOX_CGROUP_PARENT}`)
  ? fs.readdirSync(`/sys/fs/cgroup/${MINIBOX_CGROUP_PARENT}`, { withFileTypes: true }).filter((entry) => entry.isDirectory()).map((entry) => entry.name)
  : []);

/** A file of container `id`'s cgroup, as the VM's host side sees it. */
function cgroupFile(id: string, file: string): string {
  return fs.readFileSync(`/sys/fs/cgroup/${MINIBOX_CGROUP_PARENT}/${id}/${file}`, 'utf8').trim();
}

/** `run -d …` → the full container id. */
function detached(args: string[]): string {
  const result = minibox(['run', '--network', 'host', '-d', '--pull', 'never', ...args]);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return result.stdout.trim();
}

function removeForcefully(id: string): void {
  expect(minibox(['rm', '-f', id]).code).toBe(0);
  expect(containerCgroups()).not.toContain(id);
}

describe('minibox on a cgroup v2 machine', () => {
  it('doctor reports cgroup v2 with the memory, cpu and pids controllers', () => {
    const result = minibox(['doctor', '--format', 'json']);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { checks: { name: string; status: string; detail: string }[] };
    const cgroups = report.checks.find((check) => check.name === 'cgroups');
    expect(cgroups?.status).toBe('ok');
    expect(cgroups?.detail).toMatch(/^cgroup v2 \(unified\).*\bmemory\b/);
  });

  it('runs a container from the pre-filled store', () => {
    const result = minibox(['run', '--network', 'host', '--rm', '--pull', 'never', 'busybox', 'echo', 'hello from the VM']);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('hello from the VM\n');
    expect(result.code).toBe(0);
  });

  it('OOM-kills a container over --memory 64m: exit 137, OOMKilled, no cgroup left', () => {
    const before = containerCgroups();
    const result = minibox(['run', '--network', 'host', '--name', 'hog', '--memory', '64m', '--memory-swap', '64m', '--pull', 'never', 'busybox',
      'dd', 'if=/dev/zero', 'of=/dev/null', 'bs=200M', 'count=1']);
    expect(result.code).toBe(137);
    const inspect = minibox(['inspect', 'hog']);
    expect(inspect.code).toBe(0);
    const [state] = JSON.parse(inspect.stdout) as { State: { OOMKilled: boolean; ExitCode: number } }[];
    expect(state?.State).toMatchObject({ OOMKilled: true, ExitCode: 137 });
    expect(minibox(['rm', 'hog']).code).toBe(0);
    expect(containerCgroups()).toEqual(before);
  });

  it('gives the container a cgroup namespace rooted at its own cgroup', () => {
    const result = minibox(['run', '--network', 'host', '--rm', '--memory', '64m', '--pull', 'never', 'busybox', 'cat', '/proc/self/cgroup']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('0::/\n');
  });

  it('stops a fork loop at --pids-limit', async () => {
    const id = detached(['--pids-limit', '20', 'busybox', 'sh', '-c', 'for i in $(seq 1 60); do sleep 1000 & done; sleep 1000']);
    try {
      expect(cgroupFile(id, 'pids.max')).toBe('20');
      // pids.events counts the forks the limit refused.
      await until(() => (parseKeyedFile(cgroupFile(id, 'pids.events')).get('max') ?? 0) > 0, 'a refused fork');
      expect(Number(cgroupFile(id, 'pids.current'))).toBeLessThanOrEqual(20);
    } finally {
      removeForcefully(id);
    }
  });

  // Counters, not throughput (a share over wall time under TCG emulation is a timing bound).
  it('throttles a busy loop at --cpus 0.5 (cpu.stat nr_throttled), and never one without a limit', async () => {
    const limited = detached(['--cpus', '0.5', 'busybox', 'sh', '-c', 'while :; do :; done']);
    const free = detached(['busybox', 'sh', '-c', 'while :; do :; done']);
    try {
      expect(cgroupFile(limited, 'cpu.max')).toBe('50000 100000');
      expect(cgroupFile(free, 'cpu.max')).toBe('max 100000');
      const stat = (id: string) => parseKeyedFile(cgroupFile(id, 'cpu.stat'));
      await until(() => (stat(limited).get('nr_throttled') ?? 0) >= 3, 'three throttled periods');
      expect(stat(limited).get('throttled_usec')).toBeGreaterThan(0);
      // The unlimited loop has run longer than three periods' quota, and was never held back.
      await until(() => (stat(free).get('usage_usec') ?? 0) >= 300_000, 'the unlimited loop to use 0.3 s of CPU');
      expect(stat(free).get('nr_throttled') ?? 0).toBe(0);
    } finally {
      removeForcefully(limited);
      removeForcefully(free);
    }
  });

  it('stats --no-stream shows the memory limit, as a table and as JSON', () => {
    const id = detached(['--name', 'watched', '--memory', '64m', 'busybox', 'sleep', '1000']);
    try {
      const table = minibox(['stats', '--no-stream']);
      expect(table.code).toBe(0);
      const [header, row] = table.stdout.split('\n');
      expect(header).toMatch(/^CONTAINER ID +NAME +CPU % +MEM USAGE \/ LIMIT +MEM % +NET I\/O +BLOCK I\/O +PIDS$/);
      expect(row).toMatch(new RegExp(`^${id.slice(0, 12)} +watched +\\d+\\.\\d\\d% +[\\d.]+[KMG]?i?B \\/ 64MiB +\\d+\\.\\d\\d% +-- +-- +1$`));
      const json = minibox(['stats', '--no-stream', '--format', 'json', 'watched']);
      expect(json.code).toBe(0);
      const stats = JSON.parse(json.stdout) as { Name: string; MemUsage: string; PIDs: string };
      expect(stats).toMatchObject({ Name: 'watched', PIDs: '1' });
      expect(stats.MemUsage).toMatch(/ \/ 64MiB$/);
    } finally {
      removeForcefully(id);
    }
  });

  it('update --memory changes memory.max of a running container and its HostConfig', () => {
    const id = detached(['--memory', '64m', 'busybox', 'sleep', '1000']);
    try {
      expect(cgroupFile(id, 'memory.max')).toBe(String(64 * 1024 * 1024));
      const result = minibox(['update', '--memory', '128m', '--pids-limit', '50', id.slice(0, 12)]);
      expect(result.stderr).toBe('');
      expect(result.stdout).toBe(`${id.slice(0, 12)}\n`);
      expect(cgroupFile(id, 'memory.max')).toBe(String(128 * 1024 * 1024));
      expect(cgroupFile(id, 'pids.max')).toBe('50');
      const [inspected] = JSON.parse(minibox(['inspect', id]).stdout) as { HostConfig: { Memory: number; PidsLimit: number } }[];
      expect(inspected?.HostConfig).toMatchObject({ Memory: 128 * 1024 * 1024, PidsLimit: 50 });
    } finally {
      removeForcefully(id);
    }
  });

  it('exec puts its process in the container\'s cgroup (its limits apply to it too)', () => {
    const id = detached(['--memory', '64m', 'busybox', 'sleep', '1000']);
    try {
      const result = minibox(['exec', id.slice(0, 12), 'sh', '-c', 'cat /proc/self/cgroup; cat /sys/fs/cgroup/memory.max']);
      expect(result.stderr).toBe('');
      expect(result.stdout).toBe(`0::/\n${64 * 1024 * 1024}\n`);
      const procs = cgroupFile(id, 'cgroup.procs').split('\n').filter(Boolean);
      expect(procs.length).toBe(1); // the exec'd shell has exited; only the container's PID 1 is left
    } finally {
      removeForcefully(id);
    }
  });

  it('gives every container its own cgroup, even without limits, and removes it when the container exits', () => {
    const before = containerCgroups();
    const result = minibox(['run', '--network', 'host', '--rm', '--pull', 'never', 'busybox', 'sh', '-c', 'cat /proc/self/cgroup; cat /sys/fs/cgroup/cgroup.controllers']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^0::\/\n.*\bmemory\b.*\bpids\b/);
    expect(containerCgroups()).toEqual(before);
  });

  it('narrates each cgroup write with --explain', () => {
    const result = minibox(['run', '--network', 'host', '--rm', '--explain=all', '--memory', '256m', '--pull', 'never', 'busybox', 'true']);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('minibox: write 268435456 to memory.max: the kernel will reclaim, then OOM-kill, beyond 256 MiB');
    expect(result.stderr).toMatch(/minibox: write \d+ to cgroup\.procs: move process \d+ into the cgroup of container/);
    expect(result.stderr).toMatch(/minibox: unshare\(CLONE_NEWCGROUP\)/);
  });
});
