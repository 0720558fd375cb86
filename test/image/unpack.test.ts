import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MiniboxError } from '../../src/errors.js';
import { MediaType } from '../../src/image/oci.js';
import { unpackLayer, type UnpackResult } from '../../src/image/unpack/index.js';
import { lgetxattr } from '../../src/sys/index.js';
import { compressLayer, DEFAULT_MTIME, LAYER_MEDIA_TYPE, layerTar, writeOciLayout, type LayerCompression, type LayerEntry } from '../helpers/oci-layout.js';
import { busyboxImageLayout, pushLayout, startRegistry, type TestRegistry } from '../helpers/registry.js';

let tempDirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-unpack-'));
  tempDirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
  tempDirs = [];
});

async function unpackBlob(blob: Buffer, mediaType: string, onProgress?: (n: number) => void): Promise<{ dest: string; result: UnpackResult }> {
  const dir = tempDir();
  const blobPath = path.join(dir, 'blob');
  fs.writeFileSync(blobPath, blob);
  const dest = path.join(dir, 'layer');
  fs.mkdirSync(dest);
  const result = await unpackLayer({ blobPath, mediaType, dest, layerName: 'sha256:test', ...(onProgress ? { onProgress } : {}) });
  return { dest, result };
}

async function unpackEntries(entries: LayerEntry[], compression: LayerCompression = 'none'): Promise<{ dest: string; result: UnpackResult; tar: Buffer }> {
  const tar = await layerTar(entries);
  const { dest, result } = await unpackBlob(compressLayer(tar, compression), LAYER_MEDIA_TYPE[compression]);
  return { dest, result, tar };
}

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** security.capability (VFS_CAP_REVISION_2) granting cap_setuid (bit 7: byte 0x80, not UTF-8) + effective. */
const CAP_SETUID = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

