/**
 * api-benchmark.ts — what the Engine API adds to a container start: `docker run --rm IMAGE true`
 * through `minibox serve` vs `minibox run --rm IMAGE true`.
 *
 * Through the API the docker CLI (Go, starts in ~20 ms) pings, creates, attaches, waits and
 * starts — five requests on a unix socket — and the daemon, already running, hands the
 * container to a minibox-monitor and follows its log; `minibox run` starts Node and does it all
 * in one process. The ratio is the price (or the gain: no Node start per command) of the daemon.
 *
 * Try: `time docker -H unix:///tmp/mb.sock run --rm busybox true` next to
 * `time minibox run --rm busybox true`.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Benchmark } from './benchmark.js';
import { measureInTurns } from './measure.js';
import { IMAGE_LAYER_MIB, pulledRoot } from './pull-benchmarks.js';

const DOCKER = '/usr/local/bin/docker';

export const apiRun: Benchmark = {
  id: 'api',
  title: 'docker run --rm IMAGE true through minibox serve vs minibox run --rm IMAGE true',
  async run(workspace) {
    if (!fs.existsSync(DOCKER)) return [{ name: 'docker run --rm (API)', skipped: `no docker CLI at ${DOCKER}` }];
    const { reference } = await workspace.pushedThreeLayerImage(IMAGE_LAYER_MIB);
    const root = pulledRoot(workspace, reference);
    const dir = workspace.tempDir('api');
    const socket = path.join(dir, 'minibox.sock');
    const daemon = spawn(workspace.minibox, ['--root', root, 'serve', '--host', `unix://${socket}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => daemon.once('exit', resolve));
    workspace.onCleanup(async () => { if (daemon.exitCode === null) { daemon.kill('SIGTERM'); await exited; } });
    let out = '';
    daemon.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
    for (let i = 0; !out.includes('API listening'); i++) {
      if (daemon.exitCode !== null || i > 400) return [{ name: 'docker run --rm (API)', skipped: 'minibox serve did not start' }];
      await sleep(25);
    }
    const env = { ...process.env, DOCKER_CONFIG: dir };
    const trial = spawnSync(DOCKER, ['-H', `unix://${socket}`, 'run', '--rm', '--network', 'none', reference, 'true'], { encoding: 'utf8', env });
    if (trial.status !== 0) return [{ name: 'docker run --rm (API)', skipped: `docker run failed: ${trial.stderr.trim().split('\n')[0]}` }];
    const [api, cli] = await measureInTurns([
      { label: 'docker run --rm (minibox serve)', command: DOCKER, args: ['-H', `unix://${socket}`, 'run', '--rm', '--network', 'none', reference, 'true'] },
      { label: 'minibox run --rm', command: workspace.minibox, args: ['--root', root, 'run', '--rm', '--network', 'none', reference, 'true'] },
    ], { runs: workspace.options.runs * 3, warmup: 1 });
    return [{ name: 'run --rm IMAGE true via the API', minibox: api, reference: cli }];
  },
};
