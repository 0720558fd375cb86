/**
 * `minibox run -it` as a person uses it, in a real terminal (tmux): the prompt appears, typed
 * commands run in the container, the window size is the terminal's and follows a resize, and
 * `exit 5` comes back as minibox's exit code. Also `--explain` and `--trace` from the CLI.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectNoLeaks } from '../helpers/leaks.js';
import { bin, minibox } from '../helpers/minibox.js';
import { pulledBusybox } from '../helpers/pulled-busybox.js';
import { killSession, tmux, waitForScreen } from '../helpers/tmux.js';

const busybox = pulledBusybox('tty/busybox');
let root: string;
let image: string;
beforeAll(() => { ({ root, image } = busybox); });
// After each test, not only at the end of the file: mounts in any namespace, processes, cgroups,
// veths, rules and IPAM entries of this root (test/helpers/leaks.ts).
afterEach(() => expectNoLeaks(busybox.root));

describe('run -it in a terminal', () => {
  it('shows a prompt, runs typed commands, follows resizes and returns the exit code', async () => {
    const session = `mb-run-it-${process.pid}`;
    const status = path.join(root, 'exit-status');
    try {
      tmux('new-session', '-d', '-s', session, '-x', '100', '-y', '30',
        `${process.execPath} ${bin} --root ${root} run -it --rm -e PS1='box# ' ${image} sh; echo "EXIT=$?" > ${status}; sleep 60`);
      await waitForScreen(session, /^box#/m);

      tmux('send-keys', '-t', session, 'echo "pid=$$ host=$(hostname)"; stty size', 'Enter');
      let screen = await waitForScreen(session, /^30 100$/m);
      expect(screen).toMatch(/^pid=1 host=[a-f0-9]{12}$/m);

      tmux('resize-window', '-t', session, '-x', '120', '-y', '40');
      tmux('send-keys', '-t', session, 'clear; stty size', 'Enter');
      screen = await waitForScreen(session, /^40 120$/m);

      tmux('send-keys', '-t', session, 'exit 5', 'Enter');
      for (let i = 0; i < 200 && !fs.existsSync(status); i++) await new Promise((r) => setTimeout(r, 50));
      expect(fs.readFileSync(status, 'utf8').trim()).toBe('EXIT=5');
    } finally {
      killSession(session);
    }
    expect(minibox(root, ['volume', 'ls', '-q']).stdout.trim()).toBe('');
  });
});

describe('run --explain and --trace', () => {
  it('=all narrates each kernel step on stderr, in order, and --trace writes the same events as JSON lines', () => {
    const trace = path.join(root, 'trace.jsonl');
    const result = minibox(root, ['run', '--rm', '--explain=all', '--trace', trace, image, 'echo', 'hello']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('hello\n');
    const order = ['unshare', 'mount', 'pivot_root', 'sethostname', 'capset', 'execve'];
    let at = -1;
    for (const word of order) {
      const next = result.stderr.indexOf(word, at + 1);
      expect(next, `"${word}" should be narrated after the previous step`).toBeGreaterThan(at);
      at = next;
    }
    expect(result.stderr).toMatch(/overlay/);
    const events = fs.readFileSync(trace, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { call: string; pid: number });
    const calls = events.map((event) => event.call);
    for (const call of order) expect(calls).toContain(call);
    expect(new Set(events.map((event) => event.pid)).size).toBeGreaterThanOrEqual(2); // engine + init stage
  });
});
