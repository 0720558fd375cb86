/**
 * unpack — turning one layer blob into a directory that overlayfs can stack.
 *
 * A layer blob is a (usually compressed) tar archive of the files one build step added, changed
 * or deleted. Unpacking streams it, constant memory whatever its size:
 *
 *   blob file → count bytes (progress) → gunzip / zstd → sha256 (the layer's *diffId*) → tar parser
 *
 * The diffId is the digest of the *uncompressed* tar: the image config lists it in
 * rootfs.diff_ids, so the caller can check that the layer it unpacked is the one the config means.
 * Each tar entry is then written into `dest`, the layer's own directory (later an overlay
 * lowerdir): whiteouts become overlay whiteouts (whiteout.ts), names are resolved inside the layer
 * root and never escape it (layer-path.ts), files are created without following symlinks
 * (write-entry.ts), and extended attributes arrive through PAX records (pax.ts).
 *
 * How each hostile case is handled (tests: test/image/unpack-hostile.test.ts):
 *   - absolute names (`/etc/x`)                → neutralised: re-rooted at dest (`dest/etc/x`)
 *   - `..` climbing above the root             → rejected (HostileLayerError)
 *   - a parent that is a symlink (`link/x`)    → neutralised: resolved inside dest (securejoin)
 *   - symlink loops / chains > 40 hops         → rejected
 *   - hard link target outside / missing       → re-rooted, then rejected unless an earlier entry
 *   - whiteout or opaque marker via a symlink  → neutralised: resolved inside dest
 *   - non-directory entry naming the root (`.` or `/` as a symlink) → rejected
 *   - bare `.wh.`, NUL in a name or link target, `trusted.overlay.*` xattrs → rejected
 *   - an entry named like an existing symlink  → the symlink is replaced, its target untouched
 *
 * Try: `ls $(find $MINIBOX_ROOT/layers/sha256 -mindepth 1 -maxdepth 1 -type d)` → `bin … etc`; in
 * an image that deletes files, `find $MINIBOX_ROOT/layers -type c` lists the whiteouts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract, type Header } from 'tar-stream';
import { describeError, ExitCode, MiniboxError } from '../../errors.js';
import { hashingStream } from '../digest.js';
import { compressionFromMediaType, createDecompressor, detectCompression, type Compression } from './compression.js';
import {
  entryComponents, HostileLayerError, KnownDirectories, locateEntry, lstatOrUndefined, quoteEntryName, RefusedEntry, resolveDirectoryInRoot,
} from './layer-path.js';
import { captureRawPax, paxNumber, paxRecordsOf, xattrsOf } from './pax.js';
import { isAufsMetadataPath, isOverlayWhiteout, markOpaque, whiteoutMarker, writeWhiteout } from './whiteout.js';
import {
  RegularFileWriter, writeDeviceNode, writeDirectory, writeHardlink, writeSymlink, type EntryMetadata,
} from './write-entry.js';

export { HostileLayerError } from './layer-path.js';

export interface UnpackResult {
  /** `sha256:<hex>` of the uncompressed tar stream. */
  diffId: string;
  /** Uncompressed bytes. */
  size: number;
}

export interface UnpackOptions {
  /** The layer blob on disk (gzip, zstd or plain tar). */
  blobPath: string;
  /** Its media type from the manifest; the blob's magic bytes win when they disagree. */
  mediaType: string;
  /** An existing empty directory that becomes the layer's directory. Nothing outside it is touched. */
  dest: string;
  /** For messages, e.g. `sha256:3f4e…`. */
  layerName: string;
  onProgress?: (compressedBytesRead: number) => void;
}

/** `cp`'s use of the same writer: a plain tar stream (no digest) into an existing directory. */
export interface ExtractOptions {
  /** An existing directory; nothing outside it is touched (names and links resolve inside it). */
  dest: string;
  /** For messages, e.g. `the copied archive`. */
  what: string;
  /** Each entry's name as it should land in dest (undefined: skip the entry). */
  rename?: (name: string) => string | undefined;
  /** Every entry's owner (`cp` without -a); the tar's own otherwise. */
  owner?: { uid: number; gid: number };
}

interface UnpackContext {
  root: string;
  rename?: ExtractOptions['rename'];
  owner?: ExtractOptions['owner'];
  /** Directory mtimes, applied after all entries (adding a child changes a directory's mtime). */
  directoryTimes: Map<string, { components: string[]; mtime: Date }>;
  /** Directories already resolved inside the root (layer-path.ts, rule 3). */
  known: KnownDirectories;
}

const MAX_ID = 0xfffffffe; // (uid_t)-1 means "leave unchanged" to chown(2)

