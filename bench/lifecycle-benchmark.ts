/**
 * lifecycle-benchmark.ts — what a detached container costs: the memory its monitor keeps while
 * it runs, and the time of `run -d` + `rm -f`.
 *
 * Monitor RSS: 20 containers running `sleep`, each with its own minibox-monitor (native/, C);
 * VmRSS of each monitor is read from /proc and the median reported. The goal is ≤ 5 MiB per
 * container (conmon, containerd-shim's job, costs 1–2 MB in C; a Node process ~40 MB).
 * Latency: `minibox run -d IMAGE sleep 100` then `minibox rm -f`, timed together, back to back.
 *
 * Try: `minibox run -d busybox sleep 1000; grep VmRSS /proc/$(pgrep -n minibox-monitor)/status`.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { median, type Benchmark, type Measurement } from './benchmark.js';
import { IMAGE_LAYER_MIB, pulledRoot } from './pull-benchmarks.js';
import type { BenchWorkspace } from './workspace.js';

const RSS_CONTAINERS = 20;

function minibox(workspace: BenchWorkspace, root: string, args: string[]): { code: number; stdout: string; stderr: string } {
  const result = spawnSync(workspace.minibox, ['--root', root, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: result.status ?? 1, stdout: result.stdout, stderr: result.stderr };
}

function vmRssKiB(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

function monitorPid(root: string, id: string): number | undefined {
  try {
    const pids = JSON.parse(fs.readFileSync(path.join(root, 'containers', id, 'pids.json'), 'utf8')) as { monitor: { pid: number } };
    return pids.monitor.pid;
  } catch {
    return undefined;
  }
}

export const detachedContainers: Benchmark = {
  id: 'detached',
  title: `minibox-monitor RSS over ${RSS_CONTAINERS} running containers; run -d + rm -f latency`,
  async run(workspace) {
    const { reference } = await workspace.pushedThreeLayerImage(IMAGE_LAYER_MIB);
    const root = pulledRoot(workspace, reference);
    const trial = minibox(workspace, root, ['run', '-d', reference, 'sleep', '100']);
    if (trial.code !== 0) return [{ name: 'run -d + rm -f', skipped: `minibox run -d failed: ${trial.stderr.trim().split('\n')[0] ?? ''}` }];
    const ids = [trial.stdout.trim()];
    workspace.onCleanup(() => { minibox(workspace, root, ['rm', '-f', ...ids]); });

    for (let i = 1; i < RSS_CONTAINERS; i++) {
      const run = minibox(workspace, root, ['run', '-d', reference, 'sleep', '100']);
      if (run.code === 0) ids.push(run.stdout.trim());
    }
    const rss = ids.map((id) => monitorPid(root, id)).map((pid) => (pid === undefined ? undefined : vmRssKiB(pid)))
      .filter((kib): kib is number => kib !== undefined);
    minibox(workspace, root, ['rm', '-f', ...ids]);
    ids.length = 0;
    process.stderr.write(`  minibox-monitor VmRSS over ${rss.length} containers: median ${median(rss)} KiB\n`);

    const latency: Measurement = { label: 'run -d + rm -f', runsMs: [] };
    const runs = workspace.options.runs * 3;
    for (let i = 0; i < runs + 1; i++) {
      const start = performance.now();
      const run = minibox(workspace, root, ['run', '-d', reference, 'sleep', '100']);
      const removed = run.code === 0 ? minibox(workspace, root, ['rm', '-f', run.stdout.trim()]) : run;
      const ms = performance.now() - start;
      if (removed.code !== 0) return [{ name: 'run -d + rm -f', skipped: `failed: ${removed.stderr.trim().split('\n')[0] ?? ''}` }];
      if (i > 0) latency.runsMs.push(ms); // the first run is a warm-up
    }
    return [
      { name: `monitor RSS per running container (median of ${rss.length}: ${median(rss)} KiB)`, minibox: { label: 'VmRSS', runsMs: [], peakRssKiB: rss }, goal: '≤ 5 MiB RSS' },
      { name: 'run -d IMAGE sleep + rm -f', minibox: latency },
    ];
  },
};
