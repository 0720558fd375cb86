/**
 * Detached containers end to end: `run -d`, `ps`, `logs`, `stop`, `start`, `rm`, `wait`,
 * `inspect`, `--init` — the built CLI, a real registry, real namespaces, the C monitor.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ContainerStore } from '../../src/container/container-store.js';
import { StateRoot } from '../../src/state-root.js';
import { isRunning, signalProcess, type ProcessHandle } from '../../src/container/process-handle.js';
import { expectNoContainers, expectNoLeaks, findLeaks, tearDownKeptBridge } from '../helpers/leaks.js';
import { rssKiB, until, withWorld, zombieChildren, type LifecycleWorld } from './helpers.js';
import { useFreeBridge } from '../helpers/free-subnet.js';

// This file's own bridge and subnet: other minibox runs on the machine may use the default one.
useFreeBridge('detached');

let world: LifecycleWorld;

withWorld((started) => { world = started; });
afterEach(() => expectNoLeaks(world.root));

const psLine = async (name: string) => (await world.mb(['ps', '-a', '--filter', `name=^${name}$`])).stdout.split('\n')[1] ?? '';

describe('a web server in the background', () => {
  it('run -d prints the id, ps shows it Up, stop ends it with 137, start keeps files, rm deletes them', async () => {
    const run = await world.mb(['run', '-d', '--name', 'web', world.image, 'httpd', '-f', '-p', '8080']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const id = run.stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);

    const ps = await world.mb(['ps']);
    const [header, line] = ps.stdout.split('\n');
    expect(header).toMatch(/^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
    expect(line).toContain(id.slice(0, 12));
    expect(line).toContain('"httpd -f -p 8080"');
    expect(line).toMatch(/ Up (Less than a second|\d+ seconds?|About a minute|\d+ minutes) .*web$/);
    expect((await world.mb(['ps', '-q'])).stdout).toBe(`${id.slice(0, 12)}\n`);
    expect((await world.mb(['ps', '-q', '--no-trunc', '-f', 'status=running'])).stdout).toBe(`${id}\n`);
    expect((await world.mb(['ps', '-q', '-f', 'status=exited'])).stdout).toBe('');

    // The monitor is tiny, the init its child, and both recorded with their start times.
    const pids = world.pids('web')!;
    expect(rssKiB(pids.monitor.pid)).toBeLessThan(5 * 1024);
    expect(fs.readFileSync(`/proc/${pids.init.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]).toBe(String(pids.monitor.pid));
    const pid = await world.mb(['inspect', '--format', '{{.State.Pid}}', 'web']);
    expect(pid.stdout).toBe(`${pids.init.pid}\n`);

    // Write a file inside (through the init's root), as a user would with exec.
    fs.writeFileSync(`/proc/${pids.init.pid}/root/var/www/kept.txt`, 'kept\n');

    // httpd as PID 1 has no SIGTERM handler: the kernel drops the signal, SIGKILL follows.
    const stop = await world.mb(['stop', '-t', '1', 'web']);
    expect(stop).toMatchObject({ code: 0, stdout: 'web\n' });
    expect(await psLine('web')).toMatch(/Exited \(137\) (Less than a second|\d+ seconds?|About a minute|\d+ minutes) ago/);
    expect(world.record('web')!.State).toMatchObject({ Status: 'exited', Running: false, Pid: 0, ExitCode: 137 });

    const start = await world.mb(['start', 'web']);
    expect(start).toMatchObject({ code: 0, stdout: 'web\n' });
    expect(await psLine('web')).toMatch(/ Up /);
    const newPid = world.pids('web')!.init.pid;
    expect(fs.readFileSync(`/proc/${newPid}/root/var/www/kept.txt`, 'utf8')).toBe('kept\n');

    const rmRunning = await world.mb(['rm', 'web']);
    expect(rmRunning.code).toBe(1);
    expect(rmRunning.stderr).toMatch(/container is running: stop the container before removing or force remove/);
    const upper = new ContainerStore(new StateRoot(world.root)).paths(id).upper;
    expect(fs.existsSync(path.join(upper, 'var/www/kept.txt'))).toBe(true);
    expect(await world.mb(['rm', '-f', 'web'])).toMatchObject({ code: 0, stdout: 'web\n' });
    expect(fs.existsSync(upper)).toBe(false);
    expect((await world.mb(['ps', '-aq'])).stdout).toBe('');
  });

  it('the same --name twice is a conflict (125), the first container untouched', async () => {
    const first = await world.mb(['run', '-d', '--name', 'twice', world.image, 'sleep', '100']);
    const second = await world.mb(['run', '-d', '--name', 'twice', world.image, 'sleep', '100']);
    expect(second.code).toBe(125);
    expect(second.stderr).toBe(`minibox: Conflict. The container name "/twice" is already in use by container "${first.stdout.trim()}". You have to remove (or rename) that container to be able to reuse that name.\n`);
    expect(await psLine('twice')).toMatch(/ Up /);
    expect((await world.mb(['rm', '-f', 'twice'])).code).toBe(0);
  });

  it('system fsck finds a monitor whose container record is gone by the files it holds (its command line names none)', async () => {
    // Seen to fail with main's fsck-containers.ts, which looked at command lines only.
    const id = (await world.mb(['run', '-d', '--network', 'none', world.image, 'sleep', '100'])).stdout.trim();
    const paths = new ContainerStore(new StateRoot(world.root)).paths(id);
    const { monitor, init } = JSON.parse(fs.readFileSync(paths.pids, 'utf8')) as Record<'monitor' | 'init', ProcessHandle>;
    try {
      expect(fs.readFileSync(`/proc/${monitor.pid}/cmdline`, 'utf8')).not.toContain(id); // started before the container existed
      fs.rmSync(path.join(paths.dir, 'container.json')); // the record lost behind minibox's back
      const fsck = await world.mb(['system', 'fsck']);
      expect(fsck.stdout).toContain(`process    ${monitor.pid}: a process of container ${id.slice(0, 12)}`);
      expect((await world.mb(['system', 'fsck', '--repair'])).code).toBe(0);
      await until(() => !isRunning(monitor), 'the monitor to end');
    } finally {
      signalProcess(init, 'SIGKILL'); // if an assertion failed first: the container ends, its monitor leaves
      await until(() => !isRunning(monitor), 'the monitor to end');
      await world.mb(['system', 'fsck', '--repair']);
    }
  });

  it('a missing image fails with 125 and leaves no container (its early monitor and stage were aborted)', async () => {
    const run = await world.mb(['run', '-d', '--pull', 'never', '--name', 'nothing', 'no-such-image:here', 'true']);
    expect(run.code).toBe(125);
    expect(run.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(await psLine('nothing')).toBe('');
  });
});

describe('output', () => {
  it('logs shows stdout and stderr; -t, --tail and --since filter; -f ends when the container exits', async () => {
    const run = await world.mb(['run', '-d', '--name', 'talker', world.image, 'sh', '-c',
      'echo one; echo two >&2; echo "<three & \\"four\\">"; sleep 1; echo last']);
    expect(run.code).toBe(0);
    const follow = await world.mb(['logs', '-f', 'talker']);
    expect(follow.code).toBe(0);
    expect(follow.stdout).toBe('one\n<three & "four">\nlast\n');
    expect(follow.stderr).toBe('two\n');
    expect((await world.mb(['wait', 'talker'])).stdout).toBe('0\n');

    expect((await world.mb(['logs', '--tail', '1', 'talker'])).stdout).toBe('last\n');
    const stamped = await world.mb(['logs', '-t', 'talker']);
    expect(stamped.stdout.split('\n')[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z one$/);
    expect((await world.mb(['logs', '--since', '1h', 'talker'])).stdout).toContain('one');
    expect((await world.mb(['logs', '--since', '2099-01-01T00:00:00Z', 'talker'])).stdout).toBe('');

    // The file itself is Docker's json-file format.
    const record = world.record('talker')!;
    const lines = fs.readFileSync(new ContainerStore(new StateRoot(world.root)).paths(record.Id).log, 'utf8').trim().split('\n');
    expect(lines[0]).toMatch(/^\{"log":"one\\n","stream":"stdout","time":"[^"]+Z"\}$/);
    // stdout and stderr are two pipes: their relative order is not kept (nor is it by Docker).
    expect(lines.map((line) => JSON.parse(line).stream).sort()).toEqual(['stderr', 'stdout', 'stdout', 'stdout']);
    expect((await world.mb(['rm', 'talker'])).code).toBe(0);
  });

  it('wait prints the exit code; a failing command is recorded with it', async () => {
    expect((await world.mb(['run', '-d', '--name', 'three', world.image, 'sh', '-c', 'sleep 0.3; exit 3'])).code).toBe(0);
    expect(await world.mb(['wait', 'three'])).toMatchObject({ code: 0, stdout: '3\n' });
    expect(await psLine('three')).toMatch(/Exited \(3\)/);
    const missing = await world.mb(['run', '-d', '--name', 'nocmd', world.image, 'no-such-program']);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toMatch(/no-such-program/);
    expect(await psLine('nocmd')).toMatch(/Exited \(127\)/);
    expect((await world.mb(['rm', 'three', 'nocmd'])).stdout).toBe('three\nnocmd\n');

    // --rm: whoever sees the exit first deletes the container (here `wait`, which still prints the code).
    expect((await world.mb(['run', '-d', '--rm', '--name', 'gone', world.image, 'sh', '-c', 'sleep 0.3; exit 5'])).code).toBe(0);
    expect(await world.mb(['wait', 'gone'])).toMatchObject({ code: 0, stdout: '5\n' });
    expect((await world.mb(['ps', '-aq'])).stdout).toBe('');
    expect((await world.mb(['logs', 'gone'])).code).toBe(1);
  });
});

describe('inspect', () => {
  it('shows a container as Docker does, and images by name', async () => {
    const id = (await world.mb(['run', '-d', '--name', 'insp', world.image, 'sleep', '100'])).stdout.trim();
    const [info] = JSON.parse((await world.mb(['inspect', 'insp'])).stdout) as Record<string, any>[];
    expect(info).toMatchObject({
      Id: id, Name: '/insp', Path: 'sleep', Args: ['100'],
      State: { Status: 'running', Running: true, Paused: false, Restarting: false, OOMKilled: false, Dead: false, ExitCode: 0 },
      GraphDriver: { Name: 'overlay2' },
    });
    expect(info!.State.Pid).toBe(world.pids('insp')!.init.pid);
    expect(info!.GraphDriver.Data.UpperDir).toBe(path.join(world.root, 'containers', id, 'upper'));
    expect(info!.GraphDriver.Data.LowerDir).toContain(path.join(world.root, 'layers'));
    expect((await world.mb(['inspect', '-f', '{{.Name}} {{.State.Status}} {{json .Args}}', 'insp'])).stdout).toBe('/insp running ["100"]\n');
    const image = await world.mb(['inspect', '-f', '{{.Id}}', world.image]);
    expect(image.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    const nothing = await world.mb(['inspect', 'no-such-thing']);
    expect(nothing).toMatchObject({ code: 1, stdout: '[]\n', stderr: 'minibox: No such object: no-such-thing\n' });
    // The record protects its image: rmi refuses while the container exists.
    const rmi = await world.mb(['rmi', world.image]);
    expect(rmi.code).not.toBe(0);
    expect(rmi.stderr).toMatch(new RegExp(`conflict: .* container ${id.slice(0, 12)} is using its referenced image`));
    expect((await world.mb(['kill', 'insp'])).stdout).toBe('insp\n');
    expect(await psLine('insp')).toMatch(/Exited \(137\)/);
    expect((await world.mb(['container', 'rm', 'insp'])).code).toBe(0);
  });
});

describe('the leak check', () => {
  // Its old version looked at the host's mount table and at processes' cwd, root and argv only:
  // a detached container's overlay lives in the container's own mount namespace and, after
  // pivot_root, PID 1 names nothing of the state root, so only the monitor gave it away.
  it("sees a container that outlived its run by the mounts in its own namespace", async () => {
    const run = await world.mb(['run', '-d', '--name', 'outlived', world.image, 'sleep', '300']);
    expect(run.code).toBe(0);
    const id = run.stdout.trim();
    const pid = world.pids('outlived')!.init.pid;
    const leaks = findLeaks(world.root);
    expect(leaks["mounts left in a process's own mount namespace"]?.length, 'the overlay in its namespace').toBeGreaterThan(0);
    expect(leaks['processes left behind (cwd/root)'] ?? [], 'PID 1 after pivot_root names nothing of the root').not.toContainEqual(expect.stringMatching(new RegExp(`^${pid} `)));
    expect(leaks['IPAM entries or endpoints left behind']).toContainEqual(expect.stringContaining(id.slice(0, 12)));
    expect((await world.mb(['rm', '-f', 'outlived'])).code).toBe(0);
    tearDownKeptBridge(world.root); // the default bridge stays between containers, as docker0 does
    expect(findLeaks(world.root)).toEqual({});
  });
});

describe('--init', () => {
  // The orphan: a subshell starts `sleep 0.2` in the background, writes its PID and exits, so the
  // sleep is re-parented to PID 1. PID 1 itself is `exec sleep 30`, which never calls wait().
  const orphanMaker = ['sh', '-c', '(sleep 0.2 & echo $! > /orphan.pid); exec sleep 30'];

  /** The host PID of the process whose PID is `nsPid` in the PID namespace of host process `inside`. */
  function hostPid(nsPid: number, inside: number): number | undefined {
    const ns = fs.readlinkSync(`/proc/${inside}/ns/pid`);
    for (const entry of fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
      try {
        const nspids = /^NSpid:\s+(.*)$/m.exec(fs.readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1]?.split(/\s+/) ?? [];
        if (Number(nspids.at(-1)) === nsPid && fs.readlinkSync(`/proc/${entry}/ns/pid`) === ns) return Number(entry);
      } catch { /* exited */ }
    }
    return undefined;
  }

  async function orphanOf(name: string): Promise<number> {
    let text = '';
    await until(async () => {
      text = (await world.mb(['exec', name, 'cat', '/orphan.pid'])).stdout.trim();
      return /^\d+$/.test(text);
    }, `${name}'s orphan to write its PID`);
    return Number(text);
  }

  // Fails without reaping (checked by running the same steps on the `noinit` container, whose
  // orphan is never reaped): the old version looked at the `--init` container at a moment its
  // orphan could still be sleeping, and passed whether or not minibox-init reaped anything.
  it('without it, an orphan stays a zombie under PID 1; with it, minibox-init reaps the orphan', async () => {
    expect((await world.mb(['run', '-d', '--name', 'noinit', world.image, ...orphanMaker])).code).toBe(0);
    expect((await world.mb(['run', '-d', '--init', '--name', 'withinit', world.image, ...orphanMaker])).code).toBe(0);
    const noInit = world.pids('noinit')!.init.pid;
    const withInit = world.pids('withinit')!.init.pid;
    const stateOf = (pid: number | undefined): string | undefined => {
      try { return pid === undefined ? undefined : fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0]; } catch { return undefined; }
    };

    // Without --init: the orphan exits and stays a zombie child of PID 1.
    const noInitOrphan = hostPid(await orphanOf('noinit'), noInit);
    await until(() => stateOf(noInitOrphan) === 'Z', 'the zombie under a PID 1 that does not reap');
    expect(zombieChildren(noInit)).toEqual([noInitOrphan]);

    // With --init: the orphan (seen alive or already gone) must end up gone, not a zombie. Without
    // reaping it would stay 'Z' and this wait would give up.
    const withInitOrphan = hostPid(await orphanOf('withinit'), withInit);
    await until(() => stateOf(withInitOrphan) === undefined, 'minibox-init to reap the orphan');
    expect(zombieChildren(withInit)).toEqual([]);
    expect(fs.readFileSync(`/proc/${withInit}/cmdline`, 'utf8').split('\0')[0]).toBe('/sbin/docker-init');
    expect((await world.mb(['inspect', '-f', '{{.Path}} {{.HostConfig.Init}}', 'withinit'])).stdout).toBe('sh true\n');
    expect((await world.mb(['rm', '-f', 'noinit', 'withinit'])).code).toBe(0);
  });

  it('forwards stop\'s SIGTERM to the command, so a shell ends with 143 instead of being killed', async () => {
    expect(await world.mb(['run', '-d', '--init', '--name', 'term', world.image, 'sleep', '100'])).toMatchObject({ code: 0, stderr: '' });
    expect(await world.mb(['stop', '-t', '30', 'term'])).toMatchObject({ code: 0, stdout: 'term\n' });
    expect(world.record('term')!.State.ExitCode).toBe(143);
    expect((await world.mb(['rm', 'term'])).code).toBe(0);
  });
});

