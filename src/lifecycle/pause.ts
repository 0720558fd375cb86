/**
 * pause.ts — `minibox pause` / `unpause`: a running container, stopped in place and let go.
 *
 * The container's processes are frozen with its cgroup (cgroups/freezer.ts): they keep their
 * memory, files and sockets, and use no CPU; the record says State.Paused, `ps` shows
 * "Up 2 minutes (Paused)". As in Docker: `exec` into a paused container is refused; `stop` and
 * `kill` send their signal, then thaw the container so that it can act on it (SIGKILL ends a
 * frozen process anyway); `rm` refuses a paused container without `-f`.
 * A container gets a cgroup only on a cgroup v2 host; elsewhere pause says why it cannot, and
 * nothing is written (minibox never writes into a v1 or hybrid hierarchy it did not create).
 *
 * Try (cgroup v2): `minibox run -d --name pz busybox sleep 1000 >/dev/null; minibox pause pz
 * >/dev/null; minibox ps --format '{{.Status}}'` → `(Paused)`
 *
 * Try: `minibox pause nosuch; echo "exit $?"` → `No such container: nosuch … exit 1`
 */
import type { StateRoot } from '../state-root.js';
import { NoSuchContainerError, VerbError } from '../errors.js';
import { ContainerStore, type ContainerRecord } from '../container/container-store.js';
import { reconcileLocked } from '../container/reconcile.js';
import { cgroupMode, describeCgroupMode, freezeCgroup, thawCgroup } from '../cgroups/index.js';
import { cgroupOf } from './hooks/cgroup-hooks.js';
import { recordContainerEvent } from '../events/event-log.js';

/** The freezer exists only in the cgroup minibox made, on a cgroup v2 host. */
export function assertFreezer(): void {
  const mode = cgroupMode();
  if (mode === 'unified') return;
  throw new VerbError(`pause needs the cgroup v2 freezer (cgroup.freeze), but this host's cgroups are ${describeCgroupMode(mode)}; `
    + 'minibox writes into no cgroup hierarchy it did not create: use a cgroup v2 machine (docs/vm.md)');
}

async function withRunningContainer(root: StateRoot, id: string, action: (store: ContainerStore, record: ContainerRecord) => Promise<void>): Promise<void> {
  const store = new ContainerStore(root);
  await store.withContainerLock(id, async () => {
    const record = await reconcileLocked(store, id);
    if (!record) throw new NoSuchContainerError(id);
    if (!record.State.Running) throw new VerbError(`Container ${record.Id} is not running`);
    await action(store, record);
  });
}

export async function pauseContainer(root: StateRoot, id: string): Promise<void> {
  assertFreezer();
  await withRunningContainer(root, id, async (store, record) => {
    if (record.State.Paused) throw new VerbError(`Container ${record.Id} is already paused`);
    await freezeCgroup(cgroupOf(record));
    record.State.Paused = true;
    store.save(record);
    recordContainerEvent(root, record, 'pause');
  });
}

export async function unpauseContainer(root: StateRoot, id: string): Promise<void> {
  assertFreezer();
  await withRunningContainer(root, id, async (store, record) => {
    if (!record.State.Paused) throw new VerbError(`Container ${record.Id} is not paused`);
    await thawCgroup(cgroupOf(record));
    record.State.Paused = false;
    store.save(record);
    recordContainerEvent(root, record, 'unpause');
  });
}

/**
 * For `stop`/`kill`, after their signal (the caller holds the lock): thaw a paused container so
 * that it can act on the signal, as Docker does. The record is saved by the caller's settling.
 */
export async function thawAfterSignal(record: ContainerRecord): Promise<void> {
  if (!record.State.Paused || cgroupMode() !== 'unified') return;
  await thawCgroup(cgroupOf(record)).catch(() => undefined); // gone already: the exit settles it
  record.State.Paused = false;
}
