/**
 * Hostile layers: each test unpacks a layer crafted to act outside its directory, next to a canary
 * directory that must come through unchanged (content, mode, owner, times incl. ctime, xattrs,
 * link counts), with nothing new appearing outside the layer directory. Every hostile name aims at
 * the canary, by absolute path or by `..`, so an escape would show.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HostileLayerError, unpackLayer } from '../../src/image/unpack/index.js';
import { MAX_SYMLINK_HOPS } from '../../src/resolve-in-root.js';
import { lgetxattr, llistxattr } from '../../src/sys/index.js';
import { layerTar, type LayerEntry } from '../helpers/oci-layout.js';

const LAYER = 'sha256:3f4ebad';
let base: string;
let canary: string;
let dest: string;

/** Everything under `root` except `skip`, with all metadata that any write, chmod, chown, utime,
 * link or xattr change would alter (ctime covers the metadata ones). */
function snapshot(root: string, skip: string[]): string[] {
  const lines: string[] = [];
  const walk = (dir: string) => {
    for (const name of fs.readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      if (skip.includes(full)) continue;
      const s = fs.lstatSync(full);
      const xattrs = llistxattr(full).sort().map((x) => `${x}=${lgetxattr(full, x)?.toString('hex')}`);
      const content = s.isFile() ? fs.readFileSync(full).toString('hex') : s.isSymbolicLink() ? fs.readlinkSync(full) : '';
      lines.push([path.relative(root, full), s.mode, s.uid, s.gid, s.nlink, s.ino, s.size, s.mtimeMs, s.ctimeMs, xattrs.join(','), content].join(' '));
      if (s.isDirectory()) walk(full);
    }
  };
  walk(root);
  return lines;
}

beforeEach(() => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-hostile-'));
  canary = path.join(base, 'canary');
  fs.mkdirSync(path.join(canary, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(canary, 'file'), 'canary content\n', { mode: 0o640 });
  fs.chownSync(path.join(canary, 'file'), 4321, 4321);
  fs.utimesSync(path.join(canary, 'file'), new Date('2000-01-01'), new Date('2000-01-01'));
  fs.utimesSync(path.join(canary, 'sub'), new Date('2000-01-01'), new Date('2000-01-01'));
  fs.utimesSync(canary, new Date('2000-01-01'), new Date('2000-01-01'));
  dest = path.join(base, 'layer');
  fs.mkdirSync(dest);
});
afterEach(() => {
  fs.rmSync(base, { recursive: true, force: true });
});

async function unpackInto(dir: string, entries: LayerEntry[]): Promise<void> {
  const blobPath = path.join(base, `blob-${path.basename(dir)}`);
  fs.writeFileSync(blobPath, await layerTar(entries));
  try {
    await unpackLayer({ blobPath, mediaType: 'application/vnd.oci.image.layer.v1.tar', dest: dir, layerName: LAYER });
  } finally {
    fs.rmSync(blobPath);
  }
}

/** Unpacks `entries` into `dest`, checks the canary and `base` are untouched, returns the error if any. */
async function unpackHostile(entries: LayerEntry[]): Promise<unknown> {
  const outside = [path.join(base, 'canary'), '/etc'];
  const before = snapshot(base, [dest]);
  const error = await unpackInto(dest, entries).then(() => undefined, (e: unknown) => e);
  expect(snapshot(base, [dest])).toEqual(before);
  expect(outside.every((dir) => fs.existsSync(dir))).toBe(true);
  expect(fs.existsSync('/etc/minibox-pwned')).toBe(false);
  return error;
}

async function expectRejected(entries: LayerEntry[], entryName: string, reason: RegExp): Promise<void> {
  const error = await unpackHostile(entries);
  expect(error).toBeInstanceOf(HostileLayerError);
  const message = (error as Error).message;
  expect(message.startsWith(`layer ${LAYER}: entry ${JSON.stringify(entryName)}: `)).toBe(true);
  expect(message).toMatch(reason);
  expect(message).not.toContain('\n');
}

