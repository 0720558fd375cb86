/**
 * tree-snapshot.ts — a file tree as plain data, so two trees can be compared with one
 * `expect(a).toEqual(b)` and a readable diff.
 *
 * The walk uses lstat (never follows a symlink) and records, per path relative to the root:
 * type, permission bits incl. setuid/setgid/sticky, owner, size and sha256 of regular files, link
 * targets, device numbers, extended attributes, and (optionally) mtimes. Inode numbers differ
 * between two trees, so hard links are recorded as *groups*: the sorted sets of paths that share
 * one inode in this tree.
 *
 * What is left out on purpose, because it describes the storage rather than the image:
 *   - `trusted.overlay.*` xattrs (overlayfs bookkeeping: opaque dirs, whiteouts) and
 *     `security.selinux` (the host's labelling policy);
 *   - link counts (overlayfs reports the lower file's count, which includes names a higher layer
 *     deleted — the groups of *visible* names are what matters);
 *   - atime, ctime, directory sizes (file-system specific).
 * mtimes are recorded (with lstat: a symlink's own) except where the options leave them out.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { lgetxattr, llistxattr } from '../../src/sys/index.js';

export type NodeType = 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';

export interface TreeNode {
  type: NodeType;
  /** Permission bits as octal text, e.g. `4755` — readable in a diff. */
  mode: string;
  uid: number;
  gid: number;
  /** Regular files: byte size and content digest. */
  size?: number;
  sha256?: string;
  /** Symlinks: the target exactly as stored. */
  target?: string;
  /** Devices: `major:minor`. */
  rdev?: string;
  /** Extended attributes, values in hex (binary ones like security.capability stay exact). */
  xattrs?: Record<string, string>;
  /** ISO time; left out where the options say mtimes are not comparable. */
  mtime?: string;
}

export interface TreeSnapshot {
  /** Keyed by path relative to the root (`.` is the root itself), in sorted order. */
  nodes: Record<string, TreeNode>;
  /** Sets of paths sharing one inode (only sets of two or more), each sorted, sorted by first path. */
  hardlinkGroups: string[][];
}

export interface SnapshotOptions {
  /** Which entries' mtimes to record (default: all). */
  mtimes?: 'all' | 'non-directories' | 'none';
  /** Paths whose mtime is not recorded (e.g. directories no tar entry names: their time is the unpack's). */
  skipMtimes?: string[];
  /** Extra xattr names (or prefixes ending in `.`) to leave out. */
  ignoreXattrs?: string[];
}

const ALWAYS_IGNORED_XATTRS = ['trusted.overlay.', 'security.selinux'];

function typeOf(stat: fs.Stats): NodeType {
  if (stat.isFile()) return 'file';
  if (stat.isDirectory()) return 'dir';
  if (stat.isSymbolicLink()) return 'symlink';
  if (stat.isCharacterDevice()) return 'char';
  if (stat.isBlockDevice()) return 'block';
  if (stat.isFIFO()) return 'fifo';
  return 'socket';
}

/** The inverse of makedev(3), for the rdev lstat reports. */
function majorMinor(rdev: bigint): string {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
  return `${major}:${minor}`;
}

function fileDigest(file: string): string {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    const buffer = Buffer.alloc(1 << 16);
    for (let read; (read = fs.readSync(fd, buffer, 0, buffer.length, null)) > 0;) hash.update(buffer.subarray(0, read));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

function xattrsOf(file: string, ignored: string[]): Record<string, string> | undefined {
  const names = llistxattr(file)
    .filter((name) => !ignored.some((rule) => (rule.endsWith('.') ? name.startsWith(rule) : name === rule)))
    .sort();
  if (names.length === 0) return undefined;
  const result: Record<string, string> = {};
  for (const name of names) result[name] = (lgetxattr(file, name) ?? Buffer.alloc(0)).toString('hex');
  return result;
}

/** Snapshots the tree under `root` (the root itself included, as `.`). */
export function snapshotTree(root: string, options: SnapshotOptions = {}): TreeSnapshot {
  const mtimes = options.mtimes ?? 'all';
  const skipMtimes = new Set(options.skipMtimes ?? []);
  const ignored = [...ALWAYS_IGNORED_XATTRS, ...(options.ignoreXattrs ?? [])];
  const nodes: Record<string, TreeNode> = {};
  const byInode = new Map<string, string[]>();

  const visit = (relative: string): void => {
    const file = relative === '.' ? root : path.join(root, relative);
    const stat = fs.lstatSync(file, { bigint: true });
    const type = typeOf(stat as unknown as fs.Stats);
    const node: TreeNode = {
      type,
      mode: (Number(stat.mode) & 0o7777).toString(8).padStart(4, '0'),
      uid: Number(stat.uid),
      gid: Number(stat.gid),
    };
    if (type === 'file') {
      node.size = Number(stat.size);
      node.sha256 = fileDigest(file);
    }
    if (type === 'symlink') node.target = fs.readlinkSync(file);
    if (type === 'char' || type === 'block') node.rdev = majorMinor(stat.rdev);
    const xattrs = xattrsOf(file, ignored);
    if (xattrs) node.xattrs = xattrs;
    if ((mtimes === 'all' || (mtimes === 'non-directories' && type !== 'dir')) && !skipMtimes.has(relative)) node.mtime = new Date(Number(stat.mtimeMs)).toISOString();
    nodes[relative] = node;
    if (type !== 'dir') {
      const key = `${stat.dev}:${stat.ino}`;
      byInode.set(key, [...(byInode.get(key) ?? []), relative]);
      return;
    }
    for (const name of fs.readdirSync(file).sort()) visit(relative === '.' ? name : path.join(relative, name));
  };
  visit('.');

  const hardlinkGroups = [...byInode.values()]
    .filter((paths) => paths.length > 1)
    .map((paths) => [...paths].sort())
    .sort((a, b) => (a[0] as string).localeCompare(b[0] as string));
  return { nodes, hardlinkGroups };
}
