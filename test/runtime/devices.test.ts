/**
 * A container keeps Docker's CAP_MKNOD, but a device node it makes cannot be opened anywhere it
 * can write: its root, /dev, a volume, a tmpfs (all mounted nodev — see runtime/rootfs/devices.ts). The
 * allowed devices (/dev/null, /dev/zero, …) still work. Proven with the host's own disk.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { minibox } from '../helpers/minibox.js';
import { pulledBusybox } from '../helpers/pulled-busybox.js';

const busybox = pulledBusybox('dev/busybox');
let root: string;
let image: string;
let volumeDir: string;

/** major and minor of the block device holding the host's / (e.g. 254 0 for /dev/vda). */
function hostDisk(): { major: number; minor: number } {
  const dev = fs.statSync('/').dev;
  return { major: Math.floor(dev / 256) & 0xfff, minor: (dev & 0xff) | (Math.floor(dev / 4096) & 0xfff00) };
}

let submountDir: string | undefined;

beforeAll(() => {
  ({ root, image } = busybox);
  volumeDir = fs.mkdtempSync(path.join(root, 'volume-'));
});

afterAll(() => {
  if (submountDir) execFileSync('umount', [path.join(submountDir, 'sub')]);
});

/**
 * `mknod NODE b MAJ MIN` for the host's disk, then try to read it: prints "OPENED NODE" or
 * "refused NODE: REASON". A nodev mount refuses with EACCES ("Permission denied") before anything
 * else looks at the node; some hosts (this project's VMs) refuse the disk even to the host's root
 * with EPERM ("Operation not permitted"), so the reason is what proves nodev did it.
 */
function tryDisk(node: string): string {
  const { major, minor } = hostDisk();
  return `mknod ${node} b ${major} ${minor} && { err=$(head -c 512 ${node} 2>&1 >/dev/null) && echo "OPENED ${node}" || echo "refused ${node}: \${err##*: }"; }`;
}

describe('device nodes in a container', () => {
  it('a node for the host disk made with mknod cannot be opened in /, /dev, a volume or a tmpfs', () => {
    const script = ['/tmp/disk', '/dev/disk', '/vol/disk', '/scratch/disk'].map(tryDisk).join('; ');
    const result = minibox(root, ['run', '--rm', '--network', 'none', '-v', `${volumeDir}:/vol`, '--tmpfs', '/scratch', image, 'sh', '-c', script]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain('OPENED');
    expect(result.stdout.trim().split('\n')).toEqual(['/tmp/disk', '/dev/disk', '/vol/disk', '/scratch/disk'].map((node) => `refused ${node}: Permission denied`));
    // The node made in the volume exists on the host, but the container could not use it.
    expect(fs.lstatSync(path.join(volumeDir, 'disk')).isBlockDevice()).toBe(true);
    fs.rmSync(path.join(volumeDir, 'disk'));
  });

  // On main before this change `--tmpfs /x:dev` dropped nodev, and this printed "OPENED /x/disk".
  it('--tmpfs /x:dev is still nodev: a node for the host disk made there cannot be opened', () => {
    const result = minibox(root, ['run', '--rm', '--network', 'none', '--tmpfs', '/x:dev,exec', image, 'sh', '-c',
      `${tryDisk('/x/disk')}; grep ' /x ' /proc/self/mountinfo`]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const [verdict, mountLine] = result.stdout.trim().split('\n');
    expect(verdict).toBe('refused /x/disk: Permission denied');
    expect(mountLine).toMatch(/ \/x rw,nosuid,nodev[, ]/); // exec was honoured, dev was not
  });

  // On main before this change only the top mount of a -v bind got nodev/ro: the host tmpfs
  // mounted below the bound directory stayed `rw` and `dev` inside the container (OPENED, and
  // the touch succeeded).
  it('a -v bind keeps nodev and ro on every mount below it', () => {
    submountDir = fs.mkdtempSync(path.join(root, 'with-submount-'));
    fs.mkdirSync(path.join(submountDir, 'sub'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'mb-devices-test', path.join(submountDir, 'sub')]);
    const writable = minibox(root, ['run', '--rm', '--network', 'none', '-v', `${submountDir}:/vol`, image, 'sh', '-c',
      `${tryDisk('/vol/sub/disk')}; grep ' /vol/sub ' /proc/self/mountinfo`]);
    expect(writable.stderr).toBe('');
    const [verdict, mountLine] = writable.stdout.trim().split('\n');
    expect(verdict).toBe('refused /vol/sub/disk: Permission denied');
    expect(mountLine).toMatch(/ \/vol\/sub rw,nodev[, ]/);
    fs.rmSync(path.join(submountDir, 'sub', 'disk'));

    const readOnly = minibox(root, ['run', '--rm', '--network', 'none', '-v', `${submountDir}:/vol:ro`, image, 'sh', '-c',
      'touch /vol/sub/f 2>/dev/null && echo WROTE || echo refused; grep \' /vol/sub \' /proc/self/mountinfo']);
    expect(readOnly.stderr).toBe('');
    const [written, readOnlyLine] = readOnly.stdout.trim().split('\n');
    expect(written).toBe('refused');
    expect(readOnlyLine).toMatch(/ \/vol\/sub ro,nodev[, ]/);
    expect(fs.readdirSync(path.join(submountDir, 'sub'))).toEqual([]);
  });

  it('the allowed devices work', () => {
    const result = minibox(root, ['run', '--rm', '--network', 'none', image, 'sh', '-c',
      'echo gone > /dev/null && head -c 3 /dev/zero | wc -c && head -c 8 /dev/urandom | wc -c && ls /dev/full /dev/random /dev/tty']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('3\n8\n/dev/full\n/dev/random\n/dev/tty\n');
  });
});