async function expectNeutralised(entries: LayerEntry[]): Promise<void> {
  expect(await unpackHostile(entries)).toBeUndefined();
}

const file = (p: string, content = 'pwned'): LayerEntry => ({ path: p, type: 'file', content, mode: 0o4777, uid: 1, gid: 1 });
const symlink = (p: string, linkname: string): LayerEntry => ({ path: p, type: 'symlink', linkname });

describe('unpackLayer refuses or neutralises hostile names', () => {
  it('re-roots absolute names inside the layer (neutralised)', async () => {
    await expectNeutralised([file(`${canary}/pwned`), file('/etc/minibox-pwned')]);
    expect(fs.readFileSync(path.join(dest, canary, 'pwned'), 'utf8')).toBe('pwned');
    expect(fs.existsSync(path.join(dest, 'etc/minibox-pwned'))).toBe(true);
  });

  it('rejects ../ escapes', async () => {
    await expectRejected([file('../canary/pwned')], '../canary/pwned', /path escapes the layer root$/);
  });

  it('rejects a/../../x, which climbs above the root after entering a', async () => {
    await expectRejected([file('a/../../canary/pwned')], 'a/../../canary/pwned', /path escapes the layer root/);
  });

  it('accepts a/../x, which stays inside', async () => {
    await expectNeutralised([file('a/../inside')]);
    expect(fs.existsSync(path.join(dest, 'inside'))).toBe(true);
  });

  it('resolves a file written through a symlink to an absolute outside path inside the layer', async () => {
    await expectNeutralised([symlink('link', canary), file('link/pwned')]);
    expect(fs.readlinkSync(path.join(dest, 'link'))).toBe(canary);
    expect(fs.readFileSync(path.join(dest, canary, 'pwned'), 'utf8')).toBe('pwned');
  });

  it('clamps a symlink to ../canary at the layer root', async () => {
    await expectNeutralised([symlink('link', '../canary'), file('link/pwned'), symlink('deep/link', '../../../../canary/sub'), file('deep/link/x')]);
    expect(fs.existsSync(path.join(dest, 'canary/pwned'))).toBe(true);
    expect(fs.existsSync(path.join(dest, 'canary/sub/x'))).toBe(true);
  });

  it('clamps chains of symlinks to ..', async () => {
    await expectNeutralised([symlink('up', '..'), symlink('a/up', '../..'), file('up/up/up/canary/pwned'), file('a/up/up/canary/pwned2')]);
    expect(fs.existsSync(path.join(dest, 'canary/pwned'))).toBe(true);
    expect(fs.existsSync(path.join(dest, 'canary/pwned2'))).toBe(true);
  });

  it('rejects symlink loops', async () => {
    await expectRejected([symlink('loop1', 'loop2'), symlink('loop2', '/loop1'), file('loop1/x')], 'loop1/x', /too many levels of symbolic links/);
  });

  it('rejects symlink chains longer than the kernel allows, and resolves shorter ones inside', async () => {
    const chain = (prefix: string, length: number): LayerEntry[] => Array.from({ length }, (_, i) =>
      symlink(`${prefix}${i}`, i === length - 1 ? canary : `${prefix}${i + 1}`));
    await expectNeutralised([...chain('short', 10), file('short0/pwned')]);
    expect(fs.existsSync(path.join(dest, canary, 'pwned'))).toBe(true);
    await expectRejected([...chain('long', MAX_SYMLINK_HOPS + 5), file('long0/pwned')], 'long0/pwned', /too many levels/);
  });

  it('does not follow a symlink parent set up by an earlier layer (each layer has its own directory)', async () => {
    const lower = path.join(base, 'layer1');
    fs.mkdirSync(lower);
    await unpackInto(lower, [symlink('etc', '../canary'), symlink('abs', canary)]);
    const before = snapshot(base, [dest]);
    await unpackInto(dest, [file('etc/passwd'), file('abs/pwned')]);
    expect(snapshot(base, [dest])).toEqual(before);
    expect(fs.lstatSync(path.join(dest, 'etc')).isDirectory()).toBe(true);
    expect(fs.readFileSync(path.join(dest, 'etc/passwd'), 'utf8')).toBe('pwned');
    expect(fs.readlinkSync(path.join(lower, 'etc'))).toBe('../canary');
  });
});

