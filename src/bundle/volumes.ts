/**
 * volumes.ts — data that lives outside a container's writable layer.
 *
 * Whatever a container writes lands in its overlay *upper* dir and disappears with `rm`. A mount
 * puts another directory at a path inside the container instead, so the data outlives it:
 *   -v /host/dir:/data[:ro]   bind mount: a host directory (created if missing, as Docker does);
 *   -v ./dir:/data            a relative host path ("." or ".." first) is resolved against the
 *                             current directory, as Docker's CLI does since 23.0
 *   -v name:/data             named volume: <root>/volumes/<name>/_data, made on first use
 *   -v /data                  anonymous volume: a named volume with a random name
 *   --tmpfs /run[:size=64m]   a fresh in-memory file system, gone when the container stops
 * The kernel side is one bind mount (MS_BIND) or tmpfs mount per entry, done by the runtime
 * inside the container's mount namespace after the overlay root is mounted.
 *
 * Try: `minibox run -v notes:/n busybox sh -c 'echo hi > /n/x' && minibox run --rm -v notes:/n
 * busybox cat /n/x` → `hi`
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { MiniboxError, NotFoundError, UsageError } from '../errors.js';
import { crashPoint } from '../crash-point.js';
import { withLock } from '../lock.js';
import type { StateRoot } from '../state-root.js';
import { ContainerStore } from '../container/container-store.js';

export type VolumeSpec =
  | { kind: 'bind'; source: string; destination: string; readOnly: boolean }
  | { kind: 'volume'; name: string; destination: string; readOnly: boolean }
  | { kind: 'anonymous'; destination: string; readOnly: false };

export interface TmpfsSpec { destination: string; options: string[] }

// Docker's rule for local volume names.
const volumeNamePattern = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

function checkDestination(spec: string, destination: string): string {
  if (!destination.startsWith('/')) {
    throw new UsageError(`invalid volume specification: '${spec}': mount path '${destination}' must be absolute`);
  }
  const normal = path.posix.normalize(destination).replace(/(.)\/$/, '$1');
  if (normal === '/') throw new UsageError(`invalid volume specification: '${spec}': destination can't be '/'`);
  return normal;
}

/** Parses one `-v` value. Every mistake is a one-line UsageError naming the spec. */
export function parseVolumeSpec(spec: string): VolumeSpec {
  const parts = spec.split(':');
  if (parts.some((part) => part === '') || parts.length > 3) {
    throw new UsageError(`invalid volume specification: '${spec}': use /host/path:/container/path[:ro|rw], name:/path[:ro|rw] or /path`);
  }
  if (parts.length === 1) return { kind: 'anonymous', destination: checkDestination(spec, parts[0]!), readOnly: false };
  const [source, target, mode = 'rw'] = parts as [string, string, string?];
  if (mode !== 'ro' && mode !== 'rw') {
    throw new UsageError(`invalid volume specification: '${spec}': invalid mode '${mode}' (use ro or rw)`);
  }
  const destination = checkDestination(spec, target);
  const readOnly = mode === 'ro';
  if (source.startsWith('/')) return { kind: 'bind', source: path.resolve(source), destination, readOnly };
  if (/^\.\.?(\/|$)/.test(source)) return { kind: 'bind', source: path.resolve(process.cwd(), source), destination, readOnly };
  if (!volumeNamePattern.test(source)) {
    throw new UsageError(`invalid volume specification: '${spec}': "${source}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use an absolute path or one starting with ./`);
  }
  return { kind: 'volume', name: source, destination, readOnly };
}

/** Parses one `--tmpfs /path[:opt,opt]`; Docker's defaults are noexec,nosuid,nodev. */
export function parseTmpfsSpec(spec: string): TmpfsSpec {
  const colon = spec.indexOf(':');
  const target = colon < 0 ? spec : spec.slice(0, colon);
  const extra = colon < 0 ? [] : spec.slice(colon + 1).split(',').filter((option) => option !== '');
  if (!target.startsWith('/')) throw new UsageError(`invalid tmpfs specification: '${spec}': mount path must be absolute`);
  const destination = path.posix.normalize(target).replace(/(.)\/$/, '$1');
  if (destination === '/') throw new UsageError(`invalid tmpfs specification: '${spec}': destination can't be '/'`);
  const options = new Set(['nosuid', 'nodev', 'noexec']);
  for (const option of extra) {
    // `exec` cancels the default `noexec` (and likewise for suid/dev); everything else is passed on.
    // (`dev` reaches config.json as Docker writes it, but the runtime keeps every writable mount
    // nodev: minibox has no device cgroup — runtime/rootfs/devices.ts.)
    if (['exec', 'suid', 'dev'].includes(option)) options.delete(`no${option}`);
    else if (!/^[a-z_]+(=[A-Za-z0-9._%-]+)?$/.test(option)) throw new UsageError(`invalid tmpfs specification: '${spec}': bad option '${option}'`);
    else options.add(option);
  }
  return { destination, options: [...options] };
}