function metadataOf(header: Header, records: Map<string, Buffer>, owner?: ExtractOptions['owner']): EntryMetadata {
  const uid = owner?.uid ?? paxNumber(records, 'uid') ?? header.uid ?? 0;
  const gid = owner?.gid ?? paxNumber(records, 'gid') ?? header.gid ?? 0;
  for (const id of [uid, gid]) {
    if (!Number.isSafeInteger(id) || id < 0 || id > MAX_ID) throw new RefusedEntry(`invalid owner id ${id}`);
  }
  const paxMtime = paxNumber(records, 'mtime');
  const mtime = paxMtime !== undefined ? new Date(paxMtime * 1000) : header.mtime ?? new Date(0);
  return { mode: (header.mode ?? 0) & 0o7777, uid, gid, mtime, xattrs: xattrsOf(records) };
}

/**
 * Applies one entry's header. A regular file comes back as an open writer that the entry's content
 * is streamed into; any other entry is complete on return (its content, normally none, is dropped).
 */
function applyEntry(context: UnpackContext, header: Header, records: Map<string, Buffer>): RegularFileWriter | undefined {
  const { root } = context;
  const components = entryComponents(header.name);
  const key = components.join('/');
  if (isAufsMetadataPath(components)) return undefined;
  const marker = components.length > 0 ? whiteoutMarker(components[components.length - 1] as string) : undefined;
  if (marker !== undefined) {
    if (marker.kind === 'aufs-metadata') return undefined;
    // The marker's directory is resolved inside the root like any parent: a marker aimed through
    // a symlink lands inside dest, never in the symlink's real target.
    const directory = resolveDirectoryInRoot(root, components.slice(0, -1), true, context.known);
    if (marker.kind === 'opaque') markOpaque(directory);
    else {
      context.known.replacing(root, path.join(directory, marker.hidden));
      writeWhiteout(path.join(directory, marker.hidden));
    }
    return undefined;
  }

  const meta = metadataOf(header, records, context.owner); // before touching the disk: refuses forged overlay xattrs
  const { hostPath, isRoot } = locateEntry(root, components, true, context.known);
  if (isRoot && header.type !== 'directory') {
    throw new RefusedEntry(`a ${header.type ?? 'typeless'} entry cannot replace the layer root`);
  }
  if (header.type !== 'directory') {
    context.directoryTimes.delete(key);
    context.known.replacing(root, hostPath); // whatever is there goes: a directory among them?
  }

  switch (header.type) {
    case 'file':
    case 'contiguous-file':
      return new RegularFileWriter(hostPath, meta);
    case 'directory': {
      // `.wh.d` then `d/` in one layer ("rm -rf d; mkdir d"): the whiteout hid the lower d, so
      // the new d must not merge with it — it is opaque.
      const replacesWhiteout = isOverlayWhiteout(lstatOrUndefined(hostPath));
      writeDirectory(hostPath, meta);
      if (replacesWhiteout) markOpaque(hostPath);
      context.directoryTimes.set(key, { components, mtime: meta.mtime });
      return undefined;
    }
    case 'symlink':
      writeSymlink(hostPath, header.linkname ?? '', meta);
      return undefined;
    case 'link': {
      const linkname = header.linkname ?? '';
      let targetPath: string;
      try {
        const target = entryComponents(linkname);
        if (target.length === 0) throw new RefusedEntry('names the layer root');
        targetPath = locateEntry(root, target, false, context.known).hostPath;
      } catch (error) {
        if (error instanceof RefusedEntry) throw new RefusedEntry(`hard link target ${quoteEntryName(linkname)}: ${error.reason}`);
        throw error;
      }
      writeHardlink(hostPath, targetPath);
      return undefined;
    }
    case 'character-device':
    case 'block-device':
    case 'fifo': {
      const kind = header.type === 'fifo' ? 'fifo' : header.type === 'block-device' ? 'block' : 'char';
      writeDeviceNode(hostPath, kind, header.devmajor ?? 0, header.devminor ?? 0, meta);
      return undefined;
    }
    default:
      throw new RefusedEntry(`unsupported tar entry type ${String(header.type)}`);
  }
}

/** Directory mtimes last, each directory re-resolved (a later entry may have replaced it). */
function applyDirectoryTimes(context: UnpackContext): void {
  for (const { components, mtime } of context.directoryTimes.values()) {
    let hostPath: string;
    try {
      hostPath = locateEntry(context.root, components, false).hostPath;
    } catch (error) {
      if (error instanceof RefusedEntry) continue; // no longer there
      throw error;
    }
    if (lstatOrUndefined(hostPath)?.isDirectory()) fs.lutimesSync(hostPath, mtime, mtime);
  }
}

function asLayerError(error: unknown, layerName: string, entryName: string | undefined): MiniboxError {
  if (error instanceof MiniboxError) return error;
  if (error instanceof RefusedEntry) return new HostileLayerError(layerName, entryName ?? '', error.reason);
  const where = entryName === undefined ? '' : ` entry ${quoteEntryName(entryName)}:`;
  return new MiniboxError(`layer ${layerName}:${where} ${describeError(error)}`, ExitCode.Engine, { cause: error });
}

