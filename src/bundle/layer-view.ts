/**
 * layer-view.ts — reading a file from an image *before* it is mounted, as overlayfs would show it.
 *
 * An image is a stack of layer directories (top first). overlayfs merges them: for a path, the
 * topmost layer that has it wins; a *whiteout* (a 0/0 character device, or a `.wh.NAME` file from
 * a layer tar) deletes NAME from the layers below; an *opaque* directory (xattr
 * `trusted.overlay.opaque=y`, or a `.wh..wh..opq` file) hides everything below it in lower layers.
 * The engine needs a few image files before the container starts — /etc/passwd and /etc/group to
 * turn `-u app` into numbers — so it walks the stack the same way, one path component at a time.
 *
 * Safety: an image is untrusted. A symlink in a layer is resolved inside the merged image (an
 * absolute target starts again at the image's `/`), never on the host — the project's one
 * resolve-in-root walk (resolve-in-root.ts) — and every component is checked with lstat so
 * `etc -> /host/secret` cannot lead outside a layer directory.
 *
 * Try: `minibox run --rm -u nobody busybox id` → `uid=65534(nobody) gid=65534(nogroup)` (read from
 * the image's /etc/passwd and /etc/group before anything is mounted).
 */
import fs from 'node:fs';
import path from 'node:path';
import { walkInRoot } from '../resolve-in-root.js';
import { isOpaqueDir, isOverlayWhiteout, OPAQUE_MARKER, WHITEOUT_PREFIX } from '../image/unpack/whiteout.js';
import { ACCOUNTS_FILE_LIMIT, readUntrustedFile } from '../untrusted-file.js';

export interface LayerEntry {
  /** The file on the host, inside one layer directory. */
  hostPath: string;
  stats: fs.Stats;
}

function lstatOrUndefined(file: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(file, { throwIfNoEntry: false }); // a missing name is the common case: no exception for it
  } catch {
    return undefined;
  }
}

/** Opaque as overlayfs sees it, or by a tar's `.wh..wh..opq` left in a layer dir not unpacked by minibox. */
function isOpaque(dir: string): boolean {
  return lstatOrUndefined(path.join(dir, OPAQUE_MARKER)) !== undefined || isOpaqueDir(dir);
}

export class LayerStack {
  /** `layersTopFirst`: layer directories, the topmost (last applied) first — overlay's lowerdir order. */
  constructor(readonly layersTopFirst: string[]) {}

  /**
   * Finds `components` (a path with no symlinks left in its parents) in the topmost layer that has
   * it, or undefined when no layer has it or a whiteout / opaque dir / non-directory hides it.
   */
  private findEntry(components: string[]): LayerEntry | undefined {
    for (const layer of this.layersTopFirst) {
      let dir = layer;
      let hiddenBelow = false;
      let missingHere = false;
      for (const [index, name] of components.entries()) {
        const isLast = index === components.length - 1;
        if (lstatOrUndefined(path.join(dir, `${WHITEOUT_PREFIX}${name}`))) return undefined;
        const here = path.join(dir, name);
        const stats = lstatOrUndefined(here);
        if (!stats) {
          missingHere = true;
          break;
        }
        if (isOverlayWhiteout(stats)) return undefined;
        if (isLast) return { hostPath: here, stats };
        // A non-directory in this layer covers every lower layer's directory of the same name.
        if (!stats.isDirectory()) return undefined;
        if (isOpaque(here)) hiddenBelow = true;
        dir = here;
      }
      if (components.length === 0) return { hostPath: layer, stats: fs.lstatSync(layer) };
      if (missingHere && hiddenBelow) return undefined;
    }
    return undefined;
  }

  /**
   * Looks up an absolute path in the merged image, following symlinks inside the image
   * (the last component too when `followLast`). Undefined when the path does not exist.
   */
  lookup(imagePath: string, followLast = true): LayerEntry | undefined {
    // The project's one resolve-in-root walk (resolve-in-root.ts); here a "directory" is the
    // merged view of every layer, so each name is looked up through the stack.
    const loop = new Error(`too many symbolic links in ${imagePath}`);
    let resolved: string[] | undefined;
    try {
      resolved = walkInRoot(imagePath.split('/'), (done, name, isLast) => {
        const entry = this.findEntry([...done, name]);
        if (!entry) return { kind: 'stop' };
        if (entry.stats.isSymbolicLink() && (!isLast || followLast)) {
          return { kind: 'symlink', target: fs.readlinkSync(entry.hostPath) };
        }
        return !isLast && !entry.stats.isDirectory() ? { kind: 'stop' } : { kind: 'enter' };
      }, () => loop);
    } catch (error) {
      if (error === loop) return undefined; // a loop leads nowhere, as ELOOP would
      throw error;
    }
    return resolved === undefined ? undefined : this.findEntry(resolved);
  }

  /**
   * The contents of a regular file in the merged image, or undefined if there is none. Image
   * content is untrusted: read with a cap (/etc/passwd and /etc/group are what this reads).
   */
  readFile(imagePath: string): string | undefined {
    const entry = this.lookup(imagePath);
    if (!entry || !entry.stats.isFile()) return undefined;
    return readUntrustedFile(entry.hostPath, ACCOUNTS_FILE_LIMIT, `${imagePath} of the image`);
  }
}
