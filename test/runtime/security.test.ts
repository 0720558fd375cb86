import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { runInBusybox } from '../helpers/containers.js';

/** Docker's 14 default capabilities as the mask /proc/PID/status shows. */
const DOCKER_DEFAULT_MASK = '00000000a80425fb';

describe('a container keeps only what Docker gives it', () => {
  const marker = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-host-secret-'));
  fs.writeFileSync(path.join(marker, 'secret'), 'host secret\n');
  afterAll(() => fs.rmSync(marker, { recursive: true, force: true }));

  test('CapEff and CapBnd are Docker\'s default set, and NoNewPrivs is 1', async () => {
    const run = await runInBusybox(['grep', '-E', '^(CapEff|CapBnd|CapPrm|CapAmb|NoNewPrivs|SigIgn)', '/proc/self/status']);
    expect(run.stdout).toContain(`CapEff:\t${DOCKER_DEFAULT_MASK}`);
    expect(run.stdout).toContain(`CapBnd:\t${DOCKER_DEFAULT_MASK}`);
    expect(run.stdout).toContain(`CapPrm:\t${DOCKER_DEFAULT_MASK}`);
    expect(run.stdout).toContain('CapAmb:\t0000000000000000');
    expect(run.stdout).toContain('NoNewPrivs:\t1');
    expect(run.stdout).toContain('SigIgn:\t0000000000000000'); // Node's ignored SIGPIPE does not leak
  });

  test('a non-root user loses the capabilities at exec and gets its groups', async () => {
    const run = await runInBusybox('id; grep -E "^CapEff" /proc/self/status', {
      change: (spec) => { spec.process.user = { uid: 1000, gid: 1000, additionalGids: [100] }; },
    });
    expect(run.stdout).toContain('uid=1000(app) gid=1000(app) groups=100(users)');
    expect(run.stdout).toContain('CapEff:\t0000000000000000');
  });

  test('only stdin, stdout and stderr are open in the program', async () => {
    const run = await runInBusybox(['ls', '/proc/self/fd']);
    // 3 is the directory ls itself opened to list /proc/self/fd.
    expect(run.stdout!.trim().split('\n')).toEqual(['0', '1', '2', '3']);
  });

  test('mount, writing kernel settings and loading modules are refused', async () => {
    const run = await runInBusybox([
      'mount -t tmpfs none /tmp; echo "mount=$?"',
      'echo 1 > /proc/sys/vm/drop_caches; echo "sysctl=$?"',
      'insmod /no-such-module.ko; echo "insmod=$?"',
      'grep -c " /tmp " /proc/self/mountinfo',
    ].join('; '));
    expect(run.stdout).toMatch(/mount=[1-9]/);
    expect(run.stdout).toMatch(/sysctl=[1-9]/);
    expect(run.stdout).toMatch(/insmod=[1-9]/);
    expect(run.stdout).toMatch(/\n0\n$/);
    expect(run.stderr).toMatch(/mount: permission denied/);
  });

  test('no path through /proc leads back to the host\'s files', async () => {
    const secret = path.join(marker, 'secret');
    const run = await runInBusybox([
      `cat /proc/1/root${secret} 2>&1`, `cat /proc/self/cwd${secret} 2>&1`, `cat /proc/*/root${secret} 2>&1`,
      'readlink /proc/1/exe', 'readlink /proc/1/root', 'readlink /proc/1/cwd',
    ].join('; '));
    expect(run.stdout).not.toContain('host secret');
    expect(run.stdout).toContain('/bin/busybox');
    expect(run.stdout).toMatch(/\n\/\n\/\n$/);
  });
});