/** The tar parser whose entries are written into `context.root`, in order. */
function entryWriter(context: UnpackContext, layerName: string): ReturnType<typeof extract> {
  const extractor = extract();
  const takeRawPax = captureRawPax(extractor);
  extractor.on('entry', (header, content, next) => {
    // Synchronous from header to last chunk: no promise per entry, no thread-pool hop per chunk.
    // Only `next` lets tar-stream parse the following entry, so entries still apply in order.
    let writer: RegularFileWriter | undefined;
    let settled = false;
    const settle = (error?: unknown) => {
      if (settled) return;
      settled = true;
      if (error === undefined) return next();
      try { writer?.abort(); } catch { /* the entry's own error is the one to report */ }
      next(asLayerError(error, layerName, header.name));
    };
    // Listen before applying: a refused entry destroys the extractor, which errors `content` too.
    content.on('error', (error: unknown) => settle(error));
    try {
      const records = paxRecordsOf(header, takeRawPax());
      const renamed = renamedHeader(context, header);
      if (renamed === undefined) { content.resume(); content.on('end', () => settle()); return; }
      writer = applyEntry(context, renamed, records);
    } catch (error) {
      settle(error);
      return;
    }
    // streamx streams emit 'data' like Node's: each file arrives chunk by chunk, never whole.
    content.on('data', (chunk: unknown) => {
      if (settled || writer === undefined) return; // entries other than files should have no data: dropped
      try { writer.write(chunk as Buffer); } catch (error) { settle(error); }
    });
    content.on('end', () => {
      if (settled) return;
      try { writer?.finish(); } catch (error) { settle(error); return; }
      settle();
    });
    // Closed without 'end' (the pipeline failed elsewhere): release the file descriptor.
    content.on('close', () => settle(new Error('the layer stream stopped in the middle of this entry')));
  });

  return extractor;
}

/** The entry under the name `context.rename` gives it (a hard link's target too); undefined: skip. */
function renamedHeader(context: UnpackContext, header: Header): Header | undefined {
  if (!context.rename) return header;
  const name = context.rename(header.name); // tar-stream has applied PAX `path`/`linkpath` already
  if (name === undefined) return undefined;
  if (header.type !== 'link') return { ...header, name };
  return { ...header, name, linkname: context.rename(header.linkname ?? '') ?? '' };
}

/** Writes a plain tar stream into `options.dest` (`cp`): the unpacker's rules, without a digest. */
export async function extractTarStream(input: NodeJS.ReadableStream, options: ExtractOptions): Promise<void> {
  const context: UnpackContext = {
    root: path.resolve(options.dest), directoryTimes: new Map(), known: new KnownDirectories(),
    ...(options.rename ? { rename: options.rename } : {}), ...(options.owner ? { owner: options.owner } : {}),
  };
  try {
    await pipeline(input, entryWriter(context, options.what));
  } catch (error) {
    if (error instanceof MiniboxError) throw error;
    throw new MiniboxError(`${options.what}: cannot read the tar stream: ${describeError(error)}`, ExitCode.Engine, { cause: error });
  }
  applyDirectoryTimes(context);
}

/** Unpacks one layer blob into `dest` and returns its diffId and uncompressed size. */
export async function unpackLayer(options: UnpackOptions): Promise<UnpackResult> {
  const { blobPath, onProgress } = options;
  let compressedBytes = 0;
  const counting = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      compressedBytes += chunk.length;
      onProgress?.(compressedBytes);
      callback(null, chunk);
    },
  });
  const compression = detectCompression(blobPath, options.layerName);
  return await unpackLayerStream([fs.createReadStream(blobPath), counting], compression, options);
}

/**
 * The same from a stream of blob bytes (`source`: a readable, then any pass-through stages), e.g.
 * bytes still arriving from the registry (unpack-worker.ts). `compression` comes from the blob's
 * first bytes (compressionFromMagic).
 */
export async function unpackLayerStream(source: [NodeJS.ReadableStream, ...NodeJS.ReadWriteStream[]], compression: Compression,
  options: Pick<UnpackOptions, 'mediaType' | 'dest' | 'layerName'>): Promise<UnpackResult> {
  const { mediaType, dest, layerName } = options;
  const context: UnpackContext = { root: path.resolve(dest), directoryTimes: new Map(), known: new KnownDirectories() };
  const hashing = hashingStream();
  const extractor = entryWriter(context, layerName);
  try {
    await pipeline([...source, createDecompressor(compression), hashing.stream, extractor]);
  } catch (error) {
    if (error instanceof MiniboxError) throw error;
    const claimed = compressionFromMediaType(mediaType);
    const mismatch = claimed !== undefined && claimed !== compression
      ? ` (its media type ${mediaType} says ${claimed}, its bytes say ${compression})` : '';
    throw new MiniboxError(`layer ${layerName}: cannot read the layer${mismatch}: ${describeError(error)}; the blob may be corrupt — remove it and pull again`,
      ExitCode.Engine, { cause: error });
  }
  applyDirectoryTimes(context);
  return { diffId: hashing.digest(), size: hashing.size() };
}
