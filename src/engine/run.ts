/**
 * run.ts — `minibox run`: find the image, create the container, start it, wait, report.
 *
 *   check flags → image (pull if needed) → create (record + bundle) → runtime starts the
 *   bundle → wait for exit → record the exit → with --rm, delete everything again
 *
 * minibox stays in the foreground while the container runs, like `docker run` without -d.
 * Signals sent to minibox (Ctrl-C, `kill`) are passed on to the container's first process, as
 * Docker's sig-proxy does; the container decides whether to die. The exit code is the
 * container's (128+n when signal n killed it); 125 means minibox itself failed.
 * `--rm` cleanup runs on every path out: success, failure, or a signal before the start.
 */
import os from 'node:os';
import { MiniboxError, ExitCode } from '../errors.js';
import { withLock } from '../lock.js';
import { STORE_LOCK } from '../image/pull.js';
import type { StateRoot } from '../state-root.js';
import { runContainer, type RunOptions as RuntimeOptions } from '../runtime/index.js';
import { ContainerStore } from './container-store.js';
import { checkRequest, createContainer, removeContainer, type CreateRequest } from './create.js';
import { findImageForRun, parsePullPolicy } from './image-source.js';

export interface RunRequest extends CreateRequest {
  pull?: string;
  quiet?: boolean;
  platform?: string;
  insecureRegistries?: string[];
  explain?: boolean;
  traceFile?: string;
}

const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];

/**
 * Holds minibox's signal handlers while a run is in progress. Before a container exists a signal
 * ends minibox at once (a pull is safe to interrupt); once one exists, the signal is remembered
 * (and the next step stops) or, once its process runs, forwarded to it.
 */
class SignalRelay {
  private pid: number | undefined;
  private containerExists = false;
  received: NodeJS.Signals | undefined;
  private readonly handler = (signal: NodeJS.Signals) => {
    if (!this.containerExists) process.exit(ExitCode.SignalBase + (os.constants.signals[signal] ?? 0));
    this.received = signal;
    if (this.pid !== undefined) {
      try {
        process.kill(this.pid, signal);
      } catch { /* it has just exited */ }
    }
  };

  constructor() {
    for (const signal of FORWARDED_SIGNALS) process.on(signal, this.handler);
  }

  containerCreated(): void {
    this.containerExists = true;
  }

  started(pid: number): void {
    this.pid = pid;
    if (this.received) this.handler(this.received);
  }

  /** Stops between steps when a signal arrived before the container's process existed. */
  throwIfInterrupted(): void {
    if (this.received && this.pid === undefined) {
      throw new MiniboxError(`interrupted by ${this.received}`, ExitCode.SignalBase + (os.constants.signals[this.received] ?? 0));
    }
  }

  dispose(): void {
    for (const signal of FORWARDED_SIGNALS) process.off(signal, this.handler);
  }
}

/** Runs a container to completion and returns the exit code `minibox run` should exit with. */
export async function runContainerFromImage(root: StateRoot, request: RunRequest): Promise<number> {
  const checked = checkRequest(request);
  const pull = parsePullPolicy(request.pull);
  const store = new ContainerStore(root);
  const signals = new SignalRelay();
  let containerId: string | undefined;
  try {
    const image = await findImageForRun(root, request.image, {
      pull,
      quiet: request.quiet ?? false,
      ...(request.platform ? { platform: request.platform } : {}),
      insecureRegistries: request.insecureRegistries ?? [],
    });
    // Shared store lock: `rmi`/`prune` (exclusive) cannot delete the layers between finding the
    // image and the container record that now protects them.
    const created = await withLock(root.locks, STORE_LOCK, async () => {
      signals.containerCreated(); // from here on, a signal must not skip cleanup
      return await createContainer(root, image, checked);
    }, 'shared');
    containerId = created.record.Id;
    signals.throwIfInterrupted();

    const id = containerId;
    const options: RuntimeOptions = {
      // Without -i the container's stdin is empty, as with `docker run` (a terminal still gets one).
      stdio: request.interactive || request.tty ? 'inherit' : ['ignore', 1, 2],
      ...(request.explain ? { explain: true } : {}),
      ...(request.traceFile ? { traceFile: request.traceFile } : {}),
      onStarted: (pid) => {
        signals.started(pid);
        void store.updateState(id, (state) => {
          Object.assign(state, { Status: 'running', Running: true, Pid: pid, StartedAt: new Date().toISOString() });
        }).catch(() => undefined);
      },
    };
    const result = await runContainer(created.paths.dir, options);
    const exitCode = result.signal
      ? ExitCode.SignalBase + (os.constants.signals[result.signal] ?? 0)
      : result.exitCode;
    await store.updateState(id, (state) => {
      Object.assign(state, { Status: 'exited', Running: false, Pid: 0, ExitCode: exitCode, FinishedAt: new Date().toISOString() });
    });
    return exitCode;
  } catch (error) {
    if (containerId && !request.autoRemove) {
      const message = error instanceof Error ? error.message.split('\n')[0] ?? '' : String(error);
      await store.updateState(containerId, (state) => {
        Object.assign(state, { Status: 'exited', Running: false, Pid: 0, ExitCode: ExitCode.Engine, Error: message, FinishedAt: new Date().toISOString() });
      }).catch(() => undefined);
    }
    throw error;
  } finally {
    if (containerId && request.autoRemove) await removeContainer(root, containerId);
    signals.dispose();
  }
}
