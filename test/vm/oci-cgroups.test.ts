/**
 * Runs INSIDE the test VM (cgroup v2): minibox-runc's cgroup paths, with runc 1.1.5 (Debian's,
 * put in the initramfs by build-initramfs.sh) as the peer on the same bundles. What the
 * conformance suite's cgroup programs (linux_cgroups_*, delete_resources) check — its runtimetest
 * cannot: runtime-tools 260e151's cgroups.FindCgroup() answers "cgroupv2 is not supported yet" on
 * a pure cgroup v2 host, for runc as for anyone (docs/oci-runtime.md). So, per runtime:
 *   - `create` with linux.cgroupsPath (absolute) and every limit the suite's cpus/memory/pids
 *     programs set: the values in cpu.max, cpu.weight, cpuset.cpus/.mems, memory.max,
 *     memory.swap.max, pids.max, read from the host side; the waiting init is in cgroup.procs;
 *   - `pause` → cgroup.events `frozen 1` and `state` "paused"; `resume` → `frozen 0`;
 *   - `ps --format json` lists the container's processes; `kill --all TERM` ends every one but the
 *     PID-namespace init (which ignores TERM without a handler), plain `kill` would reach only it;
 *   - `delete` removes the cgroup (the suite's delete_resources);
 *   - a relative cgroupsPath with `..` lands below the runtime's parent cgroup, never outside the
 *     cgroup v2 mount;
 * and for minibox-runc: a cgroupsPath naming a cgroup that has processes is refused (runc 1.1.5
 * only warns; runc ≥ 1.2 refuses too).
 * Fails on main by construction (not run there in the VM): main put the cgroup at minibox/<id>
 * whatever cgroupsPath said (so /sys/fs/cgroup/oci-vm/… never exists and the first read throws),
 * its `state` had no "paused", and it wrote no cpuset.mems.
 * Takes 40–115 s under TCG, with the host's load: each of its 11 minibox-runc commands is a Node
 * start-up on an emulated CPU (3–12 s each); runc's are Go and quick (5–9 s in all).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { cpuSharesToWeight, parseKeyedFile } from '../../src/cgroups/index.js';
import { defaultSpec } from '../../src/oci/default-spec.js';

const repo = path.resolve(import.meta.dirname, '../..');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-vm-oci-cg-'));
const runcPath = ['/usr/sbin/runc', '/usr/bin/runc'].find((file) => fs.existsSync(file));

interface Runtime { name: string; argv: string[]; state: string }
const runtimes: Runtime[] = [{ name: 'minibox-runc', argv: [process.execPath, path.join(repo, 'bin/minibox-runc')], state: path.join(scratch, 'state-minibox') }];
if (runcPath) runtimes.push({ name: 'runc', argv: [runcPath], state: path.join(scratch, 'state-runc') });
else console.log('oci-cgroups: no runc in this VM (build-initramfs.sh copies the host\'s, apt-get install runc): minibox-runc only');

function call(runtime: Runtime, args: string[]): { code: number; stdout: string; stderr: string } {
  const result = spawnSync(runtime.argv[0]!, [...runtime.argv.slice(1), '--root', runtime.state, ...args],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
  return { code: result.status ?? 128 + 9, stdout: result.stdout, stderr: result.stderr };
}

/** `create`: the container keeps the runtime's stdio, so files, not pipes (spawnSync would wait for it). */
function create(runtime: Runtime, bundle: string, id: string): { code: number; stderr: string; pid: number } {
  const err = path.join(scratch, `${runtime.name}-${id}.err`);
  const errFd = fs.openSync(err, 'w');
  const pidFile = path.join(scratch, `${runtime.name}-${id}.pid`);
  try {
    const result = spawnSync(runtime.argv[0]!, [...runtime.argv.slice(1), '--root', runtime.state, 'create', '--bundle', bundle, '--pid-file', pidFile, id],
      { stdio: ['ignore', 'ignore', errFd], timeout: 120_000 });
    return { code: result.status ?? 128 + 9, stderr: fs.readFileSync(err, 'utf8'), pid: fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8')) : 0 };
  } finally {
    fs.closeSync(errFd);
  }
}

const APPLETS = ['sh', 'sleep', 'true'];
/** A bundle: busybox-static rootfs + the default config of `minibox-runc spec`, edited. */
function bundle(name: string, linux: Record<string, unknown>, args: string[]): string {
  const dir = path.join(scratch, name);
  fs.mkdirSync(path.join(dir, 'rootfs/bin'), { recursive: true });
  fs.copyFileSync('/bin/busybox', path.join(dir, 'rootfs/bin/busybox'));
  fs.chmodSync(path.join(dir, 'rootfs/bin/busybox'), 0o755);
  for (const applet of APPLETS) fs.symlinkSync('busybox', path.join(dir, 'rootfs/bin', applet));
  const spec = defaultSpec() as Record<string, any>; // what `minibox-runc spec` writes
  spec.process.terminal = false;
  spec.process.args = args;
  Object.assign(spec.linux, linux);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec));
  return dir;
}

