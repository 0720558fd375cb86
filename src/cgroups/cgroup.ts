/**
 * cgroup.ts — a container's own cgroup v2 directory: create it, apply limits, put a process in,
 * read what it uses, change limits while it runs, and remove it.
 *
 * A cgroup is a directory under /sys/fs/cgroup; the kernel fills it with files. Writing a PID to
 * `cgroup.procs` moves that process (and its future children) into the cgroup; writing to
 * `memory.max`, `cpu.max`, `pids.max`… sets limits; reading `memory.current`, `cpu.stat`,
 * `pids.current` shows usage. A controller's files appear in a cgroup only when its parent lists
 * the controller in `cgroup.subtree_control` (cgroup v2's "top-down" rule).
 *
 * minibox keeps its containers under a subtree it owns: /sys/fs/cgroup/minibox/<id>. It enables
 * controllers in the root's and in minibox/'s subtree_control, and writes nowhere else.
 *
 * Removal: a cgroup directory can only be removed (rmdir) once no process is left in it. We
 * write 1 to `cgroup.kill` (Linux 5.14+; else SIGKILL each PID in cgroup.procs), wait until
 * `cgroup.events` says `populated 0`, then rmdir.
 *
 * Try (cgroup v2): `minibox run --rm --pids-limit 20 busybox cat /sys/fs/cgroup/pids.max` → `20`
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MiniboxError } from '../errors.js';
import { publishStep } from '../sys/trace.js';
import type { LinuxResources } from './limits.js';
import { CGROUP_V2_ROOT, availableControllers, cgroupMode } from './mode.js';
import { cgroupWritesFor, controllersFor } from './v2-files.js';

/** The directory under the cgroup v2 root that minibox owns. */
export const MINIBOX_CGROUP_PARENT = 'minibox';

/** Controllers every container cgroup gets when the kernel offers them, so `stats` can read usage. */
const STATS_CONTROLLERS = ['cpu', 'memory', 'pids'];

export interface ContainerCgroup {
  id: string;
  /** Absolute path of the cgroup directory. */
  path: string;
}

export interface CgroupStats {
  /** Total CPU time used by the cgroup's processes, in microseconds (cpu.stat usage_usec). */
  cpuUsageUsec: number;
  /** Bytes of memory charged to the cgroup now (memory.current); undefined without the memory controller. */
  memoryCurrent?: number;
  /** Limit in bytes (memory.max), or undefined for "max". */
  memoryMax?: number;
  /** Processes and threads in the cgroup (pids.current). */
  pidsCurrent?: number;
  /** Limit on processes and threads (pids.max), or undefined for "max". */
  pidsMax?: number;
  /** How many times the OOM killer killed a process of this cgroup (memory.events oom_kill). */
  oomKills: number;
}

/**
 * Every cgroup file write goes through here: one place that `--explain` narrates and that turns
 * a refused write into a one-line error naming the file and value.
 */
export function writeCgroupFile(dir: string, file: string, value: string, meaning: string): void {
  const target = path.join(dir, file);
  try {
    fs.writeFileSync(target, value);
    publishStep('cgroup.write', { file: target, value, meaning });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    publishStep('cgroup.write', { file: target, value, meaning }, code);
    throw new MiniboxError(`write ${JSON.stringify(value)} to ${target}: ${code} — ${hintFor(file, code)}`, undefined, { cause: error });
  }
}

function hintFor(file: string, code: string): string {
  if (code === 'ENOENT') return `the kernel offers no ${file} here (is its controller enabled in the parent's cgroup.subtree_control?)`;
  if (code === 'EBUSY' && file === 'memory.max') return 'the cgroup already uses more memory than that and the kernel could not reclaim it';
  if (code === 'EINVAL') return 'the kernel refused this value';
  if (code === 'EOPNOTSUPP' || code === 'ENOTSUP') return 'this cgroup cannot do that (a v1 or hybrid hierarchy?)';
  return 'the kernel refused the write';
}

/** The cgroup directory of container `id` (it may not exist). */
export function containerCgroupPath(id: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(id)) throw new MiniboxError(`invalid container id for a cgroup name: ${JSON.stringify(id)}`);
  return path.join(CGROUP_V2_ROOT, MINIBOX_CGROUP_PARENT, id);
}

