/**
 * stop.ts — ending a container: `stop` (ask, then insist), `kill` (one signal), `wait`.
 *
 * `stop` sends the container's stop signal (the image's StopSignal, SIGTERM by default) to its
 * init, waits up to the grace period (`-t`, default 10 s), then sends SIGKILL. The kernel treats
 * PID 1 of a PID namespace specially: a signal it has no handler for is dropped — so a program
 * that never installed a SIGTERM handler (busybox httpd, `sleep`) ignores `stop`'s request and is
 * killed after the grace period: Exited (137). One that handles it ends as it chooses, often
 * 143 (128 + SIGTERM). `--init` puts a PID 1 in front that forwards the signal to the program.
 * SIGKILL from the host (an ancestor namespace) always works, and ends the whole namespace.
 *
 * All of it happens under the container's lock; the exit is recorded by reconciliation, from
 * the monitor's exit-status.json.
 *
 * Try: `minibox run -d --name web busybox sleep 60 >/dev/null && minibox stop -t 1 web && minibox
 * ps -a --format '{{.Status}}'` → `Exited (137)` (sleep as PID 1 ignores SIGTERM: SIGKILL after 1
 * s).
 */
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { ExitCode, MiniboxError, NoSuchContainerError, UsageError, VerbError } from '../errors.js';
import type { StateRoot } from '../state-root.js';
import { ContainerStore, type ContainerRecord } from '../container/container-store.js';
import { signalProcess, waitUntilExited } from '../container/process-handle.js';
import { reconcileContainer, reconcileLocked } from '../container/reconcile.js';
import { readRunPids } from '../container/run-files.js';
import { publishStep } from '../sys/trace.js';
import { recordContainerEvent } from '../events/event-log.js';
import { cancelRestart } from './restart.js';
import { thawAfterSignal } from './pause.js';

export const DEFAULT_STOP_TIMEOUT_SECONDS = 10;

/** "TERM", "SIGTERM", "15" → a signal number, as `docker kill -s` accepts. */
export function parseSignal(text: string): number {
  const trimmed = text.trim().toUpperCase();
  if (/^\d+$/.test(trimmed)) {
    const number = Number(trimmed);
    if (number >= 1 && number <= 64) return number;
  } else {
    const name = (trimmed.startsWith('SIG') ? trimmed : `SIG${trimmed}`) as NodeJS.Signals;
    const number = os.constants.signals[name];
    if (number !== undefined) return number;
  }
  throw new UsageError(`invalid signal: ${text}`);
}

/** For --explain: how the container ended, and the status its monitor recorded. */
function exited(record: ContainerRecord, how: string): ContainerRecord {
  publishStep('process.exit', { how: `${how}, status ${record.State.ExitCode}` });
  return record;
}

/**
 * Stops a running container; a stopped one is left as it is (as Docker does). Either way its
 * restart policy rests until the next `start` (a restart in its back-off is cancelled).
 */
export async function stopContainer(root: StateRoot, id: string, timeoutSeconds?: number): Promise<ContainerRecord> {
  const store = new ContainerStore(root);
  return await store.withContainerLock(id, async () => {
    const record = await reconcileLocked(store, id);
    if (!record) throw new NoSuchContainerError(id);
    cancelRestart(store, record); // first: the exit this stop causes must not restart it
    store.save(record);
    const pids = readRunPids(store.paths(id));
    if (!record.State.Running || !pids) return record;
    const signal = parseSignal(record.Config.StopSignal ?? 'SIGTERM');
    const grace = (timeoutSeconds ?? record.Config.StopTimeout ?? DEFAULT_STOP_TIMEOUT_SECONDS) * 1000;
    const signalName = Object.entries(os.constants.signals).find(([, n]) => n === signal)?.[0] ?? String(signal);
    const started = Date.now();
    if (grace > 0) recordContainerEvent(root, record, 'kill', { signal: String(signal) });
    const signalled = grace > 0 && signalProcess(pids.init, signal);
    if (signalled) publishStep('process.signal', { pid: pids.init.pid, signal: signalName, why: `its stop signal; ${grace / 1000} s to exit` });
    await thawAfterSignal(record); // a paused container must run to act on its signal
    if (signalled && await waitUntilExited(pids.init, grace)) {
      return exited(finishStop(store, (await reconcileLocked(store, id)) ?? record), `it exited after ${Date.now() - started} ms`);
    }
    recordContainerEvent(root, record, 'kill', { signal: String(os.constants.signals.SIGKILL) });
    signalProcess(pids.init, 'SIGKILL');
    publishStep('process.signal', { pid: pids.init.pid, signal: 'SIGKILL', why: grace > 0 ? 'the grace period is over; it cannot be caught' : 'no grace period' });
    if (!await waitUntilExited(pids.init, 10_000)) throw new MiniboxError(`container ${id} did not die after SIGKILL`);
    return exited(finishStop(store, (await reconcileLocked(store, id)) ?? record), 'SIGKILL ended it');
  });
}

