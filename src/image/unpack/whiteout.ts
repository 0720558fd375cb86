/**
 * whiteout.ts — how a layer deletes files, in the tar and on disk.
 *
 * A layer can only *add* entries, so deletion is spelled as a marker file (OCI image spec,
 * layer.md "Whiteouts", inherited from aufs):
 *   dir/.wh.NAME       — NAME, which a lower layer has, is deleted in this layer;
 *   dir/.wh..wh..opq   — dir is "opaque": nothing of it from lower layers shows through, only
 *                        what this layer puts in it.
 * overlayfs, which stacks the layer directories, has its own spelling for the same two ideas:
 * a whiteout is a *character device 0/0* named NAME, and an opaque directory carries the xattr
 * `trusted.overlay.opaque=y` (Documentation/filesystems/overlayfs.rst). So the unpacker translates:
 * the layer directory is then directly usable as an overlay lowerdir.
 *
 * Other `.wh..wh.*` names are aufs bookkeeping (`.wh..wh.plnk`, `.wh..wh.aufs`) that leaked into
 * some old images: they mean nothing to overlay and are skipped, with anything inside them.
 *
 * Try: `mkdir l u m && echo x > l/f && mknod u/f c 0 0 && unshare -m sh -c 'mount -t overlay o -o
 * lowerdir=u:l m && ls -A m | wc -l'` → `0` (the 0/0 device in the upper layer hides l/f).
 */
import type fs from 'node:fs';
import { lgetxattr, lsetxattr, mknod } from '../../sys/index.js';
import { RefusedEntry, removeExisting } from './layer-path.js';

/** `dir/.wh.NAME` in a layer tar deletes NAME. */
export const WHITEOUT_PREFIX = '.wh.';
/** `dir/.wh..wh..opq` in a layer tar makes dir opaque. */
export const OPAQUE_MARKER = '.wh..wh..opq';
/** The xattr (value `y`) by which overlayfs knows an opaque directory. */
const OPAQUE_XATTR = 'trusted.overlay.opaque';
const AUFS_METADATA_PREFIX = '.wh..wh.';

export type WhiteoutMarker =
  | { kind: 'whiteout'; hidden: string }
  | { kind: 'opaque' }
  | { kind: 'aufs-metadata' };

/** What a file name means as a marker, or undefined for an ordinary name. */
export function whiteoutMarker(baseName: string): WhiteoutMarker | undefined {
  if (!baseName.startsWith(WHITEOUT_PREFIX)) return undefined;
  if (baseName === OPAQUE_MARKER) return { kind: 'opaque' };
  if (baseName.startsWith(AUFS_METADATA_PREFIX)) return { kind: 'aufs-metadata' };
  const hidden = baseName.slice(WHITEOUT_PREFIX.length);
  // `.wh.` hides nothing, `.wh..` would hide the directory itself and `.wh...` its parent:
  // a whiteout must name one entry of its own directory.
  if (hidden === '' || hidden === '.' || hidden === '..') {
    throw new RefusedEntry('whiteout does not name an entry of its directory');
  }
  return { kind: 'whiteout', hidden };
}

/**
 * aufs kept its bookkeeping in top-level `.wh..wh.*` directories (`/.wh..wh.plnk/…`): skip them
 * and everything in them. (`/.wh..wh..opq` alone is the root's opaque marker, not bookkeeping.)
 */
export function isAufsMetadataPath(components: readonly string[]): boolean {
  const first = components[0];
  return first !== undefined && first.startsWith(AUFS_METADATA_PREFIX) && !(first === OPAQUE_MARKER && components.length === 1);
}

/**
 * Writes the overlay whiteout: a 0/0 character device at `hostPath`, replacing whatever this layer
 * had put there (the spec forbids a layer to both add and delete a name, but if one does, the
 * deletion that comes later wins, like any later entry).
 */
export function writeWhiteout(hostPath: string): void {
  removeExisting(hostPath);
  mknod(hostPath, 'char', 0, 0, 0);
}

/** Marks a directory (already resolved inside the root, a real directory) opaque for overlayfs. */
export function markOpaque(directoryHostPath: string): void {
  lsetxattr(directoryHostPath, OPAQUE_XATTR, Buffer.from('y'));
}

/** An overlay whiteout — a 0/0 character device — is how a layer or upper dir records a deletion. */
export function isOverlayWhiteout(stat: fs.Stats | undefined): boolean {
  return stat !== undefined && stat.isCharacterDevice() && stat.rdev === 0;
}

/** Whether overlayfs treats this directory as opaque (its xattr; the tar's `.wh..wh..opq` is not looked at). */
export function isOpaqueDir(directoryHostPath: string): boolean {
  return lgetxattr(directoryHostPath, OPAQUE_XATTR)?.toString() === 'y';
}