/** Adds controllers to a cgroup's subtree_control, writing only the ones not yet enabled. */
function enableControllers(dir: string, controllers: string[]): void {
  const enabled = new Set(fs.readFileSync(path.join(dir, 'cgroup.subtree_control'), 'utf8').split(/\s+/).filter(Boolean));
  const missing = controllers.filter((name) => !enabled.has(name));
  if (missing.length === 0) return;
  writeCgroupFile(dir, 'cgroup.subtree_control', missing.map((name) => `+${name}`).join(' '),
    `let the cgroups below ${dir} use the ${missing.join(', ')} controller${missing.length > 1 ? 's' : ''}`);
}

/** Refuses to touch anything unless /sys/fs/cgroup is a pure cgroup v2 tree. */
function assertUnified(): void {
  const mode = cgroupMode();
  if (mode !== 'unified') {
    throw new MiniboxError(`cgroup v2 is not mounted at ${CGROUP_V2_ROOT} (this host's cgroups are ${mode}); run \`minibox doctor\` for details`);
  }
}

/**
 * Creates the cgroup of container `id` — /sys/fs/cgroup/minibox/<id>, or `dir` (a path below
 * /sys/fs/cgroup that the caller resolved, e.g. from an OCI config's linux.cgroupsPath) — with
 * the controllers `resources` need (plus cpu, memory and pids for stats, when available), and
 * writes the limits. Missing parent cgroups are made, and each one's subtree_control gets the
 * controllers (the top-down rule). An existing directory is reused (a restarted container).
 */
export function createContainerCgroup(id: string, resources: LinuxResources = {}, dir = containerCgroupPath(id)): ContainerCgroup {
  assertUnified();
  const inside = path.relative(CGROUP_V2_ROOT, dir);
  if (!inside || inside.startsWith('..') || path.isAbsolute(inside)) throw new MiniboxError(`cgroup ${dir} is not below ${CGROUP_V2_ROOT}`);
  const offered = new Set(availableControllers(CGROUP_V2_ROOT));
  const needed = [...controllersFor(resources)];
  const unavailable = needed.filter((name) => !offered.has(name));
  if (unavailable.length > 0) {
    throw new MiniboxError(`the kernel offers no ${unavailable.join(', ')} cgroup controller in ${CGROUP_V2_ROOT}/cgroup.controllers; run \`minibox doctor\``);
  }
  const controllers = [...new Set([...needed, ...STATS_CONTROLLERS.filter((name) => offered.has(name))])];

  let current = CGROUP_V2_ROOT;
  for (const name of inside.split(path.sep)) {
    enableControllers(current, controllers);
    current = path.join(current, name);
    if (fs.existsSync(current)) continue;
    fs.mkdirSync(current);
    publishStep('cgroup.create', {
      dir: current,
      meaning: current === dir ? `the cgroup of container ${id}`
        : current === path.join(CGROUP_V2_ROOT, MINIBOX_CGROUP_PARENT) ? 'a cgroup that holds every minibox container'
          : `a parent cgroup on the way to container ${id}'s`,
    });
  }
  const cgroup = { id, path: dir };
  applyResources(cgroup, resources);
  return cgroup;
}

/** Writes the limits in `resources` into the cgroup (used at creation and by `update`). */
export function applyResources(cgroup: ContainerCgroup, resources: LinuxResources): void {
  for (const write of cgroupWritesFor(resources)) {
    // No swap accounting in this kernel (or no swap at all configured into it): runc skips it too.
    if (write.file === 'memory.swap.max' && !fs.existsSync(path.join(cgroup.path, write.file))) continue;
    writeCgroupFile(cgroup.path, write.file, write.value, write.meaning);
  }
}

/**
 * Changes limits of a live cgroup (`minibox update`). Lowering memory.max below what the cgroup
 * uses makes the kernel reclaim at once (and OOM-kill if it cannot).
 */
export function updateContainerCgroup(cgroup: ContainerCgroup, resources: LinuxResources): void {
  const offered = new Set(availableControllers(path.dirname(cgroup.path)));
  enableControllers(path.dirname(cgroup.path), [...controllersFor(resources)].filter((name) => offered.has(name)));
  applyResources(cgroup, resources);
}

