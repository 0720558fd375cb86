/**
 * images.ts — image records: which images are here, and the names that point at them.
 *
 * An image's identity is its *config digest*: same config, same image, whatever it is called.
 * That is what Docker's classic image store shows as "IMAGE ID"; Docker's containerd image store
 * (the default for new installs since Docker 29) shows the digest of the index or manifest it was
 * pulled as instead, so the two Dockers print different IDs for the same image. Names are separate pointers, like git branches:
 *   tags:         docker.io/library/alpine:latest  → sha256:<config>
 *   repo digests: docker.io/library/alpine@sha256:<manifest>  (the manifest it was pulled as)
 * Everything lives in one small JSON file, `<root>/images/index.json`, replaced atomically
 * (write a temp file, rename) under the `images` lock, so concurrent pulls never lose a record.
 *
 * Try: `grep library/busybox $MINIBOX_ROOT/images/index.json` →
 * `"docker.io/library/busybox:latest": "sha256:`
 */
import fs from 'node:fs';
import path from 'node:path';
import { NotFoundError } from '../../errors.js';
import { crashPoint } from '../../crash-point.js';
import { withLock } from '../../lock.js';
import type { StateRoot } from '../../state-root.js';
import type { ImageConfig } from '../oci.js';
import { parseReference } from '../reference.js';
import { BlobStore } from './blobs.js';
import { LayerStore } from './layers.js';

export interface LayerRecord {
  /** Digest of the blob as stored in the registry (usually compressed). */
  digest: string;
  /** Digest of the uncompressed tar: names the unpacked layer directory. */
  diffId: string;
  mediaType: string;
  /** Compressed size (what was downloaded). */
  size: number;
  /** Uncompressed size (what is on disk). */
  unpackedSize: number;
}

export interface ImageRecord {
  /** Config digest, `sha256:…`: the image ID. */
  id: string;
  repoTags: string[];
  repoDigests: string[];
  manifestDigest: string;
  manifestMediaType: string;
  configDigest: string;
  /** Bottom layer first, as in the manifest. */
  layers: LayerRecord[];
  /** Sum of the unpacked layer sizes. */
  size: number;
  created?: string;
  os: string;
  architecture: string;
  variant?: string;
  pulledAt: string;
}

type StoredImage = Omit<ImageRecord, 'repoTags'>;

/** Where an image's manifest came from: its digest and type, and the repository digests it has. */
export interface ManifestOrigin { manifestDigest: string; manifestMediaType: string; configDigest: string; repoDigests: string[] }

/** The record of an image made of `layers` with `config`: one shape whether pulled, built or committed. */
export function imageRecordFields(origin: ManifestOrigin, config: ImageConfig, layers: LayerRecord[]): StoredImage {
  return {
    id: origin.configDigest,
    repoDigests: origin.repoDigests,
    manifestDigest: origin.manifestDigest,
    manifestMediaType: origin.manifestMediaType,
    configDigest: origin.configDigest,
    layers,
    size: layers.reduce((sum, layer) => sum + layer.unpackedSize, 0),
    ...(config.created ? { created: config.created } : {}),
    os: config.os,
    architecture: config.architecture,
    ...(config.variant ? { variant: config.variant } : {}),
    pulledAt: new Date().toISOString(),
  };
}

interface IndexFile {
  images: Record<string, StoredImage>;
  /** canonical `name:tag` → image id */
  tags: Record<string, string>;
}

/** The lock under which images/index.json (and its temp file) is written. */
export const IMAGES_LOCK = 'images';

export class ImageStore {
  readonly blobs: BlobStore;
  readonly layers: LayerStore;

  constructor(readonly root: StateRoot) {
    this.blobs = new BlobStore(root);
    this.layers = new LayerStore(root);
  }

  private get indexPath(): string {
    return path.join(this.root.images, 'index.json');
  }

  private read(): IndexFile {
    try {
      return JSON.parse(fs.readFileSync(this.indexPath, 'utf8')) as IndexFile;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { images: {}, tags: {} };
      throw error;
    }
  }

  private write(index: IndexFile): void {
    fs.mkdirSync(this.root.images, { recursive: true });
    // One stable temp name, written only under the images lock: a killed writer's file is
    // simply overwritten by the next one.
    const temp = `${this.indexPath}.tmp`;
    fs.writeFileSync(temp, `${JSON.stringify(index, null, 2)}\n`);
    crashPoint('images:written');
    fs.renameSync(temp, this.indexPath);
  }

  /** Read-modify-write of the index under the images lock. */
  async update<T>(change: (index: IndexFile) => T): Promise<T> {
    return await withLock(this.root.locks, IMAGES_LOCK, async () => {
      const index = this.read();
      const result = change(index);
      this.write(index);
      return result;
    });
  }

