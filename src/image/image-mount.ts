/**
 * image-mount.ts — `minibox image mount`: see an image's files as one tree, without a container.
 *
 * overlayfs stacks directories: `lowerdir=top:…:bottom`. A file in a higher layer hides the
 * same path below; a whiteout (a 0/0 character device) hides it without replacing it; a
 * directory with `trusted.overlay.opaque=y` hides everything below it. With no `upperdir` the
 * overlay is read-only — exactly "the image" as a container would start from it.
 * (overlayfs needs two lower dirs when there is no upper, so a one-layer image is stacked on an
 * empty directory.)
 *
 * Try: `ls $(minibox image mount busybox)/bin/busybox` → `/bin/busybox`, then `minibox image
 * unmount busybox`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { MiniboxError } from '../errors.js';
import { readMountInfo } from '../mountinfo.js';
import type { StateRoot } from '../state-root.js';
import { MNT, MS, mount, umount } from '../sys/mount.js';
import { digestHex } from './digest.js';
import { ImageStore, type ImageRecord } from './store/images.js';

/** The layer directories of an image as overlayfs wants them: top layer first. */
export function lowerDirs(store: ImageStore, image: ImageRecord): string[] {
  const dirs = image.layers.map((layer) => store.layers.dir(layer.diffId)).reverse();
  for (const dir of dirs) {
    if (!fs.existsSync(dir)) throw new MiniboxError(`image ${image.repoTags[0] ?? image.id}: layer directory ${dir} is missing; pull the image again`);
  }
  return dirs;
}

/** Mount points this process considers mounted (from the kernel's own table). */
export function isMountPoint(dir: string): boolean {
  const target = path.resolve(dir);
  return readMountInfo().some((entry) => entry.mountPoint === target);
}

export function defaultMountDir(root: StateRoot, image: ImageRecord): string {
  return path.join(root.mounts, digestHex(image.id));
}

/** A DIR given by the user must be an existing directory, as mount(8) wants its mount point. */
function refuseMissingMountPoint(dir: string, target: string): void {
  let isDirectory = false;
  try { isDirectory = fs.statSync(target).isDirectory(); } catch { /* missing */ }
  if (!isDirectory) {
    throw new MiniboxError(fs.existsSync(target)
      ? `mount point ${dir} is not a directory`
      : `mount point ${dir} does not exist: create it first (mkdir ${dir}), or leave DIR out to mount under the state root`);
  }
}

/** Mounts `ref` read-only at `dir` (default: under the state root) and returns the path. */
export function mountImage(root: StateRoot, ref: string, dir?: string): string {
  const store = new ImageStore(root);
  const image = store.get(ref);
  const target = path.resolve(dir ?? defaultMountDir(root, image));
  if (dir === undefined) fs.mkdirSync(target, { recursive: true });
  else refuseMissingMountPoint(dir, target); // as mount(8): never make a directory anywhere the user mistyped
  if (isMountPoint(target)) return target;
  const lowers = lowerDirs(store, image);
  if (lowers.length === 1) lowers.push(store.layers.emptyDir());
  mount({ source: 'overlay', target, fstype: 'overlay', flags: MS.RDONLY, data: `lowerdir=${lowers.join(':')}` });
  return target;
}

/** Unmounts an image mounted with mountImage(), given the image reference or the directory. */
export function unmountImage(root: StateRoot, refOrDir: string): string {
  let target = path.resolve(refOrDir);
  if (!isMountPoint(target)) {
    const image = new ImageStore(root).resolve(refOrDir);
    if (!image) throw new MiniboxError(`${refOrDir} is neither a mounted directory nor a known image`);
    target = defaultMountDir(root, image);
    if (!isMountPoint(target)) throw new MiniboxError(`image ${refOrDir} is not mounted at ${target}`);
  }
  umount(target, MNT.DETACH);
  if (target.startsWith(`${root.mounts}${path.sep}`)) fs.rmdirSync(target);
  return target;
}
