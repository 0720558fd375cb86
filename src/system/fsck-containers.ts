/**
 * fsck-containers.ts — checking containers/ against the kernel: what a `kill -9` of a minibox
 * command in the middle of `run`, `rm` or a record write can leave.
 *
 *   containers/.creating-<id>/   a `create` that never reached its rename (no record: `ps -a`
 *                                cannot list it)
 *   containers/<id>/ no record   an `rm` cut short while deleting the directory
 *   record says running          but its init or monitor is gone (every command reconciles one
 *                                it touches; fsck does it for all)
 *   record says removing         an `rm` cut short before the directory went
 *   <file>.tmp in a container    a record write that never reached its rename
 *   a process of a container     whose record is gone or not running (found by its mounts: the
 *                                overlay's upperdir names the container's directory)
 *   /sys/fs/cgroup/minibox/<id>  of a container that is not running
 *   a mount under the state root in this mount namespace, other than `image mount` targets
 *
 * A container busy with another command (its lock held) is left alone: it is being worked on,
 * not abandoned. The kernel side needs no guessing: a process or mount is found by the state
 * root's path, so fsck never touches another state root's containers.
 *
 * Try: `MINIBOX_TEST_CRASH_AT=create:building minibox run busybox true; minibox system fsck;
 * minibox system fsck --repair >/dev/null` → `that never finished (no record`
 */
import fs from 'node:fs';
import path from 'node:path';
import { CGROUP_V2_ROOT, containerCgroupPath, removeContainerCgroup } from '../cgroups/index.js';
import { CREATING_PREFIX, ContainerStore, NAMES_LOCK, containerLockName, type ContainerRecord } from '../container/container-store.js';
import { handleOf, isRunning, signalProcess } from '../container/process-handle.js';
import { reconcileLocked } from '../container/reconcile.js';
import { readRunPids } from '../container/run-files.js';
import { removeContainerById } from '../lifecycle/remove.js';
import { ifLockFree } from '../lock.js';
import { readMountInfo } from '../mountinfo.js';
import type { StateRoot } from '../state-root.js';
import { MNT, umount } from '../sys/mount.js';
import type { Finding } from './finding.js';

const ID = /^[0-9a-f]{64}$/;

/** Running as far as the kernel is concerned: the run in flight has a live init and monitor. */
export function reallyRunning(store: ContainerStore, id: string): boolean {
  const pids = readRunPids(store.paths(id));
  return pids !== undefined && isRunning(pids.init) && isRunning(pids.monitor);
}

/** Runs `check` for a container only while no other command holds its lock. */
async function whenIdle(root: StateRoot, id: string, check: () => Finding[]): Promise<Finding[]> {
  const result = await ifLockFree(root.locks, containerLockName(id), async () => check());
  return result.busy ? [] : result.value;
}

function removeDir(store: ContainerStore, dir: string): () => Promise<void> {
  return async () => {
    for (const entry of readMountInfo().map((m) => m.mountPoint).filter((m) => m.startsWith(`${dir}/`)).reverse()) umount(entry, MNT.DETACH);
    fs.rmSync(dir, { recursive: true, force: true });
  };
}

/** Directories under containers/ that are not a container: half-created or half-deleted. */
export async function checkContainerDirs(root: StateRoot): Promise<Finding[]> {
  const store = new ContainerStore(root);
  if (!fs.existsSync(root.containers)) return [];
  const findings: Finding[] = [];
  const creating = fs.readdirSync(root.containers).filter((name) => name.startsWith(CREATING_PREFIX));
  if (creating.length > 0) {
    // Creation happens only under the names lock: while we hold it, any such directory is dead.
    const free = await ifLockFree(root.locks, NAMES_LOCK, async () => creating.map((name): Finding => {
      const dir = path.join(root.containers, name);
      return { area: 'container', subject: dir, problem: 'a `create` that never finished (no record; `ps -a` cannot list it)', repair: 'delete the directory', fix: removeDir(store, dir) };
    }));
    if (!free.busy) findings.push(...free.value);
  }
  for (const id of fs.readdirSync(root.containers).filter((name) => ID.test(name))) {
    findings.push(...await whenIdle(root, id, () => {
      const dir = store.paths(id).dir;
      if (!store.get(id)) return [{ area: 'container', subject: id, problem: 'a container directory without a record (an `rm` cut short)', repair: 'delete the directory', fix: removeDir(store, dir) }];
      return staleRecordTemps(store, id);
    }));
  }
  return findings;
}

/**
 * Temp files of record writes that never reached their rename. While the container runs, its
 * monitor may be writing exit-status.json.tmp right now: then only the temps whose writer is
 * named in them (`container.json.<pid>.<n>.tmp`) and gone are stale — a verb killed while it
 * wrote a running container's record (`rm -f`, `stop` ending a restart policy).
 */
function staleRecordTemps(store: ContainerStore, id: string): Finding[] {
  const running = reallyRunning(store, id);
  const dir = store.paths(id).dir;
  const writerGone = (name: string): boolean => {
    const pid = Number(/\.(\d+)\.\d+\.tmp$/.exec(name)?.[1] ?? 0);
    return pid > 0 && !fs.existsSync(`/proc/${pid}`);
  };
  return fs.readdirSync(dir).filter((name) => name.endsWith('.tmp') && (!running || writerGone(name))).map((name): Finding => {
    const file = path.join(dir, name);
    return { area: 'temp', subject: file, problem: 'a record write that never reached its rename', repair: 'delete it', fix: async () => fs.rmSync(file, { force: true }) };
  });
}