  private withTags(index: IndexFile, image: StoredImage): ImageRecord {
    const repoTags = Object.entries(index.tags).filter(([, id]) => id === image.id).map(([tag]) => tag).sort();
    return { ...image, repoTags };
  }

  list(): ImageRecord[] {
    const index = this.read();
    return Object.values(index.images).map((image) => this.withTags(index, image));
  }

  /**
   * Finds an image by reference (`alpine`, `alpine:3.20`, `name@sha256:…`), by full id
   * (`sha256:…`) or by a unique id prefix (`9c7a54`), the way `docker` accepts them.
   */
  resolve(refOrId: string): ImageRecord | undefined {
    const index = this.read();
    const byId = (id: string) => (index.images[id] ? this.withTags(index, index.images[id]) : undefined);
    const hex = refOrId.replace(/^sha256:/, '');
    if (/^[a-f0-9]{64}$/.test(hex)) return byId(`sha256:${hex}`);
    let ref;
    try {
      ref = parseReference(refOrId);
    } catch {
      ref = undefined;
    }
    if (ref?.digest) {
      const wanted = `${ref.name}@${ref.digest}`;
      const found = Object.values(index.images).find((image) => image.repoDigests.includes(wanted) || image.manifestDigest === ref.digest && image.repoDigests.some((d) => d.startsWith(`${ref.name}@`)));
      if (found) return this.withTags(index, found);
    } else if (ref?.tag) {
      const id = index.tags[`${ref.name}:${ref.tag}`];
      if (id) return byId(id);
    }
    if (/^[a-f0-9]{4,63}$/.test(refOrId)) {
      const matches = Object.keys(index.images).filter((id) => id.startsWith(`sha256:${refOrId}`));
      if (matches.length === 1 && matches[0]) return byId(matches[0]);
    }
    return undefined;
  }

  /** Like resolve(), but a missing image is a clear error. */
  get(refOrId: string): ImageRecord {
    const image = this.resolve(refOrId);
    if (!image) throw new NotFoundError(`No such image: ${refOrId}`);
    return image;
  }

  config(image: ImageRecord): ImageConfig {
    return this.blobs.readJson<ImageConfig>(image.configDigest);
  }

  /** Records a pulled image and points `tag` (canonical name:tag, optional) at it. */
  async record(image: StoredImage, tag: string | undefined): Promise<ImageRecord> {
    return await this.update((index) => {
      const existing = index.images[image.id];
      const repoDigests = [...new Set([...(existing?.repoDigests ?? []), ...image.repoDigests])].sort();
      index.images[image.id] = { ...image, repoDigests, pulledAt: existing?.pulledAt ?? image.pulledAt };
      if (tag) index.tags[tag] = image.id;
      return this.withTags(index, index.images[image.id]!);
    });
  }

  /** Remembers that a registry now holds this image's manifest under `name@digest` (after a push). */
  async addRepoDigest(id: string, repoDigest: string): Promise<void> {
    await this.update((index) => {
      const image = index.images[id];
      if (!image) throw new NotFoundError(`No such image: ${id}`);
      const name = repoDigest.split('@')[0];
      // One digest per repository: a new push of the same name replaces the old one.
      image.repoDigests = [...image.repoDigests.filter((d) => d.split('@')[0] !== name), repoDigest].sort();
    });
  }

  /** Points canonical `name:tag` at an existing image (`minibox tag`). */
  async tag(id: string, tag: string): Promise<void> {
    await this.update((index) => {
      if (!index.images[id]) throw new NotFoundError(`No such image: ${id}`);
      index.tags[tag] = id;
    });
  }

  /**
   * Removes one name, or (with no tag given, or when the last tag goes) the image record itself.
   * Returns what Docker prints: `Untagged: …` and `Deleted: …` lines.
   */
  async untagOrDelete(id: string, tag: string | undefined): Promise<{ untagged: string[]; deleted: boolean }> {
    return await this.update((index) => {
      const untagged: string[] = [];
      const tags = Object.entries(index.tags).filter(([, target]) => target === id).map(([name]) => name);
      for (const name of tag ? [tag] : tags) {
        if (index.tags[name] === id) {
          delete index.tags[name];
          untagged.push(name);
        }
      }
      const remaining = Object.values(index.tags).some((target) => target === id);
      const image = index.images[id];
      if (!remaining && image) {
        untagged.push(...image.repoDigests);
        delete index.images[id];
        return { untagged, deleted: true };
      }
      return { untagged, deleted: false };
    });
  }
}
