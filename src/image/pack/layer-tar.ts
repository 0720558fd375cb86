/**
 * layer-tar.ts — a directory becomes a layer tar: the inverse of unpack.
 *
 * An image layer is a tar of *changes*. A container's changes are already on disk, in the
 * overlay's upper dir, in overlayfs' own spelling; writing a layer means translating back to the
 * spelling of the OCI image spec (layer.md), the way Docker's `commit` and BuildKit do:
 *   a whiteout (character device 0/0 named NAME)        → an empty file `.wh.NAME`
 *   an opaque dir (xattr `trusted.overlay.opaque=y`)     → the dir, then `dir/.wh..wh..opq`
 *   two names of one inode (a hard link)                 → a file, then a link entry to it
 *   extended attributes (file capabilities, …)           → PAX records `SCHILY.xattr.NAME`
 * Everything else — owner, mode (setuid bits included), mtime, symlink targets, device numbers —
 * goes into the tar header as it is. overlayfs' own `trusted.overlay.*` xattrs never do.
 *
 * The same tree must give the same bytes, or the same change would get a new digest each time
 * and no registry or cache could tell it had seen it before. So: entries in byte order of their
 * paths (parents before children), mtimes in whole seconds, no atime/ctime, uid/gid numbers
 * without user names, and nothing taken from the clock.
 *
 * `writeLayerTar` also serves `export` (a merged tree, where there are no whiteouts to translate)
 * — one walker for both.
 *
 * Try: `minibox run --name tarred busybox sh -c 'rm /etc/group; mkdir /d; echo hi > /d/f';
 * minibox commit tarred x >/dev/null; cd ${MINIBOX_ROOT:-/var/lib/minibox}/blobs/sha256;
 * tar -tzf $(ls -t | head -3 | xargs file | awk -F: '/gzip/ {print $1}')` → `d/ d/f etc/
 * etc/.wh.group` — the newest gzip blob is the commit's layer: entries in byte order, the
 * whiteout for the removed file, and the mount points left out (see `skip`).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { pipeline } from 'node:stream/promises';
import { pack as tarPack, type Header, type Pack } from 'tar-stream';

/** What tar-stream takes as a header: any fields, a name at least. */
type TarHeaders = Partial<Header> & Pick<Header, 'name'>;
import { lgetxattr, llistxattr } from '../../sys/index.js';
import { isOpaqueDir, isOverlayWhiteout, OPAQUE_MARKER, WHITEOUT_PREFIX } from '../unpack/whiteout.js';

export interface LayerTarOptions {
  /** Translate overlay whiteouts and opaque dirs (an upper dir); false for a merged tree (export). */
  overlayUpper: boolean;
  /** Paths (relative, e.g. `etc/hostname`) to leave out, with their stats. */
  skip?: (relativePath: string, stats: fs.Stats) => boolean;
  /** Put before every entry's name (`cp`'s `dir/`); none for a layer. */
  namePrefix?: string;
}

/** xattrs that describe the storage, not the file: never written into a layer. */
function isStorageXattr(name: string): boolean {
  return name.startsWith('trusted.overlay.') || name === 'security.selinux';
}

/** `"<length> <key>=<value>\n"`: the length counts the whole record, its own digits included. */
function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let length = body.length + 1;
  while (String(length).length + body.length !== length) length = String(length).length + body.length;
  return Buffer.concat([Buffer.from(String(length)), body]);
}

interface Entry {
  header: TarHeaders;
  /** Raw PAX records for this entry (xattrs, long names), or none. */
  pax: Buffer[];
  /** A regular file's content. */
  file?: string;
}

