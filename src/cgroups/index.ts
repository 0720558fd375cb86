/**
 * cgroups — resource limits for containers through cgroup v2.
 *
 * Read in this order: mode.ts (which cgroup layout a machine has), limits.ts (Docker's flags →
 * OCI linux.resources, validated), v2-files.ts (OCI resources → cgroup v2 files, as runc
 * converts them), cgroup.ts (creating, filling, measuring and removing a container's cgroup),
 * freezer.ts (pause/unpause: cgroup.freeze).
 *
 * On a host whose cgroups are v1 or hybrid, minibox does nothing cgroup-related unless a limit
 * is asked for, and then refuses with `assertCgroupV2ForLimits` before anything is created.
 *
 * Try: `minibox doctor` → `cgroups` (the line that says which kind of cgroups this machine has).
 */
import { MiniboxError } from '../errors.js';
import { hasResourceFlags, type ResourceFlags } from './limits.js';
import { cgroupMode, describeCgroupMode, type CgroupMode } from './mode.js';

export * from './mode.js';
export * from './limits.js';
export * from './v2-files.js';
export * from './cgroup.js';
export * from './freezer.js';

/**
 * Throws (exit 125) when resource flags are given on a host without cgroup v2 at /sys/fs/cgroup.
 * `mode` defaults to this host's; pass one to test the message.
 */
export function assertCgroupV2ForLimits(flags: ResourceFlags, mode: CgroupMode = cgroupMode()): void {
  if (!hasResourceFlags(flags) || mode === 'unified') return;
  throw new MiniboxError(`resource limits need cgroup v2, but this host's cgroups are ${describeCgroupMode(mode)}; `
    + 'run `minibox doctor` for details, or use the Vagrant VM (see README)');
}
