/**
 * copy.ts — `minibox cp`: files between the host and a container, both ways, as a tar stream.
 *
 * Docker's cp is a tar in the middle: the source becomes a tar (one entry named after it, with
 * everything below), and the tar is unpacked at the destination. minibox reuses its two tar
 * halves: pack/layer-tar.ts writes it, unpack/ writes it out (names resolved inside the
 * destination, files created without following symlinks, hard links kept).
 *
 * Where the container's files are:
 *   running  /proc/PID/root — the kernel's view of the container's `/`, volumes included;
 *   stopped  an overlay mounted for the copy: read-only `lowerdir=upper:layers…` to read (as
 *            `export` does), or the container's own `upperdir`/`workdir` over its layers to
 *            write — so a whiteout still hides a deleted file and a changed image file is
 *            copied up, exactly as when the container runs. Held under the container's lock:
 *            a `start` waits until the copy is done.
 *
 * A container path is resolved with resolveInRoot (src/resolve-in-root.ts): a symlink inside
 * the container — `/escape -> /`, `/shadow -> /etc/shadow` — is followed as the container
 * would, relative to its root, never to the host's (the class of CVE-2018-15664 and
 * CVE-2019-14271, docker cp's symlink escapes). Not closed: a *running* container that swaps a
 * directory for a symlink between the resolution and the write (the race in CVE-2018-15664);
 * openat2-based writes would close it.
 *
 * Docker's path rules: `SRC/.` copies the directory's contents; a destination directory that
 * exists receives SRC under its own name; one that does not exist becomes SRC's copy; a trailing
 * `/` on the destination demands a directory. The last symlink of SRC is copied as a symlink
 * unless -L. Owners: without -a, copies into a container belong to root and copies to the host
 * to the user running cp; -a keeps the uid/gid of the source.
 *
 * Try: `minibox run -d --name web busybox sleep 60 >/dev/null && minibox cp web:/etc/hostname h &&
 * cat h` → `…` (the container's short id, its hostname).
 */
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { ExitCode, MiniboxError, NoSuchContainerError, NotFoundError, VerbError } from '../errors.js';
import type { StateRoot } from '../state-root.js';
import { resolveInRoot } from '../resolve-in-root.js';
import { MNT, MS, mount, umount } from '../sys/mount.js';
import { writePathTar } from '../image/pack/layer-tar.js';
import { extractTarStream } from '../image/unpack/index.js';
import { ContainerStore, findContainer, type ContainerRecord } from '../container/container-store.js';
import { reconcileLocked } from '../container/reconcile.js';
import { containerLayers } from './diff.js';

export interface CopyOptions {
  /** -a: keep uid/gid. */
  archive?: boolean;
  /** -L: follow a symlink that is the last component of the source. */
  followLink?: boolean;
}

/** Runs `fn` with a host directory that is the container's `/` (see the header). */
async function withContainerRoot<T>(root: StateRoot, name: string, writable: boolean, fn: (dir: string) => Promise<T>): Promise<T> {
  const store = new ContainerStore(root);
  const id = findContainer(root, name).Id;
  return await store.withContainerLock(id, async () => {
    const record = await reconcileLocked(store, id);
    if (!record) throw new NoSuchContainerError(name);
    if (record.State.Running && record.State.Pid > 0) return await fn(`/proc/${record.State.Pid}/root`);
    return await withStoppedRoot(root, record, writable, fn);
  });
}

async function withStoppedRoot<T>(root: StateRoot, record: ContainerRecord, writable: boolean, fn: (dir: string) => Promise<T>): Promise<T> {
  const { upper, layers } = containerLayers(root, record);
  fs.mkdirSync(root.tmp, { recursive: true });
  const target = fs.mkdtempSync(path.join(root.tmp, `cp-${record.Id.slice(0, 12)}-`));
  try {
    const work = new ContainerStore(root).paths(record.Id).work;
    const data = writable
      ? `lowerdir=${layers.join(':')},upperdir=${upper},workdir=${work}`
      : `lowerdir=${[upper, ...layers].join(':')}`;
    mount({ source: 'overlay', target, fstype: 'overlay', flags: writable ? MS.NODEV : MS.RDONLY, data });
    try {
      return await fn(target);
    } finally {
      umount(target, MNT.DETACH);
    }
  } finally {
    fs.rmdirSync(target);
  }
}

/** Whether `given` asks for a directory's contents (`dir/.`). */
function wantsContents(given: string): boolean {
  return given === '.' || given.endsWith('/.');
}

/** The host path of the source inside `dir`: the last symlink kept (or followed with -L). */
function sourceInRoot(dir: string, given: string, followLink: boolean): string {
  const normal = path.posix.normalize(`/${given}`);
  if (followLink || wantsContents(given) || given.endsWith('/') || normal === '/') return resolveInRoot(dir, normal);
  return path.join(resolveInRoot(dir, path.posix.dirname(normal)), path.posix.basename(normal));
}

/** Where a tar whose top entry is SRC lands, for destination `dest` (a host path). */
interface Landing {
  /** The directory the tar is unpacked into. */
  into: string;
  /** The top entry's new name; undefined = its contents go straight into `into`. */
  topName: string | undefined;
}

