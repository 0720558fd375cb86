import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, test } from 'vitest';
import { makeBundle, hostMountsMentioning } from '../helpers/bundle.js';
import { repoRoot } from '../helpers/registry.js';
import { tmux, waitForScreen } from '../helpers/tmux.js';

describe('-t: the container gets a terminal from its own devpts', () => {
  test('stty size, resizing, Ctrl-C and the exit code go through the pty', async () => {
    const bundle = makeBundle(['sh'], (spec) => {
      spec.process.terminal = true;
      spec.process.env!.push('PS1=box# ');
    });
    const session = `mb-rt-tty-${process.pid}`;
    const runner = path.join(repoRoot, 'test/runtime/fixtures/run-bundle.mjs');
    try {
      tmux('new-session', '-d', '-s', session, '-x', '100', '-y', '30',
        `${process.execPath} ${runner} ${bundle.dir}; echo "EXIT=$?"; sleep 60`);
      await waitForScreen(session, /^box#/m);

      tmux('send-keys', '-t', session, 'stty size; tty; ls /dev/pts', 'Enter');
      let screen = await waitForScreen(session, /^30 100$[\s\S]*ptmx[\s\S]*^box#/m);
      expect(screen).toMatch(/^\/dev\/pts\/0$/m);
      expect(screen).toMatch(/^0\s+ptmx$/m);

      tmux('resize-window', '-t', session, '-x', '120', '-y', '40');
      tmux('send-keys', '-t', session, 'clear; stty size', 'Enter');
      screen = await waitForScreen(session, /^40 120$/m);

      // Ctrl-C is a byte to the container; its pty turns it into SIGINT for `sleep`, not for us.
      // The shell (PID 1) survives and prints a new prompt; the engine is not interrupted.
      tmux('send-keys', '-t', session, 'sleep 50', 'Enter');
      await waitForScreen(session, /^box# sleep 50$/m);
      tmux('send-keys', '-t', session, 'C-c');
      await waitForScreen(session, /^\^C$\s*^box#/m);
      tmux('send-keys', '-t', session, 'echo still-$((40+2))', 'Enter');
      await waitForScreen(session, /^still-42$/m);

      tmux('send-keys', '-t', session, 'exit 5', 'Enter');
      screen = await waitForScreen(session, /EXIT=5/);
      expect(screen).not.toContain('minibox:');
    } finally {
      try { tmux('kill-session', '-t', session); } catch { /* already gone */ }
      expect(hostMountsMentioning(bundle.dir)).toEqual([]);
      bundle.remove();
    }
  });

  test('closing the terminal (SIGHUP) ends the container and the engine', async () => {
    const bundle = makeBundle(['sh'], (spec) => {
      spec.process.terminal = true;
      spec.process.env!.push('PS1=box# ');
    });
    const session = `mb-rt-hup-${process.pid}`;
    const runner = path.join(repoRoot, 'test/runtime/fixtures/run-bundle.mjs');
    try {
      tmux('new-session', '-d', '-s', session, `exec ${process.execPath} ${runner} ${bundle.dir}`);
      await waitForScreen(session, /^box#/m);
      const engine = Number(tmux('display-message', '-p', '-t', session, '#{pane_pid}').trim());
      tmux('send-keys', '-t', session, 'echo $$', 'Enter');
      await waitForScreen(session, /^1$/m);
      tmux('kill-session', '-t', session);
      let alive = true;
      for (let i = 0; i < 200 && alive; i++) {
        try { process.kill(engine, 0); await sleep(50); } catch { alive = false; }
      }
      expect(alive).toBe(false);
    } finally {
      try { tmux('kill-session', '-t', session); } catch { /* already gone */ }
      expect(hostMountsMentioning(bundle.dir)).toEqual([]);
      bundle.remove();
    }
  });
});
