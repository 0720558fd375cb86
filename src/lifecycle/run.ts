/**
 * run.ts — `minibox run`: find the image, create the container, start it, wait, report.
 *
 *   check flags → image (pull if needed) → create (record + bundle) → runtime starts the
 *   bundle → wait for exit → record the exit → with --rm, delete everything again
 *
 * minibox stays in the foreground while the container runs, like `docker run` without -d.
 * Signals sent to minibox (Ctrl-C, `kill`) are passed on to the container's first process, as
 * Docker's sig-proxy does — by the runtime's supervisor alone (runtime/signal-relay.ts), once; the
 * container decides whether to die. The exit code is the
 * container's (128+n when signal n killed it); 125 means minibox itself failed.
 * `--rm` cleanup runs on every path out: success, failure, or a signal before the start.
 *
 * `run -d` stops after the create: start.ts hands the container to a minibox-monitor, and
 * minibox prints the full id and exits. That monitor, and the init stage under it, were started
 * by the CLI from the flags, before the image was found (runtime/early-monitor.ts). A foreground
 * run is its own monitor: it writes the same pids.json and exit-status.json (run-files.ts), so
 * reconciliation treats both alike — if this process is killed with -9, the next command finds
 * the "monitor" gone and stops the container.
 *
 * A foreground run starts the container's init stage (a second Node process) before the image is
 * found and the bundle written — the CLI even does it before loading this module
 * (early-init-stage.ts): its ~50–70 ms of Node start-up then overlap this process's own work.
 * If anything fails before the bundle exists, the waiting stage is aborted and reaped.
 *
 * Try: `minibox run --rm busybox sh -c 'exit 3'; echo $?` → `3`
 */
import fs from 'node:fs';
import os from 'node:os';
import { crashPoint } from '../crash-point.js';
import { MiniboxError, ExitCode, UsageError, describeError, signalExitCode } from '../errors.js';
import { FORWARDED_SIGNALS } from '../runtime/signal-relay.js';
import { STORE_LOCK, withLock } from '../lock.js';
import type { StateRoot } from '../state-root.js';
import { runContainer, type EarlyInitStage, type RunOptions as RuntimeOptions } from '../runtime/index.js';
import type { EarlyMonitor } from '../runtime/early-monitor.js';
import { ContainerStore, type ContainerPaths, type ContainerRecord } from '../container/container-store.js';
import { checkRequest, createContainer, removeContainer, type CheckedRequest, type CreateRequest } from './create.js';
import { oomEventFiles, runNamespacesReadyHooks } from './hooks/hooks.js';
import { findImageForRun, parsePullPolicy } from './image-source.js';
import { startForegroundInitStage } from './early-init-stage.js';
import { handleOf } from '../container/process-handle.js';
import { reconcileContainer } from '../container/reconcile.js';
import { readOomKilled, writeExitStatus, writeRunPids } from '../container/run-files.js';
import { startContainer } from './start.js';
import { logLimits } from './log-options.js';
import { recordContainerEvent } from '../events/event-log.js';
import { restartForegroundExit } from './restart.js';

export interface RunRequest extends CreateRequest {
  pull?: string;
  quiet?: boolean;
  platform?: string;
  insecureRegistries?: string[];
  registryMirrors?: string[];
  explain?: boolean;
  traceFile?: string;
  /** `-d`: start in the background, print the id, return. */
  detach?: boolean;
}

/**
 * What a signal means to `minibox run` before the runtime owns the container's process. Before a
 * container exists a signal ends minibox at once (a pull is safe to interrupt); once one exists,
 * the signal is remembered and the next step stops (the container is cleaned up). From
 * `handOver()` on, the runtime's supervisor forwards signals (runtime/signal-relay.ts) — the one
 * owner, so the program gets each signal once — and this relay does nothing.
 */
class SignalRelay {
  private containerExists = false;
  private handedOver = false;
  received: NodeJS.Signals | undefined;
  private readonly handler = (signal: NodeJS.Signals) => {
    if (this.handedOver) return;
    if (!this.containerExists) process.exit(signalExitCode(signal));
    this.received = signal;
  };