describe('unpackLayer: entry types and metadata', () => {
  it('sets modes including setuid, setgid and sticky, owners and mtimes', async () => {
    const fileTime = new Date('2019-03-04T05:06:07Z');
    const dirTime = new Date('2018-01-02T03:04:05Z');
    const { dest } = await unpackEntries([
      { path: 'bin/', type: 'dir', mode: 0o750, uid: 7, gid: 8, mtime: dirTime },
      { path: 'bin/su', type: 'file', content: 'su', mode: 0o4755, uid: 0, gid: 0, mtime: fileTime },
      { path: 'bin/wall', type: 'file', content: 'wall', mode: 0o2755, uid: 1000, gid: 5 },
      { path: 'tmp/', type: 'dir', mode: 0o1777 },
      { path: 'home/app/notes', type: 'file', content: 'x', mode: 0o600, uid: 1000, gid: 1000 },
    ]);
    const su = fs.statSync(path.join(dest, 'bin/su'));
    expect(su.mode & 0o7777).toBe(0o4755);
    expect(su.mtime.getTime()).toBe(fileTime.getTime());
    const wall = fs.statSync(path.join(dest, 'bin/wall'));
    expect([wall.mode & 0o7777, wall.uid, wall.gid]).toEqual([0o2755, 1000, 5]);
    expect(fs.statSync(path.join(dest, 'tmp')).mode & 0o7777).toBe(0o1777);
    const bin = fs.statSync(path.join(dest, 'bin'));
    expect([bin.mode & 0o7777, bin.uid, bin.gid, bin.mtime.getTime()]).toEqual([0o750, 7, 8, dirTime.getTime()]);
    const notes = fs.statSync(path.join(dest, 'home/app/notes'));
    expect([notes.mode & 0o7777, notes.uid, notes.gid]).toEqual([0o600, 1000, 1000]);
    expect(fs.readFileSync(path.join(dest, 'home/app/notes'), 'utf8')).toBe('x');
    // implicit parents (no entry of their own) are made 0755 root:root
    expect(fs.statSync(path.join(dest, 'home')).mode & 0o7777).toBe(0o755);
  });

  it('stores symlink targets as written, without following them, with their owner and mtime', async () => {
    const time = new Date('2020-02-02T02:02:02Z');
    const { dest } = await unpackEntries([
      { path: 'etc/mtab', type: 'symlink', linkname: '/proc/self/mounts', uid: 3, gid: 4, mtime: time },
      { path: 'lib', type: 'symlink', linkname: 'usr/lib' },
      { path: 'dangling', type: 'symlink', linkname: '../../nowhere' },
    ]);
    expect(fs.readlinkSync(path.join(dest, 'etc/mtab'))).toBe('/proc/self/mounts');
    const mtab = fs.lstatSync(path.join(dest, 'etc/mtab'));
    expect([mtab.isSymbolicLink(), mtab.uid, mtab.gid, mtab.mtime.getTime()]).toEqual([true, 3, 4, time.getTime()]);
    expect(fs.readlinkSync(path.join(dest, 'lib'))).toBe('usr/lib');
    expect(fs.readlinkSync(path.join(dest, 'dangling'))).toBe('../../nowhere');
  });

  it('makes hard link groups share one inode', async () => {
    const { dest } = await unpackEntries([
      { path: 'usr/bin/gzip', type: 'file', content: 'gzip!', mode: 0o755 },
      { path: 'usr/bin/gunzip', type: 'hardlink', linkname: 'usr/bin/gzip' },
      { path: 'usr/bin/zcat', type: 'hardlink', linkname: '/usr/bin/gzip' },
      { path: 'usr/bin/sh', type: 'symlink', linkname: 'dash' },
      { path: 'usr/bin/sh-again', type: 'hardlink', linkname: './usr/bin/sh' },
    ]);
    const gzip = fs.statSync(path.join(dest, 'usr/bin/gzip'));
    expect(gzip.nlink).toBe(3);
    expect(fs.statSync(path.join(dest, 'usr/bin/gunzip')).ino).toBe(gzip.ino);
    expect(fs.statSync(path.join(dest, 'usr/bin/zcat')).ino).toBe(gzip.ino);
    // a hard link to a symlink links the symlink itself
    const sh = fs.lstatSync(path.join(dest, 'usr/bin/sh'));
    expect(fs.lstatSync(path.join(dest, 'usr/bin/sh-again')).ino).toBe(sh.ino);
    expect(fs.readlinkSync(path.join(dest, 'usr/bin/sh-again'))).toBe('dash');
  });

  it('applies PAX xattrs, user.* and binary security.capability byte for byte, after chown', async () => {
    const { dest } = await unpackEntries([
      { path: 'bin/ping', type: 'file', content: 'ping', mode: 0o755, uid: 0, gid: 0, xattrs: { 'security.capability': CAP_SETUID, 'user.origin': 'test' } },
      { path: 'data/', type: 'dir', xattrs: { 'user.dir': 'yes' } },
    ]);
    expect(lgetxattr(path.join(dest, 'bin/ping'), 'security.capability')).toEqual(CAP_SETUID);
    expect(lgetxattr(path.join(dest, 'bin/ping'), 'user.origin')?.toString()).toBe('test');
    expect(lgetxattr(path.join(dest, 'data'), 'user.dir')?.toString()).toBe('yes');
  });

  it('creates character and block devices and fifos with their numbers and modes', async () => {
    const { dest } = await unpackEntries([
      { path: 'dev/null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 },
      { path: 'dev/loop0', type: 'block', devmajor: 7, devminor: 0, mode: 0o660, gid: 6 },
      { path: 'run/initctl', type: 'fifo', mode: 0o600 },
    ]);
    const devNull = fs.lstatSync(path.join(dest, 'dev/null'));
    expect(devNull.isCharacterDevice()).toBe(true);
    expect(devNull.rdev).toBe(fs.statSync('/dev/null').rdev);
    expect(devNull.mode & 0o7777).toBe(0o666);
    const loop = fs.lstatSync(path.join(dest, 'dev/loop0'));
    expect([loop.isBlockDevice(), loop.rdev, loop.mode & 0o7777, loop.gid]).toEqual([true, 7 << 8, 0o660, 6]);
    const fifo = fs.lstatSync(path.join(dest, 'run/initctl'));
    expect([fifo.isFIFO(), fifo.mode & 0o7777]).toEqual([true, 0o600]);
  });
});

describe('unpackLayer: whiteouts and replacement', () => {
  it('turns .wh.NAME into a 0/0 character device, replacing what this layer put there', async () => {
    const { dest } = await unpackEntries([
      { path: 'etc/old.conf', type: 'file', content: 'old' },
      { path: 'etc/.wh.old.conf', type: 'file' },
      { path: 'etc/.wh.gone-dir', type: 'file' },
      { path: '.wh.var', type: 'file' },
    ]);
    for (const name of ['etc/old.conf', 'etc/gone-dir', 'var']) {
      const stat = fs.lstatSync(path.join(dest, name));
      expect([name, stat.isCharacterDevice(), stat.rdev]).toEqual([name, true, 0]);
    }
    expect(fs.readdirSync(path.join(dest, 'etc')).sort()).toEqual(['gone-dir', 'old.conf']);
  });

  it('turns .wh..wh..opq into trusted.overlay.opaque=y and skips aufs metadata', async () => {
    const { dest } = await unpackEntries([
      { path: 'opt/app/', type: 'dir' },
      { path: 'opt/app/.wh..wh..opq', type: 'file' },
      { path: 'opt/app/new', type: 'file', content: 'new' },
      { path: 'fresh/.wh..wh..opq', type: 'file' }, // the directory did not exist: it is made
      { path: '.wh..wh.plnk/', type: 'dir' },
      { path: '.wh..wh.plnk/123.456', type: 'file' },
    ]);
    expect(lgetxattr(path.join(dest, 'opt/app'), 'trusted.overlay.opaque')?.toString()).toBe('y');
    expect(fs.readdirSync(path.join(dest, 'opt/app'))).toEqual(['new']);
    expect(lgetxattr(path.join(dest, 'fresh'), 'trusted.overlay.opaque')?.toString()).toBe('y');
    expect(fs.readdirSync(dest).sort()).toEqual(['fresh', 'opt']);
  });

  it('replaces a file by a directory and a directory (with children) by a file in one layer', async () => {
    const { dest } = await unpackEntries([
      { path: 'a', type: 'file', content: 'file first' },
      { path: 'a/', type: 'dir', mode: 0o711 },
      { path: 'a/child', type: 'file', content: 'c' },
      { path: 'b/', type: 'dir' },
      { path: 'b/deep/er/file', type: 'file', content: 'x' },
      { path: 'b', type: 'file', content: 'file now', mode: 0o640 },
      { path: 'c', type: 'file', content: 'one' },
      { path: 'c', type: 'symlink', linkname: 'a' },
    ]);
    expect(fs.lstatSync(path.join(dest, 'a')).isDirectory()).toBe(true);
    expect(fs.statSync(path.join(dest, 'a')).mode & 0o7777).toBe(0o711);
    expect(fs.readFileSync(path.join(dest, 'a/child'), 'utf8')).toBe('c');
    expect(fs.readFileSync(path.join(dest, 'b'), 'utf8')).toBe('file now');
    expect(fs.statSync(path.join(dest, 'b')).mode & 0o7777).toBe(0o640);
    expect(fs.readlinkSync(path.join(dest, 'c'))).toBe('a');
  });

  it('accepts entries in any order: children before their directory entry, directory times set last', async () => {
    const dirTime = new Date('2017-07-07T07:07:07Z');
    const { dest } = await unpackEntries([
      { path: 'x/y/z/file', type: 'file', content: 'deep' },
      { path: 'x/y/', type: 'dir', mode: 0o700, uid: 12, mtime: dirTime },
      { path: 'x/', type: 'dir', mode: 0o755, mtime: dirTime },
      { path: 'x/y/later', type: 'file', content: 'after the dir entry' },
      { path: 'x/.wh.ghost', type: 'file' },
      { path: './', type: 'dir', mode: 0o755, mtime: dirTime },
    ]);
    const y = fs.statSync(path.join(dest, 'x/y'));
    expect([y.mode & 0o7777, y.uid, y.mtime.getTime()]).toEqual([0o700, 12, dirTime.getTime()]);
    expect(fs.statSync(path.join(dest, 'x')).mtime.getTime()).toBe(dirTime.getTime());
    expect(fs.statSync(dest).mtime.getTime()).toBe(dirTime.getTime());
    expect(fs.readFileSync(path.join(dest, 'x/y/z/file'), 'utf8')).toBe('deep');
    expect(fs.readFileSync(path.join(dest, 'x/y/later'), 'utf8')).toBe('after the dir entry');
  });
});

describe('unpackLayer: compression and digests', () => {
  const entries: LayerEntry[] = [
    { path: 'hello.txt', type: 'file', content: 'hello world\n'.repeat(5000) },
    { path: 'bin/', type: 'dir' },
    { path: 'bin/tool', type: 'file', content: Buffer.alloc(300_000, 7), mode: 0o755 },
  ];

  for (const compression of ['gzip', 'zstd', 'none'] as const) {
    it(`unpacks a ${compression} layer and returns the sha256 of the uncompressed tar as diffId`, async () => {
      const { dest, result, tar } = await unpackEntries(entries, compression);
      expect(result).toEqual({ diffId: sha256(tar), size: tar.length });
      expect(fs.readFileSync(path.join(dest, 'bin/tool'))).toEqual(Buffer.alloc(300_000, 7));
    });
  }

  const mismatches: [LayerCompression, string][] = [
    ['gzip', MediaType.OciLayer],
    ['none', MediaType.DockerLayerGzip],
    ['zstd', MediaType.OciLayerGzip],
    ['gzip', MediaType.OciLayerZstd],
  ];
  for (const [compression, mediaType] of mismatches) {
    it(`trusts the magic bytes over the media type: ${compression} blob labelled ${mediaType}`, async () => {
      const tar = await layerTar(entries);
      const { dest, result } = await unpackBlob(compressLayer(tar, compression), mediaType);
      expect(result.diffId).toBe(sha256(tar));
      expect(fs.readFileSync(path.join(dest, 'hello.txt'), 'utf8')).toBe('hello world\n'.repeat(5000));
    });
  }

  it('reports progress in compressed bytes, ending at the blob size', async () => {
    const blob = compressLayer(await layerTar(entries), 'gzip');
    const seen: number[] = [];
    await unpackBlob(blob, MediaType.OciLayerGzip, (n) => seen.push(n));
    expect(seen.at(-1)).toBe(blob.length);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
  });

  it('fails with one line naming the layer when the blob is corrupt', async () => {
    const blob = compressLayer(await layerTar(entries), 'gzip');
    blob.fill(0x55, 100, 200);
    const error = await unpackBlob(blob, MediaType.OciLayerGzip).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MiniboxError);
    expect((error as Error).message).toMatch(/^layer sha256:test: cannot read the layer: .*pull again$/);
  });
});

