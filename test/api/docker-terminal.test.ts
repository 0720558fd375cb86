/**
 * `docker run -it` through `minibox serve`, driven in a real terminal (tmux) as a person would:
 * the shell's prompt, `stty size` matching the window, a resize reaching the container's pty
 * (the CLI's SIGWINCH → `POST /containers/{id}/resize` → TIOCSWINSZ), and `exit 5` ending the
 * docker command with 5. The container is `--rm`: nothing is left afterwards.
 *
 * Uses the default bridge: run under `flock /tmp/minibox-net.lock` on a shared machine.
 * Hostile: before terminal-session.ts, create answered 400 for -t and the prompt never came.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCKER_CLIS, startDaemon, type Daemon } from '../helpers/api-daemon.js';
import { expectNoContainers } from '../helpers/leaks.js';
import { pulledBusybox } from '../helpers/pulled-busybox.js';
import { killSession, tmux, waitForScreen } from '../helpers/tmux.js';

const frame = pulledBusybox('apitty/busybox');
let daemon: Daemon;
let config: string;

beforeAll(async () => {
  daemon = await startDaemon(frame.root);
  config = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-docker-config-'));
});
afterAll(async () => {
  await daemon.stop();
  expectNoContainers(frame.root);
  fs.rmSync(config, { recursive: true, force: true });
});

describe.each(DOCKER_CLIS)('$name run -it through minibox serve', ({ path: cli }) => {
  it('prompt, stty size, resize, exit 5', async () => {
    const session = `mb-api-tty-${process.pid}`;
    const command = `DOCKER_CONFIG=${config} ${cli} -H unix://${daemon.socket} run --rm -it ${frame.image} sh; echo "docker exited $?"; sleep 600`;
    tmux('new-session', '-d', '-s', session, '-x', '80', '-y', '24', command);
    try {
      await waitForScreen(session, /^\/ # ?$/m);
      tmux('send-keys', '-t', session, 'stty size', 'Enter');
      await waitForScreen(session, /^24 80\s*$/m);
      tmux('resize-window', '-t', session, '-x', '100', '-y', '30');
      tmux('send-keys', '-t', session, 'clear; stty size', 'Enter');
      await waitForScreen(session, /^30 100\s*$/m);
      tmux('send-keys', '-t', session, 'exit 5', 'Enter');
      expect(await waitForScreen(session, /docker exited \d+/)).toMatch(/docker exited 5/);
    } finally {
      killSession(session);
    }
  });
});
