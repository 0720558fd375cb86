/**
 * phase-profile.ts — where a `minibox run` or `exec` spends its time, phase by phase, from the
 * trace events src/sys already emits (`--trace FILE`: one JSON line per kernel call or step,
 * with the pid that made it and a millisecond timestamp).
 *
 * The benchmark notes the wall clock when it spawns the command and when the command exits; the
 * events in between mark the boundaries:
 *
 *   run --rm                                          exec
 *   spawn ─ CLI: Node, flags, image, bundle ─┐        spawn ─ CLI: Node, flags, container, ───┐
 *   first engine event ─ init stage still    │          the plan (the seccomp program)        │
 *     starting (Node + modules, overlapped) ─┤        spawn-exec ─ exec stage (C) starting,   │
 *   stage's unshare ─ engine hooks: cgroup,  │          reads the plan                        │
 *     network (the stage waits for "go") ────┤        stage's first event ─ setns, privileges │
 *   stage's first mount ─ rootfs, pivot_root,│        execve ─ program, stage reaped, exit ───┘
 *     privileges, seccomp ───────────────────┤
 *   execve ─ the program, tear-down, exit ───┘
 *
 * Tracing adds a little work (events cross the stage's pipe), so the phases add up to a bit
 * more than the untraced median. Medians per phase, over the runs.
 *
 * Try: `minibox run --rm --trace /tmp/t.jsonl IMAGE true; jq -c '[.time,.pid,.call]' /tmp/t.jsonl`.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { BenchRow, Measurement } from './benchmark.js';
import type { BenchWorkspace } from './workspace.js';

interface TraceEvent { kind: string; call: string; args: Record<string, unknown>; pid: number; time: number }

/** A phase ends at the first event `end` finds (undefined: that run has no such event). */
interface Phase { name: string; end: (events: TraceEvent[], enginePid: number, exitedAt: number) => number | undefined }

const stagePid = (events: TraceEvent[], spawn: string): number | undefined =>
  events.find((e) => e.call === spawn)?.args.pid as number | undefined;
const firstOf = (events: TraceEvent[], test: (e: TraceEvent) => boolean): number | undefined => events.find(test)?.time;

export const RUN_PHASES: Phase[] = [
  { name: 'CLI: Node start-up, flags, image, bundle written', end: (events, engine) => firstOf(events, (e) => e.pid === engine) },
  {
    name: 'init stage still starting (Node, modules; overlaps the CLI)',
    end: (events) => firstOf(events, (e) => e.pid === stagePid(events, 'spawn-init') && e.call === 'unshare'),
  },
  {
    name: 'engine hooks: cgroup, network (the stage waits)',
    end: (events) => firstOf(events, (e) => e.pid === stagePid(events, 'spawn-init') && e.call === 'mount'),
  },
  { name: 'stage: rootfs, pivot_root, privileges, seccomp', end: (events) => firstOf(events, (e) => e.call === 'execve') },
  { name: 'program, tear-down, exit', end: (_events, _engine, exitedAt) => exitedAt },
];

export const EXEC_PHASES: Phase[] = [
  { name: 'CLI: Node start-up, flags, container found, plan', end: (events) => firstOf(events, (e) => e.call === 'spawn-exec') },
  {
    name: 'exec stage (C) starting, plan read',
    end: (events) => firstOf(events, (e) => e.pid === stagePid(events, 'spawn-exec') && e.kind === 'syscall'),
  },
  { name: 'stage: setns, privileges, seccomp', end: (events) => firstOf(events, (e) => e.call === 'execve') },
  { name: 'program, stage reaped, exit', end: (_events, _engine, exitedAt) => exitedAt },
];

/**
 * Runs `minibox ARGS… --trace FILE …` `runs` times (the `--trace` goes right after the verb) and
 * returns one row per phase, named `title · phase`, with that phase's duration in each run.
 */
export function phaseProfile(
  workspace: BenchWorkspace, root: string, title: string, verbAndArgs: string[], phases: Phase[], runs: number,
): BenchRow[] {
  const durations: number[][] = phases.map(() => []);
  const traceFile = path.join(workspace.tempDir('trace'), 'trace.jsonl');
  const [verb, ...rest] = verbAndArgs;
  for (let run = 0; run < runs + 1; run++) {
    fs.rmSync(traceFile, { force: true });
    const startedAt = Date.now();
    const result = spawnSync(workspace.minibox, ['--root', root, verb!, '--trace', traceFile, ...rest], { stdio: 'ignore' });
    const exitedAt = Date.now();
    if (result.status !== 0) return [{ name: `${title}: phases`, skipped: `minibox ${verb} --trace failed (exit ${result.status})` }];
    if (run === 0) continue; // a warm-up
    const events = fs.readFileSync(traceFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as TraceEvent);
    const enginePid = events.find((e) => e.call.startsWith('spawn-'))?.pid ?? -1;
    let from = startedAt;
    phases.forEach((phase, index) => {
      const to = phase.end(events, enginePid, exitedAt);
      if (to === undefined) return;
      durations[index]!.push(Math.max(0, to - from));
      from = to;
    });
  }
  return phases.map((phase, index): BenchRow => {
    const measurement: Measurement = { label: phase.name, runsMs: durations[index]! };
    return { name: `  ${title} · ${phase.name}`, minibox: measurement };
  });
}
