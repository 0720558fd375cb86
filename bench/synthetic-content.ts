/**
 * synthetic-content.ts — the images and layers the benchmarks pull and unpack, made offline.
 *
 * What makes a layer slow or fast to unpack is its *shape*: thousands of small files cost
 * syscalls (open, write, chmod, chown, utimes per file), big files cost bandwidth, and how well
 * the bytes compress decides how much gzip work each byte of blob stands for. So the content is
 * a mix like real images: ~30 % of the bytes in small files (1–32 KiB, ~200 per directory), the
 * rest in a few large files (4–48 MiB); half the bytes are random (incompressible: binaries,
 * already-compressed assets), half English-like text (gzip shrinks it about 3×), so a layer
 * gzips to about 65 % of its size; plus a symlink per directory. File sizes and names come from a seeded generator, so every build has the same shape.
 *
 * Built once and cached under os.tmpdir()/minibox-bench-cache (main.ts deletes it unless --keep):
 *   layer-<N>mb.tar.gz   one gzip layer blob (GNU tar + gzip -6, what `docker build` produces)
 *   image-3layer/        an OCI layout: the busybox image plus two content layers (umoci)
 *
 * Try: `tar -tzvf $TMPDIR/minibox-bench-cache/layer-150mb.tar.gz | head` after `--keep`.
 */