/** The header of one file-system object, or undefined for what a tar cannot hold (sockets). */
function entryFor(hostPath: string, name: string, stats: fs.Stats, links: Map<string, string>): Entry | undefined {
  const header: TarHeaders = {
    name, mode: stats.mode & 0o7777, uid: stats.uid, gid: stats.gid,
    mtime: new Date(Math.floor(stats.mtimeMs / 1000) * 1000), uname: '', gname: '',
  };
  const pax: Buffer[] = [];
  if (stats.isDirectory()) {
    header.type = 'directory';
    header.name = `${name}/`;
  } else if (stats.isSymbolicLink()) {
    header.type = 'symlink';
    header.linkname = fs.readlinkSync(hostPath);
  } else if (stats.isFile()) {
    const inode = `${stats.dev}:${stats.ino}`;
    const first = stats.nlink > 1 ? links.get(inode) : undefined;
    if (first !== undefined) {
      header.type = 'link';
      header.linkname = first;
    } else {
      if (stats.nlink > 1) links.set(inode, name);
      header.type = 'file';
      header.size = stats.size;
    }
  } else if (stats.isCharacterDevice() || stats.isBlockDevice()) {
    header.type = stats.isCharacterDevice() ? 'character-device' : 'block-device';
    // dev_t as Linux packs it (glibc's major()/minor()); Node gives it as a number.
    header.devmajor = ((stats.rdev >>> 8) & 0xfff) | (Math.floor(stats.rdev / 2 ** 32) & ~0xfff);
    header.devminor = (stats.rdev & 0xff) | ((stats.rdev >>> 12) & 0xfff00);
  } else if (stats.isFIFO()) {
    header.type = 'fifo';
  } else {
    return undefined;
  }
  for (const xattr of llistxattr(hostPath).filter((x) => !isStorageXattr(x)).sort()) {
    const value = lgetxattr(hostPath, xattr);
    if (value !== undefined) pax.push(paxRecord(`SCHILY.xattr.${xattr}`, value));
  }
  // ustar holds 100 bytes of name (plus a 155-byte prefix that tar-stream may use) and 100 of
  // link target; longer ones travel in PAX, and the header keeps a stand-in.
  if (Buffer.byteLength(header.name) > 100) {
    pax.push(paxRecord('path', Buffer.from(header.name)));
    header.name = `PaxHeaders/${Buffer.from(header.name).subarray(-80).toString('latin1').replace(/[^\w.-]/g, '_')}`;
  }
  if (header.linkname !== undefined && Buffer.byteLength(header.linkname) > 100) {
    pax.push(paxRecord('linkpath', Buffer.from(header.linkname)));
    header.linkname = 'PaxHeaders/link';
  }
  return { header, pax, ...(header.type === 'file' ? { file: hostPath } : {}) };
}

/** A whiteout file as the image spec spells it: empty, and as plain as possible. */
function markerEntry(name: string, mtime: Date): Entry {
  return { header: { name, type: 'file', size: 0, mode: 0o644, uid: 0, gid: 0, mtime, uname: '', gname: '' }, pax: [] };
}

/** Every entry of `root`, parents first, names in byte order. */
function* walk(root: string, options: LayerTarOptions, links: Map<string, string>, dirRel = ''): Generator<Entry> {
  const names = fs.readdirSync(path.join(root, dirRel)).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  for (const name of names) {
    const rel = dirRel === '' ? name : `${dirRel}/${name}`;
    const hostPath = path.join(root, rel);
    const stats = fs.lstatSync(hostPath);
    if (options.skip?.(rel, stats)) continue;
    if (options.overlayUpper && isOverlayWhiteout(stats)) {
      yield markerEntry(dirRel === '' ? `${WHITEOUT_PREFIX}${name}` : `${dirRel}/${WHITEOUT_PREFIX}${name}`, new Date(Math.floor(stats.mtimeMs / 1000) * 1000));
      continue;
    }
    const entry = entryFor(hostPath, `${options.namePrefix ?? ''}${rel}`, stats, links);
    if (!entry) continue;
    yield entry;
    if (stats.isDirectory()) {
      if (options.overlayUpper && isOpaqueDir(hostPath)) yield markerEntry(`${rel}/${OPAQUE_MARKER}`, entry.header.mtime as Date);
      yield* walk(root, options, links, rel);
    }
  }
}