  constructor() {
    for (const signal of FORWARDED_SIGNALS) process.on(signal, this.handler);
  }

  containerCreated(): void {
    this.containerExists = true;
  }

  /** The runtime starts the container now and forwards signals itself. */
  handOver(): void {
    this.throwIfInterrupted();
    this.handedOver = true;
  }

  /** Stops between steps when a signal arrived before the container's process existed. */
  throwIfInterrupted(): void {
    if (this.received) throw new MiniboxError(`interrupted by ${this.received}`, signalExitCode(this.received));
  }

  dispose(): void {
    for (const signal of FORWARDED_SIGNALS) process.off(signal, this.handler);
  }
}

/** Finds (or pulls) the image and creates the container; the store lock keeps its layers. */
async function createFromRequest(root: StateRoot, request: RunRequest, checked: CheckedRequest, signals?: SignalRelay) {
  const image = await findImageForRun(root, request.image, {
    pull: parsePullPolicy(request.pull),
    quiet: request.quiet ?? false,
    ...(request.platform ? { platform: request.platform } : {}),
    insecureRegistries: request.insecureRegistries ?? [],
    registryMirrors: request.registryMirrors ?? [],
  });
  // Shared store lock: `rmi`/`prune` (exclusive) cannot delete the layers between finding the
  // image and the container record that now protects them.
  return await withLock(root.locks, STORE_LOCK, async () => {
    signals?.containerCreated(); // from here on, a signal must not skip cleanup
    return await createContainer(root, image, checked);
  }, 'shared');
}

/**
 * `run -d`: creates and starts the container in the background; returns its full id.
 * `earlyMonitor`: its monitor and init stage, started by the CLI from the same flags
 * (startDetachedInitStage); aborted here — leaving nothing — when the container cannot start.
 */
export async function runDetached(root: StateRoot, request: RunRequest, earlyMonitor?: EarlyMonitor): Promise<string> {
  const signals = new SignalRelay();
  try {
    const checked = checkRequest(request, root);
    const created = await createFromRequest(root, request, checked, signals);
    signals.throwIfInterrupted();
    await startContainer(root, created.record.Id, {
      ...(earlyMonitor ? { monitor: earlyMonitor } : {}),
      ...(request.explain ? { explain: true } : {}),
      ...(request.traceFile ? { traceFile: request.traceFile } : {}),
    });
    return created.record.Id;
  } finally {
    await earlyMonitor?.finish('minibox run -d failed'); // an abort only if the start never sent the bundle
    signals.dispose();
  }
}

/** `create`: checks the flags, finds (or pulls) the image, creates the container; returns its id. */
export async function createFromImage(root: StateRoot, request: RunRequest): Promise<string> {
  const checked = checkRequest(request, root);
  if (request.explain || request.traceFile) throw new UsageError('--explain and --trace narrate a start, which create does not do: use them with run');
  const signals = new SignalRelay();
  try {
    return (await createFromRequest(root, request, checked, signals)).record.Id;
  } finally {
    signals.dispose();
  }
}

/**
 * `create` for a daemon (src/api/): the same checks and steps, but no signal handlers — a daemon's
 * SIGTERM means "stop serving", never "abandon this request" (the daemon owns its signals).
 */
export async function createForDaemon(root: StateRoot, request: RunRequest): Promise<string> {
  const checked = checkRequest(request, root);
  return (await createFromRequest(root, request, checked)).record.Id;
}

/**
 * Runs a container to completion and returns the exit code `minibox run` should exit with.
 * `earlyStage`: an init stage the CLI started from the same flags (startForegroundInitStage);
 * without one, it is started here, after the flags are checked.
 */
