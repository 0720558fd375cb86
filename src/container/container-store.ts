/**
 * container-store.ts — what the engine remembers about each container, on disk.
 *
 *   <root>/containers/<id>/
 *     container.json   the engine's record (Docker-shaped: Id, Name, Config, HostConfig, State…)
 *     config.json      the OCI bundle's runtime spec (what the runtime reads; see bundle/oci-bundle.ts)
 *     rootfs/          mount point for the overlay: image layers (read-only) + upper (writable)
 *     upper/ work/     overlayfs' writable layer and its scratch dir: the container's changes
 *     hostname hosts resolv.conf   files bind-mounted over the image's /etc/… (etc-files.ts)
 *     container.log    its output, Docker's json-file format (the monitor, or a foreground run)
 *     pids.json        the running monitor's and init's pid + start time (one run; see reconcile.ts)
 *     exit-status.json how the last run ended (written by the monitor when it reaps the init)
 *
 * The directory *is* an OCI bundle (config.json + rootfs), so `runc run -b <dir>` can start it too.
 * Every change to a record happens under a per-container lock (`container-<id>`), and names are
 * claimed under one engine-wide lock, so concurrent minibox processes never lose an update.
 * Removing a container deletes its upper dir: whatever it wrote outside volumes is gone.
 *
 * Try: `minibox run --name box busybox true && find $MINIBOX_ROOT/containers -name container.json |
 * xargs cat` → `"Name": "/box"`
 */
import fs from 'node:fs';
import path from 'node:path';
import { crashPoint } from '../crash-point.js';
import { withLock } from '../lock.js';
import { isBelow, type StateRoot } from '../state-root.js';
import { umount, MNT } from '../sys/mount.js';
import { MiniboxError, NoSuchContainerError, VerbError } from '../errors.js';
import { readMountInfo } from '../mountinfo.js';
import type { ContainerConfig } from '../image/oci.js';
import { OVERLAY_ANNOTATIONS, readBundle } from '../bundle/oci-bundle.js';
import type { LogConfig } from '../lifecycle/log-options.js';
import { generateContainerName, newContainerId, validateContainerName } from './container-id.js';
import { publishStep } from '../sys/trace.js';

export type ContainerStatus = 'created' | 'running' | 'exited' | 'removing';

export interface ContainerState {
  Status: ContainerStatus;
  Running: boolean;
  Pid: number;
  ExitCode: number;
  /** The kernel's OOM killer ended it (read from the cgroup by the monitor). Absent in old records. */
  OOMKilled?: boolean;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  /** Exited, and the monitor will start it again after the back-off (lifecycle/restart.ts). */
  Restarting?: boolean;
  /** Its cgroup is frozen (`pause`; cgroups/freezer.ts). */
  Paused?: boolean;
  /** The healthcheck's verdicts (lifecycle/health.ts); absent without a healthcheck. */
  Health?: HealthState;
}

/** Docker's State.Health. */
export interface HealthState {
  Status: 'starting' | 'healthy' | 'unhealthy';
  FailingStreak: number;
  Log: { Start: string; End: string; ExitCode: number; Output: string }[];
}

/** One mount as `docker inspect` lists it under "Mounts". */
export interface MountPoint {
  Type: 'bind' | 'volume' | 'tmpfs';
  /** Volume name (volume mounts only). */
  Name?: string;
  Source: string;
  Destination: string;
  RW: boolean;
  /** True for a volume minibox made for `-v /path` (removed with the container by --rm). */
  Anonymous?: boolean;
}

export interface HostConfig {
  Binds: string[];
  Tmpfs: Record<string, string>;
  AutoRemove: boolean;
  NetworkMode: string;
  ReadonlyRootfs: boolean;
  CapAdd: string[];
  CapDrop: string[];
  /** `--security-opt` values as given (Docker's shape). */
  SecurityOpt?: string[];
  Privileged?: boolean;
  /** `--init`: minibox-init is PID 1. */
  Init?: boolean;
  /** `-p`/`-P` as Docker records them: `{"8080/tcp": [{HostIp: "", HostPort: "18081"}]}` (network-options.ts). */
  PortBindings?: Record<string, { HostIp: string; HostPort: string }[]>;
  PublishAllPorts?: boolean;
  /** `--add-host` and `--dns` values. */
  ExtraHosts?: string[];
  Dns?: string[];
  /** Resource limits as Docker records them (bytes, nano-CPUs…); absent = unlimited. See resources.ts. */
  Memory?: number;
  MemorySwap?: number;
  MemoryReservation?: number;
  NanoCpus?: number;
  CpuShares?: number;
  CpusetCpus?: string;
  PidsLimit?: number;
  /** `--restart`: Docker's shape, {"Name":"on-failure","MaximumRetryCount":3}; absent = no. */
  RestartPolicy?: { Name: 'no' | 'always' | 'on-failure' | 'unless-stopped'; MaximumRetryCount: number };
  /** `--log-opt` merged over minibox's defaults (log-options.ts); absent in old records = the defaults. */
  LogConfig?: LogConfig;
}

