/**
 * Builds test images offline: layer tars from a list of entries (tar-stream), and OCI image
 * layouts (blobs/sha256, index.json, oci-layout) that `skopeo copy oci:DIR:TAG docker://…` pushes
 * to the test registry (pushLayout in registry.ts).
 *
 * Entries may be hostile on purpose (`../x`, NUL in a name, forged overlay xattrs): the tar is
 * written as given. Entries with xattrs or a name tar-stream cannot put in a ustar header get our
 * own PAX header, so xattr values are written byte for byte (binary `security.capability` too).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { pack, type Header } from 'tar-stream';
import { MediaType, type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest } from '../../src/image/oci.js';

export type LayerEntry = {
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';
  content?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  linkname?: string;
  mtime?: Date;
  /** Values are written as given: a string as UTF-8, a Buffer byte for byte. */
  xattrs?: Record<string, string | Buffer>;
  devmajor?: number;
  devminor?: number;
};

export type LayerCompression = 'gzip' | 'zstd' | 'none';

/** Fixed default mtime so that the same entries always make the same digest. */
export const DEFAULT_MTIME = new Date('2021-06-01T12:00:00Z');

const TAR_TYPE: Record<LayerEntry['type'], Header['type']> = {
  file: 'file', dir: 'directory', symlink: 'symlink', hardlink: 'link',
  char: 'character-device', block: 'block-device', fifo: 'fifo',
};

/** One PAX record, `"<len> key=value\n"`, where len counts the whole record including itself. */
function paxRecord(key: string, value: string | Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), Buffer.from(value), Buffer.from('\n')]);
  let length = body.length + 1;
  while (String(length).length + body.length !== length) length = String(length).length + body.length;
  return Buffer.concat([Buffer.from(String(length)), body]);
}

