/**
 * start.ts — `minibox start` (and the second half of `run -d`): give an existing container a new
 * run, handed over to a minibox-monitor so that this command can exit at once.
 *
 * Under the container's lock (so a concurrent `stop`, `rm` or `start` waits its turn):
 *   reconcile → already running? nothing to do → forget the last run's pids and exit status →
 *   runtime.startDetached (monitor + init stage; hooks for cgroups and network) → record Running.
 * The writable layer (upper/) is the same directory as last time: files written before a `stop`
 * are still there after a `start`. The overlay itself is mounted afresh in the new run's mount
 * namespace.
 * If the program cannot start (no such command: 127), the monitor still records the init
 * stage's exit, and the record shows Exited with the error.
 * The monitor also holds the container's terminal (-t) or its stdin pipe (-i) and serves them on
 * `attach.sock` (lifecycle/attach.ts): `run -dit` then `attach` works as in Docker.
 *
 * Try: `minibox run --name box busybox sh -c 'echo run >> /log; cat /log' && minibox start -a box`
 * → `run … run … run` (the second run finds the first one's file).
 */
import { crashPoint } from '../crash-point.js';
import { describeError, ExitCode, MiniboxError, NoSuchContainerError, VerbError } from '../errors.js';
import type { StateRoot } from '../state-root.js';
import { startDetached } from '../runtime/index.js';
import type { EarlyMonitor } from '../runtime/early-monitor.js';
import { ContainerStore, type ContainerRecord } from '../container/container-store.js';
import { oomEventFiles, runNamespacesReadyHooks } from './hooks/hooks.js';
import { reconcileLocked } from '../container/reconcile.js';
import { clearRunFiles } from '../container/run-files.js';
import { logLimits } from './log-options.js';
import { containerAttributes, eventsFile, recordContainerEvent } from '../events/event-log.js';
import { cancelRestart, restartPolicyOf, restartStageCommand } from './restart.js';
import { activeHealthcheck, healthIntervalMs, healthStageCommand } from './health.js';

export interface StartOptions {
  /** `start -i`: the container's stdin is a pipe its monitor fills from `attach` (as with `-i`). */
  stdinPipe?: boolean;
  /** The monitor listens on the attach socket and the program has not started yet (`start -a`). */
  onMonitorReady?: () => void;
  /** An fd the container gets as stdin (the API daemon's attach, src/api/attach-stdin.ts). */
  stdin?: number;
  explain?: boolean;
  traceFile?: string;
  /** `system restore`: a start by the policy, not by hand — RestartCount and the stop mark stay. */
  keepRestartCount?: boolean;
  /** `run -d`: the monitor its CLI started early (runtime/early-monitor.ts); a new one otherwise. */
  monitor?: EarlyMonitor;
}

/** startLocked's options: a restart by the policy carries the back-off it waited. */
interface LockedStartOptions extends StartOptions {
  restartBackoffMs?: number;
}

/** Starts the container in the background; returns its record once its program runs. */
export async function startContainer(root: StateRoot, id: string, options: StartOptions = {}): Promise<ContainerRecord> {
  const store = new ContainerStore(root);
  return await store.withContainerLock(id, async () => {
    const current = await reconcileLocked(store, id);
    if (!current) throw new NoSuchContainerError(id);
    if (current.State.Running) return current;
    if (current.State.Status === 'removing') throw new VerbError(`container ${id} is marked for removal and cannot be started`);
    cancelRestart(store, current); // a restarter still in its back-off gives way to this start
    // A start begins a new story for the restart policy (Docker's ResetRestartManager); only
    // `system restore` keeps the count, as dockerd's restore does.
    current.HasBeenManuallyStopped = false;
    if (!options.keepRestartCount) current.RestartCount = 0;
    return await startLocked(store, current, options);
  });
}

/**
 * The start itself, for a caller holding the container's lock with a settled, stopped record:
 * `start`, and the restart stage (restart.ts) for a restart by the policy.
 */
export async function startLocked(store: ContainerStore, current: ContainerRecord, options: LockedStartOptions = {}): Promise<ContainerRecord> {
  const { root } = store;
  const id = current.Id;
  store.checkBundlePaths(id);
  const paths = store.paths(id);
  clearRunFiles(paths);
  const policy = restartPolicyOf(current);
  const healthcheck = activeHealthcheck(current);
  try {
    const { initPid } = await startDetached(paths.dir, {
      logFile: paths.log,
      logLimits: logLimits(current.HostConfig.LogConfig),
      statusFile: paths.exitStatus,
      pidsFile: paths.pids,
      oomFiles: oomEventFiles(id),
      attachSocket: paths.attachSocket,
      stdinPipe: options.stdinPipe === true || current.Config.OpenStdin,
      ...(options.onMonitorReady ? { onMonitorReady: options.onMonitorReady } : {}),
      events: { file: eventsFile(root), id, attributes: containerAttributes(current) },
      ...(policy.Name !== 'no' ? {
        restart: {
          policy: policy.Name, maximumRetryCount: policy.MaximumRetryCount, restartCount: current.RestartCount ?? 0,
          backoffMs: options.restartBackoffMs ?? 0, command: restartStageCommand(root, id),
        },
      } : {}),
      ...(healthcheck ? { health: { intervalMs: healthIntervalMs(healthcheck), command: healthStageCommand(root, id) } } : {}),
      ...(options.stdin !== undefined ? { stdin: options.stdin } : {}),
      ...(options.monitor ? { monitor: options.monitor } : {}),
      ...(options.explain ? { explain: true } : {}),
      ...(options.traceFile ? { traceFile: options.traceFile } : {}),
      onNamespacesReady: async (pid) => {
        await runNamespacesReadyHooks(root, current, pid);
        recordContainerEvent(root, current, 'start'); // before the program runs: its "die" comes after
      },
    });
    crashPoint('start:spawned');
    Object.assign(current.State, {
      Status: 'running', Running: true, Pid: initPid, ExitCode: 0, OOMKilled: false, Error: '', StartedAt: new Date().toISOString(),
      Restarting: false, Paused: false,
    });
    if (healthcheck) current.State.Health = { Status: 'starting', FailingStreak: 0, Log: [] };
    else delete current.State.Health;
    store.save(current);
    return current;
  } catch (error) {
    // The init stage exits after a failed start; the monitor records it. Settle, keep the reason.
    const settled = await reconcileLocked(store, id);
    if (!settled || !store.get(id)) throw error; // --rm: already deleted
    settled.State.Error = describeError(error);
    if (settled.State.Status !== 'exited') Object.assign(settled.State, { Status: 'exited', Running: false, Pid: 0, ExitCode: error instanceof MiniboxError ? error.exitCode : 125, FinishedAt: new Date().toISOString() });
    store.save(settled);
    throw error;
  }
}
