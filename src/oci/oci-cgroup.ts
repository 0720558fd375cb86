/**
 * oci-cgroup.ts — the container's cgroup as an OCI config names it (`linux.cgroupsPath`), which
 * limits of `linux.resources` minibox-runc honours there, and the runc verbs that act on the
 * whole cgroup: pause and resume (the cgroup v2 freezer). cgroup v2 hosts only: on a v1/hybrid
 * host minibox-runc makes no cgroup (spec-support.ts refuses limits there).
 *
 * Where the cgroup goes — runc's rules on a cgroup v2 host with its cgroupfs driver (no
 * `--systemd-cgroup`; create.ts refuses that flag on v2), which minibox-runc follows:
 *   "/a/b"   absolute → /sys/fs/cgroup/a/b: relative to the cgroup v2 mount, not to the host's /
 *   "a/b"    relative → below the *parent* of the runtime's own cgroup (/proc/self/cgroup says
 *            `0::/x/y` → /sys/fs/cgroup/x/a/b): the caller's own cgroup has processes, and a
 *            cgroup with processes cannot hand controllers down (cgroup v2's no-internal-process rule)
 *   absent   minibox's default /sys/fs/cgroup/minibox/<id>, the subtree `minibox run` uses
 *            (runc would take <parent of its own cgroup>/<id>)
 * Missing parents are made (and stay, as with runc); `delete` removes the container's cgroup only.
 *
 * `..` cannot climb out: the path is cleaned lexically as if it began at `/` (runc's CleanPath),
 * so "../../etc" means /sys/fs/cgroup/etc. Without that, a config could make the runtime (root)
 * mkdir anywhere, write "limits" into any file, and at delete kill and remove what it names —
 * the path-traversal class (CWE-22) runc closed for cgroup paths in opencontainers/runc#451 and
 * #497 (no CVE was assigned). The root cgroup itself, and a cgroup that already has processes,
 * are refused (runc ≥ 1.2: "container's cgroup is not empty"): delete kills all that is in it.
 *
 * Try (cgroup v2): `cp -a $BUNDLE b && jq '.linux.cgroupsPath="../../demo/c1"' $BUNDLE/config.json >
 * b/config.json && minibox-runc create -b b c1 >/dev/null 2>&1; wc -l <
 * /sys/fs/cgroup/demo/c1/cgroup.procs` → `1` (`..` stopped at the top: the init is in demo/c1)
 */
import fs from 'node:fs';
import path from 'node:path';
import { ExitCode, MiniboxError } from '../errors.js';
import {
  CGROUP_V2_ROOT, MINIBOX_CGROUP_PARENT, addProcess, cgroupMode, createContainerCgroup, freezeCgroup, isFrozen, isPopulated,
  thawCgroup, type LinuxResources,
} from '../cgroups/index.js';
import type { OciStateDir } from './oci-state.js';

/** runc's CleanPath: lexical clean; a relative path is cleaned as if rooted, so `..` stops at the top. */
export function cleanCgroupsPath(text: string): string {
  if (text === '') return '';
  const cleaned = path.posix.normalize(text);
  if (path.posix.isAbsolute(cleaned)) return cleaned.length > 1 ? cleaned.replace(/\/$/, '') : cleaned;
  const rooted = path.posix.normalize(`/${cleaned}`);
  return rooted === '/' ? '.' : rooted.slice(1).replace(/\/$/, '');
}

/** The calling process's cgroup v2 path (`0::/x/y` in /proc/self/cgroup → `/x/y`). */
export function ownCgroup(procSelfCgroup = fs.readFileSync('/proc/self/cgroup', 'utf8')): string {
  const line = procSelfCgroup.split('\n').find((entry) => entry.startsWith('0::'));
  return line ? line.slice(3) || '/' : '/';
}

/** The absolute directory of container `id`'s cgroup (see the header); refuses the root cgroup. */
export function resolveCgroupDir(cgroupsPath: string | undefined, id: string, own: string, root = CGROUP_V2_ROOT): string {
  const inner = cleanCgroupsPath(cgroupsPath ?? '');
  let dir: string;
  if (inner === '') dir = path.join(root, MINIBOX_CGROUP_PARENT, id);
  else if (path.posix.isAbsolute(inner)) dir = path.join(root, inner);
  else dir = path.join(root, path.posix.dirname(cleanCgroupsPath(own) || '/'), inner);
  dir = dir.replace(/\/+$/, '');
  if (dir === root || !dir.startsWith(`${root}/`)) {
    throw new MiniboxError(`config.json linux.cgroupsPath ${JSON.stringify(cgroupsPath)} names the root cgroup (${root}): give the container a cgroup of its own, e.g. "/minibox/${id}"`);
  }
  return dir;
}