export interface VolumeRecord {
  Name: string;
  Driver: 'local';
  Mountpoint: string;
  CreatedAt: string;
  Labels: Record<string, string>;
  Scope: 'local';
  Options: Record<string, string>;
  /** True for volumes made for `-v /path` (Docker marks them with a label). */
  Anonymous?: boolean;
}

export const VOLUMES_LOCK = 'volumes';
/** A volume being deleted: `volumes/.removing-<name>` (no valid volume name starts with '.'). */
export const REMOVING_PREFIX = '.removing-';

/** Named volumes under `<root>/volumes/<name>/`: `_data` holds the files, `volume.json` the record. */
export class VolumeStore {
  constructor(readonly root: StateRoot) {}

  /** `<root>/volumes/<name>`; a name that is not a volume name (`../x`) never becomes a path. */
  private dir(name: string): string {
    if (!volumeNamePattern.test(name)) throw new NotFoundError(`get ${name}: no such volume`);
    return path.join(this.root.volumes, name);
  }

  /**
   * The record of a volume, or undefined. A record whose Mountpoint is not `<root>/volumes/<name>/_data`
   * is refused: minibox bind-mounts that path into containers as root, and never takes it from
   * a file's word (a planted record naming `/` would hand the host's root to a container).
   */
  get(name: string): VolumeRecord | undefined {
    let record: VolumeRecord;
    try {
      record = JSON.parse(fs.readFileSync(path.join(this.dir(name), 'volume.json'), 'utf8')) as VolumeRecord;
    } catch {
      return undefined;
    }
    const expected = path.join(this.dir(name), '_data');
    if (record.Name !== name || record.Mountpoint !== expected) {
      throw new MiniboxError(`volume ${name}: its record names ${JSON.stringify(record.Mountpoint)} as its data instead of ${expected}; `
        + `refusing to use it (\`minibox volume rm ${name}\` deletes it)`);
    }
    return record;
  }

  list(): VolumeRecord[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.root.volumes);
    } catch {
      return [];
    }
    const readable = (name: string): VolumeRecord | undefined => {
      try { return this.get(name); } catch { return undefined; } // a refused record is not listed
    };
    return names.filter((name) => !name.startsWith(REMOVING_PREFIX)).map(readable).filter((v): v is VolumeRecord => v !== undefined)
      .sort((a, b) => a.Name.localeCompare(b.Name));
  }

  /** Creates a volume, or returns the existing one of that name (as `docker volume create` does). */
  async create(name?: string, anonymous = false): Promise<VolumeRecord> {
    const chosen = name ?? randomBytes(32).toString('hex');
    if (!volumeNamePattern.test(chosen)) {
      throw new UsageError(`invalid volume name "${chosen}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    }
    return await withLock(this.root.locks, VOLUMES_LOCK, async () => {
      const existing = this.get(chosen);
      if (existing) return existing;
      const dir = this.dir(chosen);
      const record: VolumeRecord = {
        Name: chosen, Driver: 'local', Mountpoint: path.join(dir, '_data'), CreatedAt: new Date().toISOString(),
        Labels: {}, Scope: 'local', Options: {}, ...(anonymous ? { Anonymous: true } : {}),
      };
      fs.mkdirSync(record.Mountpoint, { recursive: true, mode: 0o755 });
      const file = path.join(dir, 'volume.json');
      fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(record, null, 2)}\n`);
      crashPoint('volume:written');
      fs.renameSync(`${file}.tmp`, file);
      return record;
    });
  }

  /** Ids of the containers (running or not) whose record mounts this volume. */
  usedBy(name: string): string[] {
    return new ContainerStore(this.root).list()
      .filter((container) => container.Mounts.some((mount) => mount.Type === 'volume' && mount.Name === name))
      .map((container) => container.Id);
  }

  /** Deletes a volume and its data; refuses while a container record still uses it. */
  async remove(name: string, options: { ignoreContainer?: string } = {}): Promise<void> {
    await withLock(this.root.locks, VOLUMES_LOCK, async () => {
      // The file, not get(): a refused record can still be removed (everything is inside the root).
      if (!fs.existsSync(path.join(this.dir(name), 'volume.json'))) throw new NotFoundError(`get ${name}: no such volume`);
      const users = this.usedBy(name).filter((id) => id !== options.ignoreContainer);
      if (users.length > 0) throw new MiniboxError(`remove ${name}: volume is in use - [${users.join(', ')}]`);
      // Renamed out of the way first, so a crash half-way through deleting the data never leaves
      // a volume that `volume ls` lists with half its files (fsck deletes the remains).
      const doomed = path.join(this.root.volumes, `${REMOVING_PREFIX}${name}`);
      fs.rmSync(doomed, { recursive: true, force: true });
      fs.renameSync(this.dir(name), doomed);
      crashPoint('volume:removing');
      fs.rmSync(doomed, { recursive: true, force: true });
    });
  }
}
