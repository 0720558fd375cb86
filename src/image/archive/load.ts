/**
 * load.ts — `minibox load`: images from a tar made by `docker save`, `skopeo copy … docker-archive:`
 * or `oci-archive:`, or `minibox save`.
 *
 * The archive is untrusted input, read in three steps, and nothing reaches the store until all
 * of them pass:
 *   1. unpack: every entry into a private temp dir, only regular files, directories and links
 *      that stay inside it (a `../` name or an absolute one is refused: the archive names files
 *      of itself, never of the host);
 *   2. verify: every blob named by a digest must hash to it; every layer's *uncompressed* sha256
 *      must be the diff id its config lists (so a layer cannot be swapped for another);
 *   3. ingest: blobs are renamed into blobs/, layers unpacked into layers/ (by the same unpacker
 *      as a pull, hostile entries refused), and the image recorded last.
 * Two table formats are understood: Docker's `manifest.json` (config + layer file paths + tags;
 * old archives name files `<id>/layer.tar`, new ones `blobs/sha256/<hex>`) and the OCI layout's
 * `index.json` → manifest → config and layers.
 *
 * Try: `minibox save -o i.tar busybox && minibox rmi busybox >/dev/null && minibox load -i i.tar` →
 * `Loaded image` (a `skopeo copy … docker-archive:i.tar` loads the same way).
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract } from 'tar-stream';
import { MiniboxError } from '../../errors.js';
import { STORE_LOCK, withLock } from '../../lock.js';
import type { StateRoot } from '../../state-root.js';
import { shortId } from '../digest.js';
import { MediaType, type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest } from '../oci.js';
import { parsePlatform, selectManifest } from '../platform.js';
import { parseReference } from '../reference.js';
import { storeNewImage } from '../pack/new-image.js';
import { ImageStore, type ImageRecord, type LayerRecord } from '../store/images.js';
import { unpackIntoStore } from '../store/unpack-into-store.js';
import { createDecompressor, detectCompression } from '../unpack/compression.js';

/** One image found in the archive, before verification. */
interface ArchivedImage {
  configFile: string;
  layerFiles: string[];
  /** Layer media types from an OCI manifest (a docker-archive has none: told by the bytes). */
  layerMediaTypes?: string[];
  tags: string[];
}

function refuse(reason: string): MiniboxError {
  return new MiniboxError(`load: ${reason}; the archive is not a valid image archive`);
}

/** The entry's path inside `dir`, or a refusal when it would leave it. */
function inside(dir: string, name: string): string {
  const clean = path.posix.normalize(name.replace(/^\.\/+/, ''));
  if (clean === '.' || clean === '') return dir;
  if (path.posix.isAbsolute(clean) || clean === '..' || clean.startsWith('../')) throw refuse(`entry "${name}" points outside the archive`);
  return path.join(dir, clean);
}

/** Step 1: the archive's files into `dir` (regular files, directories, links inside it). */
async function unpackArchive(source: Readable, dir: string): Promise<void> {
  const extractor = extract();
  extractor.on('entry', (header, stream, next) => {
    // A refusal destroys the extractor, which errors this entry's stream too: reported once, below.
    stream.on('error', () => undefined);
    const done = (error?: unknown): void => { stream.resume(); next(error as Error | undefined); };
    try {
      const target = inside(dir, header.name);
      if (header.type === 'directory') {
        fs.mkdirSync(target, { recursive: true });
        return done();
      }
      fs.mkdirSync(path.dirname(target), { recursive: true });
      if (header.type === 'symlink' || header.type === 'link') {
        // Old `docker save` links a repeated layer to its first copy: allowed only inside the archive.
        const linked = header.type === 'link' ? inside(dir, header.linkname ?? '') : path.resolve(path.dirname(target), header.linkname ?? '');
        if (linked !== dir && !linked.startsWith(`${dir}${path.sep}`)) throw refuse(`link "${header.name}" points outside the archive`);
        fs.copyFileSync(linked, target);
        return done();
      }
      if (header.type !== 'file') throw refuse(`entry "${header.name}" is a ${header.type}, not a file`);
      pipeline(stream, fs.createWriteStream(target, { flags: 'wx', mode: 0o600 })).then(() => next(), (error: unknown) => next(error as Error));
    } catch (error) {
      done(error);
    }
  });
  try {
    await pipeline(source, extractor);
  } catch (error) {
    if (error instanceof MiniboxError) throw error;
    throw refuse(`cannot read it as a tar (${(error as Error).message})`);
  }
}

