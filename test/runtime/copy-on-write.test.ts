import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { runInBusybox } from '../helpers/containers.js';
import { busyboxLowerDir } from '../helpers/bundle.js';

function listTree(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: false }).map(String).sort();
}

describe('the image is shared, each container writes only its own layer', () => {
  test('a file written in container A is absent in container B, and the lower dir is unchanged', async () => {
    const lower = busyboxLowerDir();
    const before = listTree(lower);
    const passwdBefore = fs.readFileSync(path.join(lower, 'etc/passwd'), 'utf8');

    const a = await runInBusybox('echo from-a > /data.txt; echo "intruder:x:0:0::/:/bin/sh" >> /etc/passwd; rm /bin/vi; cat /data.txt',
      { keep: true });
    try {
      expect(a.stdout).toBe('from-a\n');
      expect(fs.readFileSync(path.join(a.bundle.upper, 'data.txt'), 'utf8')).toBe('from-a\n');
      // The copy-up: the whole modified file now lives in A's upper dir; the deletion is a whiteout.
      expect(fs.readFileSync(path.join(a.bundle.upper, 'etc/passwd'), 'utf8')).toContain('intruder');
      expect(fs.lstatSync(path.join(a.bundle.upper, 'bin/vi')).isCharacterDevice()).toBe(true);
    } finally {
      a.bundle.remove();
    }

    const b = await runInBusybox('cat /data.txt 2>&1; grep -c intruder /etc/passwd; ls /bin/vi');
    expect(b.stdout).toBe('cat: can\'t open \'/data.txt\': No such file or directory\n0\n/bin/vi\n');
    expect(listTree(lower)).toEqual(before);
    expect(fs.readFileSync(path.join(lower, 'etc/passwd'), 'utf8')).toBe(passwdBefore);
  });

  test('root.readonly makes / read-only but keeps /dev/shm and /proc writable where they should be', async () => {
    const run = await runInBusybox('touch /x 2>&1; echo "root=$?"; touch /dev/shm/x; echo "shm=$?"', {
      change: (spec) => { spec.root.readonly = true; },
    });
    expect(run.stdout).toContain('Read-only file system');
    expect(run.stdout).toContain('root=1');
    expect(run.stdout).toContain('shm=0');
  });
});