export async function runContainerFromImage(root: StateRoot, request: RunRequest, earlyStage?: EarlyInitStage): Promise<number> {
  let checked: CheckedRequest;
  try {
    checked = checkRequest(request, root);
  } catch (error) {
    await earlyStage?.abort(`minibox run failed: ${describeError(error)}`);
    throw error;
  }
  const store = new ContainerStore(root);
  const signals = new SignalRelay();
  let containerId: string | undefined;
  // Boots while the image is found and the bundle written (see the header).
  let initStage: EarlyInitStage | undefined = earlyStage ?? startForegroundInitStage(request);
  try {
    const created = await createFromRequest(root, request, checked, signals);
    containerId = created.record.Id;
    signals.throwIfInterrupted();

    const runtimeOptions: RuntimeOptions = {
      initStage, // it carries the stdio (foregroundStdio in early-init-stage.ts)
      log: { file: created.paths.log, limits: logLimits(created.record.HostConfig.LogConfig) }, // as Docker: `logs` works after a foreground run
      ...(request.explain ? { explain: true } : {}),
      ...(request.traceFile ? { traceFile: request.traceFile } : {}),
    };
    initStage = undefined; // runContainer owns it now (and aborts it itself if it cannot start)
    signals.handOver(); // synchronous up to the runtime's own relay: no signal falls between the two
    const exitCode = await runAsMonitor(root, created, runtimeOptions);
    // Docker's daemon restarts a foreground run too; here a monitor takes over the next runs.
    await restartForegroundExit(root, created.record.Id, exitCode);
    return exitCode;
  } catch (error) {
    await initStage?.abort(`minibox run failed: ${describeError(error)}`);
    if (containerId && !request.autoRemove) {
      const message = error instanceof Error ? error.message.split('\n')[0] ?? '' : String(error);
      const code = error instanceof MiniboxError ? error.exitCode : ExitCode.Engine;
      await store.updateState(containerId, (state) => {
        Object.assign(state, { Status: 'exited', Running: false, Pid: 0, ExitCode: code, Error: message, FinishedAt: new Date().toISOString() });
      }).catch(() => undefined);
      forgetRun(store.paths(containerId));
    }
    throw error;
  } finally {
    if (containerId && request.autoRemove) await removeContainer(root, containerId);
    signals.dispose();
  }
}

/**
 * Runs a created container with this process as its monitor (the init's parent): records the
 * pids, the start and the exit as minibox-monitor would; resolves to Docker's exit code.
 */
async function runAsMonitor(root: StateRoot, created: { record: ContainerRecord; paths: ContainerPaths }, extra: RuntimeOptions): Promise<number> {
  const store = new ContainerStore(root);
  const id = created.record.Id;
  let initPid = 0;
  let recordedStart: Promise<unknown> = Promise.resolve();
  const result = await runContainer(created.paths.dir, {
    ...extra,
    onSpawned: (pid) => {
      initPid = pid;
      recordRunPids(created.paths, pid);
      extra.onSpawned?.(pid);
    },
    onNamespacesReady: async (pid) => {
      await runNamespacesReadyHooks(root, created.record, pid);
      recordContainerEvent(root, created.record, 'start'); // before the program runs: its "die" comes after
    },
    onStarted: (pid) => {
      crashPoint('run:started');
      recordedStart = store.updateState(id, (state) => {
        Object.assign(state, { Status: 'running', Running: true, Pid: pid, StartedAt: new Date().toISOString() });
      }).catch(() => undefined);
      extra.onStarted?.(pid);
    },
  });
  const exitCode = result.exitCode; // the status, or 128+n (the runtime's supervisor decides)
  await recordedStart;
  writeExitStatus(created.paths, {
    initPid, exitCode, signal: result.signal ? os.constants.signals[result.signal] ?? 0 : 0,
    oomKilled: readOomKilled(oomEventFiles(id)), finishedAt: new Date().toISOString(),
  });
  recordContainerEvent(root, created.record, 'die', { exitCode: String(exitCode) });
  await reconcileContainer(root, id);
  return exitCode;
}

/** This process is the init's parent: it records itself as the run's monitor. */
function recordRunPids(paths: ContainerPaths, initPid: number): void {
  const monitor = handleOf(process.pid);
  const init = handleOf(initPid);
  if (monitor && init) writeRunPids(paths, { monitor, init });
}

function forgetRun(paths: ContainerPaths): void {
  try {
    fs.rmSync(paths.pids, { force: true });
  } catch { /* removed with the container */ }
}