/** An existing directory may be reused only while no process is in it or below it. */
function assertVacant(dir: string, cgroupsPath: string | undefined): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    return; // not there yet: createContainerCgroup makes it
  }
  const named = `config.json linux.cgroupsPath ${JSON.stringify(cgroupsPath)} (${dir})`;
  if (!stat.isDirectory()) throw new MiniboxError(`${named} is a cgroup interface file, not a cgroup: choose another name`);
  if (isPopulated({ id: '', path: dir })) {
    throw new MiniboxError(`${named}: the cgroup is not empty (it has processes); give the container a cgroup of its own`);
  }
}

/** Leaves of linux.resources that minibox-runc writes on cgroup v2 (v2-files.ts); `devices`: no device cgroup (runtime/rootfs). */
const HONOURED: Record<string, readonly string[] | 'all'> = {
  memory: ['limit', 'reservation', 'swap'],
  cpu: ['shares', 'quota', 'period', 'cpus', 'mems'],
  pids: ['limit'],
  devices: 'all',
};

function asks(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.values(value).some(asks);
  return true;
}

/**
 * The first linux.resources field asking for something minibox-runc does not write on a cgroup
 * v2 host (io, hugetlb, rdma, net_cls, `unified`, kernel memory, swappiness…), as one line — never
 * silently ignored; undefined when all can be honoured.
 */
export function unhonouredResource(resources: Record<string, unknown>): string | undefined {
  for (const [key, value] of Object.entries(resources)) {
    const honoured = HONOURED[key];
    if (honoured === 'all') continue;
    const leaves = honoured === undefined ? [['', value] as const]
      : Object.entries((value ?? {}) as Record<string, unknown>).filter(([leaf]) => !honoured.includes(leaf));
    for (const [leaf, leafValue] of leaves) {
      if (!asks(leafValue)) continue;
      const name = `linux.resources.${key}${leaf ? `.${leaf}` : ''}`;
      return `config.json ${name} (${JSON.stringify(leafValue)}) is not supported: minibox-runc writes only cpu, cpuset, `
        + 'memory (limit, reservation, swap) and pids limits on cgroup v2; remove it';
    }
  }
  return undefined;
}

/**
 * At "namespaces ready" of `create`: makes the container's cgroup with linux.resources and moves
 * the init there; returns its directory (kept in state.json). Nothing on a v1/hybrid host.
 */
export function joinCgroup(id: string, linux: { cgroupsPath?: string; resources?: object } | undefined, pid: number): string | undefined {
  if (cgroupMode() !== 'unified') return undefined;
  const dir = resolveCgroupDir(linux?.cgroupsPath, id, ownCgroup());
  assertVacant(dir, linux?.cgroupsPath);
  const limits: Record<string, unknown> = { ...linux?.resources };
  delete limits.devices; // no device cgroup: runtime/rootfs/config-devices.ts applies the rules
  const cgroup = createContainerCgroup(id, limits as LinuxResources, dir);
  addProcess(cgroup, pid);
  return cgroup.path;
}

/** True when the container's cgroup is frozen (runc's status "paused"). */
export function isPausedCgroup(cgroup: string | undefined): boolean {
  return cgroup !== undefined && isFrozen({ id: '', path: cgroup });
}

/** `pause ID` (runc: from created or running) and `resume ID` (only from paused), through cgroup.freeze. */
export async function setPaused(states: OciStateDir, id: string, paused: boolean): Promise<void> {
  const saved = states.load(id);
  if (!saved.cgroup) {
    throw new MiniboxError(`cannot ${paused ? 'pause' : 'resume'} ${id}: it has no cgroup v2 freezer (this host's cgroups are not cgroup v2)`, ExitCode.VerbFailed);
  }
  const status = states.status(saved);
  const cgroup = { id, path: saved.cgroup };
  if (paused) {
    if (status !== 'created' && status !== 'running') throw new MiniboxError('container not running', ExitCode.VerbFailed);
    await freezeCgroup(cgroup);
  } else {
    if (status !== 'paused') throw new MiniboxError('container not paused', ExitCode.VerbFailed);
    await thawCgroup(cgroup);
  }
}
