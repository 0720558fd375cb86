import { describe, expect, it } from 'vitest';
import { readMountInfo } from '../src/mountinfo.js';

const sample = [
  '36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue',
  '40 36 0:45 / /tmp/my\\040dir rw,relatime shared:7 master:3 - overlay overlay rw,lowerdir=/a:/b',
  '41 36 0:46 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate',
  'not a mountinfo line',
  '',
].join('\n');

describe('readMountInfo', () => {
  it('splits the fields around the " - " separator, whatever the number of optional fields', () => {
    expect(readMountInfo(sample)).toEqual([
      { mountPoint: '/mnt2', root: '/mnt1', fstype: 'ext3', source: '/dev/root', options: ['rw', 'noatime'], superOptions: ['rw', 'errors=continue'] },
      { mountPoint: '/tmp/my dir', root: '/', fstype: 'overlay', source: 'overlay', options: ['rw', 'relatime'], superOptions: ['rw', 'lowerdir=/a:/b'] },
      { mountPoint: '/sys/fs/cgroup', root: '/', fstype: 'cgroup2', source: 'cgroup2', options: ['rw', 'nosuid'], superOptions: ['rw', 'nsdelegate'] },
    ]);
  });

  it('unescapes octal-escaped space, tab, newline and backslash in paths', () => {
    const [entry] = readMountInfo('1 0 0:1 /a\\134b /x\\011y\\012z rw - tmpfs my\\040src rw\n');
    expect(entry?.root).toBe('/a\\b');
    expect(entry?.mountPoint).toBe('/x\ty\nz');
    expect(entry?.source).toBe('my src');
  });

  it('reads this process\'s own table when given no text', () => {
    expect(readMountInfo().some((entry) => entry.mountPoint === '/')).toBe(true);
  });
});