export interface ContainerRecord {
  Id: string;
  /** Docker keeps names with a leading slash: "/web". */
  Name: string;
  Created: string;
  /** The image as the user typed it (`busybox`, `127.0.0.1:5000/app:1`). */
  Image: string;
  ImageID: string;
  Path: string;
  Args: string[];
  Config: ContainerConfig & { Hostname: string; Image: string; Tty: boolean; OpenStdin: boolean; StopTimeout?: number };
  HostConfig: HostConfig;
  Mounts: MountPoint[];
  State: ContainerState;
  /** Restarts by the restart policy since the last manual start (Docker's RestartCount). */
  RestartCount?: number;
  /** `stop`/`kill` ended it: restarting stops, and `unless-stopped` stays down at `system restore`. */
  HasBeenManuallyStopped?: boolean;
}

export interface ContainerPaths {
  dir: string;
  record: string;
  rootfs: string;
  upper: string;
  work: string;
  hostname: string;
  hosts: string;
  resolvConf: string;
  /** Docker json-file log written by the monitor. */
  log: string;
  /** pid + start time of the monitor and the init process of the current run. */
  pids: string;
  /** How the last run ended, written by the monitor (or the foreground engine). */
  exitStatus: string;
  /** The monitor's unix socket for `attach` (native/monitor-attach.c), while a detached run lives. */
  attachSocket: string;
}

export const NAMES_LOCK = 'container-names';
let writeCount = 0;
export const CREATING_PREFIX = '.creating-';

export function containerLockName(id: string): string {
  return `container-${id}`;
}

/** Docker's message for a name another container has. */
function nameConflict(name: string, holderId: string, exitCode?: number): MiniboxError {
  return new MiniboxError(`Conflict. The container name "/${name}" is already in use by container "${holderId}". You have to remove (or rename) that container to be able to reuse that name.`, exitCode);
}

export class ContainerStore {
  constructor(readonly root: StateRoot) {}

  paths(id: string): ContainerPaths {
    const dir = path.join(this.root.containers, id);
    return {
      dir,
      record: path.join(dir, 'container.json'),
      rootfs: path.join(dir, 'rootfs'),
      upper: path.join(dir, 'upper'),
      work: path.join(dir, 'work'),
      hostname: path.join(dir, 'hostname'),
      hosts: path.join(dir, 'hosts'),
      resolvConf: path.join(dir, 'resolv.conf'),
      log: path.join(dir, 'container.log'),
      pids: path.join(dir, 'pids.json'),
      exitStatus: path.join(dir, 'exit-status.json'),
      attachSocket: path.join(dir, 'attach.sock'),
    };
  }

  /** Every container with a readable record. */
  list(): ContainerRecord[] {
    let ids: string[];
    try {
      ids = fs.readdirSync(this.root.containers);
    } catch {
      return [];
    }
    return ids.filter((id) => /^[0-9a-f]{64}$/.test(id)).map((id) => this.get(id)).filter((record): record is ContainerRecord => record !== undefined);
  }

  get(id: string): ContainerRecord | undefined {
    try {
      return JSON.parse(fs.readFileSync(this.paths(id).record, 'utf8')) as ContainerRecord;
    } catch {
      return undefined; // not there, or half-created by a process that died before writing it
    }
  }

  findByName(name: string): ContainerRecord | undefined {
    const wanted = `/${name.replace(/^\//, '')}`;
    return this.list().find((record) => record.Name === wanted);
  }

  /** A full id, a unique id prefix, or a name — as Docker accepts. */
  resolve(idOrName: string): ContainerRecord | undefined {
    const exact = /^[0-9a-f]{64}$/.test(idOrName) ? this.get(idOrName) : undefined;
    if (exact) return exact;
    const byName = this.findByName(idOrName);
    if (byName) return byName;
    const matches = this.list().filter((record) => record.Id.startsWith(idOrName));
    if (matches.length > 1) throw new VerbError(`multiple containers found with id prefix ${idOrName}: be more specific`);
    return matches[0];
  }

