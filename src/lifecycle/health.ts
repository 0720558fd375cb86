/**
 * health.ts — HEALTHCHECK: is the program in the container doing its job, not just running?
 *
 * The image's HEALTHCHECK (build/config-instructions.ts writes it into the config) or `run`'s
 * `--health-cmd/--health-interval/--health-timeout/--health-retries/--health-start-period`
 * (`--no-healthcheck` turns the image's off) give a command, run in the container every interval.
 * Docker's rules, kept exactly:
 *   exit 0 → healthy, FailingStreak 0; anything else (or no answer within the timeout: exit -1,
 *   "Health check exceeded timeout") is a failure; `retries` failures in a row → unhealthy;
 *   failures before the first success inside the start period do not count (still starting);
 *   the last 5 results are kept in State.Health.Log, each output cut at 4096 bytes;
 *   a change of status is an event: `health_status: healthy`.
 * Who runs the probes with no daemon: the container's monitor keeps the timer
 * (native/monitor-health.c) and execs `node health-stage.js ROOT ID PATH` each interval; that stage
 * (runHealthProbe below) runs the command with `minibox exec` — the very path a person's `exec`
 * takes — and writes the verdict into the record under the container's lock. A paused container
 * is not probed.
 *
 * Try: `minibox run -d --name hh --health-cmd 'test -f /ok' --health-interval 1s --health-retries 1
 * busybox sh -c 'touch /ok; exec sleep 1000' >/dev/null; until minibox ps --format '{{.Status}}' |
 * grep -q '(healthy)'; do sleep 0.2; done; minibox exec hh rm /ok; until minibox ps --format
 * '{{.Status}}' | grep -q unhealthy; do sleep 0.2; done; minibox ps --format '{{.Status}}'` →
 * `(unhealthy)`
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors.js';
import type { StateRoot } from '../state-root.js';
import type { ContainerConfig } from '../image/oci.js';
import { ContainerStore, type ContainerRecord, type HealthState } from '../container/container-store.js';
import { recordContainerEvent } from '../events/event-log.js';
import { parseLogTime } from './logs.js';
import { compiledStage, stagePath } from './restart.js';

export type Healthcheck = NonNullable<ContainerConfig['Healthcheck']>;

/** Docker's defaults (nanoseconds, as the config stores them). */
const NS = 1_000_000;
export const HEALTH_DEFAULTS = { intervalNs: 30_000 * NS, timeoutNs: 30_000 * NS, startPeriodNs: 0, retries: 3 };
const MAX_LOG_ENTRIES = 5;
const MAX_OUTPUT_BYTES = 4096;

export interface HealthFlags {
  cmd?: string;
  interval?: string;
  timeout?: string;
  retries?: string;
  startPeriod?: string;
  none?: boolean;
}

/** A Go duration (`30s`, `1m30s`, `500ms`) → nanoseconds; Docker's refusal for a bad one. */
function durationNs(text: string, flag: string): number {
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(text)) throw new UsageError(`invalid argument "${text}" for "${flag}" flag: time: invalid duration "${text}"`);
  const now = Date.now();
  return Math.round((now - parseLogTime(text, now)) * NS);
}

/** The image's healthcheck with the flags over it (Docker's merge); undefined = none. */
export function mergeHealthcheck(image: Healthcheck | undefined, flags: HealthFlags): Healthcheck | undefined {
  const given = flags.cmd !== undefined || flags.interval !== undefined || flags.timeout !== undefined
    || flags.retries !== undefined || flags.startPeriod !== undefined;
  if (flags.none) {
    if (given) throw new UsageError('--no-healthcheck conflicts with --health-* options');
    return { Test: ['NONE'] };
  }
  const merged: Healthcheck = { ...(image ?? { Test: [] }) };
  if (flags.cmd !== undefined) merged.Test = ['CMD-SHELL', flags.cmd];
  if (flags.interval !== undefined) merged.Interval = positive(durationNs(flags.interval, '--health-interval'), '--health-interval');
  if (flags.timeout !== undefined) merged.Timeout = positive(durationNs(flags.timeout, '--health-timeout'), '--health-timeout');
  if (flags.startPeriod !== undefined) merged.StartPeriod = durationNs(flags.startPeriod, '--health-start-period');
  if (flags.retries !== undefined) {
    if (!/^-?\d+$/.test(flags.retries)) throw new UsageError(`invalid argument "${flags.retries}" for "--health-retries" flag: not a whole number`);
    if (Number(flags.retries) < 0) throw new UsageError('--health-retries cannot be negative');
    merged.Retries = Number(flags.retries);
  }
  return merged.Test.length > 0 || given ? merged : image;
}

