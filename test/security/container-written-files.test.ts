/**
 * Files a container (or an image) can write are read by the engine with a cap, and never block
 * it (issue 10, item 8): a FIFO in place of /etc/passwd does not hang `exec -u`, an image's 5 MB
 * /etc/passwd is not read whole for `run -u`. (The bloated /etc/hosts of a user network is in
 * test/network/user-network.test.ts.)
 *
 * Checked to fail on main (18d62ab): `exec -u nobody` against the FIFO hung until the test's
 * timeout killed it; `run -u nobody` read the 5 MB file whole and ran (exit 0).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readUntrustedFile } from '../../src/untrusted-file.js';
import { expectNoLeaks } from '../helpers/leaks.js';
import { deriveImage } from '../helpers/derived-image.js';
import { minibox } from '../helpers/minibox.js';
import { busyboxImageLayout, pushLayout } from '../helpers/registry.js';
import { withWorld, until, type LifecycleWorld } from '../lifecycle/helpers.js';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-untrusted-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

describe('readUntrustedFile', () => {
  it('reads a small regular file, and says "missing" for none', () => {
    fs.writeFileSync(path.join(scratch, 'small'), 'root:x:0:0::/root:/bin/sh\n');
    expect(readUntrustedFile(path.join(scratch, 'small'), 100)).toBe('root:x:0:0::/root:/bin/sh\n');
    expect(readUntrustedFile(path.join(scratch, 'none'), 100)).toBeUndefined();
  });

  it('refuses, without blocking, a FIFO, a symlink, a directory and a file over the limit', () => {
    expect(spawnSync('mkfifo', [path.join(scratch, 'fifo')]).status).toBe(0);
    expect(() => readUntrustedFile(path.join(scratch, 'fifo'), 100, 'the fifo')).toThrow('cannot read the fifo: not a regular file');
    fs.symlinkSync('/etc/shadow', path.join(scratch, 'link'));
    expect(() => readUntrustedFile(path.join(scratch, 'link'), 100, 'the link')).toThrow('cannot read the link: it is a symbolic link');
    expect(() => readUntrustedFile(scratch, 100, 'the dir')).toThrow('cannot read the dir: not a regular file');
    fs.writeFileSync(path.join(scratch, 'big'), Buffer.alloc(101, 'x'));
    expect(() => readUntrustedFile(path.join(scratch, 'big'), 100, 'the big one')).toThrow('cannot read the big one: larger than 100 bytes');
    fs.writeFileSync(path.join(scratch, 'exact'), Buffer.alloc(100, 'x'));
    expect(readUntrustedFile(path.join(scratch, 'exact'), 100)).toHaveLength(100);
  });
});

describe('a running container that booby-traps its own files', () => {
  let world: LifecycleWorld;
  withWorld((started) => { world = started; });

  it('cannot hang `exec -u NAME` with a FIFO for /etc/passwd', async () => {
    const run = await world.mb(['run', '-d', '--network', 'none', '--name', 'trap', world.image,
      'sh', '-c', 'rm /etc/passwd && mkfifo /etc/passwd && echo armed && exec sleep 1000']);
    expect(run.code).toBe(0);
    await until(async () => (await world.mb(['logs', 'trap'])).stdout.includes('armed'), 'the FIFO in place');
    // A synchronous run with a deadline: on main this never returned.
    const exec = minibox(world.root, ['exec', '-u', 'nobody', 'trap', 'true'], { timeoutMs: 30_000 });
    expect(exec.stderr).toBe('minibox: cannot read /etc/passwd of the container: not a regular file\n');
    expect(exec.code).not.toBe(0);
    expect(exec.code).not.toBe(137); // not killed by the deadline
    expect((await world.mb(['rm', '-f', 'trap'])).code).toBe(0);
  });

  it('an image with a 5 MB /etc/passwd: `run -u NAME` refuses it in one line instead of reading it', async () => {
    const layout = deriveImage(busyboxImageLayout(), 'latest', (rootfs) => {
      fs.appendFileSync(path.join(rootfs, 'etc/passwd'), `${'x'.repeat(5 * 1024 * 1024)}\n`);
    });
    const image = `${world.registry.host}/bigpasswd:latest`;
    pushLayout(layout, 'latest', image);
    const run = await world.mb(['run', '--rm', '--network', 'none', '-u', 'nobody', image, 'true']);
    expect(run.stderr).toMatch(/cannot read \/etc\/passwd of the image: larger than 4194304 bytes\n$/);
    expect(run.stderr.trim().split('\n').filter((line) => line.startsWith('minibox:'))).toHaveLength(1);
    expect(run.code).toBe(125);
  });
});
