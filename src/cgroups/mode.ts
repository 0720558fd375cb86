/**
 * mode.ts — which cgroup layout this machine has, read from the mount table.
 *
 * Linux has two cgroup interfaces. v1 (2008) mounts one hierarchy per controller
 * (/sys/fs/cgroup/memory, /sys/fs/cgroup/cpu,cpuacct, …). v2 (2016) is one tree for all
 * controllers, mounted as `cgroup2` at /sys/fs/cgroup. Distributions moved from v1 through a
 * "hybrid" layout — v1 controllers plus an (often empty) v2 tree at /sys/fs/cgroup/unified —
 * to pure v2 ("unified"). minibox sets limits only through v2, and never writes to a v1 or
 * hybrid hierarchy it did not create.
 *
 *   unified  cgroup2 mounted at /sys/fs/cgroup           (Debian 11+, Ubuntu 21.10+, Fedora 31+)
 *   hybrid   v1 controllers + cgroup2 elsewhere          (systemd's hybrid mode)
 *   legacy   v1 controllers only
 *   none     no cgroup file system mounted at all
 *
 * Try (cgroup v2): `stat -fc %T /sys/fs/cgroup` → `cgroup2fs` (a v1 or hybrid host answers `tmpfs`;
 * `grep cgroup /proc/self/mountinfo` then shows where each hierarchy is).
 */
import fs from 'node:fs';
import path from 'node:path';
import { readMountInfo } from '../mountinfo.js';

export type CgroupMode = 'unified' | 'hybrid' | 'legacy' | 'none';

/** Where cgroup v2 must be mounted for minibox to use it. */
export const CGROUP_V2_ROOT = '/sys/fs/cgroup';

export interface CgroupMount {
  mountPoint: string;
  fstype: 'cgroup' | 'cgroup2';
  /** Per-mount super options; for v1 they name the controllers (`rw,memory`). */
  superOptions: string[];
}

/** The cgroup mounts in a /proc/self/mountinfo text. */
export function cgroupMountsFrom(mountinfo: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const { mountPoint, fstype, superOptions } of readMountInfo(mountinfo)) {
    if (fstype === 'cgroup' || fstype === 'cgroup2') mounts.push({ mountPoint, fstype, superOptions });
  }
  return mounts;
}

/** The layout described by a mountinfo text. */
export function cgroupModeFrom(mountinfo: string): CgroupMode {
  const mounts = cgroupMountsFrom(mountinfo);
  const v1 = mounts.some((mount) => mount.fstype === 'cgroup');
  const v2AtRoot = mounts.some((mount) => mount.fstype === 'cgroup2' && path.resolve(mount.mountPoint) === CGROUP_V2_ROOT);
  if (v2AtRoot && !v1) return 'unified';
  if (v1) return mounts.some((mount) => mount.fstype === 'cgroup2') || v2AtRoot ? 'hybrid' : 'legacy';
  // cgroup2 mounted somewhere other than /sys/fs/cgroup, without v1: usable by nobody's convention.
  return mounts.some((mount) => mount.fstype === 'cgroup2') ? 'hybrid' : 'none';
}

/**
 * This process's cgroup layout. The test seam MINIBOX_TEST_CGROUP_MOUNTINFO (a mountinfo file,
 * e.g. test/cgroups/fixtures/mountinfo-legacy.txt) is read instead of /proc/self/mountinfo, so
 * that every layout's path (the refusals, doctor's advice) is proven on any host, not only on a
 * host that happens to have that layout.
 */
export function cgroupMode(): CgroupMode {
  return cgroupModeFrom(fs.readFileSync(process.env.MINIBOX_TEST_CGROUP_MOUNTINFO || '/proc/self/mountinfo', 'utf8'));
}

/** The controllers a cgroup v2 directory offers (its cgroup.controllers), or [] when unreadable. */
export function availableControllers(dir = CGROUP_V2_ROOT): string[] {
  try {
    return fs.readFileSync(path.join(dir, 'cgroup.controllers'), 'utf8').split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
}

/** v1 controllers the kernel has, from /proc/cgroups (`subsys_name hierarchy num_cgroups enabled`). */
export function v1ControllersFrom(procCgroups: string): string[] {
  return procCgroups.split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => line.split(/\s+/))
    .filter((fields) => fields[3] === '1' && fields[1] !== '0')
    .map((fields) => fields[0] ?? '')
    .filter(Boolean);
}

/** A plain-words description of a mode, for errors and `minibox doctor`. */
export function describeCgroupMode(mode: CgroupMode): string {
  switch (mode) {
    case 'unified': return 'cgroup v2 (unified) at /sys/fs/cgroup';
    case 'hybrid': return 'hybrid (v1 controllers + an empty v2 tree)';
    case 'legacy': return 'cgroup v1 only (legacy)';
    case 'none': return 'not mounted';
  }
}
