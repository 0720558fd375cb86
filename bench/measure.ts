/**
 * measure.ts — timing a command honestly: wall clock, fresh state each run, runs interleaved.
 *
 * Each run spawns the command and measures from spawn to exit with process.hrtime (monotonic,
 * nanosecond resolution). A `prepare` step before each run resets state (delete the pulled image,
 * empty the target directory) and is not timed; it ends with sync(1) where the benchmark asks,
 * so the kernel's writeback of the previous run's files does not slow the next one.
 *
 * The commands being compared run in turns (A B A B …) rather than all of A then all of B, so a
 * slow phase of the machine (another job, a cache being dropped) hurts both sides alike.
 *
 * Peak memory: the kernel keeps each process's high-water mark of resident memory (`VmHWM` in
 * /proc/PID/status; `ru_maxrss` in the rusage that wait4(2) returns). GNU time prints the latter
 * (`/usr/bin/time -f %M`, KiB, the largest of the process and the children it waited for).
 * Without GNU time we poll VmHWM of the direct child, which is enough for a Node process.
 * (hyperfine 1.15, Debian 12's, reports no memory, which is why this is our own loop.)
 *
 * Try: `/usr/bin/time -v node -e 0` — "Maximum resident set size" is the floor of any Node tool.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatMs, median, type Measurement } from './benchmark.js';

export interface CommandSpec {
  label: string;
  command: string;
  args: string[];
  /** Resets state before each run (warm-up runs too); not timed. */
  prepare?: () => void | Promise<void>;
  /** Record the peak RSS of each run. */
  measureRss?: boolean;
}

export interface MeasureOptions {
  runs: number;
  /** Untimed runs first (fills caches for "warm" benchmarks). */
  warmup?: number;
}

const GNU_TIME = '/usr/bin/time';

export function haveGnuTime(): boolean {
  try {
    fs.accessSync(GNU_TIME, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function readHighWaterMarkKiB(pid: number): number | undefined {
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined; // already gone
  }
}

interface RunResult { ms: number; peakRssKiB?: number }

/** Commands running right now, so an interrupted benchmark can stop them before deleting their files. */
const running = new Set<ChildProcess>();

/** Sends SIGTERM to the commands this process started that are still running, and waits for them. */
export async function stopRunningCommands(): Promise<void> {
  await Promise.all([...running].map(async (child) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }));
}

/** Runs a command once; throws (with the end of its stderr) if it fails. */
export async function runOnce(spec: CommandSpec): Promise<RunResult> {
  const useTime = spec.measureRss === true && haveGnuTime();
  const rssFile = useTime ? path.join(os.tmpdir(), `minibox-bench-rss-${process.pid}`) : undefined;
  const [command, args] = rssFile
    ? [GNU_TIME, ['-f', '%M', '-o', rssFile, spec.command, ...spec.args]]
    : [spec.command, spec.args];
  const started = process.hrtime.bigint();
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-2000); });
  let polledKiB: number | undefined;
  const poller = spec.measureRss && !useTime && child.pid !== undefined
    ? setInterval(() => { polledKiB = readHighWaterMarkKiB(child.pid as number) ?? polledKiB; }, 10)
    : undefined;
  const code = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (exitCode, signal) => resolve(exitCode ?? 128 + (signal ? os.constants.signals[signal] : 0)));
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (poller) clearInterval(poller);
  let peakRssKiB = polledKiB;
  if (rssFile) {
    // GNU time writes "Command exited with non-zero status N" before the number when it fails.
    const lines = fs.readFileSync(rssFile, 'utf8').trim().split('\n');
    peakRssKiB = Number(lines[lines.length - 1]);
    fs.rmSync(rssFile, { force: true });
  }
  if (code !== 0) {
    throw new Error(`${spec.label} failed with exit code ${code}: ${stderr.trim().split('\n').slice(-3).join(' / ') || '(no output)'}`);
  }
  return peakRssKiB === undefined ? { ms } : { ms, peakRssKiB };
}

/** Runs each command `runs` times, in turns, and returns one Measurement per command. */
export async function measureInTurns<const Specs extends readonly CommandSpec[]>(
  specs: Specs, options: MeasureOptions,
): Promise<{ [K in keyof Specs]: Measurement }> {
  const results: Measurement[] = specs.map((spec) => ({ label: spec.label, runsMs: [], ...(spec.measureRss ? { peakRssKiB: [] } : {}) }));
  const total = (options.warmup ?? 0) + options.runs;
  for (let round = 0; round < total; round++) {
    const timed = round >= (options.warmup ?? 0);
    for (const [index, spec] of specs.entries()) {
      await spec.prepare?.();
      const run = await runOnce(spec);
      if (!timed) continue;
      const result = results[index] as Measurement;
      result.runsMs.push(run.ms);
      if (run.peakRssKiB !== undefined) result.peakRssKiB?.push(run.peakRssKiB);
    }
  }
  for (const result of results) {
    const times = result.runsMs.map((ms) => formatMs(ms)).join(', ');
    const fastest = Math.min(...result.runsMs);
    process.stderr.write(`  ${result.label}: ${times}; median ${formatMs(median(result.runsMs))}, fastest ${formatMs(fastest)}\n`);
  }
  return results as { [K in keyof Specs]: Measurement };
}