describe('start -a, restart, prune', () => {
  it('attaches to the new run\'s output and exits with its code', async () => {
    expect((await world.mb(['run', '--name', 'again', world.image, 'sh', '-c', 'echo run; exit 4'])).code).toBe(4);
    const started = await world.mb(['start', '-a', 'again']);
    expect(started).toMatchObject({ code: 4, stdout: 'run\n' });
    expect((await world.mb(['logs', 'again'])).stdout).toBe('run\nrun\n'); // both runs, foreground too, as Docker's log
    expect((await world.mb(['run', '--name', 'reader', world.image, 'cat'])).code).toBe(0);
    expect(await world.mb(['start', '-a', '-i', 'reader'], { input: 'typed\n' })).toMatchObject({ code: 0, stdout: 'typed\n' });
    const pruned = await world.mb(['container', 'prune', '-f']);
    expect(pruned.stdout).toMatch(/^Deleted Containers:\n[0-9a-f]{64}\n[0-9a-f]{64}\n\nTotal reclaimed space: \d+(\.\d+)?k?B\n$/);
    expect((await world.mb(['ps', '-aq'])).stdout).toBe('');
    expect((await world.mb(['container', 'prune', '-f'])).stdout).toBe('Total reclaimed space: 0B\n');
  });

  it('restart gives the container a new run and keeps its log', async () => {
    expect((await world.mb(['run', '-d', '--name', 'rs', world.image, 'sh', '-c', 'echo started; sleep 100'])).code).toBe(0);
    const before = world.pids('rs')!.init.pid;
    expect(await world.mb(['restart', '-t', '0', 'rs'])).toMatchObject({ code: 0, stdout: 'rs\n' });
    expect(world.pids('rs')!.init.pid).not.toBe(before);
    await until(async () => (await world.mb(['logs', 'rs'])).stdout === 'started\nstarted\n', 'the second run\'s output');
    expect((await world.mb(['rm', '-f', 'rs'])).code).toBe(0);
  });
});

