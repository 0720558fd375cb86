/**
 * unpack-benchmark.ts — minibox's layer unpacker against GNU tar, on big gzip layers.
 *
 * Both read the same gzip blob and write the same files with the same owners, modes and times
 * (tar runs as root, so it restores owners like minibox does). minibox additionally hashes the
 * uncompressed stream (the diffId it checks against the image config) and resolves every path
 * inside the layer root (never following a symlink out); tar does neither. Gunzip is the bulk of
 * the work for both, so the goal is to stay within 1.1× of tar.
 *
 * Memory: minibox streams (blob → gunzip → sha256 → tar parser → files), so its peak RSS should
 * not grow with the layer. The same measurement on a layer ~5× smaller shows it: two rows, about
 * the same RSS.
 *
 * Try: `node dist-tools/bench/unpack-one.js BLOB /tmp/a` vs `tar -xzf BLOB -C /tmp/b`, then
 * `diff -r /tmp/a /tmp/b`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Benchmark, BenchRow } from './benchmark.js';
import { measureInTurns } from './measure.js';
import { resetDirectories } from './pull-benchmarks.js';
import { layerBlob } from './synthetic-content.js';

/** Uncompressed sizes; with the content mix (synthetic-content.ts) they gzip to ~500 MB and ~100 MB. */
const BIG_LAYER_MIB = 700;
const SMALL_LAYER_MIB = 150;

const unpackOne = path.join(path.dirname(fileURLToPath(import.meta.url)), 'unpack-one.js');

export const unpackLayers: Benchmark = {
  id: 'unpack',
  title: `unpack of ~500 MB and ~100 MB gzip layers: minibox unpackLayer vs tar -xzf`,
  async run(workspace) {
    const rows: BenchRow[] = [];
    for (const mebibytes of [BIG_LAYER_MIB, SMALL_LAYER_MIB]) {
      process.stderr.write(`  preparing the ${mebibytes} MiB layer (cached in ${workspace.cacheDir})\n`);
      const blob = layerBlob(workspace.cacheDir, mebibytes);
      const mine = path.join(workspace.dir, 'unpack-minibox');
      const theirs = path.join(workspace.dir, 'unpack-tar');
      const emptyDir = (dir: string) => () => {
        resetDirectories(dir)();
        fs.mkdirSync(dir);
      };
      const [minibox, tar] = await measureInTurns([
        { label: 'unpackLayer', command: process.execPath, args: [unpackOne, blob.path, mine], prepare: emptyDir(mine), measureRss: true },
        { label: 'tar -xzf', command: 'tar', args: ['-xzf', blob.path, '-C', theirs], prepare: emptyDir(theirs) },
      ], { runs: workspace.options.runs });
      resetDirectories(mine, theirs)();
      const size = `${(blob.compressedBytes / 1e6).toFixed(0)} MB gzip (${(blob.uncompressedBytes / 1e6).toFixed(0)} MB, ${blob.files} files)`;
      rows.push({ name: `unpack ${size}`, minibox, reference: tar, goal: mebibytes === BIG_LAYER_MIB ? '≤ 1.1×' : 'RSS ≈ row above' });
    }
    return rows;
  },
};