const read = (dir: string, file: string): string => fs.readFileSync(path.join(dir, file), 'utf8').trim();
const procs = (dir: string): number[] => read(dir, 'cgroup.procs').split('\n').filter(Boolean).map(Number).sort((a, b) => a - b);
const statusOf = (runtime: Runtime, id: string): string => (JSON.parse(call(runtime, ['state', id]).stdout) as { status: string }).status;

async function until(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * `delete` must leave no cgroup. minibox-runc: strictly. runc 1.1.5's `delete --force` races its
 * own rmdir against the dying init and sometimes leaves the directory (seen here in 1 of 2 runs):
 * that is runc's, so it is reported, not asserted, and the test removes the directory itself.
 */
async function expectCgroupRemoved(runtime: Runtime, dir: string): Promise<void> {
  if (runtime.name === 'minibox-runc' || !fs.existsSync(dir)) {
    expect(fs.existsSync(dir)).toBe(false);
    return;
  }
  console.log(`oci-cgroups: runc left ${dir} after delete --force (its known rmdir race); removing it`);
  await until(() => read(dir, 'cgroup.procs') === '', `${dir} to empty`);
  fs.rmdirSync(dir);
}

const MiB = 1024 * 1024;
// What the suite's linux_cgroups_{cpus,memory,pids} programs set (memory: limit + swap).
const resources = {
  cpu: { shares: 1024, quota: 50000, period: 100000, cpus: '0-1', mems: '0' },
  memory: { limit: 64 * MiB, swap: 96 * MiB },
  pids: { limit: 1000 },
};


afterAll(() => {
  for (const runtime of runtimes) {
    for (const id of fs.existsSync(runtime.state) ? fs.readdirSync(runtime.state) : []) call(runtime, ['delete', '--force', id]);
  }
  // The parents create made (runtimes leave them, as runc does); cgroups go with rmdir only.
  for (const dir of [...runtimes.flatMap((runtime) => [`oci-vm/${runtime.name}`, `oci-rel/${runtime.name}`]), 'oci-vm', 'oci-rel']) {
    try { fs.rmdirSync(`/sys/fs/cgroup/${dir}`); } catch { /* gone already, or never made */ }
  }
  fs.rmSync(scratch, { recursive: true, force: true });
});

describe.each(runtimes)('$name on cgroup v2', (runtime) => {
  it('create writes linux.resources at linux.cgroupsPath; pause/resume, ps, kill --all; delete removes the cgroup', async () => {
    const cgroupsPath = `/oci-vm/${runtime.name}`;
    const dir = `/sys/fs/cgroup${cgroupsPath}`;
    const b = bundle(`${runtime.name}-c1`, { cgroupsPath, resources },
      ['sh', '-c', 'sleep 1001 & sleep 1002 & wait; exec sleep 1003']);
    const created = create(runtime, b, 'c1');
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(procs(dir)).toEqual([created.pid]);

    expect(read(dir, 'cpu.max')).toBe('50000 100000');
    // cpu.shares 1024 → minibox's (runc ≥ 1.3.2's) quadratic: 100; runc 1.1.5's linear formula: 39.
    expect(read(dir, 'cpu.weight')).toBe(String(runtime.name === 'runc' ? 39 : cpuSharesToWeight(1024)));
    expect(read(dir, 'cpuset.cpus')).toBe('0-1');
    expect(read(dir, 'cpuset.mems')).toBe('0');
    expect(read(dir, 'memory.max')).toBe(String(64 * MiB));
    if (fs.existsSync(path.join(dir, 'memory.swap.max'))) expect(read(dir, 'memory.swap.max')).toBe(String(32 * MiB));
    expect(read(dir, 'pids.max')).toBe('1000');

    expect(call(runtime, ['start', 'c1']).code).toBe(0);
    await until(() => procs(dir).length === 3, 'the two sleeps beside the init');

    expect(call(runtime, ['pause', 'c1'])).toMatchObject({ code: 0, stderr: '' });
    expect(parseKeyedFile(read(dir, 'cgroup.events')).get('frozen')).toBe(1);
    expect(statusOf(runtime, 'c1')).toBe('paused');
    expect(call(runtime, ['resume', 'c1'])).toMatchObject({ code: 0, stderr: '' });
    expect(parseKeyedFile(read(dir, 'cgroup.events')).get('frozen')).toBe(0);

    const all = procs(dir);
    expect((JSON.parse(call(runtime, ['ps', '--format', 'json', 'c1']).stdout) as number[]).sort((a, b) => a - b)).toEqual(all);
    // TERM to everyone: the sleeps die; the PID-namespace init (sh, no TERM handler) ignores it.
    expect(call(runtime, ['kill', '--all', 'c1', 'TERM']).code).toBe(0);
    await until(() => procs(dir).length === 1, 'only the init left in cgroup.procs');
    expect(procs(dir)).toEqual([created.pid]);

    // The suite's delete_resources: what create made, delete removes (--force: it still runs).
    expect(call(runtime, ['delete', '--force', 'c1'])).toMatchObject({ code: 0, stderr: '' });
    await expectCgroupRemoved(runtime, dir);
  });

  it('a relative cgroupsPath is below the runtime\'s parent cgroup, `..` included; a busy cgroup is refused (minibox-runc)', async () => {
    const dir = `/sys/fs/cgroup/oci-rel/${runtime.name}`;
    const b = bundle(`${runtime.name}-c2`, { cgroupsPath: `../../../oci-rel/${runtime.name}`, resources: { pids: { limit: 7 } } }, ['true']);
    const created = create(runtime, b, 'c2');
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    // This test runs in the root cgroup (0::/), whose parent is itself: /sys/fs/cgroup/oci-rel/….
    expect(read(dir, 'pids.max')).toBe('7');
    expect(procs(dir)).toEqual([created.pid]);
    if (runtime.name === 'minibox-runc') {
      // c2's waiting init is in that cgroup: a second container there would share (and at delete kill) it.
      const busy = create(runtime, bundle('busy', { cgroupsPath: `/oci-rel/${runtime.name}` }, ['true']), 'c3');
      expect(busy.code).toBe(1);
      expect(busy.stderr).toContain(`linux.cgroupsPath \\"/oci-rel/${runtime.name}\\" (${dir}): the cgroup is not empty`);
      expect(fs.existsSync(path.join(runtime.state, 'c3'))).toBe(false);
      expect(procs(dir)).toEqual([created.pid]);
    }
    expect(call(runtime, ['delete', '--force', 'c2']).code).toBe(0);
    await expectCgroupRemoved(runtime, dir);
  });
});
