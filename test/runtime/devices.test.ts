/**
 * A container keeps Docker's CAP_MKNOD, but a device node it makes cannot be opened anywhere it
 * can write: its root, /dev, a volume, a tmpfs (all mounted nodev — see runtime/rootfs/devices.ts). The
 * allowed devices (/dev/null, /dev/zero, …) still work. Proven with the host's own disk.
 */
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
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

beforeAll(() => {
  ({ root, image } = busybox);
  volumeDir = fs.mkdtempSync(path.join(root, 'volume-'));
});

describe('device nodes in a container', () => {
  it('a node for the host disk made with mknod cannot be opened in /, /dev, a volume or a tmpfs', () => {
    const { major, minor } = hostDisk();
    const script = ['/tmp/disk', '/dev/disk', '/vol/disk', '/scratch/disk']
      .map((node) => `mknod ${node} b ${major} ${minor} && (head -c 512 ${node} >/dev/null 2>&1 && echo "OPENED ${node}" || echo "refused ${node}")`)
      .join('; ');
    const result = minibox(root, ['run', '--rm', '--network', 'none', '-v', `${volumeDir}:/vol`, '--tmpfs', '/scratch', image, 'sh', '-c', script]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain('OPENED');
    expect(result.stdout.trim().split('\n')).toEqual(['refused /tmp/disk', 'refused /dev/disk', 'refused /vol/disk', 'refused /scratch/disk']);
    // The node made in the volume exists on the host, but the container could not use it.
    expect(fs.lstatSync(path.join(volumeDir, 'disk')).isBlockDevice()).toBe(true);
    fs.rmSync(path.join(volumeDir, 'disk'));
  });

  it('the allowed devices work', () => {
    const result = minibox(root, ['run', '--rm', '--network', 'none', image, 'sh', '-c',
      'echo gone > /dev/null && head -c 3 /dev/zero | wc -c && head -c 8 /dev/urandom | wc -c && ls /dev/full /dev/random /dev/tty']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('3\n8\n/dev/full\n/dev/random\n/dev/tty\n');
  });
});