/** After the exit: cancel the restart the monitor may have begun, and say "stop" as Docker does. */
function finishStop(store: ContainerStore, settled: ContainerRecord): ContainerRecord {
  if (!store.get(settled.Id)) return settled; // --rm: deleted by the settling
  cancelRestart(store, settled);
  store.save(settled);
  recordContainerEvent(store.root, settled, 'stop');
  return settled;
}

/**
 * Sends one signal to the container's init; SIGKILL also waits for the exit to be recorded. As in
 * Docker, SIGKILL or the container's stop signal also ends its restart policy until `start`.
 */
export async function killContainer(root: StateRoot, id: string, signalText = 'SIGKILL'): Promise<ContainerRecord> {
  const signal = parseSignal(signalText);
  const store = new ContainerStore(root);
  return await store.withContainerLock(id, async () => {
    const record = await reconcileLocked(store, id);
    if (!record) throw new NoSuchContainerError(id);
    const pids = readRunPids(store.paths(id));
    if (!record.State.Running || !pids) {
      throw new VerbError(`cannot kill container: ${record.Name.slice(1)}: container ${record.Id} is not running`);
    }
    const ends = signal === os.constants.signals.SIGKILL || signal === parseSignal(record.Config.StopSignal ?? 'SIGTERM');
    if (ends) {
      cancelRestart(store, record);
      store.save(record);
    }
    // The event goes first: once the signal is sent, the monitor may write the exit's `die` at
    // any moment, and `docker events` always shows kill before die.
    recordContainerEvent(root, record, 'kill', { signal: String(signal) });
    if (!signalProcess(pids.init, signal)) throw new VerbError(`cannot kill container: ${record.Name.slice(1)}: container ${record.Id} is not running`);
    if (ends) await thawAfterSignal(record);
    if (signal !== os.constants.signals.SIGKILL) {
      store.save(record);
      return record;
    }
    await waitUntilExited(pids.init, 10_000);
    const settled = (await reconcileLocked(store, id)) ?? record;
    if (store.get(id)) {
      cancelRestart(store, settled);
      store.save(settled);
    }
    return settled;
  });
}

/**
 * What `wait --condition` waits for (the Docker API's conditions): `not-running` returns at once
 * for a container that is not running; `next-exit` waits for the end of the next (or current)
 * run; `removed` waits until the container is deleted (`rm`, `--rm`).
 */
export const WAIT_CONDITIONS = ['not-running', 'next-exit', 'removed'] as const;
export type WaitCondition = typeof WAIT_CONDITIONS[number];

/**
 * Blocks until `condition` holds; returns the container's (last known) exit code. `onPoll` sees
 * each state looked at (a test's hook: it knows when the waiter has seen the container).
 */
export async function waitContainer(root: StateRoot, id: string, condition: WaitCondition = 'not-running', onPoll?: (record: ContainerRecord) => void): Promise<number> {
  let last: ContainerRecord | undefined;
  let finishedBefore: string | undefined;
  for (let wait = 20; ; wait = Math.min(wait * 2, 250)) {
    const record = await reconcileContainer(root, id);
    if (!record) {
      if (condition === 'removed' && last) return last.State.ExitCode;
      throw new NoSuchContainerError(id);
    }
    finishedBefore ??= record.State.Running ? '' : record.State.FinishedAt;
    last = record;
    onPoll?.(record);
    const stopped = !record.State.Running;
    if (condition === 'not-running' && stopped) return record.State.ExitCode;
    if (condition === 'next-exit' && stopped && record.State.FinishedAt !== finishedBefore) return record.State.ExitCode;
    await sleep(wait);
  }
}
