/**
 * Monitor-owned terminals: `run -dit`, then `attach` in a real terminal (tmux) as a person would —
 * typed commands run, the window size follows a resize, Ctrl-P Ctrl-Q detaches with Docker's
 * `read escape sequence` while the container runs on, a second `attach` gets `exit 3` back as its
 * exit code, and `logs` shows what the pty carried. `start -ai` of a `create -it` container
 * detaches silently (exit 0). Without -t: `attach` streams a running container's output,
 * forwards signals (--sig-proxy) and, with -i, stdin. Bad input: Docker's messages, exit 1.
 * Also: no host fd (the monitor's socket, the pty master) reaches the container.
 *
 * Synchronisation: "attach is connected" is read from the monitor's own fd table (a socket per
 * client, besides the listening one) — no sleeps. On today's main every test here fails: with
 * main's build, `attach` is "not a minibox command" (125) and `run -dit` is refused.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectNoLeaks } from '../helpers/leaks.js';
import { bin } from '../helpers/minibox.js';
import { killSession, tmux, waitForScreen } from '../helpers/tmux.js';
import { rssKiB, startWorld, until, type LifecycleWorld } from './helpers.js';

let world: LifecycleWorld;
beforeAll(async () => { world = await startWorld(); });
afterAll(async () => {
  await world.close();
  fs.rmSync(world.root, { recursive: true, force: true });
});
afterEach(async () => {
  const left = fs.readdirSync(path.join(world.root, 'containers')); // after a failure: don't fail the next test too
  if (left.length > 0) await world.mb(['rm', '-f', ...left]);
  expectNoLeaks(world.root);
});

/** The attach clients connected to a container's monitor: its sockets, minus the listening one. */
function attachClients(name: string): number {
  const monitor = world.pids(name)!.monitor.pid;
  const sockets = fs.readdirSync(`/proc/${monitor}/fd`)
    .filter((fd) => { try { return fs.readlinkSync(`/proc/${monitor}/fd/${fd}`).startsWith('socket:'); } catch { return false; } });
  return sockets.length - 1;
}

/** A tmux session running `minibox <args>`, then printing `<label>=<exit code>`; the pane stays. */
function terminalRunning(session: string, args: string, label: string): void {
  tmux('new-session', '-d', '-s', session, '-x', '100', '-y', '30',
    `${process.execPath} ${bin} --root ${world.root} ${args}; echo "${label}=$?"; sleep 600`);
}

async function status(name: string): Promise<string> {
  return (await world.mb(['ps', '-a', '--filter', `name=^${name}$`, '--format', '{{.Status}}'])).stdout.trim();
}

