/**
 * minibox-runc's lifecycle against a plain OCI bundle (busybox rootfs + `minibox-runc spec`), as
 * the runtime spec defines it: create leaves the process waiting (the program has not run),
 * start lets it run, state reports creating/created/running/stopped with the pid, kill signals
 * it, delete removes it — and run does all of it, returning the program's exit status.
 *
 * Hostile checks, each failing on main before this branch (there was no bin/minibox-runc; checked
 * by running this file there): the program must not run before `start` (its output file stays
 * empty while `created`); `start` twice is refused; `delete` of a running container is refused.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeBundle, ociScratch, runc, runcBin, runcDetached, statusOf, until } from './helpers.js';
import { killSession, tmux, waitForScreen } from '../helpers/tmux.js';

const scratch = ociScratch('mb-oci-life-');
afterAll(() => {
  for (const id of fs.existsSync(scratch.state) ? fs.readdirSync(scratch.state) : []) runc(scratch.state, ['delete', '--force', id]);
  expect(fs.existsSync(scratch.state) ? fs.readdirSync(scratch.state) : []).toEqual([]);
  fs.rmSync(scratch.dir, { recursive: true, force: true });
});

describe('minibox-runc lifecycle', () => {
  it('create waits for start; state follows created → running → stopped; delete removes it', async () => {
    const bundle = makeBundle(scratch.dir, 'b1', (spec) => {
      spec.process.args = ['sh', '-c', 'echo "ran as pid $$ on $(hostname)"; exec sleep 60'];
    });
    const pidFile = path.join(scratch.dir, 'c1.pid');
    const created = runcDetached(scratch.state, ['create', '--bundle', bundle, '--pid-file', pidFile, 'c1'], scratch.dir, 'c1');
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);

    const state = JSON.parse(runc(scratch.state, ['state', 'c1']).stdout) as Record<string, unknown>;
    expect(state).toMatchObject({ ociVersion: '1.0.2', id: 'c1', status: 'created', bundle, annotations: {} });
    expect(state.pid).toBe(Number(fs.readFileSync(pidFile, 'utf8')));
    expect(fs.readFileSync(created.out, 'utf8')).toBe(''); // waiting: the program has not run

    expect(runc(scratch.state, ['start', 'c1']).code).toBe(0);
    await until(() => fs.readFileSync(created.out, 'utf8') !== '', 'the program printed');
    expect(fs.readFileSync(created.out, 'utf8')).toBe('ran as pid 1 on minibox\n');
    expect(statusOf(scratch.state, 'c1')).toBe('running');

    const again = runc(scratch.state, ['start', 'c1']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/level=error msg="cannot start an already running container"/);
    const refused = runc(scratch.state, ['delete', 'c1']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/msg="cannot delete container c1 that is not stopped: running"/);

    const ps = runc(scratch.state, ['ps', '--format', 'json', 'c1']);
    expect(JSON.parse(ps.stdout)).toEqual([state.pid]);
    expect(runc(scratch.state, ['list', '-q']).stdout).toBe('c1\n');

    expect(runc(scratch.state, ['kill', 'c1', 'KILL']).code).toBe(0);
    await until(() => statusOf(scratch.state, 'c1') === 'stopped', 'c1 stopped');
    expect(JSON.parse(runc(scratch.state, ['state', 'c1']).stdout).pid).toBe(0);
    expect(runc(scratch.state, ['delete', 'c1']).code).toBe(0);
    const gone = runc(scratch.state, ['state', 'c1']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/^time="[^"]+" level=error msg="container does not exist"\n$/);
  });

  it('run returns the exit status; hooks get the state on stdin, in order; rlimits and umask apply', () => {
    const log = path.join(scratch.dir, 'hooks.log');
    const hook = (name: string): Record<string, unknown> => ({
      path: '/bin/sh', args: ['sh', '-c', `read -r state; echo "${name} $state" >> ${log}`],
    });
    const bundle = makeBundle(scratch.dir, 'b2', (spec) => {
      spec.process.args = ['sh', '-c', 'echo "nofile=$(ulimit -n) umask=$(umask)"; exit 3'];
      spec.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 256, hard: 512 }];
      spec.process.user.umask = 0o027;
      spec.hooks = { prestart: [hook('prestart')], poststart: [hook('poststart')], poststop: [hook('poststop')] };
    });
    const run = runcDetached(scratch.state, ['run', '--bundle', bundle, 'c2'], scratch.dir, 'c2');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(3);
    expect(run.stdout).toBe('nofile=256 umask=0027\n');
    const lines = fs.readFileSync(log, 'utf8').trim().split('\n');
    expect(lines.map((line) => line.split(' ')[0])).toEqual(['prestart', 'poststart', 'poststop']);
    const states = lines.map((line) => JSON.parse(line.slice(line.indexOf(' ') + 1)) as { id: string; status: string; bundle: string });
    expect(states.map((s) => s.status)).toEqual(['creating', 'running', 'stopped']);
    expect(states.every((s) => s.id === 'c2' && s.bundle === bundle)).toBe(true);
    expect(fs.readdirSync(scratch.state)).not.toContain('c2'); // run deletes it
  });

  it('createContainer hooks run in the container\'s namespaces before pivot_root, startContainer hooks inside it', () => {
    const created = path.join(scratch.dir, 'created-hook.json');
    const bundle = makeBundle(scratch.dir, 'b-in-hooks', (spec) => {
      spec.hooks = {
        // Before pivot_root: host paths still resolve, but the mount namespace is the container's.
        createContainer: [{ path: '/bin/sh', args: ['sh', '-c', `{ cat; echo " $(readlink /proc/self/ns/mnt) $(readlink /proc/self/ns/pid)"; } > ${created}`] }],
        // After pivot_root: the container's /bin/sh, writing into the container's /dev/shm.
        startContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'cat > /dev/shm/started.json'] }],
      };
      spec.process.args = ['sh', '-c', 'cat /dev/shm/started.json'];
    });
    const run = runcDetached(scratch.state, ['run', '--bundle', bundle, 'c-in-hooks'], scratch.dir, 'c-in-hooks');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ id: 'c-in-hooks', status: 'created', bundle });
    const [state, mountNamespace, pidNamespace] = fs.readFileSync(created, 'utf8').trim().split(' ');
    expect(JSON.parse(state!)).toMatchObject({ id: 'c-in-hooks', status: 'creating', bundle });
    expect(mountNamespace).toMatch(/^mnt:\[\d+\]$/);
    expect(mountNamespace).not.toBe(fs.readlinkSync('/proc/self/ns/mnt'));
    expect(pidNamespace).toMatch(/^pid:\[\d+\]$/);
    expect(pidNamespace).not.toBe(fs.readlinkSync('/proc/self/ns/pid')); // a child of the container's PID 1
  });

  it('a prestart hook that outlives its timeout fails create, and nothing is left', () => {
    const bundle = makeBundle(scratch.dir, 'b-timeout', (spec) => {
      spec.hooks = { prestart: [{ path: '/bin/sh', args: ['sh', '-c', 'exec sleep 30'], timeout: 1 }] };
    });
    const created = runcDetached(scratch.state, ['create', '--bundle', bundle, 'c-timeout'], scratch.dir, 'c-timeout');
    expect(created.code).toBe(1);
    expect(created.stderr).toMatch(/msg="prestart hook \/bin\/sh timed out after 1 s"/);
    expect(fs.readdirSync(scratch.state)).not.toContain('c-timeout');
  });

  it('a bundle from runc\'s own `runc spec` runs (its ambient capabilities are left out, as runc does)', () => {
    // Failed before the fix in runtime/process/privileges.ts: prctl PR_CAP_AMBIENT EPERM, because
    // `runc spec` lists ambient capabilities that are not inheritable.
    const bundle = makeBundle(scratch.dir, 'b-runc-spec', (spec) => { spec.process.args = ['sh', '-c', 'grep -E "^Cap(Amb|Eff)" /proc/self/status']; });
    fs.rmSync(path.join(bundle, 'config.json'));
    execFileSync('runc', ['spec', '--bundle', bundle]);
    const spec = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8')) as Record<string, any>;
    spec.process.terminal = false;
    spec.process.args = ['sh', '-c', 'grep -E "^Cap(Amb|Eff)" /proc/self/status'];
    fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
    const run = runcDetached(scratch.state, ['run', '--bundle', bundle, 'c-runc-spec'], scratch.dir, 'c-runc-spec');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('CapEff:\t0000000020000420\nCapAmb:\t0000000000000000\n'); // KILL, NET_BIND_SERVICE, AUDIT_WRITE
  });

  it('exec runs in the container: ARGS, and --process FILE with --detach --pid-file', async () => {
    const bundle = makeBundle(scratch.dir, 'b3', (spec) => { spec.process.args = ['sleep', '60']; });
    expect(runcDetached(scratch.state, ['run', '-d', '--bundle', bundle, 'c3'], scratch.dir, 'c3').code).toBe(0);
    const exec = runc(scratch.state, ['exec', 'c3', 'sh', '-c', 'echo "pid1=$(cat /proc/1/cmdline | tr "\\0" " ")"; exit 4']);
    expect(exec.stdout).toBe('pid1=sleep 60 \n');
    expect(exec.code).toBe(4);
    const processFile = path.join(scratch.dir, 'process.json');
    fs.writeFileSync(processFile, JSON.stringify({ args: ['sleep', '30'], cwd: '/', env: ['PATH=/bin'], user: { uid: 0, gid: 0 } }));
    const pidFile = path.join(scratch.dir, 'exec.pid');
    const detached = runcDetached(scratch.state, ['exec', '--detach', '--pid-file', pidFile, '--process', processFile, 'c3'], scratch.dir, 'c3-exec');
    expect(detached.code).toBe(0);
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    await until(() => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8') === 'sleep\x0030\x00', 'the exec process runs sleep');
    expect(JSON.parse(runc(scratch.state, ['ps', '--format', 'json', 'c3']).stdout)).toContain(pid);
    expect(runc(scratch.state, ['delete', '--force', 'c3']).code).toBe(0);
  });

  it('terminal: the pty is made in the container and its master goes to --console-socket', async () => {
    const socketPath = path.join(scratch.dir, 'console.sock');
    const received: string[] = [];
    const server = net.createServer((connection) => connection.on('data', (data) => received.push(data.toString())));
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    try {
      const bundle = makeBundle(scratch.dir, 'b4', (spec) => { spec.process.terminal = true; spec.process.args = ['sleep', '60']; });
      const pidFile = path.join(scratch.dir, 'c4.pid');
      const created = runcDetached(scratch.state, ['create', '--bundle', bundle, '--console-socket', socketPath, '--pid-file', pidFile, 'c4'], scratch.dir, 'c4');
      expect(created.stderr).toBe('');
      await until(() => received.length > 0, 'the console socket got a message');
      expect(received.join('')).toMatch(/^\/dev\/pts\/\d+$/);
      // The process's stdio is that pty, from the container's own devpts (not the host's /dev/pts).
      const pid = Number(fs.readFileSync(pidFile, 'utf8'));
      expect(fs.readlinkSync(`/proc/${pid}/fd/0`)).toMatch(new RegExp(`^${received.join("")}( \\(deleted\\))?$`)); // unreachable from the host
      expect(fs.statSync(`/proc/${pid}/root/dev/pts/ptmx`).dev).not.toBe(fs.statSync('/dev/pts/ptmx').dev);
    } finally {
      server.close();
      runc(scratch.state, ['delete', '--force', 'c4']);
    }
  });

  it('run with a terminal and no --console-socket relays this terminal (tmux), as runc run does', async () => {
    const bundle = makeBundle(scratch.dir, 'b-tty', (spec) => { spec.process.terminal = true; spec.process.args = ['sh']; });
    const session = `mb-oci-tty-${process.pid}`;
    try {
      tmux('new-session', '-d', '-s', session, '-x', '90', '-y', '20',
        `${process.execPath} ${runcBin} --root ${scratch.state} run --bundle ${bundle} c-tty; echo "EXIT=$?"; sleep 60`);
      await waitForScreen(session, /^\/ #/m);
      tmux('send-keys', '-t', session, 'tty; stty size; exit 3', 'Enter');
      const screen = await waitForScreen(session, /^EXIT=3$/m);
      expect(screen).toMatch(/^\/dev\/pts\/0$/m);
      expect(screen).toMatch(/^20 90$/m);
    } finally {
      killSession(session);
    }
    expect(fs.readdirSync(scratch.state)).not.toContain('c-tty');
  });
});
