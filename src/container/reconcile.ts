/**
 * reconcile.ts — making the records tell the truth.
 *
 * container.json says what minibox last *did* ("running since 10:02, pid 4242"); the kernel knows
 * what *is*. Between the two: a container that exited while nobody was looking, a monitor killed
 * with -9, a `minibox run` killed in the middle of a start. Every command therefore reconciles
 * before it reads or acts, under the container's lock:
 *
 *   pids.json absent             nothing in flight: the record is the truth
 *   exit-status.json for it      the run ended: record Exited(code), OOMKilled, FinishedAt
 *   init and monitor alive       running (or starting: the starter holds the lock meanwhile)
 *   init gone, monitor alive     the monitor is writing the status right now: wait a moment
 *   monitor gone                 nobody can report the end any more. Like containerd when a shim
 *                                dies, kill what is left (SIGKILL to the init ends the whole PID
 *                                namespace) and record Exited (137) with an Error saying why.
 * A settled container created with `--rm` is deleted right there (no daemon does it for us).
 * A run whose monitor will restart it (`--restart`, lifecycle/restart.ts) settles as Exited with
 * State.Restarting; if that restarter dies before the next run starts, Restarting is cleared.
 *
 * "Alive" means pid *and* start time match (process-handle.ts): a recycled pid is never taken
 * for the container, so `ps` never shows a ghost "Up".
 *
 * Try: `minibox run -d --name web busybox sleep 60 >/dev/null; kill -9 $(minibox inspect --format
 * '{{.State.Pid}}' web); minibox wait web` → `137`
 */
import { signalExitCode } from '../errors.js';
import type { StateRoot } from '../state-root.js';
import { ContainerStore, type ContainerRecord } from './container-store.js';
import { runExitedHooks } from '../lifecycle/hooks/hooks.js';
import { isRunning, signalProcess, waitUntilExited } from './process-handle.js';
import { deleteContainer } from '../lifecycle/remove.js';
import { forgetRunPids, readExitStatus, readRunPids, type ExitStatus } from './run-files.js';

const SIGKILL_EXIT = signalExitCode('SIGKILL');

/** Reconciles one container (taking its lock); undefined when it does not exist. */
export async function reconcileContainer(root: StateRoot, id: string): Promise<ContainerRecord | undefined> {
  const store = new ContainerStore(root);
  if (!store.get(id)) return undefined;
  return await store.withContainerLock(id, async () => await reconcileLocked(store, id));
}

/** Reconciles every container; returns the records that exist afterwards. */
export async function reconcileAll(root: StateRoot): Promise<ContainerRecord[]> {
  const store = new ContainerStore(root);
  await store.sweepAbandonedCreations();
  const records: ContainerRecord[] = [];
  for (const { Id } of store.list()) {
    const record = await reconcileContainer(root, Id);
    if (record && store.get(Id)) records.push(record); // not if --rm just deleted it
  }
  return records;
}

/** The same, for a caller that already holds the container's lock. */
export async function reconcileLocked(store: ContainerStore, id: string): Promise<ContainerRecord | undefined> {
  const record = store.get(id);
  if (!record) return undefined;
  const paths = store.paths(id);
  const pids = readRunPids(paths);
  if (!pids) {
    // A record saying "running" with no run in flight was written by a minibox that died before
    // it could say more: it cannot be running.
    if (record.State.Running) return await settle(store, record, lostStatus(), 'minibox lost track of this container');
    if (record.State.Restarting && !isRunning(readExitStatus(paths)?.restarter)) {
      Object.assign(record.State, { Restarting: false, Error: 'the restart policy\'s monitor died during the back-off; `minibox start` it' });
      store.save(record);
    }
    return record;
  }
  const statusFor = (): ExitStatus | undefined => {
    const status = readExitStatus(paths);
    return status && status.initPid === pids.init.pid ? status : undefined;
  };
  let status = statusFor();
  if (status) return await settle(store, record, status);

  const initAlive = isRunning(pids.init);
  if (initAlive && isRunning(pids.monitor)) return record;
  if (!initAlive && isRunning(pids.monitor)) {
    // Reaped a moment ago; the monitor writes the status next, then exits (unless it restarts
    // the container): its exit wakes this wait at once (process-handle.ts, a pidfd).
    for (let i = 0; i < 200 && !status && isRunning(pids.monitor); i++) { // up to 5 s on a loaded machine
      await waitUntilExited(pids.monitor, 25);
      status = statusFor();
    }
    status ??= statusFor();
    if (status) return await settle(store, record, status);
    if (isRunning(pids.monitor)) return record;
  }
  // The monitor is gone without a word (kill -9, a crash, a host that lost the process).
  if (signalProcess(pids.init, 'SIGKILL')) await waitUntilExited(pids.init, 2000);
  status = statusFor();
  if (status) return await settle(store, record, status);
  return await settle(store, record, lostStatus(pids.init.pid), `the container's monitor (pid ${pids.monitor.pid}) died; its processes were killed`);
}

function lostStatus(initPid = 0): ExitStatus {
  return { initPid, exitCode: SIGKILL_EXIT, signal: 9, oomKilled: false, finishedAt: new Date().toISOString() };
}

async function settle(store: ContainerStore, record: ContainerRecord, status: ExitStatus, error?: string): Promise<ContainerRecord> {
  Object.assign(record.State, {
    Status: 'exited',
    Running: false,
    Pid: 0,
    ExitCode: status.exitCode,
    OOMKilled: status.oomKilled,
    FinishedAt: status.finishedAt,
    Restarting: status.restartDelayMs !== undefined && !record.HasBeenManuallyStopped,
    Paused: false,
    ...(error ? { Error: error } : {}),
  });
  store.save(record);
  forgetRunPids(store.paths(record.Id));
  await runExitedHooks(store.root, record);
  // The settled record is returned even when --rm deleted it just now: `wait` needs its code.
  if (record.HostConfig.AutoRemove) await autoRemove(store, record);
  return record;
}

/**
 * `run --rm`: Docker's daemon deletes the container the moment it exits. minibox has no daemon,
 * so whoever notices the exit first (the foreground `run`, or any later command) deletes it —
 * with its anonymous volumes — still holding the container's lock.
 */
async function autoRemove(store: ContainerStore, record: ContainerRecord): Promise<void> {
  await deleteContainer(store, record, { anonymousVolumes: true });
  store.forgetLock(record.Id); // a waiter still holding it finds no record and gives up
}
