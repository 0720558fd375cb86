/**
 * diff.ts — `minibox diff`: what a container changed, read from its overlay upper dir.
 *
 * overlayfs never touches the image's layers: every change lands in the container's upper dir.
 * A new file is simply there; a changed file was first *copied up* whole; a deleted file leaves a
 * *whiteout* (a character device 0/0 with the same name); a directory deleted and made again is
 * *opaque* (xattr `trusted.overlay.opaque=y`): nothing below it shows through any more.
 * So walking the upper dir, in path order, and asking the image's layers (layer-view.ts) whether
 * each path existed before gives Docker's list (moby pkg/archive changes.go, overlay2 driver):
 *   A /path   added: the image did not have it
 *   C /path   changed: the image had it (for a directory: its mode or mtime differs, or
 *             something was added or deleted directly inside it)
 *   D /path   deleted: a whiteout, or an opaque directory the image had (its new contents
 *             follow as A — the old ones went with it)
 * Mount points the runtime had to create (e.g. an empty /etc/hostname for the bind mount) are
 * not the container's changes: Docker keeps those in a separate "-init" layer; here they are
 * left out.
 *
 * Try: `minibox run --name box busybox sh -c 'rm /etc/group; echo hi > /new' && minibox diff box` →
 * `C /etc … D /etc/group … A /new`, and `minibox run --name box busybox rm /etc/group && find
 * $MINIBOX_ROOT/containers -path '*upper/etc/group' | xargs ls -l` → `c---------`
 */
import fs from 'node:fs';
import path from 'node:path';
import { isOpaqueDir, isOverlayWhiteout } from '../image/unpack/whiteout.js';
import { OVERLAY_ANNOTATIONS, readSpec } from '../bundle/oci-bundle.js';
import { MiniboxError } from '../errors.js';
import type { StateRoot } from '../state-root.js';
import { ContainerStore } from '../container/container-store.js';
import { findContainer } from '../container/container-store.js';
import { LayerStack } from '../bundle/layer-view.js';

export type ChangeKind = 'A' | 'C' | 'D';

export interface Change {
  Kind: ChangeKind;
  Path: string;
}

/**
 * The changes in `upperDir` relative to the image `layersTopFirst`, in walk (path) order.
 * `mountPoints`: container paths the runtime creates as mount targets, left out when they are
 * empty files or directories.
 */
export function upperDirChanges(upperDir: string, layersTopFirst: string[], mountPoints: string[] = []): Change[] {
  const image = new LayerStack(layersTopFirst);
  const { isArtefact, onlyArtefactsInside } = mountArtefactTests(upperDir, image, mountPoints);
  const changes: Change[] = [];
  const changedDirs = new Set<string>();

  const walk = (dirRel: string, recreated: boolean): void => {
    const names = fs.readdirSync(path.join(upperDir, dirRel)).sort();
    for (const name of names) {
      const rel = path.posix.join(dirRel, name);
      const hostPath = path.join(upperDir, rel);
      const stats = fs.lstatSync(hostPath);
      if (isArtefact(rel, stats)) continue;
      const before = recreated ? undefined : image.lookup(rel, false);
      const opaque = stats.isDirectory() && isOpaqueDir(hostPath);
      let kind: ChangeKind | undefined;
      if (isOverlayWhiteout(stats) || (opaque && before)) {
        kind = 'D';
      } else if (!before) {
        kind = 'A';
      } else {
        const sameDir = before.stats.isDirectory() && stats.isDirectory() && before.stats.mode === stats.mode
          && (before.stats.mtimeMs === stats.mtimeMs || onlyArtefactsInside(rel));
        kind = sameDir ? undefined : 'C';
      }
      if (kind !== undefined) {
        if (stats.isDirectory()) changedDirs.add(rel);
        // A file added or deleted in /foo changes /foo, even when its mtime happens to match.
        const parent = path.posix.dirname(rel);
        if ((kind === 'A' || kind === 'D') && parent !== '/' && !changedDirs.has(parent)) {
          changes.push({ Kind: 'C', Path: parent });
          changedDirs.add(parent);
        }
        changes.push({ Kind: kind, Path: rel });
      }
      if (stats.isDirectory()) walk(rel, recreated || opaque);
    }
  };
  walk('/', false);
  return changes;
}

/**
 * Whether `rel` (`/etc/hostname`) in the upper dir is only a mount point the runtime created:
 * an empty file or directory at a mount destination that the image does not have.
 */
export function mountArtefactTests(upperDir: string, image: LayerStack, mountPoints: string[]): {
  isArtefact: (rel: string, stats: fs.Stats) => boolean;
  /** A directory whose upper copy holds nothing but mount-point artefacts (it was copied up only for them). */
  onlyArtefactsInside: (rel: string) => boolean;
  /** Either of the two, for a directory that also has the image's mode and owner: nothing of the container's. */
  isRuntimeOnly: (rel: string, stats: fs.Stats) => boolean;
} {
  const artefacts = new Set(mountPoints.map((p) => path.posix.normalize(p)));
  const isArtefact = (rel: string, stats: fs.Stats): boolean => {
    if (!artefacts.has(rel) || image.lookup(rel, false)) return false;
    return stats.isDirectory() ? fs.readdirSync(path.join(upperDir, rel)).length === 0 : stats.isFile() && stats.size === 0;
  };
  const onlyArtefactsInside = (rel: string): boolean => fs.readdirSync(path.join(upperDir, rel)).every((name) => {
    const child = path.posix.join(rel, name);
    const stats = fs.lstatSync(path.join(upperDir, child));
    if (isArtefact(child, stats)) return true;
    return stats.isDirectory() && !isOpaqueDir(path.join(upperDir, child)) && onlyArtefactsInside(child);
  });
  const isRuntimeOnly = (rel: string, stats: fs.Stats): boolean => {
    if (isArtefact(rel, stats)) return true;
    if (!stats.isDirectory() || isOpaqueDir(path.join(upperDir, rel))) return false;
    const before = image.lookup(rel, false)?.stats;
    return before !== undefined && before.isDirectory() && before.mode === stats.mode && before.uid === stats.uid
      && before.gid === stats.gid && onlyArtefactsInside(rel);
  };
  return { isArtefact, onlyArtefactsInside, isRuntimeOnly };
}

/** The upper dir, the image's layer dirs (top first) and the mount points of a container's bundle. */
export function containerLayers(root: StateRoot, record: { Id: string }): { upper: string; layers: string[]; mountPoints: string[] } {
  const paths = new ContainerStore(root).paths(record.Id);
  const spec = readSpec(paths.dir);
  const lower = spec.annotations?.[OVERLAY_ANNOTATIONS.lowerdir];
  const upper = spec.annotations?.[OVERLAY_ANNOTATIONS.upperdir] ?? paths.upper;
  if (lower === undefined) throw new MiniboxError(`container ${record.Id} does not use an overlay root: nothing to compare`);
  return { upper, layers: lower.split(':').filter((dir) => dir !== ''), mountPoints: (spec.mounts ?? []).map((mount) => mount.destination) };
}

/** `diff CONTAINER`: works for running and exited containers alike (the upper dir stays). */
export function containerChanges(root: StateRoot, idOrName: string): Change[] {
  const { upper, layers, mountPoints } = containerLayers(root, findContainer(root, idOrName));
  return upperDirChanges(upper, layers, mountPoints);
}
