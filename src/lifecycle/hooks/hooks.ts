/**
 * hooks.ts — the seams where other parts of minibox (cgroups, networking) join a container's
 * life without the lifecycle code knowing about them.
 *
 *   onContainerNamespacesReady  the init stage has its namespaces and waits: put it in its cgroup,
 *                               plug in its network (runs before the program starts; a throw
 *                               aborts the start with that message)
 *   onContainerExited           a run is over (reconciliation saw the exit): free per-run things
 *   onContainerRemoved          the container is being deleted: free everything else
 *
 * Modules register by pushing a function onto a list at import time. Exit and removal hooks must
 * be idempotent and must tolerate state that was never set up (a start that failed half-way, a
 * monitor killed with -9): `rm -f` runs them all and reports, but does not stop at, a failure.
 */
import type { StateRoot } from '../../state-root.js';
import { describeError } from '../../errors.js';
import type { ContainerRecord } from '../../container/container-store.js';

export type NamespacesReadyHook = (root: StateRoot, record: ContainerRecord, initPid: number) => Promise<void> | void;
export type ContainerHook = (root: StateRoot, record: ContainerRecord) => Promise<void> | void;

export const onContainerNamespacesReady: NamespacesReadyHook[] = [];
export const onContainerExited: ContainerHook[] = [];
export const onContainerRemoved: ContainerHook[] = [];

/** Runs every hook of a list; a failing hook is reported on stderr and the others still run. */
export async function runHooks(hooks: ContainerHook[], root: StateRoot, record: ContainerRecord, what: string): Promise<void> {
  for (const hook of hooks) {
    try {
      await hook(root, record);
    } catch (error) {
      process.stderr.write(`minibox: warning: ${what} ${record.Id.slice(0, 12)}: ${describeError(error)}\n`);
    }
  }
}

/** The namespaces-ready hooks in order; the first failure aborts the start. */
export async function runNamespacesReadyHooks(root: StateRoot, record: ContainerRecord, initPid: number): Promise<void> {
  for (const hook of onContainerNamespacesReady) await hook(root, record, initPid);
}

/**
 * Files the monitor reads `oom_kill N` from after the container exits: the container's cgroup
 * (v2 memory.events, v1 memory.oom_control). Missing files are fine: no cgroup, no OOM record.
 * The cgroup module may replace this with the paths it really creates.
 */
export let oomEventFiles = (id: string): string[] => [
  `/sys/fs/cgroup/minibox/${id}/memory.events`,
  `/sys/fs/cgroup/memory/minibox/${id}/memory.oom_control`,
];

export function setOomEventFiles(paths: (id: string) => string[]): void {
  oomEventFiles = paths;
}
