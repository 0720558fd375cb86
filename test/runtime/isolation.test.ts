import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { runInBusybox } from '../helpers/containers.js';

describe('a container is isolated from the host', () => {
  const marker = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-host-marker-'));
  afterAll(() => fs.rmSync(marker, { recursive: true, force: true }));

  test('ps shows PID 1 and only the container\'s own processes', async () => {
    const run = await runInBusybox('ps -o pid,comm; true') // `; true` keeps sh alive as PID 1;
    const pids = run.stdout!.trim().split('\n').slice(1).map((line) => Number(line.trim().split(/\s+/)[0]));
    expect(run.exitCode).toBe(0);
    expect(pids[0]).toBe(1);
    expect(pids.length).toBe(2); // sh and ps
  });

  test('the hostname is the container\'s, not the host\'s', async () => {
    const run = await runInBusybox('hostname', { change: (spec) => { spec.hostname = 'isolated-box'; } });
    expect(run.stdout).toBe('isolated-box\n');
    expect(os.hostname()).not.toBe('isolated-box');
  });

  test('/ is the overlay and the host\'s files are not visible', async () => {
    const run = await runInBusybox(`grep ' / / ' /proc/self/mountinfo; ls ${marker} 2>&1; ls /`);
    expect(run.stdout).toMatch(/ \/ \/ rw[^\n]* - overlay overlay /);
    expect(run.stdout).toContain(`ls: ${marker}: No such file or directory`);
    expect(run.stdout).toContain('bin');
  });

  test('/proc/sys is read-only and masked paths show nothing', async () => {
    const run = await runInBusybox(
      'echo 1 > /proc/sys/kernel/domainname; echo "write=$?"; wc -c < /proc/keys; ls /sys/firmware | wc -l; grep " /proc/sys " /proc/self/mountinfo');
    expect(run.stdout).toMatch(/write=1/);
    expect(run.stderr).toMatch(/Read-only file system/);
    expect(run.stdout).toMatch(/^write=1\n0\n0\n.* \/proc\/sys ro,/);
  });

  test('without a network namespace the host\'s network is shared, with one only lo exists, up', async () => {
    // The init stage itself switches lo on (sys/netdevice.ts); no engine network step runs here.
    // flags 0x9 = IFF_UP|IFF_LOOPBACK; on main before that change this read 0x8 (down).
    const own = await runInBusybox('ls /sys/class/net; cat /sys/class/net/lo/flags');
    expect(own.stdout!.trim().split('\n')).toEqual(['lo', '0x9']);
    const host = await runInBusybox('ls /sys/class/net', {
      change: (spec) => { spec.linux!.namespaces = spec.linux!.namespaces!.filter((ns) => ns.type !== 'network'); },
    });
    expect(host.stdout!.trim().split('\n').sort()).toEqual(fs.readdirSync('/sys/class/net').sort());
  });
});