describe('unpackLayer: zstd by the zstd tool, or in-process without it', () => {
  const entries: LayerEntry[] = [
    { path: 'big.bin', type: 'file', content: Buffer.alloc(2_000_000, 3) },
    { path: 'text.txt', type: 'file', content: 'zstd layer\n'.repeat(20_000) },
  ];
  /** Runs `fn` with a PATH on which no `zstd` can be found, so the fzstd fallback decodes. */
  async function withoutZstdTool<T>(fn: () => Promise<T>): Promise<T> {
    const saved = process.env.PATH;
    process.env.PATH = tempDir();
    try {
      return await fn();
    } finally {
      process.env.PATH = saved;
    }
  }

  for (const decoder of ['zstd tool', 'fzstd'] as const) {
    const run = <T>(fn: () => Promise<T>) => (decoder === 'fzstd' ? withoutZstdTool(fn) : fn());

    it(`decodes a zstd layer with ${decoder} to the same diffId and files`, async () => {
      const tar = await layerTar(entries);
      const blob = compressLayer(tar, 'zstd');
      const { dest, result } = await run(() => unpackBlob(blob, MediaType.OciLayerZstd));
      expect(result).toEqual({ diffId: sha256(tar), size: tar.length });
      expect(fs.readFileSync(path.join(dest, 'big.bin'))).toEqual(Buffer.alloc(2_000_000, 3));
    });

    it(`fails with one line naming the layer when a zstd blob is corrupt (${decoder})`, async () => {
      const blob = compressLayer(await layerTar(entries), 'zstd');
      blob.fill(0x55, 40, 200);
      const error = await run(() => unpackBlob(blob, MediaType.OciLayerZstd)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MiniboxError);
      expect((error as Error).message).toMatch(/^layer sha256:test: cannot read the layer: [^\n]*pull again$/);
    });
  }

  it('fails on a truncated zstd blob rather than unpacking a short layer', async () => {
    const blob = compressLayer(await layerTar(entries), 'zstd');
    const error = await unpackBlob(blob.subarray(0, blob.length - 50), MediaType.OciLayerZstd).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/^layer sha256:test: cannot read the layer: [^\n]*pull again$/);
  });

  it('fails on a truncated gzip blob rather than unpacking a short layer', async () => {
    const blob = compressLayer(await layerTar(entries), 'gzip');
    const error = await unpackBlob(blob.subarray(0, blob.length - 50), MediaType.OciLayerGzip).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/^layer sha256:test: cannot read the layer: [^\n]*pull again$/);
  });

  it('stops the zstd child when an entry is refused mid-layer', async () => {
    // 64 MiB after the refused entry: the child is still decoding (blocked on a full pipe) when it fails.
    const tail: LayerEntry = { path: 'tail.bin', type: 'file', content: Buffer.alloc(64 * 1024 * 1024) };
    const blob = compressLayer(await layerTar([...entries, { path: '../escape', type: 'file', content: 'x' }, tail]), 'zstd');
    const before = zstdChildren();
    const error = await unpackBlob(blob, MediaType.OciLayerZstd).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/entry "\.\.\/escape": path escapes the layer root/);
    const leftOver = () => zstdChildren().filter((pid) => !before.includes(pid));
    for (let i = 0; i < 100 && leftOver().length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 50)); // until reaped
    expect(leftOver()).toEqual([]);
  });
});

