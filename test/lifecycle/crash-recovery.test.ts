/**
 * When things die: a monitor killed with -9, a `minibox run` killed half-way, ten containers
 * started and removed at once. Afterwards `ps -a` tells the truth and `rm -f` leaves nothing:
 * no process, no mount, no container directory.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ContainerStore } from '../../src/container/container-store.js';
import { readRunPids, writeRunPids } from '../../src/container/run-files.js';
import { StateRoot } from '../../src/state-root.js';
import { expectNoContainers, expectNoLeaks } from '../helpers/leaks.js';
import { bin } from '../helpers/minibox.js';
import { startWorld, until, type LifecycleWorld } from './helpers.js';
import { useFreeBridge } from '../helpers/free-subnet.js';

// This file's own bridge and subnet: other minibox runs on the machine may use the default one.
useFreeBridge('crash-recovery');

let world: LifecycleWorld;

beforeAll(async () => { world = await startWorld(); });
afterEach(() => {
  expectNoLeaks(world.root);
  expectNoContainers(world.root);
});
afterAll(async () => {
  await world?.close();
  expectNoLeaks(world.root);
  fs.rmSync(world.root, { recursive: true, force: true });
});

function alive(pid: number): boolean {
  try {
    const state = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    return state !== undefined && state !== 'Z';
  } catch {
    return false;
  }
}

describe('a monitor killed with -9', () => {
  it('ps -a shows Exited (137), never a ghost Up; the container is killed; rm -f cleans up', async () => {
    expect((await world.mb(['run', '-d', '--name', 'orphan', world.image, 'sleep', '100'])).code).toBe(0);
    const pids = world.pids('orphan')!;
    process.kill(pids.monitor.pid, 'SIGKILL');
    await until(() => !alive(pids.monitor.pid), 'the monitor to die');
    const ps = await world.mb(['ps', '-a', '--format', '{{.Names}} {{.Status}}']);
    expect(ps.stdout).toMatch(/^orphan Exited \(137\) (Less than a second|\d+ seconds?|About a minute|\d+ minutes) ago\n$/);
    expect(alive(pids.init.pid)).toBe(false);
    expect(world.record('orphan')!.State.Error).toMatch(/monitor .* died/);
    expect((await world.mb(['rm', '-f', 'orphan'])).code).toBe(0);
  });
});

describe('a `minibox run` killed with -9', () => {
  it('in the foreground, while the container runs: the next command finds it Exited (137)', async () => {
    const cli = spawn(process.execPath, [bin, '--root', world.root, 'run', '--name', 'fg', world.image, 'sh', '-c', 'echo up; sleep 100'],
      { stdio: ['ignore', 'pipe', 'ignore'] });
    const exited = new Promise((resolve) => cli.once('exit', resolve));
    await new Promise<void>((resolve) => cli.stdout.on('data', () => resolve()));
    const init = world.pids('fg')!.init;
    cli.kill('SIGKILL');
    await exited;
    expect((await world.mb(['ps', '-a', '--format', '{{.Names}} {{.Status}}'])).stdout).toMatch(/^fg Exited \(137\)/);
    expect(alive(init.pid)).toBe(false);
    expect((await world.mb(['rm', '-f', 'fg'])).code).toBe(0);
  });

  it.each([50, 150, 250, 350, 500])('run -d killed after %i ms: ps -a and rm -f recover', async (delay) => {
    const cli = spawn(process.execPath, [bin, '--root', world.root, 'run', '-d', '--name', `half${delay}`, world.image, 'sleep', '100'],
      { stdio: 'ignore' });
    const exited = new Promise((resolve) => cli.once('exit', resolve));
    await new Promise((resolve) => setTimeout(resolve, delay));
    cli.kill('SIGKILL');
    await exited;
    const ps = await world.mb(['ps', '-a', '--format', '{{.Names}}|{{.Status}}']);
    expect(ps.code).toBe(0);
    // Whatever the moment: not there yet, Created, Up (the start had finished) or Exited.
    expect(ps.stdout).toMatch(new RegExp(`^(|half${delay}\\|(Created|Up .*|Exited \\(\\d+\\) .*)\\n)$`));
    const ids = (await world.mb(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
    if (ids.length > 0) expect((await world.mb(['rm', '-f', ...ids])).code).toBe(0);
  });
});

describe('many at once', () => {
  it('10 detached containers started in parallel and removed in parallel leave nothing behind', async () => {
    const names = Array.from({ length: 10 }, (_, i) => `par${i}`);
    const runs = await Promise.all(names.map((name) => world.mb(['run', '-d', '--name', name, world.image, 'sh', '-c', `echo ${name}; sleep 100`])));
    for (const run of runs) expect(run).toMatchObject({ code: 0, stderr: '' });
    const ps = await world.mb(['ps', '--format', '{{.Names}}']);
    expect(ps.stdout.trim().split('\n').sort()).toEqual([...names].sort());
    for (const name of names) {
      await until(async () => (await world.mb(['logs', name])).stdout === `${name}\n`, `the log of ${name}`);
    }
    const removals = await Promise.all(names.map((name) => world.mb(['rm', '-f', name])));
    for (const [index, removal] of removals.entries()) expect(removal).toMatchObject({ code: 0, stdout: `${names[index]}\n` });
    expect((await world.mb(['ps', '-aq'])).stdout).toBe('');
  });

  it('concurrent stop and start on one container are serialised', async () => {
    expect((await world.mb(['run', '-d', '--name', 'busy', world.image, 'sleep', '100'])).code).toBe(0);
    const results = await Promise.all([
      world.mb(['stop', '-t', '0', 'busy']), world.mb(['start', 'busy']), world.mb(['stop', '-t', '0', 'busy']), world.mb(['start', 'busy']),
    ]);
    for (const result of results) expect(result).toMatchObject({ code: 0, stdout: 'busy\n' });
    const record = world.record('busy')!;
    const running = (await world.mb(['ps', '-q', '-f', 'name=busy'])).stdout !== '';
    expect(record.State.Running).toBe(running);
    expect((await world.mb(['rm', '-f', 'busy'])).code).toBe(0);
  });
});

describe('a PID that was reused by another process', () => {
  // The start-time check (container/process-handle.ts): a record whose PIDs now belong to a
  // stranger must never make `rm -f` (or `stop`, `kill`) signal the stranger. Checked by making
  // isRunning() ignore the start time: the stranger was then SIGKILLed and this test failed.
  it('rm -f leaves the stranger alone and ps -a never shows the container Up', async () => {
    const run = await world.mb(['run', '-d', '--name', 'reused', world.image, 'sleep', '300']);
    expect(run.code).toBe(0);
    const paths = new ContainerStore(new StateRoot(world.root)).paths(run.stdout.trim());
    const pids = readRunPids(paths)!;
    // A crash that writes nothing: the monitor and the container die without an exit status.
    process.kill(pids.monitor!.pid, 'SIGKILL');
    process.kill(pids.init.pid, 'SIGKILL');
    await until(() => !alive(pids.monitor!.pid) && !alive(pids.init.pid), 'the monitor and the container to die');
    // The kernel hands the PIDs out again: here, to a process of this test.
    const stranger = spawn('sleep', ['300'], { stdio: 'ignore' });
    const exited = new Promise((resolve) => stranger.once('exit', resolve));
    try {
      writeRunPids(paths, { init: { pid: stranger.pid!, startTime: pids.init.startTime }, monitor: { pid: stranger.pid!, startTime: pids.monitor!.startTime } });
      const ps = (await world.mb(['ps', '-a', '--filter', 'name=^reused$'])).stdout.split('\n')[1] ?? '';
      expect(ps).toContain('reused');
      expect(ps).not.toMatch(/\bUp\b/);
      const removed = await world.mb(['rm', '-f', 'reused']);
      expect(removed).toMatchObject({ code: 0, stdout: 'reused\n' });
      expect(stranger.exitCode, 'the stranger was not signalled').toBeNull();
      expect(stranger.signalCode, 'the stranger was not signalled').toBeNull();
      expect(alive(stranger.pid!)).toBe(true);
    } finally {
      stranger.kill('SIGKILL');
      await exited;
    }
  });
});