/** Records that say running (or removing) when the kernel says otherwise. */
export async function checkContainerStates(root: StateRoot): Promise<Finding[]> {
  const store = new ContainerStore(root);
  const findings: Finding[] = [];
  for (const record of store.list()) {
    findings.push(...await whenIdle(root, record.Id, () => {
      const name = record.Name.replace(/^\//, '');
      if (record.State.Status === 'removing') {
        return [{ area: 'container', subject: name, problem: 'an `rm` was cut short: the record says removing', repair: 'finish removing it (rm -f)', fix: async () => { await removeContainerById(root, record.Id, { force: true }); } }];
      }
      if (record.State.Running && !reallyRunning(store, record.Id)) {
        return [{
          area: 'container', subject: name, problem: 'the record says running but its process is gone',
          repair: record.HostConfig.AutoRemove ? 'record it as exited, which removes it (--rm)' : 'record it as exited (137) and release its cgroup and network',
          fix: async () => { await store.withContainerLock(record.Id, async () => reconcileLocked(store, record.Id)); },
        }];
      }
      return [];
    }));
  }
  return findings;
}

const ownMountNamespace = (): string => fs.readlinkSync('/proc/self/ns/mnt');

function readLinkOr(link: string): string {
  try {
    return fs.readlinkSync(link);
  } catch {
    return ''; // closed meanwhile
  }
}

/**
 * Container ids a process belongs to: a process in another mount namespace whose root (or
 * rootfs/, before pivot_root) is the overlay of `<root>/containers/<id>`, or a minibox-monitor
 * whose command line or open files name that directory. Never a host process that merely *sees* such a path.
 */
function containerIdsOf(pid: number, containersDir: string, hostNamespace: string): Set<string> {
  const ids = new Set<string>();
  const idIn = (text: string): string | undefined => {
    const rest = text.startsWith(`${containersDir}/`) ? text.slice(containersDir.length + 1) : '';
    const id = rest.slice(0, 64);
    return ID.test(id) && (rest.length === 64 || rest[64] === '/') ? id : undefined;
  };
  try {
    for (const arg of fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')) {
      const id = idIn(arg);
      if (id) ids.add(id);
    }
    // A monitor started early (`run -d`, runtime/early-monitor.ts) got its files after it started:
    // its command line names none of them, its open log file does.
    if (fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'minibox-monitor') {
      for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
        const id = idIn(readLinkOr(`/proc/${pid}/fd/${fd}`));
        if (id) ids.add(id);
      }
    }
    if (fs.readlinkSync(`/proc/${pid}/ns/mnt`) === hostNamespace) return ids;
    const text = fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8');
    if (!text.includes(containersDir)) return ids;
    for (const entry of readMountInfo(text)) {
      if (entry.fstype !== 'overlay') continue;
      const upper = entry.superOptions.find((option) => option.startsWith('upperdir='))?.slice('upperdir='.length);
      const id = upper ? idIn(upper) : undefined;
      if (id && (entry.mountPoint === '/' || entry.mountPoint === path.join(containersDir, id, 'rootfs'))) ids.add(id);
    }
  } catch { /* it exited meanwhile, or is a kernel thread */ }
  return ids;
}

/** Processes that belong to a container that does not exist or is not running. */
export async function checkProcesses(root: StateRoot): Promise<Finding[]> {
  const store = new ContainerStore(root);
  const byContainer = new Map<string, number[]>();
  const hostNamespace = ownMountNamespace();
  for (const entry of fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    const pid = Number(entry);
    if (pid === process.pid) continue;
    for (const id of containerIdsOf(pid, root.containers, hostNamespace)) byContainer.set(id, [...(byContainer.get(id) ?? []), pid]);
  }
  const findings: Finding[] = [];
  for (const [id, pids] of byContainer) {
    findings.push(...await whenIdle(root, id, () => {
      const record = store.get(id);
      if (record && reallyRunning(store, id)) return [];
      return pids.map((pid): Finding => {
        const handle = handleOf(pid);
        return {
          area: 'process', subject: String(pid), problem: `a process of container ${id.slice(0, 12)}, which ${record ? 'is not running' : 'no longer exists'}`,
          repair: 'kill it (SIGKILL)', fix: async () => { if (handle) signalProcess(handle, 'SIGKILL'); },
        };
      });
    }));
  }
  return findings;
}

/** Mounts under the state root in this mount namespace, other than live `image mount` targets. */
export function checkMounts(root: StateRoot, imageMountTargets: Set<string>): Finding[] {
  const prefix = `${root.dir}/`;
  return readMountInfo().map((entry) => entry.mountPoint)
    .filter((target) => target.startsWith(prefix) && !imageMountTargets.has(target))
    .reverse()
    .map((target): Finding => ({ area: 'mount', subject: target, problem: 'a mount left under the state root', repair: 'unmount it (detach)', fix: async () => umount(target, MNT.DETACH) }));
}

/** cgroups under /sys/fs/cgroup/minibox of this root's containers that are not running. */
export async function checkCgroups(root: StateRoot, records: ContainerRecord[]): Promise<Finding[]> {
  const parent = path.join(CGROUP_V2_ROOT, 'minibox');
  if (!fs.existsSync(parent)) return [];
  const store = new ContainerStore(root);
  const findings: Finding[] = [];
  for (const record of records) {
    const dir = containerCgroupPath(record.Id);
    if (!fs.existsSync(dir)) continue;
    findings.push(...await whenIdle(root, record.Id, () => reallyRunning(store, record.Id) ? [] : [{
      area: 'cgroup', subject: dir, problem: `the cgroup of container ${record.Id.slice(0, 12)}, which is not running`,
      repair: 'kill what is in it and remove it', fix: async () => removeContainerCgroup({ id: record.Id, path: dir }),
    }]));
  }
  return findings;
}
