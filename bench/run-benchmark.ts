/**
 * run-benchmark.ts — how long it takes to start a container that does nothing: `true`.
 *
 * `minibox run --rm IMAGE true` with the image already pulled: Node starts, the CLI finds the
 * image, mounts an overlay of its layers, spawns the init stage into new namespaces, which sets
 * up the root file system and execs `true`; then everything is torn down. The references:
 *   runc run  — the OCI reference runtime (Go) on an equivalent bundle: the same image unpacked by
 *               umoci, the default `runc spec` (new mount/pid/net/ipc/uts namespaces) running `true`;
 *   node -e 0 — the floor: what any Node program pays before doing anything.
 * So "minibox − node" is the container work minibox adds, comparable to runc's whole time.
 *
 * Try: `strace -f -c minibox run --rm busybox true` to count the syscalls a container start makes.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Benchmark } from './benchmark.js';
import { measureInTurns } from './measure.js';
import { IMAGE_LAYER_MIB, pulledRoot } from './pull-benchmarks.js';
import type { BenchWorkspace } from './workspace.js';

/** Why `minibox run` cannot be measured here, or undefined when it works. */
function runUnavailable(workspace: BenchWorkspace, root: string, reference: string): string | undefined {
  const help = spawnSync(workspace.minibox, ['run', '--help'], { encoding: 'utf8' });
  if (help.status !== 0) return 'minibox run not available';
  const trial = spawnSync(workspace.minibox, ['--root', root, 'run', '--rm', reference, 'true'], { encoding: 'utf8', timeout: 60_000 });
  if (trial.status !== 0) return `minibox run failed: ${trial.stderr.trim().split('\n')[0] ?? `exit ${trial.status}`}`;
  return undefined;
}

/** An OCI bundle for runc: the image's rootfs (umoci unpack) with the default `runc spec`, running `true`. */
export function runcBundle(workspace: BenchWorkspace, layout: string, tag: string): string {
  const bundle = path.join(workspace.tempDir('runc'), 'bundle');
  execFileSync('umoci', ['unpack', '--image', `${layout}:${tag}`, bundle], { stdio: ['ignore', 'ignore', 'inherit'] });
  fs.rmSync(path.join(bundle, 'config.json'));
  execFileSync('runc', ['spec', '--bundle', bundle]);
  const configFile = path.join(bundle, 'config.json');
  const config = JSON.parse(fs.readFileSync(configFile, 'utf8')) as { process: { args: string[]; terminal: boolean } };
  config.process.args = ['true'];
  config.process.terminal = false;
  fs.writeFileSync(configFile, JSON.stringify(config, null, 2));
  return bundle;
}

export const runTrue: Benchmark = {
  id: 'run',
  title: 'minibox run --rm IMAGE true vs runc run vs node -e 0',
  async run(workspace) {
    const { reference, image } = await workspace.pushedThreeLayerImage(IMAGE_LAYER_MIB);
    const root = pulledRoot(workspace, reference);
    const unavailable = runUnavailable(workspace, root, reference);
    if (unavailable) return [{ name: 'run --rm IMAGE true', skipped: unavailable }];

    const bundle = runcBundle(workspace, image.layout, image.tag);
    const containerId = `minibox-bench-${process.pid}`;
    // `runc run` in the foreground deletes the container when it exits; this covers an interrupt.
    workspace.onCleanup(() => { spawnSync('runc', ['delete', '--force', containerId], { stdio: 'ignore' }); });
    const [minibox, runc, node] = await measureInTurns([
      { label: 'minibox run --rm', command: workspace.minibox, args: ['--root', root, 'run', '--rm', reference, 'true'], measureRss: true },
      { label: 'runc run', command: 'runc', args: ['run', '--bundle', bundle, containerId] },
      { label: 'node -e 0', command: process.execPath, args: ['-e', '0'] },
    ], { runs: workspace.options.runs * 3, warmup: 1 });
    return [
      { name: 'run --rm IMAGE true', minibox, reference: runc },
      { name: 'run --rm IMAGE true', minibox, reference: node },
    ];
  },
};

/**
 * The price of the seccomp filter (runtime/process/syscall-filter.ts): the same start with
 * Docker's default profile (libseccomp builds ~400 rules, compiles them to BPF, seccomp(2) loads
 * them) and with `--security-opt seccomp=unconfined`. Measured in turns, so both see the same
 * machine; the ratio is the filter's cost (goal: within 10 %).
 */
export const runSeccomp: Benchmark = {
  id: 'run-seccomp',
  title: 'minibox run --rm IMAGE true with the default seccomp profile vs seccomp=unconfined',
  async run(workspace) {
    const { reference } = await workspace.pushedThreeLayerImage(IMAGE_LAYER_MIB);
    const root = pulledRoot(workspace, reference);
    const unavailable = runUnavailable(workspace, root, reference);
    if (unavailable) return [{ name: 'run --rm (seccomp profile)', skipped: unavailable }];
    const [profiled, unconfined] = await measureInTurns([
      { label: 'minibox run --rm (default profile)', command: workspace.minibox, args: ['--root', root, 'run', '--rm', reference, 'true'] },
      {
        label: 'minibox run --rm (seccomp=unconfined)', command: workspace.minibox,
        args: ['--root', root, 'run', '--rm', '--security-opt', 'seccomp=unconfined', reference, 'true'],
      },
    ], { runs: workspace.options.runs * 3, warmup: 1 });
    return [{ name: 'run --rm (seccomp profile)', minibox: profiled, reference: unconfined, goal: '≤ 1.10×' }];
  },
};