/** Moves process `pid` (all its threads) into the cgroup; its future children are born there. */
export function addProcess(cgroup: ContainerCgroup, pid: number): void {
  writeCgroupFile(cgroup.path, 'cgroup.procs', String(pid), `move process ${pid} into the cgroup of container ${cgroup.id}: its limits apply from now on`);
}

/** PIDs in the cgroup now (cgroup.procs). */
export function cgroupProcesses(cgroup: ContainerCgroup): number[] {
  return readOptional(cgroup.path, 'cgroup.procs')?.split('\n').filter(Boolean).map(Number) ?? [];
}

function readOptional(dir: string, file: string): string | undefined {
  try {
    return fs.readFileSync(path.join(dir, file), 'utf8');
  } catch {
    return undefined;
  }
}

/** `key value` lines (cpu.stat, memory.events, cgroup.events) as a map. */
export function parseKeyedFile(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined) values.set(key, Number(value));
  }
  return values;
}

/** A single-value file: a number, or undefined for "max" or a missing file. */
function readLimit(dir: string, file: string): number | undefined {
  const text = readOptional(dir, file)?.trim();
  return text === undefined || text === 'max' ? undefined : Number(text);
}

/** What the cgroup's processes use now, and their limits. */
export function readCgroupStats(cgroup: ContainerCgroup): CgroupStats {
  const cpu = parseKeyedFile(readOptional(cgroup.path, 'cpu.stat') ?? '');
  const events = parseKeyedFile(readOptional(cgroup.path, 'memory.events') ?? '');
  const stats: CgroupStats = { cpuUsageUsec: cpu.get('usage_usec') ?? 0, oomKills: events.get('oom_kill') ?? 0 };
  const memoryCurrent = readLimit(cgroup.path, 'memory.current');
  if (memoryCurrent !== undefined) stats.memoryCurrent = memoryCurrent;
  const memoryMax = readLimit(cgroup.path, 'memory.max');
  if (memoryMax !== undefined) stats.memoryMax = memoryMax;
  const pidsCurrent = readLimit(cgroup.path, 'pids.current');
  if (pidsCurrent !== undefined) stats.pidsCurrent = pidsCurrent;
  const pidsMax = readLimit(cgroup.path, 'pids.max');
  if (pidsMax !== undefined) stats.pidsMax = pidsMax;
  return stats;
}

/** True while any process is in the cgroup or below it (cgroup.events `populated`). */
export function isPopulated(cgroup: ContainerCgroup): boolean {
  const events = readOptional(cgroup.path, 'cgroup.events');
  if (events === undefined) return false;
  return parseKeyedFile(events).get('populated') === 1;
}

/** Kills every process in the cgroup: cgroup.kill when the kernel has it, else SIGKILL one by one. */
export function killCgroupProcesses(cgroup: ContainerCgroup): void {
  if (fs.existsSync(path.join(cgroup.path, 'cgroup.kill'))) {
    writeCgroupFile(cgroup.path, 'cgroup.kill', '1', 'the kernel sends SIGKILL to every process in the cgroup, including ones being forked');
    return;
  }
  for (const pid of cgroupProcesses(cgroup)) {
    try {
      process.kill(pid, 'SIGKILL');
      publishStep('cgroup.kill', { pid, meaning: `SIGKILL process ${pid} of container ${cgroup.id}` });
    } catch { /* already gone */ }
  }
}

/**
 * Removes the container's cgroup: kills what is left in it, waits until it is empty (at most
 * `timeoutMs`), and removes the directory. Does nothing if it does not exist.
 */
export async function removeContainerCgroup(cgroup: ContainerCgroup, timeoutMs = 10_000): Promise<void> {
  if (!fs.existsSync(cgroup.path)) return;
  const deadline = Date.now() + timeoutMs;
  while (isPopulated(cgroup)) {
    killCgroupProcesses(cgroup);
    if (Date.now() > deadline) {
      throw new MiniboxError(`cgroup ${cgroup.path} still has processes ${cgroupProcesses(cgroup).join(', ')} after SIGKILL; remove it later with rmdir`);
    }
    await sleep(20);
  }
  try {
    fs.rmdirSync(cgroup.path);
    publishStep('cgroup.remove', { dir: cgroup.path, meaning: `remove the cgroup of container ${cgroup.id}` });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') throw new MiniboxError(`rmdir ${cgroup.path}: ${code ?? 'error'} — the cgroup is still in use`, undefined, { cause: error });
  }
}
