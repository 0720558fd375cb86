/**
 * upper-filesystem.ts — can this directory hold an overlayfs *upper* dir?
 *
 * The upper dir receives a container's writes, so overlayfs asks more of its file system than of
 * the read-only lower dirs: d_type in directory entries, trusted.* extended attributes (opaque
 * dirs, redirects), RENAME_WHITEOUT and O_TMPFILE. ext4, xfs, btrfs and tmpfs have them; another
 * overlay (a container's own root, some CI sandboxes), NFS, FAT, FUSE and friends do not, and the
 * kernel then refuses the mount with a bare EINVAL. `pull` works on such a file system (it only
 * writes plain files); `run` does not. This module names the problem from /proc/self/mountinfo,
 * without mounting anything, for `minibox doctor` and for `run`'s error.
 *
 * Try: `findmnt -n -T $MINIBOX_ROOT -o FSTYPE` → `ext4` (or xfs, btrfs, tmpfs: all work as an
 * overlay upper).
 */
import fs from 'node:fs';
import path from 'node:path';
import { readMountInfo } from '../../mountinfo.js';

/** File systems the kernel refuses as an overlay upper dir (overlayfs.rst, "Upper and Lower"). */
const NO_UPPER = /^(overlay|aufs|nfs4?|cifs|smb3|vfat|msdos|exfat|ntfs3?|fuse(\..*|blk)?|ecryptfs|9p|squashfs|iso9660|ramfs)$/;

/** The file system type of the mount that holds `dir` (the nearest existing ancestor's). */
export function filesystemOf(dir: string, mountinfo?: string): string | undefined {
  let at = path.resolve(dir);
  while (!fs.existsSync(at) && at !== '/') at = path.dirname(at);
  const real = fs.realpathSync(at);
  const holding = readMountInfo(mountinfo)
    .filter((entry) => real === entry.mountPoint || real.startsWith(entry.mountPoint === '/' ? '/' : `${entry.mountPoint}/`))
    .sort((a, b) => a.mountPoint.length - b.mountPoint.length);
  return holding.pop()?.fstype; // the deepest (and, among equals, the last mounted) wins
}

/** Why `dir` cannot hold overlay upper dirs, in one sentence; undefined when it can. */
export function upperFilesystemProblem(dir: string, fstype = filesystemOf(dir)): string | undefined {
  if (fstype === undefined || !NO_UPPER.test(fstype)) return undefined;
  return `${dir} is on ${fstype}, which overlayfs cannot use for a container's writable layer; `
    + 'put the state root on ext4, xfs, btrfs or tmpfs (--root DIR or MINIBOX_ROOT)';
}