describe('unpackLayer refuses hard links outside the layer', () => {
  it('rejects a hard link to an absolute outside path (re-rooted, not an entry of this layer)', async () => {
    await expectRejected([{ path: 'h', type: 'hardlink', linkname: `${canary}/file` }], 'h', /hard link target .*not an earlier entry|does not exist in this layer/);
  });

  it('rejects a hard link to ../../canary/file', async () => {
    await expectRejected([{ path: 'h', type: 'hardlink', linkname: '../canary/file' }], 'h', /hard link target "..\/canary\/file": path escapes the layer root/);
  });

  it('rejects a hard link through a symlink that points outside', async () => {
    await expectRejected([symlink('link', canary), { path: 'h', type: 'hardlink', linkname: 'link/file' }], 'h', /does not exist in this layer/);
    await expectRejected([symlink('rel', '../canary'), { path: 'h', type: 'hardlink', linkname: 'rel/file' }], 'h', /does not exist in this layer/);
  });

  it('links a symlink itself, never its outside target', async () => {
    await expectNeutralised([symlink('s', `${canary}/file`), { path: 'h', type: 'hardlink', linkname: 's' }, file('h', 'replaced')]);
    expect(fs.readlinkSync(path.join(dest, 's'))).toBe(`${canary}/file`);
    expect(fs.readFileSync(path.join(dest, 'h'), 'utf8')).toBe('replaced');
  });
});

describe('unpackLayer keeps whiteouts and opaque markers inside the layer', () => {
  it('puts a whiteout aimed through a symlink inside the layer', async () => {
    await expectNeutralised([symlink('link', canary), { path: 'link/.wh.file', type: 'file' }, symlink('rel', '../canary'), { path: 'rel/.wh.sub', type: 'file' }]);
    expect(fs.lstatSync(path.join(dest, canary, 'file')).isCharacterDevice()).toBe(true);
    expect(fs.lstatSync(path.join(dest, 'canary/sub')).isCharacterDevice()).toBe(true);
  });

  it('sets an opaque marker aimed through a symlink inside the layer', async () => {
    await expectNeutralised([symlink('link', '../canary'), { path: 'link/.wh..wh..opq', type: 'file' }]);
    expect(lgetxattr(path.join(dest, 'canary'), 'trusted.overlay.opaque')?.toString()).toBe('y');
    expect(lgetxattr(canary, 'trusted.overlay.opaque')).toBeUndefined();
  });

  it('rejects a bare .wh. and whiteouts of . and ..', async () => {
    await expectRejected([{ path: 'dir/.wh.', type: 'file' }], 'dir/.wh.', /whiteout does not name an entry/);
    await expectRejected([{ path: '.wh.', type: 'file' }], '.wh.', /whiteout does not name an entry/);
    await expectRejected([{ path: 'dir/.wh..', type: 'file' }], 'dir/.wh..', /whiteout does not name an entry/);
  });
});

