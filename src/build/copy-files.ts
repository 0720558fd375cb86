/**
 * copy-files.ts — COPY and ADD: files from the build context (or another stage) become a layer.
 *
 * The build context is the directory given to `minibox build`, minus what `.dockerignore`
 * excludes (Docker's pattern syntax: `*`, `**`, `?`, and `!` exceptions — the @balena/dockerignore
 * package is a port of Docker's own matcher). A COPY source is a path or a wildcard *inside* the
 * context: `..` or a symlink leading out of it is refused, so a Dockerfile cannot read the host.
 *
 * Docker's rules for where things land:
 *   COPY dir  /dest      the *contents* of dir go into /dest (not dir itself)
 *   COPY file /dest/     a trailing slash, or several sources: /dest is a directory
 *   COPY file /dest      otherwise /dest is the file's new name
 *   relative /dest       relative to WORKDIR
 * New files belong to 0:0 unless `--chown`, keep their mode unless `--chmod`, and keep their
 * mtime. Parent directories that the image already has keep its owner and mode; missing ones
 * are created 0755, owned by the `--chown` owner or root. The files are laid out in a scratch directory exactly as they will
 * appear under `/`, and that directory is written as a layer by the same writer as `commit`.
 *
 * `ADD` does the same, and unpacks a local tar (plain or gzip) into the destination instead of
 * copying it. A URL needs the network, which a build here does not have: a clear error.
 *
 * Try: a context with `.dockerignore` holding `*.log` and `!keep.log` → `COPY . /app` copies
 * keep.log and no other .log file.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { MiniboxError } from '../errors.js';
import type { LayerStack } from '../bundle/layer-view.js';
import { resolveInRoot } from '../resolve-in-root.js';

// A CommonJS module whose typings declare an ES default export: loaded with require.
const ignore = createRequire(import.meta.url)('@balena/dockerignore') as typeof import('@balena/dockerignore').default;

/** Where COPY/ADD read from: the context (filtered by .dockerignore) or a stage's/image's root. */
export interface CopySource {
  root: string;
  /** True for files that .dockerignore excludes (always false for a stage or image root). */
  ignored: (relativePath: string) => boolean;
  /** How the source is named in errors. */
  describe: string;
}

export interface CopyRequest {
  sources: string[];
  dest: string;
  workdir: string;
  chown?: { uid: number; gid: number };
  chmod?: number;
  /** ADD: unpack local tars. */
  extractArchives: boolean;
}

export function contextSource(contextDir: string): CopySource {
  const file = path.join(contextDir, '.dockerignore');
  const patterns = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')) : [];
  const matcher = ignore().add(patterns);
  return { root: contextDir, ignored: (rel) => rel !== '' && matcher.ignores(rel), describe: 'the build context' };
}

export function rootSource(root: string, describe: string): CopySource {
  return { root, ignored: () => false, describe };
}

/**
 * The host path of `relative` inside the source root, every symlink on the way resolved *inside*
 * the root (resolve-in-root.ts): an absolute link restarts at the root, `..` stops there — so a
 * link in the context (or in an image) can never lead the builder to the host's files. With
 * `followLast` false the last name is kept as it is (a symlink inside a copied directory is copied
 * as a symlink).
 */
function insideRoot(source: CopySource, relative: string, followLast = true): string {
  if (path.posix.normalize(relative).split('/').includes('..')) {
    throw new MiniboxError(`COPY failed: forbidden path outside the build context: ${relative}`, 1);
  }
  if (followLast) return resolveInRoot(source.root, relative);
  const parent = path.posix.dirname(relative);
  return path.join(parent === '.' ? source.root : resolveInRoot(source.root, parent), path.posix.basename(relative));
}

