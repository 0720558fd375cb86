/**
 * main.ts — `npm run bench`: minibox side by side with reference tools, medians and ratios.
 *
 *   npm run bench                        all benchmarks, 5 runs each (fast ones 15)
 *   npm run bench -- --runs 3            fewer runs
 *   npm run bench -- --only unpack,run   some of them (ids: cold-pull, warm-pull, unpack, run,
 *                                        run-seccomp, oci-runtime, network, detached, commit-push,
 *                                        build, fsck, api, peers: issue #17's table against podman,
 *                                        runc, node)
 *   npm run bench -- --keep              keep the generated layers for the next run (faster)
 *
 * Nothing here passes or fails: the table is for people (docs/benchmarks.md explains how to
 * read it). Progress goes to stderr, the table to stdout. Every temp dir, registry process and
 * mount is removed at the end, also after Ctrl-C.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { formatResults, type Benchmark, type BenchRow } from './benchmark.js';
import { haveGnuTime, stopRunningCommands } from './measure.js';
import { coldPull, warmPull } from './pull-benchmarks.js';
import { runSeccomp, runTrue } from './run-benchmark.js';
import { detachedContainers } from './lifecycle-benchmark.js';
import { networkLatency } from './network-benchmark.js';
import { unpackLayers } from './unpack-benchmark.js';
import { imageAuthoring } from './image-authoring-benchmark.js';
import { buildImages } from './build-benchmark.js';
import { fsckStore } from './fsck-benchmark.js';
import { ociLifecycle } from './oci-runtime-benchmark.js';
import { peerTable } from './peers-benchmark.js';
import { apiRun } from './api-benchmark.js';
import { BenchWorkspace } from './workspace.js';

/** In running order. Add new benchmarks here. */
const BENCHMARKS: Benchmark[] = [
  coldPull, unpackLayers, warmPull, peerTable, runTrue, runSeccomp, ociLifecycle, networkLatency, detachedContainers, imageAuthoring,
  buildImages, fsckStore, apiRun,
];

const usage = `usage: npm run bench -- [--runs N] [--only ${BENCHMARKS.map((b) => b.id).join(',')}] [--keep]`;

function parseOptions(): { runs: number; keep: boolean; only: Benchmark[] } {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '5' },
      keep: { type: 'boolean', default: false },
      only: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive whole number, not ${values.runs}`);
  const ids = values.only?.split(',').map((id) => id.trim()) ?? BENCHMARKS.map((b) => b.id);
  const only = ids.map((id) => {
    const benchmark = BENCHMARKS.find((candidate) => candidate.id === id);
    if (!benchmark) throw new Error(`unknown benchmark ${id}; ${usage}`);
    return benchmark;
  });
  return { runs, keep: values.keep ?? false, only };
}

function machineLine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${os.release()}, Node ${process.version}`;
}

/** The 1-minute load average: other work on the machine skews every number, so it is printed. */
function loadAverage(): number {
  return os.loadavg()[0] ?? 0;
}

/**
 * NODE_EXTRA_CA_CERTS makes Node (20) read and parse that file's certificates at start-up, before
 * any JavaScript runs and whether or not the program ever opens a TLS connection. With a system
 * bundle (~140 certificates) that measured ~60–70 ms per start here — `node -e 0` 25–40 ms without
 * it, 90–130 ms with it — in every minibox CLI row and every `node -e 0` row alike (the stages
 * minibox starts get an empty environment). Said above the table, as the load is.
 */
function extraCaCertsLine(): string | undefined {
  const file = process.env.NODE_EXTRA_CA_CERTS;
  return file ? `NODE_EXTRA_CA_CERTS=${file} is set: every Node start (minibox's CLI, node -e 0) parses it first; `
    + 'unset it to measure a machine without it' : undefined;
}

function loadLine(atStart: number, atEnd: number): string {
  const busy = Math.max(atStart, atEnd) > os.cpus().length / 2 ? ' (a busy machine: expect noisy numbers)' : '';
  return `load average ${atStart.toFixed(2)} at start, ${atEnd.toFixed(2)} at end${busy}`;
}

async function main(): Promise<void> {
  let options: ReturnType<typeof parseOptions>;
  try {
    options = parseOptions();
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message}\n`);
    process.exit(2);
  }
  if (process.getuid?.() !== 0) process.stderr.write('bench: not root — pulls and runs need root; expect failures\n');
  if (!haveGnuTime()) process.stderr.write('bench: /usr/bin/time missing (apt-get install time); peak RSS is polled from /proc instead\n');

  const workspace = await BenchWorkspace.create({ runs: options.runs, keep: options.keep });
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\nbench: ${signal}, cleaning up\n`);
    void stopRunningCommands()
      .then(() => workspace.cleanup())
      .catch((error: unknown) => process.stderr.write(`bench: cleanup failed: ${(error as Error).message}\n`))
      .finally(() => process.exit(128 + (os.constants.signals[signal] ?? 0)));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const started = Date.now();
  const loadAtStart = loadAverage();
  process.stderr.write(`bench: ${machineLine()}; load average ${loadAtStart.toFixed(2)}\n`);
  const rows: BenchRow[] = [];
  try {
    for (const benchmark of options.only) {
      process.stderr.write(`bench: ${benchmark.title}\n`);
      try {
        rows.push(...await benchmark.run(workspace));
      } catch (error) {
        if (interrupted) return;
        rows.push({ name: benchmark.id, skipped: `failed: ${(error as Error).message.split('\n')[0]}` });
      }
    }
  } finally {
    if (!interrupted) await workspace.cleanup();
  }
  if (interrupted) return;
  process.stdout.write(`minibox benchmarks — ${machineLine()}\n`);
  process.stdout.write(`${loadLine(loadAtStart, loadAverage())}\n`);
  const extraCaCerts = extraCaCertsLine();
  if (extraCaCerts) process.stdout.write(`${extraCaCerts}\n`);
  process.stdout.write(`medians of ${options.runs} runs (warm and run rows: ${options.runs * 3}); ratio = minibox / reference, below 1× is faster\n\n`);
  process.stdout.write(`${formatResults(rows)}\n\n`);
  process.stdout.write(`total time ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
}

await main();
