/**
 * hooks.ts — the seams where other parts of minibox (cgroups, networking) join a container's
 * life without the lifecycle code knowing about them.
 *
 *   namespacesReady  the init stage has its namespaces and waits: put it in its cgroup, plug in
 *                    its network (runs before the program starts; a throw aborts the start with
 *                    that message)
 *   exited           a run is over (reconciliation saw the exit): free per-run things
 *   removed          the container is being deleted: free everything else
 *   oomEventFiles    where the monitor reads `oom_kill N` after the container exits
 *
 * Each part that joins gives one `ContainerHooks` object, and `CONTAINER_HOOKS` below lists them,
 * in the order they run — the whole wiring is on this page, nothing registers itself by being
 * imported. Exit and removal hooks must be idempotent and must tolerate state that was never set
 * up (a start that failed half-way, a monitor killed with -9): `rm -f` runs them all and reports,
 * but does not stop at, a failure.
 *
 * Try: `minibox run --rm busybox cat /sys/class/net/eth0/address` → `02:42:ac:`
 * (the network hook plugged the container in before its program started).
 */
import type { StateRoot } from '../../state-root.js';
import { describeError } from '../../errors.js';
import type { ContainerRecord } from '../../container/container-store.js';
import { cgroupHooks } from './cgroup-hooks.js';
import { networkHooks } from './network-hooks.js';

export type NamespacesReadyHook = (root: StateRoot, record: ContainerRecord, initPid: number) => Promise<void> | void;
export type ContainerHook = (root: StateRoot, record: ContainerRecord) => Promise<void> | void;

/** What one part of minibox does at each point of a container's life. */
export interface ContainerHooks {
  namespacesReady?: NamespacesReadyHook;
  exited?: ContainerHook;
  removed?: ContainerHook;
  /** Files that hold the container's OOM-kill count after it exits (missing files are fine). */
  oomEventFiles?: (id: string) => string[];
}

/** Every part that joins a container's life, in order: its cgroup first, then its network. */
const CONTAINER_HOOKS: readonly ContainerHooks[] = [cgroupHooks, networkHooks];

/** Runs one kind of hook of every part; a failing hook is reported on stderr and the others still run. */
async function runAll(kind: 'exited' | 'removed', root: StateRoot, record: ContainerRecord, what: string): Promise<void> {
  for (const hooks of CONTAINER_HOOKS) {
    try {
      await hooks[kind]?.(root, record);
    } catch (error) {
      process.stderr.write(`minibox: warning: ${what} ${record.Id.slice(0, 12)}: ${describeError(error)}\n`);
    }
  }
}

/** A run is over: free per-run things (cgroup, network endpoint). */
export async function runExitedHooks(root: StateRoot, record: ContainerRecord): Promise<void> {
  await runAll('exited', root, record, 'cleaning up after container');
}

/** The container is being deleted: free everything else. */
export async function runRemovedHooks(root: StateRoot, record: ContainerRecord): Promise<void> {
  await runAll('removed', root, record, 'releasing resources of container');
}

/** The namespaces-ready hooks in order; the first failure aborts the start. */
export async function runNamespacesReadyHooks(root: StateRoot, record: ContainerRecord, initPid: number): Promise<void> {
  for (const hooks of CONTAINER_HOOKS) await hooks.namespacesReady?.(root, record, initPid);
}

/** Files the monitor reads `oom_kill N` from after the container exits. */
export function oomEventFiles(id: string): string[] {
  return CONTAINER_HOOKS.flatMap((hooks) => hooks.oomEventFiles?.(id) ?? []);
}
