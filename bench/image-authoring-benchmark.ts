/**
 * image-authoring-benchmark.ts — making and shipping images: `commit` and `push`.
 *
 *   commit — a container whose upper dir holds 100 MB (random bytes: gzip cannot cheat) becomes
 *            a layer: walk, tar, gzip, two hashes, then the unpack that proves it reads back.
 *            Reference: GNU tar + gzip of the same upper dir into /dev/null — the floor of the
 *            tar-and-compress part alone.
 *   push   — the benchmark image into an empty repository of a second local registry (so no
 *            blob can be mounted or skipped). Reference: `skopeo copy oci:LAYOUT docker://…`.
 *
 * Try: `npm run bench -- --only commit-push --runs 3`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import type { Benchmark } from './benchmark.js';
import { startLocalRegistry } from './local-registry.js';
import { measureInTurns } from './measure.js';
import { IMAGE_LAYER_MIB, pulledRoot } from './pull-benchmarks.js';

export const imageAuthoring: Benchmark = {
  id: 'commit-push',
  title: 'minibox commit (100 MB upper dir) vs tar|gzip; minibox push vs skopeo copy',
  async run(workspace) {
    const { reference, image } = await workspace.pushedThreeLayerImage(IMAGE_LAYER_MIB);
    const root = pulledRoot(workspace, reference);
    const name = `bench-commit-${process.pid}`;
    const made = spawnSync(workspace.minibox, ['--root', root, 'run', '--network', 'none', '--name', name, reference, 'sh', '-c',
      'head -c 100000000 /dev/urandom > /big'], { encoding: 'utf8' });
    if (made.status !== 0) return [{ name: 'commit 100 MB', skipped: `minibox run failed: ${made.stderr.trim().split('\n')[0]}` }];
    const id = execFileSync(workspace.minibox, ['--root', root, 'inspect', '--format', '{{.Id}}', name], { encoding: 'utf8' }).trim();
    const upper = path.join(root, 'containers', id, 'upper');
    workspace.onCleanup(() => { spawnSync(workspace.minibox, ['--root', root, 'rm', '-f', name], { stdio: 'ignore' }); });

    const [commit, tarGzip] = await measureInTurns([
      { label: 'minibox commit', command: workspace.minibox, args: ['--root', root, 'commit', name, 'bench/committed:1'], measureRss: true },
      { label: 'tar -cz of the upper dir', command: 'sh', args: ['-c', `tar -C ${upper} -czf - . > /dev/null`] },
    ], { runs: workspace.options.runs });

    const target = await startLocalRegistry(workspace.tempDir('push-registry'));
    workspace.onCleanup(() => target.stop());
    let round = 0;
    const [push, skopeo] = await measureInTurns([
      {
        label: 'minibox push',
        command: 'sh',
        args: ['-c', `${workspace.minibox} --root ${root} tag ${reference} ${target.host}/minibox/r$ROUND:1 && ${workspace.minibox} --root ${root} push -q ${target.host}/minibox/r$ROUND:1 > /dev/null`],
        prepare: () => { process.env.ROUND = String(++round); },
      },
      {
        label: 'skopeo copy oci: docker://',
        command: 'sh',
        args: ['-c', `skopeo copy --quiet --dest-tls-verify=false oci:${image.layout}:${image.tag} docker://${target.host}/skopeo/r$ROUND:1`],
        prepare: () => { process.env.ROUND = String(++round); },
      },
    ], { runs: workspace.options.runs });
    return [
      { name: 'commit 100 MB upper dir', minibox: commit, reference: tarGzip },
      { name: 'push 3-layer image (fresh repository)', minibox: push, reference: skopeo },
    ];
  },
};