// tar-stream writes PAX headers itself, but only from string values (UTF-8): xattr values are
// bytes (see unpack/pax.ts). So each Pack gets its PAX encoder replaced by one that writes our raw
// records — the write-side twin of the unpacker's hook on tar-stream's PAX decoder. The ustar
// header encoder is tar-stream's own (its package exports do not list it: loaded by file path).
const require = createRequire(import.meta.url);
const ustar = require(path.join(path.dirname(require.resolve('tar-stream')), 'headers.js')) as { encode(header: object): Buffer | null };

type PackInternals = Pack & { _encodePax(header: TarHeaders & { pax?: unknown }): void; push(chunk: Buffer): boolean };

function rawPaxPack(): Pack {
  const pack = tarPack();
  const internals = pack as PackInternals;
  const original = internals._encodePax.bind(pack);
  internals._encodePax = (header) => {
    if (!Buffer.isBuffer(header.pax)) return original(header);
    const body = header.pax;
    const paxHeader = ustar.encode({ ...header, name: 'PaxHeader', type: 'pax-header', size: body.length, linkname: '', pax: null });
    const entryHeader = ustar.encode({ ...header, pax: null });
    if (!paxHeader || !entryHeader) throw new Error(`cannot encode the tar header of ${header.name}`);
    internals.push(paxHeader);
    internals.push(body);
    const padding = (512 - (body.length % 512)) % 512;
    if (padding > 0) internals.push(Buffer.alloc(padding));
    internals.push(entryHeader);
  };
  return pack;
}

/** Writes one entry (and its PAX header) and waits until tar-stream has taken it. */
async function writeEntry(pack: Pack, entry: Entry): Promise<void> {
  const header = entry.pax.length > 0 ? { ...entry.header, pax: Buffer.concat(entry.pax) } as TarHeaders : entry.header;
  if (!entry.file) {
    // A whiteout marker is a 'file' of size 0: give it its (empty) body, or tar-stream waits for one.
    const body = header.type === 'file' ? Buffer.alloc(0) : undefined;
    await new Promise<void>((resolve, reject) => {
      const done = (error?: Error | null): void => (error ? reject(error) : resolve());
      if (body) pack.entry(header, body, done);
      else pack.entry(header, done);
    });
    return;
  }
  let sink!: ReturnType<Pack['entry']>;
  const taken = new Promise<void>((resolve, reject) => { sink = pack.entry(header, (error) => (error ? reject(error) : resolve())); });
  // A file that changes size while being read (a running container) must not corrupt the tar:
  // read at most the size in the header, and pad with zeros if the file got shorter.
  const size = entry.header.size ?? 0;
  let written = 0;
  if (size > 0) {
    for await (const chunk of fs.createReadStream(entry.file, { start: 0, end: size - 1 }) as AsyncIterable<Buffer>) {
      written += chunk.length;
      if (!sink.write(chunk)) await once(sink, 'drain');
    }
  }
  if (written < size) sink.write(Buffer.alloc(size - written));
  sink.end(() => undefined);
  await taken;
}

/** Streams the tar of `root` into `out` (constant memory: one file at a time). */
export async function writeLayerTar(root: string, out: Writable, options: LayerTarOptions): Promise<void> {
  const pack = rawPaxPack();
  const piped = pipeline(pack as unknown as NodeJS.ReadableStream, out);
  try {
    for (const entry of walk(root, options, new Map())) await writeEntry(pack, entry);
    pack.finalize();
  } catch (error) {
    pack.destroy(error as Error);
  }
  await piped;
}

/** `cp`'s tar: one path (a file, a symlink, or a directory with all inside) as the entry `name`. */
export async function writePathTar(hostPath: string, name: string, out: Writable): Promise<void> {
  const pack = rawPaxPack();
  const piped = pipeline(pack as unknown as NodeJS.ReadableStream, out);
  try {
    const links = new Map<string, string>();
    const stats = fs.lstatSync(hostPath);
    const top = entryFor(hostPath, name, stats, links);
    if (top) await writeEntry(pack, top);
    if (stats.isDirectory()) {
      for (const entry of walk(hostPath, { overlayUpper: false, namePrefix: `${name}/` }, links)) await writeEntry(pack, entry);
    }
    pack.finalize();
  } catch (error) {
    pack.destroy(error as Error);
  }
  await piped;
}