  /**
   * Claims a name and an id and creates the container's directory with a skeleton record.
   * `fill` completes the record (it may need the id, e.g. for the hostname) before it is written.
   */
  async create(requestedName: string | undefined, fill: (id: string, name: string) => Omit<ContainerRecord, 'Id' | 'Name' | 'Created' | 'State'>): Promise<ContainerRecord> {
    const name = requestedName === undefined ? undefined : validateContainerName(requestedName);
    return await withLock(this.root.locks, NAMES_LOCK, async () => {
      const taken = new Map(this.list().map((record) => [record.Name, record.Id]));
      if (name !== undefined && taken.has(`/${name}`)) throw nameConflict(name, taken.get(`/${name}`)!);
      const chosen = name ?? generateContainerName((candidate) => taken.has(`/${candidate}`));
      const id = newContainerId();
      const record: ContainerRecord = {
        Id: id,
        Name: `/${chosen}`,
        Created: new Date().toISOString(),
        ...fill(id, chosen),
        State: { Status: 'created', Running: false, Pid: 0, ExitCode: 0, OOMKilled: false, Error: '', StartedAt: '', FinishedAt: '' },
      };
      // Built under a temporary name and renamed into place, so a `kill -9` at any moment leaves
      // either no directory or one with a record (which `rm -f` can find). Creation happens
      // only under the names lock, so a `.creating-*` dir seen while holding it is a dead one's.
      fs.mkdirSync(this.root.containers, { recursive: true });
      this.removeAbandonedCreations();
      const paths = this.paths(id);
      const building = path.join(this.root.containers, `${CREATING_PREFIX}${id}`);
      fs.mkdirSync(building, { mode: 0o710 });
      crashPoint('create:building');
      for (const dir of ['rootfs', 'upper', 'work']) fs.mkdirSync(path.join(building, dir), { mode: 0o755 });
      fs.writeFileSync(path.join(building, 'container.json'), `${JSON.stringify(record, null, 2)}\n`);
      fs.renameSync(building, paths.dir);
      crashPoint('create:created');
      return record;
    });
  }

  /** Gives a container another name, under the names lock (a concurrent create cannot take it). */
  async rename(id: string, newName: string, exitCode?: number): Promise<ContainerRecord> {
    const name = validateContainerName(newName);
    return await withLock(this.root.locks, NAMES_LOCK, async () => {
      const holder = this.findByName(name);
      if (holder) throw nameConflict(name, holder.Id, exitCode);
      return await this.update(id, (record) => { record.Name = `/${name}`; });
    });
  }

