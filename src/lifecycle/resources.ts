/**
 * resources.ts — a container's resource limits, kept in two places, and `minibox update`.
 *
 * The limits live in the bundle's config.json (`linux.resources`, what any OCI runtime — runc
 * too — applies at start) and, as Docker shows them, in the record's HostConfig (`Memory` in
 * bytes, `NanoCpus` = CPUs × 10⁹, `PidsLimit`…, what `inspect` prints). `update` changes both
 * and, when the container runs, writes the new values into its live cgroup: the kernel applies
 * them at once (a lower memory.max makes it reclaim, and OOM-kill if it cannot).
 *
 * Try (cgroup v2): `minibox run -d --name web --memory 64m busybox sleep 60 >/dev/null && minibox
 * update --memory 128m web && minibox exec web cat /sys/fs/cgroup/memory.max` → `134217728`
 */
import os from 'node:os';
import { MiniboxError, NoSuchContainerError, UsageError, VerbError } from '../errors.js';
import type { StateRoot } from '../state-root.js';
import {
  assertCgroupV2ForLimits, hasResourceFlags, parseResourceFlags, updateContainerCgroup, type LinuxResources, type ResourceFlags,
} from '../cgroups/index.js';
import { cgroupOf } from './hooks/cgroup-hooks.js';
import { ContainerStore, type HostConfig } from '../container/container-store.js';
import { reconcileLocked } from '../container/reconcile.js';
import { readSpec, writeSpec } from '../bundle/oci-bundle.js';

type LimitFields = Pick<HostConfig, 'Memory' | 'MemorySwap' | 'MemoryReservation' | 'NanoCpus' | 'CpuShares' | 'CpusetCpus' | 'PidsLimit'>;

/** OCI linux.resources → Docker's HostConfig fields (only the ones set). */
export function hostConfigLimits(resources: LinuxResources | undefined): LimitFields {
  const { memory, cpu, pids } = resources ?? {};
  const fields: LimitFields = {};
  if (memory?.limit !== undefined) fields.Memory = memory.limit;
  if (memory?.swap !== undefined) fields.MemorySwap = memory.swap;
  if (memory?.reservation !== undefined) fields.MemoryReservation = memory.reservation;
  if (cpu?.quota !== undefined && cpu.period) fields.NanoCpus = Math.round((cpu.quota / cpu.period) * 1e9);
  if (cpu?.shares !== undefined) fields.CpuShares = cpu.shares;
  if (cpu?.cpus !== undefined) fields.CpusetCpus = cpu.cpus;
  if (pids !== undefined) fields.PidsLimit = pids.limit;
  return fields;
}

/** `changes` laid over `current`, section by section (an update replaces only what it names). */
export function mergeResources(current: LinuxResources, changes: LinuxResources): LinuxResources {
  const merged: LinuxResources = { ...current };
  if (changes.memory) merged.memory = { ...current.memory, ...changes.memory };
  if (changes.cpu) merged.cpu = { ...current.cpu, ...changes.cpu };
  if (changes.pids) merged.pids = changes.pids;
  return merged;
}

/** Limit flags → checked OCI resources for this machine; a UsageError (125) for a bad value. */
export function resourcesFromFlags(flags: ResourceFlags): LinuxResources | undefined {
  return parseResourceFlags(flags, { count: os.availableParallelism() });
}

/**
 * `minibox update`: new limits for each container (id, prefix or name). A running container's
 * cgroup changes now; every container's config.json and HostConfig keep them for its next start.
 * Returns the names as typed, in order, like Docker prints them.
 */
export async function updateContainers(root: StateRoot, containers: string[], flags: ResourceFlags): Promise<string[]> {
  if (!hasResourceFlags(flags)) throw new UsageError('you must provide one or more flags when using this command (--memory, --cpus, --pids-limit…)');
  const changes = resourcesFromFlags(flags) ?? {};
  const store = new ContainerStore(root);
  const missing = containers.find((name) => !store.resolve(name)); // Docker names it before anything else
  if (missing !== undefined) throw new NoSuchContainerError(missing);
  assertCgroupV2ForLimits(flags);
  const updated: string[] = [];
  for (const name of containers) {
    const found = store.resolve(name);
    if (!found) throw new NoSuchContainerError(name);
    await store.withContainerLock(found.Id, async () => {
      const record = await reconcileLocked(store, found.Id);
      if (!record) throw new NoSuchContainerError(name);
      if (record.State.Status === 'removing') throw new VerbError(`cannot update container ${name}: it is being removed`);
      const bundleDir = store.paths(record.Id).dir;
      const spec = readSpec(bundleDir);
      const resources = mergeResources(spec.linux?.resources ?? {}, changes);
      if (record.State.Running) updateContainerCgroup(cgroupOf(record), changes);
      spec.linux = { ...spec.linux, resources };
      writeSpec(bundleDir, spec);
      Object.assign(record.HostConfig, hostConfigLimits(resources));
      store.save(record);
    });
    updated.push(name);
  }
  return updated;
}
