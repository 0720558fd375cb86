/**
 * fsck-benchmark.ts — how long `minibox system fsck` takes on the benchmark image store.
 *
 * The store holds the three-layer image of the pull benchmarks, built with bigger layers
 * (FSCK_LAYER_MIB each: ~16 000 files, like the unpack benchmark's layers). fsck re-hashes every blob (SHA-256 of every compressed byte) and walks every
 * layer directory (an lstat per entry) to compare it with its completion record, then looks at
 * containers, processes, mounts and networks (none here). The reference does the same I/O with
 * the usual tools: `sha256sum` of every blob and a `find` over every layer — the floor of the
 * work, without minibox's checks and Node's start-up.
 *
 * Try: `time minibox --root /tmp/r system fsck` after `minibox --root /tmp/r pull IMAGE`.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { Benchmark } from './benchmark.js';
import { measureInTurns } from './measure.js';
import { pulledRoot } from './pull-benchmarks.js';

/** Each content layer's uncompressed size: two such layers hold ~16 000 files (synthetic-content.ts). */
export const FSCK_LAYER_MIB = 420;

export const fsckStore: Benchmark = {
  id: 'fsck',
  title: 'system fsck of the benchmark image store vs sha256sum of the blobs + find over the layers',
  async run(workspace) {
    const { reference } = await workspace.pushedThreeLayerImage(FSCK_LAYER_MIB);
    const root = pulledRoot(workspace, reference);
    const files = Number(execFileSync('sh', ['-c', 'find "$1" | wc -l', 'sh', path.join(root, 'layers')], { encoding: 'utf8' }).trim());
    const [minibox, tools] = await measureInTurns([
      { label: 'minibox system fsck', command: workspace.minibox, args: ['--root', root, 'system', 'fsck'], measureRss: true },
      {
        label: 'sha256sum blobs + find layers',
        command: 'sh',
        args: ['-c', 'sha256sum "$1"/blobs/sha256/* >/dev/null && find "$1"/layers -printf "" ', 'sh', root],
      },
    ], { runs: workspace.options.runs, warmup: 1 });
    return [{ name: `system fsck, ${files} files`, minibox, reference: tools, goal: '< 3× the tools' }];
  },
};
