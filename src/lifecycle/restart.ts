/**
 * restart.ts — restarting containers by their `--restart` policy, with no daemon to do it.
 *
 * The rules (which exits restart, the back-off) are in restart-policy.ts; this is who does what:
 *
 *   monitor (C)      reaps the container; when the policy says "restart", adds "restartDelayMs"
 *                    and its own pid + start time ("restarter") to exit-status.json, sleeps the
 *                    back-off, and execs the restart stage (same pid)
 *   reconcile.ts     settling such a run records State.Restarting: `ps` shows "Restarting (1) …"
 *   restart stage    under the container's lock: settle the run, check that no `stop`/`kill`/`rm`/
 *                    `start` came in between, count RestartCount + 1, start the next run
 *   stop / kill      mark the container HasBeenManuallyStopped before signalling, and kill a
 *                    restarter that is sleeping its back-off: restarting ends until `start`
 *   system restore   after a boot (all monitors gone): what dockerd does when it starts
 *
 * Try: `minibox run -d --name rr --restart always busybox sh -c 'exit 3' >/dev/null; until minibox ps
 * --format '{{.Status}}' | grep -q Restarting; do sleep 0.1; done; minibox stop rr >/dev/null;
 * minibox ps -a --format '{{.Status}}'` → `Exited (3)`
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MiniboxError, describeError } from '../errors.js';
import type { StateRoot } from '../state-root.js';
import { ContainerStore, type ContainerRecord } from '../container/container-store.js';
import { signalProcess } from '../container/process-handle.js';
import { reconcileAll, reconcileLocked } from '../container/reconcile.js';
import { readExitStatus } from '../container/run-files.js';
import { NO_RESTART, nextBackoffMs, shouldRestart, type RestartPolicy } from './restart-policy.js';
import { setTimeout as sleep } from 'node:timers/promises';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The policy a record has (absent in records made before --restart existed: no). */
export function restartPolicyOf(record: ContainerRecord): RestartPolicy {
  return record.HostConfig.RestartPolicy ?? NO_RESTART;
}

/** dist/lifecycle/NAME.js, the monitor's Node programs — from dist/ (the CLI) or src/ (tests). */
export function compiledStage(name: 'restart-stage' | 'health-stage'): string {
  const sibling = path.join(here, `${name}.js`);
  const stage = fs.existsSync(sibling) ? sibling : path.resolve(here, `../../dist/lifecycle/${name}.js`);
  if (!fs.existsSync(stage)) throw new MiniboxError(`the ${name.replace('-', ' ')} ${stage} is missing — run \`npm run build\` first`);
  return stage;
}

/** The PATH a stage gets: the monitor runs with an empty environment, and networking needs iptables. */
export function stagePath(): string {
  return process.env.PATH || '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
}

/** What the monitor execs to restart container `id` (it appends the back-off and the init's pid). */
export function restartStageCommand(root: StateRoot, id: string): string[] {
  return [process.execPath, compiledStage('restart-stage'), root.dir, id, stagePath()];
}

/**
 * Ends restarting (the caller holds the container's lock and saves the record): a restarter
 * sleeping its back-off is killed, and the next exit will not restart — until a `start`.
 */
export function cancelRestart(store: ContainerStore, record: ContainerRecord): void {
  record.HasBeenManuallyStopped = true;
  record.State.Restarting = false;
  if (record.State.Running) return; // its restarter, if any, is the monitor of this run: not yet
  const restarter = readExitStatus(store.paths(record.Id))?.restarter;
  if (restarter) signalProcess(restarter, 'SIGKILL'); // asleep, or waiting for this lock: nothing half-done
}

/**
 * The restart stage's work: settle the run that ended, and start the next one — unless a
 * `stop`/`kill` (HasBeenManuallyStopped), an `rm`, or a newer run (another init pid in
 * exit-status.json) came first. Returns whether it started the container.
 */
export async function restartAfterExit(root: StateRoot, id: string, backoffMs: number, initPid: number): Promise<boolean> {
  const store = new ContainerStore(root);
  if (!store.get(id)) return false;
  const { startLocked } = await import('./start.js');
  return await store.withContainerLock(id, async () => {
    const record = await reconcileLocked(store, id);
    if (!record || record.State.Running || !record.State.Restarting) return false;
    if (readExitStatus(store.paths(id))?.initPid !== initPid) return false;
    if (record.HasBeenManuallyStopped) {
      record.State.Restarting = false;
      store.save(record);
      return false;
    }
    record.RestartCount = (record.RestartCount ?? 0) + 1;
    store.save(record);
    await startLocked(store, record, { restartBackoffMs: backoffMs });
    return true;
  });
}

/**
 * A foreground `run` is its own monitor: after its container's first exit, when the policy says
 * so, it waits the first back-off and starts the container in the background, under a C monitor
 * that does the rest — the same hand-over Docker's daemon makes when a `docker run` ends.
 */
export async function restartForegroundExit(root: StateRoot, id: string, exitCode: number): Promise<void> {
  const store = new ContainerStore(root);
  const record = store.get(id);
  if (!record || !shouldRestart(restartPolicyOf(record), exitCode, 0, false)) return;
  const backoffMs = nextBackoffMs(0, 0);
  await sleep(backoffMs);
  const { startLocked } = await import('./start.js');
  await store.withContainerLock(id, async () => {
    const settled = await reconcileLocked(store, id);
    if (!settled || settled.State.Running || settled.HasBeenManuallyStopped) return;
    settled.RestartCount = 1;
    await startLocked(store, settled, { restartBackoffMs: backoffMs }).catch(() => undefined); // recorded in State.Error
  });
}

/**
 * `minibox system restore`: what dockerd does when it starts, for a host that just booted (or
 * lost its monitors): every container that is not running and whose policy says so — `always`
 * (even one stopped by hand), `unless-stopped` unless stopped by hand, `on-failure` after a
 * failed exit with retries left — is started. Returns the ones started and the ones that failed.
 */
export async function restoreContainers(root: StateRoot, onStart: (record: ContainerRecord) => void = () => undefined):
Promise<{ started: ContainerRecord[]; failed: { record: ContainerRecord; error: string }[] }> {
  const { startContainer } = await import('./start.js');
  const started: ContainerRecord[] = [];
  const failed: { record: ContainerRecord; error: string }[] = [];
  for (const record of await reconcileAll(root)) {
    if (record.State.Running || record.State.Restarting || record.State.Status === 'created') continue;
    const policy = restartPolicyOf(record);
    if (!shouldRestart(policy, record.State.ExitCode, record.RestartCount ?? 0, record.HasBeenManuallyStopped === true)) continue;
    try {
      started.push(await startContainer(root, record.Id, { keepRestartCount: true }));
      onStart(record);
    } catch (error) {
      failed.push({ record, error: describeError(error) });
    }
  }
  return { started, failed };
}
