import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { runInBusybox } from '../helpers/containers.js';
import { MiniboxError } from '../../src/errors.js';

describe('what config.json asks for, the container gets', () => {
  const host = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-features-'));
  afterAll(() => fs.rmSync(host, { recursive: true, force: true }));

  test('bind mounts: a writable volume dir and read-only files such as /etc/hostname', async () => {
    const volume = path.join(host, 'volume');
    fs.mkdirSync(volume);
    fs.writeFileSync(path.join(host, 'hostname'), 'from-engine\n');
    const run = await runInBusybox('echo written > /data/out.txt; cat /etc/hostname; echo x > /etc/hostname; echo "ro=$?"', {
      change: (spec) => {
        spec.mounts!.push(
          { destination: '/data', type: 'bind', source: volume, options: ['rbind', 'rw'] },
          { destination: '/etc/hostname', type: 'bind', source: path.join(host, 'hostname'), options: ['rbind', 'ro'] },
        );
      },
    });
    expect(fs.readFileSync(path.join(volume, 'out.txt'), 'utf8')).toBe('written\n');
    expect(run.stdout).toBe('from-engine\nro=1\n');
    expect(fs.readFileSync(path.join(host, 'hostname'), 'utf8')).toBe('from-engine\n');
  });

  test('onNamespacesReady sees the init stage in its new namespaces before anything runs', async () => {
    let seen: { uts: string; net: string; mine: string } | undefined;
    const run = await runInBusybox('echo started', {
      onNamespacesReady: async (pid) => {
        seen = {
          uts: fs.readlinkSync(`/proc/${pid}/ns/uts`), net: fs.readlinkSync(`/proc/${pid}/ns/net`),
          mine: fs.readlinkSync('/proc/self/ns/uts'),
        };
      },
    });
    expect(run.stdout).toBe('started\n');
    expect(seen?.uts).not.toBe(seen?.mine);
    expect(seen?.net).not.toBe(fs.readlinkSync('/proc/self/ns/net'));
  });

  test('a failing onNamespacesReady stops the container with exit code 125', async () => {
    const error = await runInBusybox('echo never', {
      onNamespacesReady: async () => { throw new Error('cannot create cgroup'); },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MiniboxError);
    expect((error as MiniboxError).exitCode).toBe(125);
    expect((error as MiniboxError).message).toBe('cannot create cgroup');
  });

  test('namespaced sysctls, the working directory and the environment', async () => {
    const hostForwarding = fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8');
    const run = await runInBusybox('cat /proc/sys/net/ipv4/ip_forward; pwd; echo "$GREETING"', {
      change: (spec) => {
        spec.linux!.sysctl = { 'net.ipv4.ip_forward': hostForwarding.trim() === '1' ? '0' : '1' };
        spec.process.cwd = '/work/here';
        spec.process.env!.push('GREETING=hello');
      },
    });
    expect(run.stdout).toBe(`${hostForwarding.trim() === '1' ? '0' : '1'}\n/work/here\nhello\n`);
    expect(fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8')).toBe(hostForwarding);
  });

  test('a mount error names the mount and the container does not start', async () => {
    const error = await runInBusybox('echo never', {
      change: (spec) => { spec.mounts!.push({ destination: '/data', type: 'bind', source: '/no/such/dir', options: ['rbind'] }); },
    }).catch((e: unknown) => e);
    expect((error as MiniboxError).exitCode).toBe(125);
    expect((error as MiniboxError).message).toBe('bind mount source /no/such/dir (for /data) does not exist');
  });
});