describe('run -dit + attach in a terminal', () => {
  it('types into the container, follows resizes, detaches with Ctrl-P Ctrl-Q, returns the exit code', async () => {
    const run = await world.mb(['run', '-dit', '--name', 'term', '--network', 'none', '-e', 'PS1=box# ', world.image, 'sh']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const first = `mb-attach-1-${process.pid}`;
    const second = `mb-attach-2-${process.pid}`;
    try {
      terminalRunning(first, 'attach term', 'ATTACHED');
      await until(() => attachClients('term') === 1, 'attach to connect');
      tmux('send-keys', '-t', first, 'echo h""i; stty size', 'Enter');
      await waitForScreen(first, /^30 100\s*$/m);
      expect(tmux('capture-pane', '-p', '-t', first)).toMatch(/^hi\s*$/m);
      tmux('resize-window', '-t', first, '-x', '120', '-y', '40');
      tmux('send-keys', '-t', first, 'clear; stty size', 'Enter');
      await waitForScreen(first, /^40 120\s*$/m);

      tmux('send-keys', '-t', first, 'C-p', 'C-q');
      const detached = await waitForScreen(first, /^ATTACHED=\d+/m);
      expect(detached).toMatch(/read escape sequence\s*\nATTACHED=1\s*$/m); // docker attach: the message, exit 1
      expect(await status('term')).toMatch(/^Up /);
      await until(() => attachClients('term') === 0, 'the detached client to be gone');

      terminalRunning(second, 'attach term', 'ATTACHED');
      await until(() => attachClients('term') === 1, 'the second attach to connect');
      tmux('send-keys', '-t', second, 'exit 3', 'Enter');
      await waitForScreen(second, /^ATTACHED=3\s*$/m);
      expect(await status('term')).toMatch(/^Exited \(3\) /);
    } finally {
      killSession(first);
      killSession(second);
    }
    const logs = await world.mb(['logs', 'term']);
    expect(logs.stdout).toContain('hi\r\n'); // the pty's output, line ends and all, as Docker's log
    expect(logs.stdout).toContain('exit 3');
    expect((await world.mb(['rm', 'term'])).code).toBe(0);
  });

  it('start -ai of a create -it container: a terminal; Ctrl-P Ctrl-Q leaves it running, exit 0', async () => {
    expect((await world.mb(['create', '-it', '--name', 'shell', '--network', 'none', world.image, 'sh'])).code).toBe(0);
    const session = `mb-start-ai-${process.pid}`;
    try {
      terminalRunning(session, 'start -ai --detach-keys ctrl-x,x shell', 'STARTED');
      await until(() => world.pids('shell') !== undefined && attachClients('shell') === 1, 'start -ai to connect');
      tmux('send-keys', '-t', session, 'tty', 'Enter');
      await waitForScreen(session, /^\/dev\/pts\/0\s*$/m);
      tmux('send-keys', '-t', session, 'C-x', 'x');
      const screen = await waitForScreen(session, /STARTED=\d+/); // after the prompt: no newline was typed
      expect(screen).toMatch(/STARTED=0\s*$/m);
      expect(screen).not.toMatch(/read escape sequence/); // docker start swallows it
      expect(await status('shell')).toMatch(/^Up /);
    } finally {
      killSession(session);
    }
    // What the container holds: its pty (0, 1, 2; the shell's own /dev/tty), nothing of the host's.
    const fds = await world.mb(['exec', 'shell', 'sh', '-c', 'for f in /proc/1/fd/*; do readlink $f; done']);
    expect(fds.stdout).toMatch(/^\/dev\/pts\/0$/m);
    expect(fds.stdout.trim().split('\n').filter((target) => !/^\/dev\/(pts\/0|tty)$/.test(target))).toEqual([]);
    const monitor = world.pids('shell')!.monitor.pid;
    expect(fs.readFileSync(`/proc/${monitor}/status`, 'utf8')).toMatch(/^Uid:\s+0/m);
    expect(rssKiB(monitor)).toBeLessThan(4096); // a small C process, pty and socket included
    expect((await world.mb(['rm', '-f', 'shell'])).code).toBe(0);
  });
});

describe('run -dit --explain', () => {
  it('narrates who holds the terminal; the socket is root\'s alone', async () => {
    const run = await world.mb(['run', '-dit', '--explain=all', '--name', 'told', '--network', 'none', world.image, 'sh']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^[0-9a-f]{64}\n$/);
    expect(run.stderr).toMatch(/minibox-monitor opened the container's \/dev\/pts\/ptmx and holds the master of pty 0: .*attach\.sock/);
    const socket = fs.statSync(path.join(world.root, 'containers', run.stdout.trim(), 'attach.sock'));
    expect(socket.isSocket() && (socket.mode & 0o777).toString(8)).toBe('600'); // only root may attach
    const fsck = await world.mb(['system', 'fsck']);
    expect(fsck, 'a live attach socket is no finding').toMatchObject({ code: 0 });
    expect((await world.mb(['rm', '-f', 'told'])).code).toBe(0);
  });
});

describe('attach without a terminal', () => {
  it('streams the output of a running -d container and forwards signals (sig-proxy)', async () => {
    const script = 'trap "echo got TERM; exit 9" TERM; while :; do sleep 0.1; done';
    expect((await world.mb(['run', '-d', '--name', 'nontty', '--network', 'none', world.image, 'sh', '-c', script])).code).toBe(0);
    const attach = spawn(process.execPath, [bin, '--root', world.root, 'attach', 'nontty'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    attach.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    const exited = new Promise<number | null>((resolve) => attach.on('close', (code) => resolve(code)));
    await until(() => attachClients('nontty') === 1, 'attach to connect');
    expect((await world.mb(['exec', 'nontty', 'sh', '-c', 'echo from-exec > /proc/1/fd/1'])).code).toBe(0);
    await until(() => stdout.includes('from-exec\n'), 'the output to reach attach');
    attach.kill('SIGTERM');
    expect(await exited).toBe(9);
    expect(stdout).toBe('from-exec\ngot TERM\n');
    expect(await status('nontty')).toMatch(/^Exited \(9\) /);
    expect((await world.mb(['rm', 'nontty'])).code).toBe(0);
  });

  it('with -i, gives the container this stdin; the exit code is the container\'s', async () => {
    const script = 'read line; echo "got $line"; echo done >&2; exit 4';
    expect((await world.mb(['run', '-di', '--name', 'reader', '--network', 'none', world.image, 'sh', '-c', script])).code).toBe(0);
    const attached = await world.mb(['attach', 'reader'], { input: 'hello\n' });
    expect(attached).toEqual({ code: 4, stdout: 'got hello\n', stderr: 'done\n' });
    expect((await world.mb(['rm', 'reader'])).code).toBe(0);
  });

  it('bad input: Docker\'s messages, one line, exit 1', async () => {
    expect((await world.mb(['create', '--name', 'idle', '--network', 'none', world.image, 'true'])).code).toBe(0);
    expect(await world.mb(['attach', 'idle'])).toMatchObject({ code: 1, stderr: 'minibox: You cannot attach to a stopped container, start it first\n' });
    expect(await world.mb(['attach', 'nope'])).toMatchObject({ code: 1, stderr: 'minibox: No such container: nope\n' });
    expect((await world.mb(['run', '-dit', '--name', 'tt', '--network', 'none', world.image, 'sh'])).code).toBe(0);
    const keys = await world.mb(['attach', '--detach-keys', 'ctrl-ä', 'tt']);
    expect(keys.code).toBe(1);
    expect(keys.stderr).toMatch(/^minibox: Invalid detach keys \(ctrl-ä\) provided: .*\n$/);
    const piped = await world.mb(['attach', 'tt'], { input: 'ls\n' });
    expect(piped).toMatchObject({ code: 1, stderr: expect.stringMatching(/^minibox: the input device is not a TTY/) });
    expect((await world.mb(['rm', '-f', 'idle', 'tt'])).code).toBe(0);
    expect(fs.readdirSync(path.join(world.root, 'containers'))).toEqual([]);
  });
});
