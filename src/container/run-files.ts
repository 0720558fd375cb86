/**
 * run-files.ts — the two small files that describe one run of a container, written by whoever is
 * the init's parent (the C monitor for `run -d`/`start`, the engine itself for a foreground `run`):
 *
 *   pids.json         {"monitor":{pid,startTime},"init":{pid,startTime}} — written right after the
 *                     init is forked; its presence means "a run was started and not yet settled".
 *   exit-status.json  {"initPid","exitCode","signal","oomKilled","finishedAt"} — written after the
 *                     init was reaped. exitCode is 128+n when signal n killed it. When the restart
 *                     policy brings it back: "restartDelayMs" and the "restarter" (restart.ts).
 *
 * Both are written atomically (temp file + rename), so a reader sees all or nothing. The engine
 * folds them into container.json (reconcile.ts) and deletes pids.json once the run is settled.
 *
 * Try: `minibox run --name box busybox sh -c 'exit 3'; find $MINIBOX_ROOT/containers -name
 * exit-status.json | xargs cat` → `"exitCode":3`
 */
import fs from 'node:fs';
import type { ContainerPaths } from './container-store.js';
import type { ProcessHandle } from './process-handle.js';

export interface RunPids {
  /** The init's parent: minibox-monitor, or the foreground `minibox run` process. */
  monitor: ProcessHandle;
  /** The container's first process (PID 1 inside), as the host numbers it. */
  init: ProcessHandle;
}

export interface ExitStatus {
  initPid: number;
  exitCode: number;
  /** The signal that killed the init, 0 if it exited by itself. */
  signal: number;
  oomKilled: boolean;
  finishedAt: string;
  /** The restart policy restarts it after this back-off (lifecycle/restart.ts). */
  restartDelayMs?: number;
  /** The monitor, sleeping the back-off and then the restart stage: same pid, same start time. */
  restarter?: ProcessHandle;
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined; // absent (or, never, half-written: writers rename into place)
  }
}

function writeAtomically(file: string, value: unknown): void {
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, `${JSON.stringify(value)}\n`);
  fs.renameSync(temporary, file);
}

export function readRunPids(paths: ContainerPaths): RunPids | undefined {
  return readJson<RunPids>(paths.pids);
}

export function writeRunPids(paths: ContainerPaths, pids: RunPids): void {
  writeAtomically(paths.pids, pids);
}

export function readExitStatus(paths: ContainerPaths): ExitStatus | undefined {
  return readJson<ExitStatus>(paths.exitStatus);
}

export function writeExitStatus(paths: ContainerPaths, status: ExitStatus): void {
  writeAtomically(paths.exitStatus, status);
}

/** Before a new run: forget the last one's pids and exit status (the log is kept, as Docker's). */
export function clearRunFiles(paths: ContainerPaths): void {
  fs.rmSync(paths.pids, { force: true });
  fs.rmSync(paths.exitStatus, { force: true });
  fs.rmSync(paths.attachSocket, { force: true });
}

/** A run is settled: its pids no longer mean anything (nor its attach socket, if the monitor was killed). */
export function forgetRunPids(paths: ContainerPaths): void {
  fs.rmSync(paths.pids, { force: true });
  fs.rmSync(paths.attachSocket, { force: true });
}

/** True when a cgroup file (v2 memory.events, v1 memory.oom_control) counts an OOM kill. */
export function readOomKilled(files: string[]): boolean {
  for (const file of files) {
    try {
      const match = /^oom_kill (\d+)$/m.exec(fs.readFileSync(file, 'utf8'));
      if (match && Number(match[1]) > 0) return true;
    } catch { /* no such cgroup */ }
  }
  return false;
}
