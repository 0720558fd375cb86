/**
 * remove.ts — `rm` and `container prune`: deleting a container for good.
 *
 * Removing means: its processes are gone, nothing is mounted under its directory, the hooks of
 * other subsystems (cgroup, network) have released what they hold, and the directory — record,
 * bundle, log and the writable layer upper/ — is deleted. Whatever the container wrote outside a
 * volume is lost: that is the lesson `docker rm` teaches.
 *
 * `rm -f` must work whatever state a crash left behind: a monitor killed with -9, a `run`
 * killed half-way through a start. So it trusts nothing but the kernel: reconcile (which kills an
 * orphaned container), SIGKILL the init by its pid + start time, wait, make sure the monitor is
 * gone too, then detach any mount left under the directory and delete it.
 *
 * Try: `minibox run -d --name web busybox sleep 60 >/dev/null && minibox rm web` → `container is
 * running: stop the container before removing or force remove`
 */
import { crashPoint } from '../crash-point.js';
import fs from 'node:fs';
import path from 'node:path';
import { NoSuchContainerError, VerbError } from '../errors.js';
import type { StateRoot } from '../state-root.js';
import { ContainerStore, type ContainerRecord } from '../container/container-store.js';
import { runRemovedHooks } from './hooks/hooks.js';
import { signalProcess, waitUntilExited, type ProcessHandle } from '../container/process-handle.js';
import { reconcileLocked } from '../container/reconcile.js';
import { readRunPids } from '../container/run-files.js';
import { VolumeStore } from '../bundle/volumes.js';
import { recordContainerEvent } from '../events/event-log.js';
import { cancelRestart } from './restart.js';

export interface RemoveOptions {
  /** `-f`: kill a running container first. */
  force?: boolean;
  /** `-v`: also remove the container's anonymous volumes. */
  volumes?: boolean;
}

/** SIGKILL, then wait (up to 10 s) for the end — woken by the kernel at the exit (waitUntilExited). */
async function killAndWait(handle: ProcessHandle): Promise<void> {
  signalProcess(handle, 'SIGKILL');
  await waitUntilExited(handle, 10_000);
}

/** Deletes one container; returns the record it had. */
export async function removeContainerById(root: StateRoot, id: string, options: RemoveOptions = {}): Promise<ContainerRecord> {
  const store = new ContainerStore(root);
  const removed = await store.withContainerLock(id, async () => {
    let record = await reconcileLocked(store, id);
    if (!record) throw new NoSuchContainerError(id);
    if (record.State.Restarting && !options.force) {
      throw new VerbError(`cannot remove container "${record.Name}": container is restarting: stop the container before removing or force remove`);
    }
    if (record.State.Running && record.State.Paused && !options.force) {
      throw new VerbError(`cannot remove container "${record.Name}": container is paused: unpause and then stop the container before removing or force remove`);
    }
    cancelRestart(store, record); // a restarter in its back-off must not start what is being removed
    store.save(record);
    if (record.State.Running) {
      if (!options.force) {
        throw new VerbError(`cannot remove container "${record.Name}": container is running: stop the container before removing or force remove`);
      }
      const pids = readRunPids(store.paths(id));
      if (pids) await killAndWait(pids.init);
      record = (await reconcileLocked(store, id)) ?? record;
      // A `run --rm` container is deleted by whoever settles its exit — that was us, just now.
      if (!store.get(id)) return record;
      cancelRestart(store, record); // the monitor may have begun a restart for this exit: kill it
    }
    // The monitor leaves by itself once it has reaped the init; a stuck one is not waited for.
    const pids = readRunPids(store.paths(id));
    if (pids) {
      await killAndWait(pids.init);
      await waitUntilExited(pids.monitor, 1000);
      await killAndWait(pids.monitor);
    }
    await deleteContainer(store, record, { anonymousVolumes: options.volumes ?? false });
    return record;
  });
  store.forgetLock(id);
  return removed;
}

/**
 * The deletion itself, for a caller that holds the container's lock (and forgets the lock file
 * after releasing it): the record says `removing` while the hooks (cgroup, network) release what
 * they hold, then the directory goes. With `anonymousVolumes` (`rm -v`, `run --rm`) the volumes
 * made for this container alone go too — unless another container mounts one now, which keeps
 * it, as Docker does.
 */
export async function deleteContainer(store: ContainerStore, record: ContainerRecord, options: { anonymousVolumes: boolean }): Promise<void> {
  store.save({ ...record, State: { ...record.State, Status: 'removing' } });
  crashPoint('rm:removing');
  await runRemovedHooks(store.root, record);
  crashPoint('rm:released');
  store.removeFiles(record.Id);
  recordContainerEvent(store.root, record, 'destroy');
  if (!options.anonymousVolumes) return;
  const volumes = new VolumeStore(store.root);
  for (const mount of record.Mounts) {
    if (mount.Type !== 'volume' || !mount.Anonymous || !mount.Name) continue;
    try {
      await volumes.remove(mount.Name);
    } catch { /* in use by another container: kept */ }
  }
}

/**
 * Bytes in a directory tree, not following symlinks, as `du -sb` counts them: every entry's
 * apparent size (directories included), a hard-linked file once. What deleting it frees.
 */
export function diskUsage(dir: string): number {
  try {
    return fs.lstatSync(dir).size + contentsUsage(dir, new Set());
  } catch {
    return 0;
  }
}

function contentsUsage(dir: string, seen: Set<string>): number {
  let total = 0;
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    try {
      const stat = fs.lstatSync(full, { bigint: true });
      const inode = `${stat.dev}:${stat.ino}`;
      if (stat.nlink > 1n && seen.has(inode)) continue;
      seen.add(inode);
      total += Number(stat.size);
      if (entry.isDirectory()) total += contentsUsage(full, seen);
    } catch { /* gone meanwhile */ }
  }
  return total;
}

/** `container prune`: removes every container that is not running; returns ids and bytes freed. */
export async function pruneContainers(root: StateRoot, records: ContainerRecord[]): Promise<{ ids: string[]; bytes: number }> {
  const store = new ContainerStore(root);
  const ids: string[] = [];
  let bytes = 0;
  for (const record of records) {
    if (record.State.Running) continue;
    const size = diskUsage(store.paths(record.Id).upper);
    try {
      await removeContainerById(root, record.Id);
      ids.push(record.Id);
      bytes += size;
    } catch { /* started meanwhile, or removed by someone else */ }
  }
  return { ids, bytes };
}
