/**
 * network-benchmark.ts — what the default bridge network adds to a container start.
 *
 * `minibox run --rm IMAGE true` on the default `bridge` network next to the same run with
 * `--network none`. The difference is the network's price per container: an IPAM allocation
 * under a lock, a veth pair created, plugged into the bridge and moved into the namespace, its
 * address and route set with `nsenter ip …`, and the address given back at exit — three `ip`/
 * `nsenter` processes. The bridge, its rules and ip_forward are made by the warm-up run and kept
 * (src/network/kept-bridge.ts), as docker0 exists before a `docker run`; the prune at the end
 * gives them back.
 *
 * Try: `minibox run --rm --explain busybox true` to see every network step of one start.
 */
import { spawnSync } from 'node:child_process';
import type { Benchmark } from './benchmark.js';
import { measureInTurns } from './measure.js';
import { IMAGE_LAYER_MIB, pulledRoot } from './pull-benchmarks.js';

export const networkLatency: Benchmark = {
  id: 'network',
  title: 'minibox run --rm IMAGE true: default bridge network vs --network none',
  async run(workspace) {
    const { reference } = await workspace.pushedThreeLayerImage(IMAGE_LAYER_MIB);
    const root = pulledRoot(workspace, reference);
    const [bridge, none] = await measureInTurns([
      { label: 'run --rm (bridge)', command: workspace.minibox, args: ['--root', root, 'run', '--rm', reference, 'true'] },
      { label: 'run --rm --network none', command: workspace.minibox, args: ['--root', root, 'run', '--rm', '--network', 'none', reference, 'true'] },
    ], { runs: workspace.options.runs * 3, warmup: 1 });
    spawnSync(workspace.minibox, ['--root', root, 'network', 'prune', '-f'], { stdio: 'ignore' });
    return [{ name: 'bridge network cost (run --rm true)', minibox: bridge, reference: none }];
  },
};
