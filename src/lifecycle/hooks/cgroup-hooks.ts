/**
 * cgroup-hooks.ts — where a container's cgroup joins its life (listed in hooks.ts), in one place.
 *
 *   namespaces ready  mkdir /sys/fs/cgroup/minibox/<id>, write the limits from config.json's
 *                     linux.resources, move the waiting init stage into it (cgroup.procs). Its
 *                     children — the whole container — are born there. Only then does the init
 *                     stage unshare its cgroup namespace, so inside, /proc/self/cgroup reads `0::/`.
 *   exited            the OOM killer's count (memory.events oom_kill) becomes State.OOMKilled,
 *                     then the cgroup is removed (cgroup.kill, wait for "populated 0", rmdir)
 *   removed           the same removal again: idempotent, a missing cgroup is fine
 *
 * Every container gets a cgroup on a cgroup v2 host, even without limits, so `minibox stats` can
 * read its usage. On a v1 or hybrid host nothing here touches /sys/fs/cgroup at all (create.ts
 * has already refused limit flags there).
 *
 * Try (cgroup v2): `minibox run -d busybox sleep 100 >/dev/null && ls /sys/fs/cgroup/minibox/` →
 * `cgroup.controllers`
 */
import { crashPoint } from '../../crash-point.js';
import fs from 'node:fs';
import type { StateRoot } from '../../state-root.js';
import {
  addProcess, containerCgroupPath, createContainerCgroup, readCgroupStats, removeContainerCgroup, cgroupMode,
  type ContainerCgroup, type LinuxResources,
} from '../../cgroups/index.js';
import { ContainerStore, type ContainerRecord } from '../../container/container-store.js';
import type { ContainerHooks } from './hooks.js';
import { readSpec } from '../../bundle/oci-bundle.js';
import { publishStep } from '../../sys/trace.js';

/** The cgroup a container has (or would have) on this cgroup v2 host. */
export function cgroupOf(record: ContainerRecord): ContainerCgroup {
  return { id: record.Id, path: containerCgroupPath(record.Id) };
}

/** The limits in a bundle's config.json (linux.resources), or none. */
export function specResources(bundleDir: string): LinuxResources {
  try {
    return readSpec(bundleDir).linux?.resources ?? {};
  } catch {
    return {};
  }
}

function onUnifiedHost(): boolean {
  return cgroupMode() === 'unified';
}

/** What --explain says on a host without cgroup v2: the step is skipped, and why. */
const SKIPPED_BECAUSE: Record<string, string> = {
  hybrid: 'cgroup v1 + an empty v2 here, minibox uses only v2',
  legacy: 'only cgroup v1 here, minibox uses only v2',
  none: 'no cgroup file system is mounted here',
};

async function putInitInItsCgroup(root: StateRoot, record: ContainerRecord, initPid: number): Promise<void> {
  const mode = cgroupMode();
  if (mode !== 'unified') {
    publishStep('cgroup.skipped', { mode, why: `${SKIPPED_BECAUSE[mode] ?? mode}: no limits, no stats` });
    return;
  }
  const resources = specResources(new ContainerStore(root).paths(record.Id).dir);
  const cgroup = createContainerCgroup(record.Id, resources);
  crashPoint('cgroup:created');
  addProcess(cgroup, initPid);
  crashPoint('cgroup:joined');
}

/** The monitor already read memory.events; a run settled without it (a lost monitor) is read here. */
function recordOomKill(root: StateRoot, record: ContainerRecord): void {
  const cgroup = cgroupOf(record);
  if (record.State.OOMKilled || !fs.existsSync(cgroup.path)) return;
  if (readCgroupStats(cgroup).oomKills === 0) return;
  record.State.OOMKilled = true;
  const store = new ContainerStore(root);
  if (store.get(record.Id)) store.save(record); // the exit hook runs under the container's lock
}

async function releaseCgroup(root: StateRoot, record: ContainerRecord): Promise<void> {
  if (!onUnifiedHost()) return;
  recordOomKill(root, record);
  await removeContainerCgroup(cgroupOf(record));
}

/** The cgroup's part in a container's life (listed in hooks.ts). */
export const cgroupHooks: ContainerHooks = {
  namespacesReady: putInitInItsCgroup,
  exited: releaseCgroup,
  removed: async (_root, record) => {
    if (onUnifiedHost()) await removeContainerCgroup(cgroupOf(record));
  },
  // Only the cgroup v2 file this module really creates is read for OOM kills after an exit.
  oomEventFiles: (id) => [`${containerCgroupPath(id)}/memory.events`],
};
