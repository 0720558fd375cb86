import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { resolveInRoot } from '../../src/resolve-in-root.js';
import { runInBusybox } from '../helpers/containers.js';

describe('mount destinations never leave the rootfs', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-resolve-'));
  const host = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-resolve-host-'));
  afterAll(() => {
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(host, { recursive: true, force: true });
  });
  fs.mkdirSync(path.join(root, 'etc'));
  fs.symlinkSync(host, path.join(root, 'absolute'));
  fs.symlinkSync('../../../../..' + host, path.join(root, 'etc', 'relative'));
  fs.symlinkSync('loop', path.join(root, 'loop'));

  test('absolute and climbing symlinks are resolved as if the rootfs were /', () => {
    expect(resolveInRoot(root, '/absolute/x')).toBe(path.join(root, host, 'x'));
    expect(resolveInRoot(root, '/etc/relative/x')).toBe(path.join(root, host, 'x'));
    expect(resolveInRoot(root, '/../../etc/hosts')).toBe(path.join(root, 'etc/hosts'));
    expect(() => resolveInRoot(root, '/loop/x')).toThrow(/too many symbolic links/);
  });

  test('an image symlink pointing at a host directory cannot redirect a bind mount', async () => {
    const source = path.join(host, 'volume-file');
    fs.writeFileSync(source, 'mounted content\n');
    const target = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-resolve-target-'));
    try {
      const run = await runInBusybox('cat /evil/hosts', {
        change: (spec, { upper }) => {
          fs.symlinkSync(target, path.join(upper, 'evil')); // the image says /evil -> a host dir
          spec.mounts!.push({ destination: '/evil/hosts', type: 'bind', source, options: ['rbind', 'ro'] });
        },
      });
      expect(run.stdout).toBe('mounted content\n');
      expect(fs.readdirSync(target)).toEqual([]); // nothing was created on the host
    } finally {
      fs.rmSync(target, { recursive: true, force: true });
    }
  });
});