/** Docker's destination rules (see the header), for a source that is a directory or not. */
function landingFor(dest: string, destGiven: string, sourceIsDir: boolean, contents: boolean): Landing {
  const stats = statOrUndefined(dest);
  if (stats?.isDirectory()) return { into: dest, topName: contents ? undefined : '' };
  if (stats) {
    if (sourceIsDir) throw new VerbError(`cannot copy a directory to a file: ${destGiven}: name a directory`);
    return { into: path.dirname(dest), topName: path.basename(dest) };
  }
  if (destGiven.endsWith('/') && !sourceIsDir) throw new VerbError(`destination directory ${destGiven} does not exist: create it first`);
  if (!statOrUndefined(path.dirname(dest))?.isDirectory()) {
    throw new VerbError(`the parent directory of ${destGiven} does not exist: create it first`);
  }
  return { into: path.dirname(dest), topName: path.basename(dest) };
}

function realpathOrUndefined(hostPath: string): string | undefined {
  try {
    return fs.realpathSync(hostPath);
  } catch {
    return undefined;
  }
}

function statOrUndefined(hostPath: string): fs.Stats | undefined {
  try {
    return fs.statSync(hostPath);
  } catch {
    return undefined;
  }
}

/** Renames the tar's top entry (`''` keeps it, undefined drops it and keeps what is inside). */
function renameTop(topName: string | undefined): (name: string) => string | undefined {
  return (name) => {
    const parts = name.replace(/^(\.\/|\/)+/, '').split('/');
    if (topName === '') return parts.join('/');
    if (topName === undefined) return parts.length > 1 && parts.slice(1).join('') !== '' ? parts.slice(1).join('/') : undefined;
    return [topName, ...parts.slice(1)].join('/');
  };
}

/** Packs `source` and unpacks it at `landing`, streaming through a pipe. */
async function packInto(source: string, name: string, landing: Landing, owner: { uid: number; gid: number } | undefined): Promise<void> {
  const pipe = new PassThrough();
  await Promise.all([
    writePathTar(source, name, pipe),
    extractTarStream(pipe, { dest: landing.into, what: 'the copy', rename: renameTop(landing.topName), ...(owner ? { owner } : {}) }),
  ]);
}

/** The tar entry name of a source as given: its last name (`.` for `/`). */
function entryName(given: string): string {
  return path.posix.basename(path.posix.normalize(`/${given}`)) || '.';
}

function missingSource(given: string, container: string): MiniboxError {
  return new VerbError(`Could not find the file ${given} in container ${container}`);
}

/** What a container path is (the Engine API's `HEAD /containers/{id}/archive`): its lstat, and where a symlink leads. */
export async function statInContainer(root: StateRoot, container: string, given: string): Promise<{ stats: fs.Stats; linkTarget: string }> {
  return await withContainerRoot(root, container, false, async (dir) => {
    const source = sourceInRoot(dir, given, false);
    const stats = fs.lstatSync(source, { throwIfNoEntry: false });
    if (!stats) throw new NotFoundError(`Could not find the file ${given} in container ${container}`, ExitCode.VerbFailed);
    // A symlink's target as the container sees it: resolved inside its root, never the host's.
    const linkTarget = stats.isSymbolicLink() ? `/${path.relative(dir, resolveInRoot(dir, path.posix.normalize(`/${given}`)))}` : '';
    return { stats, linkTarget };
  });
}

/** `cp CONTAINER:SRC DEST` (DEST a host path) or `cp CONTAINER:SRC -` (a tar on `out`). */
export async function copyFromContainer(root: StateRoot, container: string, given: string, dest: string | Writable, options: CopyOptions = {}): Promise<void> {
  await withContainerRoot(root, container, false, async (dir) => {
    const source = sourceInRoot(dir, given, options.followLink ?? false);
    const stats = fs.lstatSync(source, { throwIfNoEntry: false });
    if (!stats) throw missingSource(given, container);
    if (given.endsWith('/') && !stats.isDirectory()) throw new VerbError(`${given} is not a directory in container ${container}`);
    if (typeof dest !== 'string') {
      await writePathTar(source, entryName(given), dest);
      return;
    }
    const landing = landingFor(path.resolve(dest), dest, stats.isDirectory(), wantsContents(given));
    await packInto(source, entryName(given), landing, options.archive ? undefined : { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 });
  });
}

/** `cp SRC CONTAINER:DEST` (SRC a host path) or `cp - CONTAINER:DIR` (a tar from `input`). */
export async function copyToContainer(root: StateRoot, source: string | Readable, container: string, given: string, options: CopyOptions = {}): Promise<void> {
  const owner = options.archive ? undefined : { uid: 0, gid: 0 };
  let hostSource: string | undefined;
  if (typeof source === 'string') {
    hostSource = path.resolve(source);
    if (options.followLink || wantsContents(source)) hostSource = realpathOrUndefined(hostSource) ?? hostSource;
  }
  const sourceStats = hostSource !== undefined ? fs.lstatSync(hostSource, { throwIfNoEntry: false }) : undefined;
  if (typeof source === 'string' && !sourceStats) throw new VerbError(`no such file or directory: ${source}: check the host path`);
  await withContainerRoot(root, container, true, async (dir) => {
    const dest = resolveInRoot(dir, path.posix.normalize(`/${given}`));
    if (typeof source !== 'string') {
      if (!statOrUndefined(dest)?.isDirectory()) throw new VerbError(`destination ${container}:${given} must be a directory for a tar from stdin`);
      await extractTarStream(source, { dest, what: 'the tar from stdin', ...(owner ? { owner } : {}) });
      return;
    }
    const landing = landingFor(dest, `${container}:${given}`, sourceStats!.isDirectory(), wantsContents(source));
    await packInto(hostSource!, entryName(source), landing, owner);
  });
}