function readJson<T>(file: string, what: string): T {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch (error) {
    throw refuse(`${what} is missing or not JSON (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}

/** A blob of an OCI layout, checked against its digest. */
function ociBlob(dir: string, descriptor: Descriptor): string {
  const [algorithm, hex] = descriptor.digest.split(':');
  if (algorithm !== 'sha256' || !/^[0-9a-f]{64}$/.test(hex ?? '')) throw refuse(`unsupported digest ${descriptor.digest}`);
  return inside(dir, `blobs/sha256/${hex}`);
}

/** The images an archive describes: Docker's manifest.json first, else the OCI index. */
function archivedImages(dir: string): ArchivedImage[] {
  if (fs.existsSync(path.join(dir, 'manifest.json'))) {
    const table = readJson<{ Config?: string; RepoTags?: string[] | null; Layers?: string[] }[]>(path.join(dir, 'manifest.json'), 'manifest.json');
    if (!Array.isArray(table)) throw refuse('manifest.json is not a list of images');
    return table.map((entry) => {
      if (typeof entry.Config !== 'string' || !Array.isArray(entry.Layers)) throw refuse('manifest.json has an image without Config or Layers');
      return { configFile: inside(dir, entry.Config), layerFiles: entry.Layers.map((layer) => inside(dir, layer)), tags: entry.RepoTags ?? [] };
    });
  }
  if (!fs.existsSync(path.join(dir, 'index.json'))) throw refuse('it has neither manifest.json nor index.json');
  const index = readJson<ImageIndex>(path.join(dir, 'index.json'), 'index.json');
  return (index.manifests ?? []).map((descriptor) => {
    let manifestDescriptor = descriptor;
    if (descriptor.mediaType === MediaType.OciIndex || descriptor.mediaType === MediaType.DockerManifestList) {
      const nested = readJson<ImageIndex>(verified(ociBlob(dir, descriptor), descriptor.digest), 'a nested index');
      manifestDescriptor = selectManifest(nested, parsePlatform(), 'the archived image');
    }
    const manifest = readJson<ImageManifest>(verified(ociBlob(dir, manifestDescriptor), manifestDescriptor.digest), `manifest ${shortId(manifestDescriptor.digest)}`);
    const name = descriptor.annotations?.['io.containerd.image.name'];
    return {
      configFile: verified(ociBlob(dir, manifest.config), manifest.config.digest),
      layerFiles: manifest.layers.map((layer) => ociBlob(dir, layer)),
      layerMediaTypes: manifest.layers.map((layer) => layer.mediaType),
      tags: name ? [name] : [],
    };
  });
}

/** `file`, after checking that its sha256 is `digest`. */
function verified(file: string, digest: string): string {
  const actual = `sha256:${createHash('sha256').update(fs.readFileSync(file)).digest('hex')}`;
  if (actual !== digest) throw refuse(`${path.basename(file)} has digest ${actual}, not ${digest}`);
  return file;
}

/** sha256 of a layer file as stored (its blob digest) and of its uncompressed tar (its diff id). */
async function layerDigests(file: string): Promise<{ digest: string; diffId: string; mediaType: string }> {
  const compression = detectCompression(file, path.basename(file));
  const blob = createHash('sha256');
  const tar = createHash('sha256');
  const hashing = (hash: ReturnType<typeof createHash>) => new Transform({ transform(chunk: Buffer, _e, callback) { hash.update(chunk); callback(null, chunk); } });
  const sink = new Transform({ transform(_chunk, _e, callback) { callback(); } });
  await pipeline(fs.createReadStream(file), hashing(blob), createDecompressor(compression), hashing(tar), sink);
  const mediaType = { gzip: MediaType.OciLayerGzip, zstd: MediaType.OciLayerZstd, none: MediaType.OciLayer }[compression];
  return { digest: `sha256:${blob.digest('hex')}`, diffId: `sha256:${tar.digest('hex')}`, mediaType };
}

/** Steps 2 and 3 for one image. */
async function ingest(store: ImageStore, image: ArchivedImage): Promise<ImageRecord> {
  const configBytes = fs.readFileSync(image.configFile);
  const config = readJson<ImageConfig>(image.configFile, 'an image config');
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== image.layerFiles.length) throw refuse(`the config lists ${diffIds.length} layers, the archive ${image.layerFiles.length}`);
  const layers: LayerRecord[] = [];
  for (const [i, file] of image.layerFiles.entries()) {
    if (!fs.existsSync(file)) throw refuse(`layer file ${path.basename(file)} is missing`);
    const found = await layerDigests(file);
    if (found.diffId !== diffIds[i]) throw refuse(`layer ${i + 1} has diff id ${found.diffId}, but its config says ${diffIds[i]}`);
    const mediaType = image.layerMediaTypes?.[i] ?? found.mediaType;
    const size = fs.statSync(file).size;
    await withLock(store.root.locks, `blob-${found.digest}`, async () => {
      // A link, not a rename: another image of the archive may name the same layer file.
      if (store.blobs.has(found.digest)) return;
      const temp = `${file}.${randomBytes(4).toString('hex')}`;
      fs.linkSync(file, temp);
      store.blobs.commit(temp, found.digest);
    });
    const unpackedSize = await unpackIntoStore(store, { digest: found.digest, mediaType, diffId: found.diffId });
    layers.push({ digest: found.digest, diffId: found.diffId, mediaType, size, unpackedSize });
  }
  const tags = image.tags.map((tag) => {
    const ref = parseReference(tag);
    return `${ref.name}:${ref.tag ?? 'latest'}`;
  });
  return await storeNewImage(store, configBytes, layers, tags);
}

/** `load` from `source`: the images recorded, in archive order. */
export async function loadImages(root: StateRoot, source: Readable): Promise<ImageRecord[]> {
  const store = new ImageStore(root);
  fs.mkdirSync(root.tmp, { recursive: true });
  const dir = path.join(root.tmp, `load-${process.pid}-${randomBytes(4).toString('hex')}`);
  fs.mkdirSync(dir, { mode: 0o700 });
  try {
    await unpackArchive(source, dir);
    const images = archivedImages(dir);
    if (images.length === 0) throw refuse('it lists no image');
    return await withLock(root.locks, STORE_LOCK, async () => {
      const loaded: ImageRecord[] = [];
      for (const image of images) loaded.push(await ingest(store, image));
      return loaded;
    }, 'shared');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
