import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseTmpfsSpec, parseVolumeSpec, VolumeStore } from '../../src/bundle/volumes.js';
import { StateRoot } from '../../src/state-root.js';

describe('-v specifications', () => {
  it.each([
    ['/srv/data:/data', { kind: 'bind', source: '/srv/data', destination: '/data', readOnly: false }],
    ['/srv/data:/data:ro', { kind: 'bind', source: '/srv/data', destination: '/data', readOnly: true }],
    ['cache:/var/cache/', { kind: 'volume', name: 'cache', destination: '/var/cache', readOnly: false }],
    ['my.vol_1:/x:rw', { kind: 'volume', name: 'my.vol_1', destination: '/x', readOnly: false }],
    ['/scratch', { kind: 'anonymous', destination: '/scratch', readOnly: false }],
    // relative host paths, as Docker's CLI (23+) accepts them: resolved against the current directory
    ['./site:/www:ro', { kind: 'bind', source: path.resolve('site'), destination: '/www', readOnly: true }],
    ['../up:/up', { kind: 'bind', source: path.resolve('..', 'up'), destination: '/up', readOnly: false }],
    ['.:/here', { kind: 'bind', source: process.cwd(), destination: '/here', readOnly: false }],
  ])('%s', (spec, expected) => {
    expect(parseVolumeSpec(spec)).toEqual(expected);
  });

  it.each([
    ['/a:data', /mount path 'data' must be absolute/],
    ['/a:/', /destination can't be '\/'/],
    ['relative', /mount path 'relative' must be absolute/],
    ['/a:/b:rx', /invalid mode 'rx'/],
    ['/a:/b:ro:extra', /invalid volume specification/],
    ['bad/name:/b', /invalid characters for a local volume name/],
    [':/b', /invalid volume specification/],
  ])('%s is refused with one line', (spec, message) => {
    expect(() => parseVolumeSpec(spec)).toThrow(message);
    try { parseVolumeSpec(spec); } catch (error) {
      expect((error as Error).message).not.toContain('\n');
      expect((error as { exitCode: number }).exitCode).toBe(125);
    }
  });

  it('--tmpfs adds Docker\'s noexec,nosuid,nodev unless told otherwise', () => {
    expect(parseTmpfsSpec('/run')).toEqual({ destination: '/run', options: ['nosuid', 'nodev', 'noexec'] });
    expect(parseTmpfsSpec('/run:exec,size=64m,mode=1777').options).toEqual(['nosuid', 'nodev', 'size=64m', 'mode=1777']);
    expect(() => parseTmpfsSpec('run')).toThrow(/must be absolute/);
    expect(() => parseTmpfsSpec('/')).toThrow(/can't be '\/'/);
  });
});

describe('named volumes', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-volumes-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const store = new VolumeStore(new StateRoot(dir));

  it('are created once, listed, and removed with their data', async () => {
    const created = await store.create('notes');
    expect(created.Mountpoint).toBe(path.join(dir, 'volumes', 'notes', '_data'));
    fs.writeFileSync(path.join(created.Mountpoint, 'x'), 'kept');
    expect((await store.create('notes')).CreatedAt).toBe(created.CreatedAt);
    const anonymous = await store.create(undefined, true);
    expect(anonymous.Name).toMatch(/^[0-9a-f]{64}$/);
    expect(store.list().map((v) => v.Name).sort()).toEqual([anonymous.Name, 'notes'].sort());
    await store.remove('notes');
    await store.remove(anonymous.Name);
    expect(fs.existsSync(path.join(dir, 'volumes', 'notes'))).toBe(false);
    await expect(store.remove('notes')).rejects.toThrow('get notes: no such volume');
  });

  it('refuse a bad name', async () => {
    await expect(store.create('-x')).rejects.toThrow(/invalid volume name/);
  });
});