describe('unpackLayer refuses entries that would replace the root or smuggle bytes', () => {
  for (const name of ['.', '/', './', '']) {
    it(`rejects a symlink named ${JSON.stringify(name)}`, async () => {
      await expectRejected([symlink(name, canary), file(`${name}pwned`)], name, /cannot replace the layer root/);
      expect(fs.lstatSync(dest).isDirectory()).toBe(true);
    });
  }

  it('rejects a hard link or file named . too', async () => {
    await expectRejected([file('.')], '.', /cannot replace the layer root/);
    await expectRejected([file('x'), { path: '.', type: 'hardlink', linkname: 'x' }], '.', /cannot replace the layer root/);
  });

  it('rejects NUL in a name, a symlink target and a hard link target', async () => {
    await expectRejected([file('etc/passwd\0/../../../canary/x')], 'etc/passwd\0/../../../canary/x', /NUL/);
    await expectRejected([symlink('s', `${canary}\0/x`)], 's', /NUL/);
    await expectRejected([file('t'), { path: 'h', type: 'hardlink', linkname: 't\0../canary/file' }], 'h', /NUL/);
  });

  it('rejects trusted.overlay.* xattrs, which could forge overlay metadata', async () => {
    await expectRejected([{ path: 'etc/', type: 'dir', xattrs: { 'trusted.overlay.opaque': 'y' } }], 'etc/', /trusted\.overlay\.opaque/);
    await expectRejected([{ path: 'f', type: 'file', xattrs: { 'trusted.overlay.redirect': '/canary' } }], 'f', /trusted\.overlay\.redirect/);
    expect(fs.readdirSync(dest)).toEqual([]);
  });
});

describe('unpackLayer never changes metadata through a symlink', () => {
  it('replaces a symlink by a directory instead of chmod/chown/utime-ing its target', async () => {
    await expectNeutralised([
      symlink('link', canary),
      { path: 'link/', type: 'dir', mode: 0o777, uid: 99, gid: 99, mtime: new Date('2010-10-10') },
      symlink('rel', '../canary/sub'),
      { path: 'rel', type: 'dir', mode: 0o700, xattrs: { 'user.pwned': 'yes' } },
    ]);
    const link = fs.lstatSync(path.join(dest, 'link'));
    expect([link.isDirectory(), link.mode & 0o7777, link.uid]).toEqual([true, 0o777, 99]);
    expect(lgetxattr(path.join(dest, 'rel'), 'user.pwned')?.toString()).toBe('yes');
  });

  it('replaces a symlink by a file, device or fifo instead of writing its target', async () => {
    await expectNeutralised([
      symlink('f', `${canary}/file`), file('f', 'new'),
      symlink('d', `${canary}/file`), { path: 'd', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 },
      symlink('p', '../canary/file'), { path: 'p', type: 'fifo', mode: 0o600, uid: 5 },
    ]);
    expect(fs.readFileSync(path.join(dest, 'f'), 'utf8')).toBe('new');
    expect(fs.lstatSync(path.join(dest, 'd')).isCharacterDevice()).toBe(true);
    expect(fs.lstatSync(path.join(dest, 'p')).isFIFO()).toBe(true);
  });

  it('removes a replaced or whited-out directory without following the symlinks inside it', async () => {
    await expectNeutralised([
      symlink('d/abs', canary), symlink('d/rel', '../../canary'), symlink('d/file', `${canary}/file`),
      file('d', 'a file replaces the directory'),
      symlink('w/abs', canary), symlink('w/rel', '../../canary/sub'),
      { path: '.wh.w', type: 'file' },
    ]);
    expect(fs.readFileSync(path.join(dest, 'd'), 'utf8')).toBe('a file replaces the directory');
    expect(fs.lstatSync(path.join(dest, 'w')).isCharacterDevice()).toBe(true);
  });

  it('does not set deferred directory times through a symlink that later replaced the directory', async () => {
    await expectNeutralised([
      { path: 'd/', type: 'dir', mtime: new Date('2011-11-11') },
      { path: 'd/sub/', type: 'dir', mtime: new Date('2011-11-11') },
      symlink('d', '../canary'),
      { path: 'e/', type: 'dir', mtime: new Date('2011-11-11') },
      { path: 'e/sub/', type: 'dir', mtime: new Date('2011-11-11') },
      symlink('e', canary),
    ]);
    expect(fs.lstatSync(path.join(dest, 'd')).isSymbolicLink()).toBe(true);
  });
});