  /**
   * Runs `fn` holding the container's lock. flock(2) locks belong to an open file, so taking the
   * same lock again inside `fn` (update, remove) would wait forever: use save/removeFiles there.
   */
  async withContainerLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return await withLock(this.root.locks, containerLockName(id), fn);
  }

  /**
   * Refuses a bundle that points outside the state root. The engine writes root.path = rootfs/,
   * lower dirs under layers/ and the container's own upper/ and work/ — nothing else; a config.json
   * naming other paths was not written by minibox, and starting it would make whatever it names
   * the container's `/`, writable. (Bind sources of `-v /host:/x` are the user's choice and stay.)
   */
  checkBundlePaths(id: string): void {
    const paths = this.paths(id);
    let spec;
    try {
      ({ spec } = readBundle(paths.dir));
    } catch (error) {
      throw new MiniboxError(`container ${id}: ${(error as Error).message}`);
    }
    const annotations = spec.annotations ?? {};
    const lower = annotations[OVERLAY_ANNOTATIONS.lowerdir]?.split(':') ?? [];
    const wrong = [
      path.resolve(paths.dir, spec.root.path) === paths.rootfs ? undefined : spec.root.path,
      ...lower.filter((dir) => !isBelow(this.root.layers, dir)),
      ...[[OVERLAY_ANNOTATIONS.upperdir, paths.upper], [OVERLAY_ANNOTATIONS.workdir, paths.work]]
        .map(([key, own]) => (annotations[key!] === undefined || annotations[key!] === own ? undefined : annotations[key!])),
    ].filter((item): item is string => item !== undefined);
    if (wrong.length > 0) {
      throw new MiniboxError(`container ${id}: its config.json names ${wrong.join(', ')} outside the container's own files; `
        + 'refusing to start it (minibox did not write that bundle: remove the container)');
    }
  }

  /** Deletes `.creating-*` dirs left by a minibox killed in the middle of `create`. */
  async sweepAbandonedCreations(): Promise<void> {
    if (!fs.existsSync(this.root.containers)) return;
    if (!fs.readdirSync(this.root.containers).some((name) => name.startsWith(CREATING_PREFIX))) return;
    await withLock(this.root.locks, NAMES_LOCK, async () => this.removeAbandonedCreations());
  }

  /** The caller holds the names lock, under which every creation happens: any such dir is dead. */
  private removeAbandonedCreations(): void {
    for (const name of fs.readdirSync(this.root.containers)) {
      if (name.startsWith(CREATING_PREFIX)) fs.rmSync(path.join(this.root.containers, name), { recursive: true, force: true });
    }
  }

  /** Changes a record under the container's lock and returns the saved record. */
  async update(id: string, change: (record: ContainerRecord) => void): Promise<ContainerRecord> {
    return await withLock(this.root.locks, containerLockName(id), async () => {
      const record = this.get(id);
      if (!record) throw new NoSuchContainerError(id);
      change(record);
      this.write(record);
      return record;
    });
  }

  /** Changes only the State part of a record (the lifecycle's seam: start, exit, kill…). */
  async updateState(id: string, change: (state: ContainerState) => void): Promise<ContainerRecord> {
    return await this.update(id, (record) => change(record.State));
  }

  /**
   * Deletes the container's directory: record, bundle and upper dir; the caller holds the
   * container's lock (lifecycle/remove.ts). Mounts left under it (an overlay someone mounted on
   * rootfs/) are detached first, so `rm -r` can never walk into an image layer through a mount
   * and delete it.
   */
  removeFiles(id: string): void {
    const paths = this.paths(id);
    for (const target of mountsUnder(paths.dir).reverse()) umount(target, MNT.DETACH);
    if (mountsUnder(paths.dir).length > 0) throw new MiniboxError(`cannot remove container ${id}: something is still mounted under ${paths.dir}`);
    fs.rmSync(paths.dir, { recursive: true, force: true });
    publishStep('container.files', { dir: paths.dir });
  }

  /** Deletes the lock file of a removed container (call after releasing the lock). */
  forgetLock(id: string): void {
    fs.rmSync(path.join(this.root.locks, `${containerLockName(id)}.lock`), { force: true });
  }

  /** Writes a record; the caller holds the container's lock (withContainerLock). */
  save(record: ContainerRecord): void {
    this.write(record);
  }

  private write(record: ContainerRecord): void {
    const file = this.paths(record.Id).record;
    // A record is only written under the container's lock, which removal holds too: a directory
    // that is gone was removed by the lock's previous holder, and writing would resurrect nothing.
    if (!fs.existsSync(path.dirname(file))) throw new NoSuchContainerError(record.Id);
    const temporary = `${file}.${process.pid}.${++writeCount}.tmp`; // unique per writer, even within one process
    fs.writeFileSync(temporary, `${JSON.stringify(record, null, 2)}\n`);
    crashPoint('container:record-written');
    fs.renameSync(temporary, file); // rename is atomic: readers see the old or the new record, never half
  }
}

/** Mount points at or below `dir` in this process's mount namespace, shallowest first. */
export function mountsUnder(dir: string): string[] {
  const prefix = path.resolve(dir);
  return readMountInfo().map((entry) => entry.mountPoint)
    .filter((target) => target === prefix || target.startsWith(`${prefix}/`));
}

/**
 * The container a verb names — full id, unique id prefix or name, as Docker accepts — or Docker's
 * "No such container" (exit 1). Every verb looks containers up through here.
 */
export function findContainer(root: StateRoot, idOrName: string): ContainerRecord {
  const record = new ContainerStore(root).resolve(idOrName);
  if (!record) throw new NoSuchContainerError(idOrName);
  return record;
}

/**
 * Image id → the containers created from it, half-created ones included: what `rmi` and
 * `image prune` must keep (image/store/garbage.ts is told, it does not look here itself).
 */
export function imagesInUse(root: StateRoot): Map<string, string[]> {
  const used = new Map<string, string[]>();
  let dirs: string[];
  try {
    dirs = fs.readdirSync(root.containers);
  } catch {
    return used;
  }
  for (const dir of dirs) {
    try {
      const record = JSON.parse(fs.readFileSync(path.join(root.containers, dir, 'container.json'), 'utf8')) as Partial<ContainerRecord>;
      const image = record.ImageID ?? record.Image;
      if (image) used.set(image, [...(used.get(image) ?? []), record.Id ?? dir]);
    } catch { /* a container dir being created or removed */ }
  }
  return used;
}
