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
 * Try: `minibox run --name t busybox sh -c 'rm /etc/group; echo hi > /new; touch /etc/passwd'`,
 * then `minibox diff t`, and `ls -la containers/<id>/upper/etc` (the `c--------- 0, 0 group`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { isOpaqueDir, isOverlayWhiteout } from '../image/unpack/whiteout.js';
import { OVERLAY_ANNOTATIONS, type RuntimeSpec } from '../bundle/oci-bundle.js';
import { MiniboxError } from '../errors.js';
import type { StateRoot } from '../state-root.js';
import { ContainerStore } from '../container/container-store.js';
import { findContainer } from './exec.js';
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
  const artefacts = new Set(mountPoints.map((p) => path.posix.normalize(p)));
  const changes: Change[] = [];
  const changedDirs = new Set<string>();

  const isArtefact = (rel: string, stats: fs.Stats): boolean => {
    if (!artefacts.has(rel) || image.lookup(rel, false)) return false;
    return stats.isDirectory() ? fs.readdirSync(path.join(upperDir, rel)).length === 0 : stats.isFile() && stats.size === 0;
  };
  /** A directory whose upper copy holds nothing but mount-point artefacts changed only for the runtime. */
  const onlyArtefactsInside = (rel: string): boolean => fs.readdirSync(path.join(upperDir, rel)).every((name) => {
    const child = path.posix.join(rel, name);
    const stats = fs.lstatSync(path.join(upperDir, child));
    if (isArtefact(child, stats)) return true;
    return stats.isDirectory() && !isOpaqueDir(path.join(upperDir, child)) && onlyArtefactsInside(child);
  });

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

/** `diff CONTAINER`: works for running and exited containers alike (the upper dir stays). */
export function containerChanges(root: StateRoot, idOrName: string): Change[] {
  const record = findContainer(root, idOrName);
  const paths = new ContainerStore(root).paths(record.Id);
  let spec: RuntimeSpec;
  try {
    spec = JSON.parse(fs.readFileSync(paths.spec, 'utf8')) as RuntimeSpec;
  } catch {
    throw new MiniboxError(`container ${record.Id} has no readable config.json: cannot tell its layers`);
  }
  const lower = spec.annotations?.[OVERLAY_ANNOTATIONS.lowerdir];
  const upper = spec.annotations?.[OVERLAY_ANNOTATIONS.upperdir] ?? paths.upper;
  if (lower === undefined) throw new MiniboxError(`container ${record.Id} does not use an overlay root: nothing to compare`);
  const layers = lower.split(':').filter((dir) => dir !== '');
  return upperDirChanges(upper, layers, (spec.mounts ?? []).map((mount) => mount.destination));
}
