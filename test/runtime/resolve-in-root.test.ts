import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { openInRoot, openRootDir, resolveInRoot } from '../../src/resolve-in-root.js';
import { O } from '../../src/sys/openat2.js';
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

  test('openInRoot: the kernel (openat2 RESOLVE_IN_ROOT) keeps every symlink inside the root', () => {
    fs.writeFileSync(path.join(host, 'secret'), 'host\n');
    fs.mkdirSync(path.join(root, host), { recursive: true });
    fs.writeFileSync(path.join(root, host, 'secret'), 'inside\n');
    const dir = openRootDir(root);
    try {
      for (const name of ['/absolute/secret', '/etc/relative/secret', '/../../absolute/secret']) {
        const fd = openInRoot(dir, name, O.RDONLY);
        try {
          expect(fs.readFileSync(fd, 'utf8'), name).toBe('inside\n');
        } finally {
          fs.closeSync(fd);
        }
      }
      expect(() => openInRoot(dir, '/loop/x', O.PATH)).toThrow(/ELOOP/);
    } finally {
      fs.closeSync(dir.fd);
      fs.rmSync(path.join(root, host.split(path.sep)[1] as string), { recursive: true, force: true });
    }
  });

  // CVE-2025-31133 class: masking binds "/dev/null" over /proc/kcore, /proc/keys… — if the
  // container's /dev/null is something else by then, that something would be bound instead.
  // Here config.json makes /dev/null a fifo (the same as a container swapping it in a shared /dev).
  // Before this change masking never looked at what /dev/null was (protect.ts bound the path
  // "/dev/null" as it found it); this test then failed (with EBUSY: config.json's devices could
  // not replace a default one either).
  test('a /dev/null that is not char 1:3 is never used to mask paths', async () => {
    await expect(runInBusybox('true', {
      change: (spec) => { spec.linux!.devices = [{ type: 'p', path: '/dev/null', fileMode: 0o666 }]; },
    })).rejects.toThrow(/\/dev\/null in the container is not the null device \(char 1:3/);
  });

  test('a target that is a file where a directory is bound is refused in one line', async () => {
    await expect(runInBusybox('true', {
      change: (spec) => { spec.mounts!.push({ destination: '/bin/sh', type: 'bind', source: host, options: ['rbind'] }); },
    })).rejects.toThrow(/mount target \/bin\/sh is not a directory in the container, but the source is a directory/);
  });
});