/** A ustar header block with typeflag `x`: "the next entry's PAX records follow, `size` bytes". */
function paxHeaderBlock(size: number): Buffer {
  const block = Buffer.alloc(512);
  const octal = (value: number, offset: number, width: number) =>
    block.write(`${value.toString(8).padStart(width - 1, '0')}\0`, offset, 'latin1');
  block.write('PaxHeader', 0, 'latin1');
  octal(0o644, 100, 8);
  octal(0, 108, 8);
  octal(0, 116, 8);
  octal(size, 124, 12);
  octal(Math.floor(DEFAULT_MTIME.getTime() / 1000), 136, 12);
  block.write('x', 156, 'latin1');
  block.write('ustar\x0000', 257, 'latin1');
  block.fill(0x20, 148, 156); // the checksum is computed with its own field as spaces
  let checksum = 0;
  for (const byte of block) checksum += byte;
  block.write(`${checksum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return block;
}

function needsOwnPax(entry: LayerEntry): boolean {
  const plainAscii = (text: string) => /^[\x20-\x7e]*$/.test(text) && Buffer.byteLength(text) < 100;
  return entry.xattrs !== undefined || !plainAscii(entry.path) || !plainAscii(entry.linkname ?? '');
}

/** A tar archive of `entries`, in the given order. */
export async function layerTar(entries: LayerEntry[]): Promise<Buffer> {
  const archive = pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    archive.on('data', (chunk: unknown) => { chunks.push(chunk as Buffer); });
    archive.on('end', () => resolve(Buffer.concat(chunks)));
    archive.on('error', reject);
  });
  const add = (header: Parameters<typeof archive.entry>[0], content?: Buffer) =>
    new Promise<void>((resolve, reject) => {
      const callback = (error?: Error | null) => (error ? reject(error) : resolve());
      if (content === undefined) archive.entry(header, callback).end(Buffer.alloc(0));
      else archive.entry(header, content, callback);
    });

  for (const entry of entries) {
    let name = entry.path;
    let linkname = entry.linkname;
    if (needsOwnPax(entry)) {
      const records = [paxRecord('path', entry.path)];
      if (entry.linkname !== undefined) records.push(paxRecord('linkpath', entry.linkname));
      for (const [key, value] of Object.entries(entry.xattrs ?? {})) records.push(paxRecord(`SCHILY.xattr.${key}`, value));
      // tar-stream's pack has no call for a hand-made PAX header: between two entries the pack
      // stream is idle, so we push the header block and its body ourselves.
      const body = Buffer.concat(records);
      archive.push(Buffer.concat([paxHeaderBlock(body.length), body, Buffer.alloc((512 - (body.length % 512)) % 512)]));
      name = 'pax-named-entry'; // overridden by the PAX `path` record
      linkname = entry.linkname === undefined ? undefined : 'pax-named-link';
    }
    const header: Parameters<typeof archive.entry>[0] = {
      name,
      type: TAR_TYPE[entry.type],
      mode: entry.mode ?? (entry.type === 'dir' ? 0o755 : 0o644),
      uid: entry.uid ?? 0,
      gid: entry.gid ?? 0,
      mtime: entry.mtime ?? DEFAULT_MTIME,
      ...(linkname !== undefined ? { linkname } : {}),
      ...(entry.devmajor !== undefined ? { devmajor: entry.devmajor } : {}),
      ...(entry.devminor !== undefined ? { devminor: entry.devminor } : {}),
    };
    const content = entry.type === 'file' ? Buffer.from(entry.content ?? '') : undefined;
    await add(header, content);
  }
  archive.finalize();
  return await done;
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Compresses a tar the way a registry blob would be. zstd uses the `zstd` CLI (apt: zstd). */
export function compressLayer(tar: Buffer, compression: LayerCompression): Buffer {
  if (compression === 'gzip') return zlib.gzipSync(tar);
  if (compression === 'zstd') return execFileSync('zstd', ['-q', '-c', '-3'], { input: tar, maxBuffer: 1 << 30 });
  return tar;
}

export const LAYER_MEDIA_TYPE: Record<LayerCompression, string> = {
  gzip: MediaType.OciLayerGzip, zstd: MediaType.OciLayerZstd, none: MediaType.OciLayer,
};

export interface WrittenLayer { descriptor: Descriptor; diffId: string; blobPath: string }
export interface WrittenImage { manifest: Descriptor; config: Descriptor; layers: WrittenLayer[] }

function writeBlob(layoutDir: string, data: Buffer | string, mediaType: string): Descriptor {
  const digest = sha256(data);
  const file = path.join(layoutDir, 'blobs', 'sha256', digest.slice('sha256:'.length));
  fs.writeFileSync(file, data);
  return { mediaType, digest, size: Buffer.byteLength(data) };
}

function hostArchitecture(): string {
  return process.arch === 'x64' ? 'amd64' : process.arch;
}

/**
 * Writes (or adds a tag to) an OCI image layout at `dir`. Returns the descriptors so tests can
 * find the blobs; callers that only need the layout can ignore the result.
 */
export async function writeOciLayout(
  dir: string,
  tag: string,
  layers: { entries: LayerEntry[]; compression: LayerCompression }[],
  config: Partial<ImageConfig> = {},
): Promise<WrittenImage> {
  fs.mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));

  const written: WrittenLayer[] = [];
  for (const layer of layers) {
    const tar = await layerTar(layer.entries);
    const descriptor = writeBlob(dir, compressLayer(tar, layer.compression), LAYER_MEDIA_TYPE[layer.compression]);
    written.push({ descriptor, diffId: sha256(tar), blobPath: path.join(dir, 'blobs', 'sha256', descriptor.digest.slice(7)) });
  }
  const imageConfig: ImageConfig = {
    created: DEFAULT_MTIME.toISOString(),
    architecture: hostArchitecture(),
    os: 'linux',
    config: { Cmd: ['/bin/sh'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
    history: written.map((_, i) => ({ created: DEFAULT_MTIME.toISOString(), created_by: `test layer ${i}` })),
    ...config,
    rootfs: { type: 'layers', diff_ids: written.map((layer) => layer.diffId) },
  };
  const configDescriptor = writeBlob(dir, JSON.stringify(imageConfig), MediaType.OciConfig);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: configDescriptor,
    layers: written.map((layer) => layer.descriptor),
  };
  const manifestDescriptor = writeBlob(dir, JSON.stringify(manifest), MediaType.OciManifest);

  const indexPath = path.join(dir, 'index.json');
  const index: ImageIndex = fs.existsSync(indexPath)
    ? JSON.parse(fs.readFileSync(indexPath, 'utf8')) as ImageIndex
    : { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
  const refName = 'org.opencontainers.image.ref.name';
  index.manifests = index.manifests.filter((m) => m.annotations?.[refName] !== tag);
  index.manifests.push({ ...manifestDescriptor, annotations: { [refName]: tag } });
  fs.writeFileSync(indexPath, JSON.stringify(index));
  return { manifest: manifestDescriptor, config: configDescriptor, layers: written };
}