/** PIDs of this process's `zstd` children. */
function zstdChildren(): string[] {
  const children = fs.readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').trim().split(' ').filter(Boolean);
  return children.filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'zstd';
    } catch {
      return false;
    }
  });
}

describe('unpackLayer on an image made by another tool', () => {
  it('unpacks the umoci-built busybox image layer to its config diff_id', async () => {
    const layout = busyboxImageLayout();
    const blob = (digest: string) => path.join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length));
    const index = JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    const manifest = JSON.parse(fs.readFileSync(blob(index.manifests[0]!.digest), 'utf8')) as
      { config: { digest: string }; layers: { digest: string; mediaType: string }[] };
    const config = JSON.parse(fs.readFileSync(blob(manifest.config.digest), 'utf8')) as { rootfs: { diff_ids: string[] } };
    const layer = manifest.layers[0]!;
    const { dest, result } = await unpackBlob(fs.readFileSync(blob(layer.digest)), layer.mediaType);
    expect(result.diffId).toBe(config.rootfs.diff_ids[0]);
    expect(fs.statSync(path.join(dest, 'bin/busybox')).mode & 0o777).toBe(0o755);
    expect(fs.readlinkSync(path.join(dest, 'bin/sh'))).toBe('busybox');
    expect(fs.statSync(path.join(dest, 'tmp')).mode & 0o7777).toBe(0o1777);
  });
});