function positive(ns: number, flag: string): number {
  if (ns < NS) throw new UsageError(`${flag} cannot be less than 1ms`);
  return ns;
}

/** The healthcheck that runs for this container, or undefined (none, or `NONE`). */
export function activeHealthcheck(record: Pick<ContainerRecord, 'Config'>): Healthcheck | undefined {
  const check = record.Config.Healthcheck;
  if (!check || check.Test.length === 0 || check.Test[0] === 'NONE') return undefined;
  return check;
}

export function healthIntervalMs(check: Healthcheck): number {
  return Math.max(1, Math.round((check.Interval || HEALTH_DEFAULTS.intervalNs) / NS));
}

/** What the monitor execs each interval (it keeps the timer: native/monitor-health.c). */
export function healthStageCommand(root: StateRoot, id: string): string[] {
  return [process.execPath, compiledStage('health-stage'), root.dir, id, stagePath()];
}

const here = path.dirname(fileURLToPath(import.meta.url));

/** The command's argv in the container: CMD-SHELL through /bin/sh -c, CMD as given. */
function probeArgv(test: string[]): string[] {
  if (test[0] === 'CMD-SHELL') return ['/bin/sh', '-c', test.slice(1).join(' ')];
  return test[0] === 'CMD' ? test.slice(1) : test;
}

/** Runs the probe with `minibox exec`; exit -1 when it outlives the timeout (then it is killed). */
async function execProbe(root: StateRoot, id: string, argv: string[], timeoutMs: number): Promise<{ exitCode: number; output: string }> {
  const cli = path.resolve(here, '../../bin/minibox');
  const child = spawn(process.execPath, [cli, '--root', root.dir, 'exec', id, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer) => { if (output.length < MAX_OUTPUT_BYTES) output += chunk.toString(); };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; child.kill('SIGTERM'); }, timeoutMs); // exec forwards it to the probe
  const code = await new Promise<number>((resolve) => child.on('close', (status) => resolve(status ?? -1)));
  clearTimeout(timer);
  if (timedOut) return { exitCode: -1, output: `Health check exceeded timeout (${timeoutMs / 1000}s)` };
  return { exitCode: code, output: output.slice(0, MAX_OUTPUT_BYTES) };
}

/** Docker's handleProbeResult: the new health state after one result. */
export function judge(previous: HealthState | undefined, result: HealthState['Log'][number], check: Healthcheck, startedAt: string): HealthState {
  const health: HealthState = previous ? { ...previous, Log: [...previous.Log] } : { Status: 'starting', FailingStreak: 0, Log: [] };
  health.Log = [...health.Log, result].slice(-MAX_LOG_ENTRIES);
  if (result.ExitCode === 0) return { ...health, Status: 'healthy', FailingStreak: 0 };
  const startPeriodMs = (check.StartPeriod ?? HEALTH_DEFAULTS.startPeriodNs) / NS;
  if (health.Status === 'starting' && Date.parse(result.Start) - Date.parse(startedAt) < startPeriodMs) return health;
  const streak = health.FailingStreak + 1;
  const retries = check.Retries || HEALTH_DEFAULTS.retries;
  return { ...health, FailingStreak: streak, Status: streak >= retries ? 'unhealthy' : health.Status };
}

/** One probe of container `id` (the health stage's work); records the verdict. */
export async function runHealthProbe(root: StateRoot, id: string): Promise<void> {
  const store = new ContainerStore(root);
  const record = store.get(id);
  const check = record ? activeHealthcheck(record) : undefined;
  if (!record || !check || !record.State.Running || record.State.Paused) return;
  const start = new Date().toISOString();
  const timeoutMs = Math.max(1, Math.round((check.Timeout || HEALTH_DEFAULTS.timeoutNs) / NS));
  const { exitCode, output } = await execProbe(root, id, probeArgv(check.Test), timeoutMs);
  const result = { Start: start, End: new Date().toISOString(), ExitCode: exitCode, Output: output };
  await store.withContainerLock(id, async () => {
    const current = store.get(id);
    // A run that ended meanwhile, or a newer run, is not this probe's to judge.
    if (!current?.State.Running || current.State.StartedAt !== record.State.StartedAt) return;
    const before = current.State.Health?.Status;
    current.State.Health = judge(current.State.Health, result, check, current.State.StartedAt);
    store.save(current);
    if (current.State.Health.Status !== before) recordContainerEvent(root, current, `health_status: ${current.State.Health.Status}`);
  });
}
