/**
 * `docker run -it` through `minibox serve`, driven in a real terminal (tmux) as a person would:
 * the shell's prompt, `stty size` matching the window, a resize reaching the container's pty
 * (the CLI's SIGWINCH → `POST /containers/{id}/resize` → TIOCSWINSZ), and `exit 5` ending the
 * docker command with 5. The container is `--rm`: nothing is left afterwards.
 *
 * Then a `-t` container without a client: `docker run -dit` (its terminal held by its monitor, so
 * it outlives the daemon: the daemon is stopped and started again in between), `docker exec -it`
 * into it (prompt, `stty size`, resize through `POST /exec/{id}/resize`, `exit 5` → 5),
 * `docker attach` to its shell (detach keys, then again until `exit 7` → 7), and `docker logs`.
 *
 * Uses the default bridge: run under `flock /tmp/minibox-net.lock` on a shared machine.
 * Hostile: before terminal-session.ts, create answered 400 for -t and the prompt never came; on
 * main before the monitor-owned terminal, `run -dit` answered 400 ("starts only with an attached
 * client") and `exec -it` 400 ("not supported through the API yet") — from main's code, not run.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCKER_CLIS, docker, startDaemon, type Daemon } from '../helpers/api-daemon.js';
import { minibox } from '../helpers/minibox.js';
import { expectNoContainers } from '../helpers/leaks.js';
import { pulledBusybox } from '../helpers/pulled-busybox.js';
import { killSession, tmux, waitForScreen } from '../helpers/tmux.js';

const frame = pulledBusybox('apitty/busybox');
let daemon: Daemon;
let config: string;
const keeper = `mb-api-keep-${process.pid}`; // keeps the tmux server up between one session and the next

beforeAll(async () => {
  daemon = await startDaemon(frame.root);
  config = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-docker-config-'));
  tmux('new-session', '-d', '-s', keeper, 'sleep 900');
});
afterAll(async () => {
  killSession(keeper);
  await daemon.stop();
  fs.rmSync(config, { recursive: true, force: true });
  const left = minibox(frame.root, ['ps', '-aq']).stdout.split('\n').filter(Boolean);
  if (left.length > 0) minibox(frame.root, ['rm', '-f', ...left]); // a failed test's containers, before the root goes
  expect(left).toEqual([]);
  expectNoContainers(frame.root);
});

describe.each(DOCKER_CLIS)('$name run -it through minibox serve', ({ path: cli }) => {
  it('prompt, stty size, resize, exit 5', async () => {
    const session = `mb-api-tty-${process.pid}`;
    const command = `DOCKER_CONFIG=${config} ${cli} -H unix://${daemon.socket} run --rm -it ${frame.image} sh; echo "docker exited $?"; sleep 600`;
    tmux('new-session', '-d', '-s', session, '-x', '80', '-y', '24', command);
    try {
      await promptSizeResizeExit5(session);
      expect(await waitForScreen(session, /docker exited \d+/)).toMatch(/docker exited 5/);
    } finally {
      killSession(session);
    }
  });
});

/**
 * After a window change: the CLI's `resize` request and the keys typed next travel on different
 * connections, so `stty size` may run before the new size lands (with dockerd too). Asks again,
 * a bounded number of times, until the container reports `rows columns`.
 */
async function expectWindowSize(session: string, rows: number, columns: number): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    tmux('send-keys', '-t', session, `clear; echo "size-${attempt}: $(stty size)"`, 'Enter');
    const screen = await waitForScreen(session, new RegExp(`^size-${attempt}: \\d+ \\d+\\s*$`, 'm'));
    if (new RegExp(`^size-${attempt}: ${rows} ${columns}\\s*$`, 'm').test(screen)) return;
  }
  throw new Error(`the container never saw a ${columns}×${rows} window`);
}

/** The shell's prompt, its window 24×80, a resize to 30×100 that reaches it, then `exit 5`. */
async function promptSizeResizeExit5(session: string): Promise<void> {
  await waitForScreen(session, /^\/ # ?$/m);
  tmux('send-keys', '-t', session, 'stty size', 'Enter');
  await waitForScreen(session, /^24 80\s*$/m);
  tmux('resize-window', '-t', session, '-x', '100', '-y', '30');
  await expectWindowSize(session, 30, 100);
  tmux('send-keys', '-t', session, 'exit 5', 'Enter');
}

/** Runs `command` in a fresh 80×24 tmux session, then keeps the pane (with the exit line) open. */
function openTerminal(session: string, command: string): void {
  tmux('new-session', '-d', '-s', session, '-x', '80', '-y', '24', `${command}; echo "command exited $?"; sleep 600`);
}

describe.each(DOCKER_CLIS)('$name: a -t container owned by its monitor', ({ name, path: cli }) => {
  const host = () => `DOCKER_CONFIG=${config} ${cli} -H unix://${daemon.socket}`;

  it('run -dit outlives the daemon; exec -it; attach (detach keys, exit 7); logs', async () => {
    const box = `tt-${name.replace(/\W/g, '')}`;
    const started = await docker(daemon, ['run', '-dit', '--network', 'none', '--name', box, frame.image, 'sh'], { cli });
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    // Not the daemon's child: it keeps running while no daemon runs.
    expect(await daemon.stop()).toBe(0);
    expect(minibox(frame.root, ['ps', '--format', '{{.Names}} {{.Status}}']).stdout).toMatch(new RegExp(`^${box} Up`, 'm'));
    daemon = await startDaemon(frame.root);

    const session = `mb-api-tty2-${process.pid}`;
    try {
      openTerminal(session, `${host()} exec -it ${box} sh`);
      await promptSizeResizeExit5(session);
      expect(await waitForScreen(session, /command exited \d+/)).toMatch(/command exited 5/);
    } finally {
      killSession(session);
    }

    try {
      openTerminal(session, `${host()} attach ${box}`);
      await waitForScreen(session, /^\/ # ?$/m); // docker attach sends two window sizes: sh redraws its prompt
      tmux('send-keys', '-t', session, 'echo attached-$((6*7))', 'Enter');
      await waitForScreen(session, /^attached-42\s*$/m);
      tmux('send-keys', '-t', session, 'C-p', 'C-q');
      expect(await waitForScreen(session, /command exited \d+/)).toMatch(/read escape sequence\s+command exited 1/);
    } finally {
      killSession(session);
    }
    expect(minibox(frame.root, ['ps', '--format', '{{.Names}}']).stdout).toContain(box); // detached: it runs on

    try {
      openTerminal(session, `${host()} attach ${box}`);
      await waitForScreen(session, /^\/ # ?$/m);
      tmux('send-keys', '-t', session, 'exit 7', 'Enter');
      expect(await waitForScreen(session, /command exited \d+/)).toMatch(/command exited 7/);
    } finally {
      killSession(session);
    }
    const logs = await docker(daemon, ['logs', box], { cli });
    expect(logs.code).toBe(0);
    expect(logs.stdout).toMatch(/^attached-42\r?$/m);
    expect((await docker(daemon, ['inspect', '-f', '{{.State.ExitCode}}', box], { cli })).stdout.trim()).toBe('7');
    expect((await docker(daemon, ['rm', box], { cli })).code).toBe(0);
  });
});