import { execFileSync, type ExecFileSyncOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const MiB = 1024 * 1024;
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** mulberry32: a tiny seeded PRNG, so sizes and names repeat from build to build. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ('the of and to in is that for it as was with be by on not he this are or his from at which but have an they '
  + 'you were her all she there would their we him been has when who will more no if out so said what up its about into than '
  + 'them can only other new some could time these two may then do first any my now such like our over man me even most made '
  + 'after also did many before must through back years where much your way well down should because each just those people '
  + 'container kernel namespace overlay mount layer registry manifest digest runtime process signal memory cgroup network').split(' ');

/** A pool of text (word salad with line breaks) and a pool of random bytes to slice files from. */
function makePools(random: () => number): { text: Buffer; noise: Buffer } {
  const parts: string[] = [];
  let length = 0;
  while (length < 4 * MiB) {
    const word = WORDS[Math.floor(random() * WORDS.length)] as string;
    const separator = random() < 0.08 ? '\n' : ' ';
    parts.push(word, separator);
    length += word.length + 1;
  }
  return { text: Buffer.from(parts.join('')), noise: randomBytes(16 * MiB) };
}

/** Writes `size` bytes sliced from `pool`, starting at a random offset and wrapping around. */
function writeFromPool(file: string, pool: Buffer, size: number, random: () => number): void {
  const fd = fs.openSync(file, 'w', 0o644);
  try {
    let offset = Math.floor(random() * pool.length);
    let left = size;
    while (left > 0) {
      const take = Math.min(left, pool.length - offset, 4 * MiB);
      fs.writeSync(fd, pool, offset, take);
      left -= take;
      offset = (offset + take) % pool.length;
    }
  } finally {
    fs.closeSync(fd);
  }
}

export interface ContentStats { files: number; bytes: number }

/** Fills `dir` with about `totalBytes` of mixed files (see the header). */
export function writeContentTree(dir: string, totalBytes: number, seed: number): ContentStats {
  const random = seededRandom(seed);
  const pools = makePools(random);
  // Half random, half text by bytes: each file takes whichever kind is behind so far.
  const written = { noise: 0, text: 0 };
  const place = (file: string, size: number) => {
    const kind = written.noise <= written.text ? 'noise' : 'text';
    writeFromPool(`${file}.${kind === 'noise' ? 'bin' : 'txt'}`, pools[kind], size, random);
    written[kind] += size;
  };
  let files = 0;
  let bytes = 0;

  const smallBudget = totalBytes * 0.3;
  for (let directory = 0; bytes < smallBudget; directory++) {
    const parent = path.join(dir, 'lib', `pkg${String(directory).padStart(3, '0')}`, 'src');
    fs.mkdirSync(parent, { recursive: true });
    for (let index = 0; index < 200 && bytes < smallBudget; index++) {
      const size = 1024 + Math.floor(random() * 31 * 1024);
      place(path.join(parent, `module${index}`), size);
      files += 1;
      bytes += size;
    }
    fs.symlinkSync('src', path.join(parent, '..', 'current'));
  }

  const bigDir = path.join(dir, 'share', 'data');
  fs.mkdirSync(bigDir, { recursive: true });
  for (let index = 0; bytes < totalBytes; index++) {
    // At most half of what is left, so a small layer still gets both kinds of big file.
    const left = totalBytes - bytes;
    const size = Math.min(left, Math.max(MiB, Math.ceil(left / 2)), (4 + Math.floor(random() * 45)) * MiB);
    place(path.join(bigDir, `blob${index}`), size);
    files += 1;
    bytes += size;
  }
  return { files, bytes };
}

export interface LayerBlob { path: string; compressedBytes: number; uncompressedBytes: number; files: number }

/** A cached gzip layer of about `megabytes` MiB uncompressed; built on first use. */
export function layerBlob(cacheDir: string, megabytes: number): LayerBlob {
  const blob = path.join(cacheDir, `layer-${megabytes}mb.tar.gz`);
  const statsFile = `${blob}.json`;
  if (fs.existsSync(blob) && fs.existsSync(statsFile)) return JSON.parse(fs.readFileSync(statsFile, 'utf8')) as LayerBlob;
  const tree = path.join(cacheDir, `layer-${megabytes}mb.tree`);
  fs.rmSync(tree, { recursive: true, force: true });
  fs.mkdirSync(tree, { recursive: true });
  try {
    const stats = writeContentTree(tree, megabytes * MiB, megabytes);
    // Owner 0 and a fixed order, as image builders write layers.
    execFileSync('sh', ['-c', 'tar --numeric-owner --owner=0 --group=0 --sort=name -C "$1" -cf - . | gzip -n -6 > "$2"', 'sh', tree, blob],
      { stdio: ['ignore', 'ignore', 'inherit'] });
    const result: LayerBlob = { path: blob, compressedBytes: fs.statSync(blob).size, uncompressedBytes: stats.bytes, files: stats.files };
    fs.writeFileSync(statsFile, JSON.stringify(result));
    return result;
  } finally {
    fs.rmSync(tree, { recursive: true, force: true });
  }
}

export interface LayoutImage { layout: string; tag: string; compressedBytes: number }

/** A cached OCI layout: busybox (scripts/build-busybox-image.sh) + two ~`layerMiB` content layers. */
export function threeLayerImage(cacheDir: string, layerMiB: number): LayoutImage {
  const layout = path.join(cacheDir, `image-3layer-${layerMiB}mb`);
  const tag = 'bench';
  const done = path.join(layout, '.complete');
  if (!fs.existsSync(done)) {
    fs.rmSync(layout, { recursive: true, force: true });
    const bundle = `${layout}.bundle`;
    fs.rmSync(bundle, { recursive: true, force: true });
    const quiet: ExecFileSyncOptions = { stdio: ['ignore', 'ignore', 'inherit'] };
    try {
      execFileSync(path.join(repoRoot, 'scripts/build-busybox-image.sh'), [layout, tag], quiet);
      execFileSync('umoci', ['unpack', '--image', `${layout}:${tag}`, bundle], quiet);
      for (const [index, seed] of [[1, 101], [2, 202]] as const) {
        writeContentTree(path.join(bundle, 'rootfs', 'opt', `app${index}`), layerMiB * MiB, seed);
        execFileSync('umoci', ['repack', '--refresh-bundle', '--image', `${layout}:${tag}`, bundle], quiet);
      }
      execFileSync('umoci', ['gc', '--layout', layout], quiet);
    } finally {
      fs.rmSync(bundle, { recursive: true, force: true });
    }
    fs.writeFileSync(done, '');
  }
  let compressedBytes = 0;
  for (const name of fs.readdirSync(path.join(layout, 'blobs', 'sha256'))) {
    compressedBytes += fs.statSync(path.join(layout, 'blobs', 'sha256', name)).size;
  }
  return { layout, tag, compressedBytes };
}
