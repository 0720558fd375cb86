/**
 * build-benchmark.ts — `minibox build` of a small multi-step Dockerfile, cold (`--no-cache`) and
 * fully cached, next to `buildah build` of the same context (`--layers` keeps buildah's cache).
 *
 * Try: `npm run bench -- --only build --runs 3`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import type { Benchmark } from './benchmark.js';
import { measureInTurns } from './measure.js';
import { IMAGE_LAYER_MIB, pulledRoot } from './pull-benchmarks.js';

export const buildImages: Benchmark = {
  id: 'build',
  title: 'minibox build (cold and cached) vs buildah build',
  async run(workspace) {
    const { reference } = await workspace.pushedThreeLayerImage(IMAGE_LAYER_MIB);
    const root = pulledRoot(workspace, reference);
    const context = workspace.tempDir('build-context');
    fs.writeFileSync(path.join(context, 'app.txt'), 'application\n');
    fs.writeFileSync(path.join(context, 'Dockerfile'), `FROM ${reference}\nENV MODE=bench\nWORKDIR /app\nCOPY app.txt .\nRUN echo built > /app/built\nCMD ["cat", "/app/built"]\n`);
    if (spawnSync('buildah', ['--version']).status !== 0) return [{ name: 'build', skipped: 'buildah is not installed (apt-get install buildah)' }];
    const storage = workspace.tempDir('buildah');
    const buildah = ['--root', path.join(storage, 'root'), '--runroot', path.join(storage, 'run'), 'build', '--isolation', 'chroot',
      '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1000:1000', '--tls-verify=false', '--quiet'];
    workspace.onCleanup(() => {
      spawnSync('buildah', ['--root', path.join(storage, 'root'), '--runroot', path.join(storage, 'run'), 'rmi', '--all', '--force'], { stdio: 'ignore' });
    });
    const mb = ['--root', root, 'build', '-q', '--network', 'none', '-t', 'bench/built:1'];
    const [coldMinibox, coldBuildah] = await measureInTurns([
      { label: 'minibox build --no-cache', command: workspace.minibox, args: [...mb, '--no-cache', context], measureRss: true },
      { label: 'buildah build --no-cache', command: 'buildah', args: [...buildah, '--no-cache', '-t', 'bench-built', context] },
    ], { runs: workspace.options.runs });
    const [cachedMinibox, cachedBuildah] = await measureInTurns([
      { label: 'minibox build (cached)', command: workspace.minibox, args: [...mb, context] },
      { label: 'buildah build --layers (cached)', command: 'buildah', args: [...buildah, '--layers', '-t', 'bench-built', context] },
    ], { runs: workspace.options.runs, warmup: 1 });
    return [
      { name: 'build, cold', minibox: coldMinibox, reference: coldBuildah },
      { name: 'build, every step cached', minibox: cachedMinibox, reference: cachedBuildah },
    ];
  },
};