/** A glob pattern (`*.txt`, `src/*`) as a RegExp over one path segment list. */
function globToRegExp(pattern: string): RegExp {
  const escaped = pattern.split('/').map((segment) => segment
    .replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]').replace(/\[!/g, '[^'));
  return new RegExp(`^${escaped.join('/')}$`);
}

/** Every relative path of the source tree (not following symlinks), parents first. */
function walk(root: string, dir = ''): string[] {
  const out: string[] = [];
  for (const name of fs.readdirSync(path.join(root, dir)).sort()) {
    const rel = dir === '' ? name : `${dir}/${name}`;
    out.push(rel);
    if (fs.lstatSync(path.join(root, rel)).isDirectory()) out.push(...walk(root, rel));
  }
  return out;
}

/** The sources named by one COPY argument: wildcards expanded, ignored files left out. */
export function expandSource(source: CopySource, pattern: string): string[] {
  const clean = path.posix.normalize(pattern.replace(/^\/+/, '')).replace(/\/$/, '');
  if (clean.startsWith('..')) throw new MiniboxError(`COPY failed: forbidden path outside the build context: ${pattern}`, 1);
  if (!/[*?[]/.test(clean)) {
    const rel = clean === '.' ? '' : clean;
    if (source.ignored(rel) || !fs.existsSync(insideRoot(source, rel))) {
      throw new MiniboxError(`COPY failed: file not found in ${source.describe}: ${pattern}${source.ignored(rel) ? ' (excluded by .dockerignore)' : ''}`, 1);
    }
    return [rel];
  }
  const regexp = globToRegExp(clean);
  const matches = walk(source.root).filter((rel) => regexp.test(rel) && !source.ignored(rel));
  if (matches.length === 0) throw new MiniboxError(`COPY failed: no source files were specified by ${pattern} in ${source.describe}`, 1);
  return matches;
}

/** The hash of everything a COPY would read: the build cache's key for its sources. */
export function hashSources(source: CopySource, relatives: string[]): string {
  const hash = createHash('sha256');
  const visit = (rel: string): void => {
    if (source.ignored(rel)) return;
    const full = insideRoot(source, rel, relatives.includes(rel));
    const stats = fs.lstatSync(full);
    hash.update(`${rel}\0${stats.mode}\0${Math.floor(stats.mtimeMs / 1000)}\0`);
    if (stats.isSymbolicLink()) hash.update(fs.readlinkSync(full));
    else if (stats.isFile()) hash.update(fs.readFileSync(full));
    else if (stats.isDirectory()) for (const name of fs.readdirSync(full).sort()) visit(rel === '' ? name : `${rel}/${name}`);
  };
  for (const rel of relatives) visit(rel);
  return hash.digest('hex');
}

/**
 * Creates the parents of `target` (a path under `/`) in the scratch dir: with the image's metadata
 * where it has them, else 0755 and the `--chown` owner (as BuildKit and buildah create them).
 */
function makeParents(scratch: string, target: string, image: LayerStack, chown?: { uid: number; gid: number }): void {
  const parts = target.split('/').filter((p) => p !== '');
  let current = '';
  for (const part of parts.slice(0, -1)) {
    current = `${current}/${part}`;
    const dir = path.join(scratch, current);
    if (fs.existsSync(dir)) continue;
    fs.mkdirSync(dir);
    const before = image.lookup(current, true)?.stats;
    if (before?.isDirectory()) {
      fs.chmodSync(dir, before.mode & 0o7777);
      fs.lchownSync(dir, before.uid, before.gid);
      fs.utimesSync(dir, before.atime, before.mtime);
    } else {
      fs.chmodSync(dir, 0o755);
      if (chown) fs.lchownSync(dir, chown.uid, chown.gid);
    }
  }
}

/** Copies one file-system object (recursively for directories) to `to`, applying --chown/--chmod. */
function copyTree(source: CopySource, fromRel: string, to: string, request: CopyRequest, top = true): void {
  const from = insideRoot(source, fromRel, top);
  const stats = fs.lstatSync(from);
  if (stats.isDirectory()) {
    if (!fs.existsSync(to)) fs.mkdirSync(to);
    for (const name of fs.readdirSync(from).sort()) {
      const childRel = fromRel === '' ? name : `${fromRel}/${name}`;
      if (!source.ignored(childRel)) copyTree(source, childRel, path.join(to, name), request, false);
    }
  } else if (stats.isSymbolicLink()) {
    fs.rmSync(to, { force: true });
    fs.symlinkSync(fs.readlinkSync(from), to);
  } else if (stats.isFile()) {
    fs.rmSync(to, { force: true, recursive: true });
    fs.copyFileSync(from, to);
  } else {
    return; // devices, fifos and sockets are not copied from a context
  }
  if (!stats.isSymbolicLink()) fs.chmodSync(to, request.chmod ?? (stats.mode & 0o7777));
  fs.lchownSync(to, request.chown?.uid ?? 0, request.chown?.gid ?? 0);
  if (!stats.isSymbolicLink()) fs.utimesSync(to, stats.atime, stats.mtime);
}

function isLocalArchive(file: string): boolean {
  const head = Buffer.alloc(262);
  const fd = fs.openSync(file, 'r');
  try { fs.readSync(fd, head, 0, head.length, 0); } finally { fs.closeSync(fd); }
  return (head[0] === 0x1f && head[1] === 0x8b) || head.subarray(257, 262).toString('latin1') === 'ustar';
}

/** Lays out the result of one COPY/ADD under `scratch` (as it will appear under `/`). */
export function stageCopy(source: CopySource, request: CopyRequest, scratch: string, image: LayerStack): void {
  for (const src of request.sources) {
    if (/^[a-z]+:\/\//i.test(src)) {
      throw new MiniboxError(`ADD ${src}: downloading from a URL is not supported by minibox build (it works offline): download the file into the context and ADD it from there`, 1);
    }
  }
  const expanded = request.sources.flatMap((src) => expandSource(source, src));
  const absoluteDest = request.dest.startsWith('/') ? request.dest : path.posix.join(request.workdir || '/', request.dest);
  const destIsDir = request.dest.endsWith('/') || request.dest === '.' || expanded.length > 1 || request.sources.some((s) => /[*?[]/.test(s));
  for (const rel of expanded) {
    const from = insideRoot(source, rel);
    const stats = fs.lstatSync(from);
    if (request.extractArchives && stats.isFile() && isLocalArchive(from)) {
      const target = path.join(scratch, absoluteDest);
      makeParents(scratch, `${absoluteDest}/x`, image, request.chown);
      fs.mkdirSync(target, { recursive: true });
      execFileSync('tar', ['-xf', from, '-C', target, '--no-same-owner', '--no-overwrite-dir'], { stdio: ['ignore', 'ignore', 'pipe'] });
      continue;
    }
    const target = stats.isDirectory() ? absoluteDest : destIsDir ? path.posix.join(absoluteDest, path.posix.basename(rel)) : absoluteDest;
    makeParents(scratch, target === '/' ? '/x' : `${target}${stats.isDirectory() ? '/x' : ''}`, image, request.chown);
    if (stats.isDirectory() && (target === '/' || target === '')) {
      copyTree(source, rel, scratch, request);
      fs.chmodSync(scratch, 0o755);
      fs.lchownSync(scratch, 0, 0);
      continue;
    }
    copyTree(source, rel, path.join(scratch, target), request);
  }
}
