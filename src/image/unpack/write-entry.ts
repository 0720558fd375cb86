/**
 * write-entry.ts — creating one tar entry on disk: regular files, directories, symlinks, hard
 * links, device nodes and fifos, with their owner, mode, extended attributes and times.
 *
 * Every function gets a host path whose parents were already resolved inside the layer root
 * (layer-path.ts) and never follows the last component: an existing entry is removed first
 * (tar --overwrite semantics: a later entry replaces an earlier one, a file can replace a
 * directory and the other way round), then created with a call that cannot follow a symlink —
 * open(O_CREAT|O_EXCL|O_NOFOLLOW), mkdir, symlink, link, mknod all fail or act on the name itself.
 * Metadata is set on a file descriptor (fchown/fchmod/futimes) or with the `l` calls (lchown,
 * lutimes, lsetxattr), so a symlink is never chmod-ed "through".
 *
 * The order matters, and it is the kernel's: chown(2) clears setuid/setgid bits and file
 * capabilities, and writing to a file clears capabilities too, so it is content → chown → chmod →
 * xattrs → times. A directory's mtime changes whenever a child is added, so index.ts sets those last.
 *
 * Try: `touch f && chmod u+s f && chown 1 f && ls -l f` → `-rw-r--r--` (chown drops the setuid bit,
 * so it is set after the owner).
 */
import fs from 'node:fs';
import { lsetxattr, mknod, SysError, type NodeKind } from '../../sys/index.js';
import { lstatOrUndefined, RefusedEntry, removeExisting } from './layer-path.js';

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_RDONLY, O_DIRECTORY } = fs.constants;

/** The metadata every entry type carries. */
export interface EntryMetadata {
  mode: number; // permission bits incl. setuid/setgid/sticky (0o7777)
  uid: number;
  gid: number;
  mtime: Date;
  xattrs: Map<string, Buffer>;
}

function setXattrs(hostPath: string, xattrs: Map<string, Buffer>, isSymlink = false): void {
  for (const [name, value] of xattrs) {
    try {
      lsetxattr(hostPath, name, value);
    } catch (error) {
      // The kernel allows only trusted.*/security.* on a symlink; `user.*` there is EPERM. Skip it
      // like GNU tar does, rather than fail a whole image over a meaningless attribute.
      if (isSymlink && error instanceof SysError && error.code === 'EPERM') continue;
      throw error;
    }
  }
}

/**
 * A regular file being written: created when its header arrives, fed its content chunk by chunk
 * (never the whole file in memory), then given its metadata. Everything is synchronous: tar entries
 * arrive one after another anyway, and a write(2) into the page cache is far cheaper than a round
 * trip through libuv's thread pool for each chunk (which is what `await handle.write()` costs).
 */
export class RegularFileWriter {
  private fd: number | undefined;

  constructor(private readonly hostPath: string, private readonly meta: EntryMetadata) {
    this.fd = createExclusive(hostPath);
  }

  write(chunk: Buffer): void {
    if (this.fd === undefined) throw new Error('write after close');
    let offset = 0;
    while (offset < chunk.length) offset += fs.writeSync(this.fd, chunk, offset, chunk.length - offset);
  }

  /** Owner, mode, xattrs, times — on the open descriptor, so they land on this very file. */
  finish(): void {
    const fd = this.take();
    try {
      fs.fchownSync(fd, this.meta.uid, this.meta.gid);
      fs.fchmodSync(fd, this.meta.mode);
      setXattrs(this.hostPath, this.meta.xattrs);
      fs.futimesSync(fd, this.meta.mtime, this.meta.mtime);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Closes the descriptor after a failure (the half-written file stays: the whole dir is discarded). */
  abort(): void {
    if (this.fd !== undefined) fs.closeSync(this.take());
  }

  private take(): number {
    const fd = this.fd;
    if (fd === undefined) throw new Error('file already closed');
    this.fd = undefined;
    return fd;
  }
}

/**
 * open(O_CREAT|O_EXCL|O_NOFOLLOW): creates the name itself or fails; it never follows a symlink
 * and never opens what is already there. Most names are new, so try first and remove what an
 * earlier entry put there only when the kernel says EEXIST (one lstat(2) fewer per file).
 */
function createExclusive(hostPath: string): number {
  const flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;
  try {
    return fs.openSync(hostPath, flags, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  removeExisting(hostPath);
  return fs.openSync(hostPath, flags, 0o600);
}

/**
 * Makes (or keeps) a directory. An existing directory is kept with its contents — entries may
 * come in any order, and a later entry for the same directory only updates its metadata. Anything
 * else there (a file, or a symlink pointing anywhere) is removed first, so the chmod below can
 * never reach a symlink's target.
 */
export function writeDirectory(hostPath: string, meta: EntryMetadata): void {
  const existing = lstatOrUndefined(hostPath);
  if (existing === undefined || !existing.isDirectory()) {
    removeExisting(hostPath);
    fs.mkdirSync(hostPath, 0o700);
  }
  // O_NOFOLLOW|O_DIRECTORY: this fd is the directory we just checked, or the open fails.
  const fd = fs.openSync(hostPath, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  try {
    fs.fchownSync(fd, meta.uid, meta.gid);
    fs.fchmodSync(fd, meta.mode);
  } finally {
    fs.closeSync(fd);
  }
  setXattrs(hostPath, meta.xattrs);
}

/** A symlink's target is stored exactly as written; it is data here, never followed. */
export function writeSymlink(hostPath: string, target: string, meta: EntryMetadata): void {
  if (target === '') throw new RefusedEntry('symlink with an empty target');
  if (target.includes('\0')) throw new RefusedEntry('symlink target contains a NUL byte');
  removeExisting(hostPath);
  fs.symlinkSync(target, hostPath);
  fs.lchownSync(hostPath, meta.uid, meta.gid);
  setXattrs(hostPath, meta.xattrs, true);
  fs.lutimesSync(hostPath, meta.mtime, meta.mtime);
}

/**
 * A hard link to an earlier entry of this layer. `targetPath` was resolved inside the root without
 * creating anything; it must exist and must not be a directory. link(2) on Linux does not follow a
 * symlink given as the target: linking to a symlink links the symlink itself.
 */
export function writeHardlink(hostPath: string, targetPath: string): void {
  const target = lstatOrUndefined(targetPath);
  if (target === undefined) throw new RefusedEntry('hard link target is not an earlier entry of this layer');
  if (target.isDirectory()) throw new RefusedEntry('hard link to a directory');
  if (targetPath === hostPath) return; // a link to itself: already there
  removeExisting(hostPath);
  fs.linkSync(targetPath, hostPath);
}

/** Character and block devices and fifos (mknod(2); Node has no mknod). */
export function writeDeviceNode(hostPath: string, kind: NodeKind, major: number, minor: number, meta: EntryMetadata): void {
  removeExisting(hostPath);
  mknod(hostPath, kind, meta.mode, major, minor);
  fs.lchownSync(hostPath, meta.uid, meta.gid);
  // chmod follows symlinks, but hostPath is the node mknod just made (mknod never follows), and
  // no one else writes in the layer dir. It undoes the umask mknod applied.
  fs.chmodSync(hostPath, meta.mode);
  setXattrs(hostPath, meta.xattrs);
  fs.lutimesSync(hostPath, meta.mtime, meta.mtime);
}
