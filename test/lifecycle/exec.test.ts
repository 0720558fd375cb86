/**
 * `minibox exec`: a second process joins a running container — its PID namespace, files, user,
 * capabilities — through the built CLI, a real registry and real namespaces.
 */
import fs from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killSession, tmux, waitForScreen } from '../helpers/tmux.js';
import { bin } from '../helpers/minibox.js';
import { LifecycleFixture, type RunningContainer } from './running-container.js';

const fixture = new LifecycleFixture();
let web: RunningContainer;

beforeAll(async () => {
  await fixture.setup();
  web = await fixture.start('web', ['sh', '-c', 'echo from-container > /tmp/by-container; exec sleep 300']);
});

afterEach(() => fixture.expectNoLeaks());
afterAll(async () => {
  await fixture.cleanup();
});

function statusField(status: string, field: string): string {
  return /^(\S+):\s*(.*)$/m.exec(status.split('\n').find((line) => line.startsWith(`${field}:`)) ?? '')?.[2] ?? '';
}

describe('exec joins the running container', () => {
  it('sees the same PID namespace: PID 1 is the container\'s command', async () => {
    const result = await fixture.mb(['exec', 'web', 'ps', '-o', 'pid,args']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^\s*1\s+sleep 300$/m);
    expect(result.stdout).toMatch(/^\s*\d+\s+ps -o pid,args$/m);
  });

  it('sees the container\'s files, and the container sees what exec writes', async () => {
    const read = await fixture.mb(['exec', 'web', 'cat', '/tmp/by-container']);
    expect(read.stdout).toBe('from-container\n');
    const write = await fixture.mb(['exec', 'web', 'sh', '-c', 'echo from-exec > /tmp/by-exec']);
    expect(write.code, write.stderr).toBe(0);
    // PID 1's view of its root, from the host: the same overlay the exec wrote into.
    expect(fs.readFileSync(`/proc/${web.pid}/root/tmp/by-exec`, 'utf8')).toBe('from-exec\n');
  });

  it('has the same hostname and namespaces as PID 1', async () => {
    const result = await fixture.mb(['exec', 'web', 'sh', '-c', 'hostname; for n in ipc uts net cgroup mnt pid; do readlink /proc/self/ns/$n; done']);
    expect(result.code, result.stderr).toBe(0);
    const [hostname, ...links] = result.stdout.trim().split('\n');
    expect(hostname).toBe(web.id.slice(0, 12));
    const expected = ['ipc', 'uts', 'net', 'cgroup', 'mnt', 'pid'].map((n) => fs.readlinkSync(`/proc/${web.pid}/ns/${n}`));
    expect(links).toEqual(expected);
  });

  it.each([
    [['true'], 0],
    [['sh', '-c', 'exit 3'], 3],
    [['/etc/passwd'], 126],
    [['no-such-program'], 127],
    [['sh', '-c', 'kill -9 $$'], 137],
  ])('%j exits %i', async (command, code) => {
    const result = await fixture.mb(['exec', 'web', ...command]);
    expect(result.code).toBe(code);
    if (code === 127) expect(result.stderr).toContain('executable file not found in $PATH');
  });

  it('has the container\'s capabilities and no_new_privs', async () => {
    const result = await fixture.mb(['exec', 'web', 'cat', '/proc/self/status']);
    expect(result.code, result.stderr).toBe(0);
    const container = fs.readFileSync(`/proc/${web.pid}/status`, 'utf8');
    for (const field of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) {
      expect(statusField(result.stdout, field), field).toBe(statusField(container, field));
    }
    expect(statusField(result.stdout, 'CapEff')).toBe('00000000a80425fb'); // Docker's 14
    expect(statusField(result.stdout, 'NoNewPrivs')).toBe('1');
  });

  it('-u app runs as uid 1000 with its groups from the container\'s /etc/group', async () => {
    const result = await fixture.mb(['exec', '-u', 'app', 'web', 'sh', '-c', 'id; echo HOME=$HOME']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('uid=1000(app) gid=1000(app) groups=10(wheel),100(users)');
    expect(result.stdout).toContain('HOME=/home/app');
    const unknown = await fixture.mb(['exec', '-u', 'nobody-here', 'web', 'id']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('unable to find user nobody-here');
  });

  it('-e adds to the container\'s environment and -w sets the directory', async () => {
    const result = await fixture.mb(['exec', '-e', 'GREETING=hi', '-e', 'HOSTNAME=changed', '-w', '/tmp', 'web', 'sh', '-c', 'echo $GREETING $HOSTNAME $PATH; pwd']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('hi changed /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n/tmp\n');
    const missing = await fixture.mb(['exec', '-w', '/no/such/dir', 'web', 'pwd']);
    expect(missing.code).toBe(126);
    expect(missing.stderr).toContain('/no/such/dir');
  });

  it('-i passes stdin on; without it the command reads nothing', async () => {
    const withInput = await fixture.mb(['exec', '-i', 'web', 'cat'], 'piped-in\n');
    expect(withInput.stdout).toBe('piped-in\n');
    const without = await fixture.mb(['exec', 'web', 'cat'], 'ignored\n');
    expect(without.code).toBe(0);
    expect(without.stdout).toBe('');
  });

  it('-d returns at once and the process lives on, its parent outside the container (PPID 0, as in Docker)', async () => {
    const result = await fixture.mb(['exec', '-d', 'web', 'sh', '-c', 'sleep 1; echo done > /tmp/detached; sleep 200']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('');
    // `sleep 200` runs (as its own line in ps) once the echo is done.
    const sleeping = /^\s*\d+\s+\d+\s+sleep 200$/m;
    let ps = '';
    for (let i = 0; i < 100 && !sleeping.test(ps); i++) {
      ps = (await fixture.mb(['exec', 'web', 'ps', '-o', 'pid,ppid,args'])).stdout;
      if (!sleeping.test(ps)) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(ps).toMatch(/^\s*\d+\s+0\s+sleep 200$/m); // (sh exec'd its last command)
    expect(fs.readFileSync(`/proc/${web.pid}/root/tmp/detached`, 'utf8')).toBe('done\n');
  });

  it('an unknown container or a stopped one is refused with Docker\'s message and exit 1', async () => {
    const unknown = await fixture.mb(['exec', 'no-such-box', 'true']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('No such container: no-such-box');

    const short = await fixture.start('short', ['sleep', '300']);
    await fixture.stop(short);
    const stopped = await fixture.mb(['exec', 'short', 'true']);
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toBe(`minibox: container ${short.id} is not running\n`);
  });
});

describe('exec -it through a real terminal', () => {
  it('prompt, command, window size and exit code go through the container\'s pty', async () => {
    const session = `mb-exec-tty-${process.pid}`;
    try {
      tmux('new-session', '-d', '-s', session, '-x', '100', '-y', '30',
        `${process.execPath} ${bin} --root ${fixture.root} exec -it -e PS1='ctr# ' web sh; echo "EXIT=$?"; sleep 60`);
      await waitForScreen(session, /^ctr#/m);
      tmux('send-keys', '-t', session, 'stty size; tty; echo $TERM', 'Enter');
      const screen = await waitForScreen(session, /^30 100$[\s\S]*^xterm$/m);
      expect(screen).toMatch(/^\/dev\/pts\/\d+$/m);
      tmux('send-keys', '-t', session, 'exit 5', 'Enter');
      const end = await waitForScreen(session, /EXIT=5/);
      expect(end).not.toContain('minibox:');
    } finally {
      killSession(session);
    }
  });
});