describe('test image layouts', () => {
  let registry: TestRegistry;
  beforeAll(async () => { registry = await startRegistry(); });
  afterAll(async () => { await registry?.stop(); });

  it('push to the real registry with skopeo, and their layers unpack to the config diff_ids', async () => {
    const layout = path.join(tempDir(), 'layout');
    const written = await writeOciLayout(layout, 'v1', [
      { entries: [{ path: 'etc/', type: 'dir' }, { path: 'etc/os-release', type: 'file', content: 'ID=test\n' }], compression: 'gzip' },
      { entries: [{ path: 'etc/.wh.os-release', type: 'file' }, { path: 'bin/x', type: 'file', content: 'x', mode: 0o755 }], compression: 'zstd' },
      { entries: [{ path: 'readme', type: 'file', content: 'plain' }], compression: 'none' },
    ], { config: { Cmd: ['/bin/x'] } });
    pushLayout(layout, 'v1', `${registry.host}/unpack/layout:v1`);

    const accept = [MediaType.OciManifest, MediaType.DockerManifest].join(', ');
    const manifest = await (await fetch(`http://${registry.host}/v2/unpack/layout/manifests/v1`, { headers: { accept } })).json() as
      { config: { digest: string }; layers: { digest: string; mediaType: string }[] };
    const config = await (await fetch(`http://${registry.host}/v2/unpack/layout/blobs/${manifest.config.digest}`)).json() as
      { rootfs: { diff_ids: string[] }; config: { Cmd: string[] } };
    expect(config.config.Cmd).toEqual(['/bin/x']);
    expect(config.rootfs.diff_ids).toEqual(written.layers.map((layer) => layer.diffId));
    expect(manifest.layers).toHaveLength(3);
    for (const [i, layer] of manifest.layers.entries()) {
      const blob = Buffer.from(await (await fetch(`http://${registry.host}/v2/unpack/layout/blobs/${layer.digest}`)).arrayBuffer());
      const { result } = await unpackBlob(blob, layer.mediaType);
      expect(result.diffId).toBe(config.rootfs.diff_ids[i]);
    }
    expect(DEFAULT_MTIME).toBeInstanceOf(Date);
  });
});
