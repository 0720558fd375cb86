/**
 * oci-state.ts — what an OCI runtime remembers about a container, and the state it reports.
 *
 * The runtime spec (runtime.md "State") defines one JSON document that `state ID` prints and
 * that every hook reads on its stdin:
 *   {"ociVersion":"1.0.2","id":"c1","status":"created","pid":4242,"bundle":"/b","annotations":{}}
 * `status` is one of creating, created, running, stopped (and runc's `paused`: its cgroup is
 * frozen, oci-cgroup.ts — containerd and podman know it). minibox-runc does not store the status
 * — a stored status would lie as soon as the process exits on its own. It stores the *facts*
 * under `--root` (default /run/minibox-runc, a tmpfs: the state dies with the machine, as the
 * processes do) and derives the status each time it is asked, as runc does:
 *   <root>/<id>/state.json   id, bundle, pid + start time (process-handle.ts), created, annotations
 *   <root>/<id>/exec.fifo    exists from `create` until `start` (exec-fifo.ts)
 *   the process alive (same pid *and* start time, not a zombie) → paused (cgroup.events says
 *   `frozen 1`) / created (fifo there) / running;
 *   otherwise → stopped.
 *
 * Try: `minibox-runc create --bundle $BUNDLE c1 >/dev/null 2>&1 && minibox-runc state c1` →
 * `"status": "created"`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { MiniboxError, ExitCode } from '../errors.js';
import type { SpecHooks } from '../runtime/spec-hooks.js';
import type { SpecProcess, SpecSeccomp } from '../bundle/oci-bundle.js';
import { handleOf, isRunning, type ProcessHandle } from '../container/process-handle.js';
import { isPausedCgroup } from './oci-cgroup.js';

export const DEFAULT_OCI_ROOT = '/run/minibox-runc';
/** The runtime-spec version minibox implements. */
export const OCI_VERSION = '1.0.2';

export type OciStatus = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

/** runtime.md "State". */
export interface OciState {
  ociVersion: string;
  id: string;
  status: OciStatus;
  pid?: number;
  bundle: string;
  annotations?: Record<string, string>;
}

/** What is kept in state.json. */
export interface SavedContainer {
  id: string;
  bundle: string;
  init: ProcessHandle;
  /** RFC 3339: when `create` finished. */
  created: string;
  annotations: Record<string, string>;
  /** Its cgroup directory (cgroup v2 hosts; linux.cgroupsPath, oci-cgroup.ts), removed on delete. */
  cgroup?: string;
  /** config.json's hooks as they were at create: a later edit of the bundle changes nothing. */
  hooks?: SpecHooks;
  /** The template of an `exec`'d process, from config.json at create (as runc keeps it). */
  process: SpecProcess;
  seccomp?: SpecSeccomp;
  /** No mount namespace of its own: the rootfs bind (and every mount under it) made in the host's, detached at delete. */
  hostMounts?: { rootfs: string; depth: number };
  /** Its root is a chroot (--no-pivot, or no mount namespace): `exec` enters the init's root (exec-stage.ts). */
  chrooted?: boolean;
}

/** runc's rule for container ids: letters, digits and `_+-.`, not "." or "..". */
const ID_PATTERN = /^[\w+\-.]+$/;

export class OciStateDir {
  constructor(readonly root: string) {}

  /** <root>/<id>, after checking that the id cannot walk out of the root. */
  dir(id: string): string {
    if (!ID_PATTERN.test(id) || id === '.' || id === '..') {
      throw new MiniboxError(`invalid container id ${JSON.stringify(id)}: use letters, digits, '_', '+', '-' and '.'`, ExitCode.VerbFailed);
    }
    return path.join(this.root, id);
  }

  fifo(id: string): string {
    return path.join(this.dir(id), 'exec.fifo');
  }

  /** Claims <root>/<id> for a new container; runc's message when it is taken. */
  claim(id: string): string {
    fs.mkdirSync(this.root, { recursive: true, mode: 0o711 });
    const dir = this.dir(id);
    try {
      fs.mkdirSync(dir, { mode: 0o711 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new MiniboxError(`container with id exists: ${id}`, ExitCode.VerbFailed);
      throw error;
    }
    return dir;
  }

  save(container: SavedContainer): void {
    const file = path.join(this.dir(container.id), 'state.json');
    fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(container)}\n`, { mode: 0o600 });
    fs.renameSync(`${file}.tmp`, file);
  }

  /** The saved facts; runc's "container does not exist" (exit 1) when there are none. */
  load(id: string): SavedContainer {
    try {
      return JSON.parse(fs.readFileSync(path.join(this.dir(id), 'state.json'), 'utf8')) as SavedContainer;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new MiniboxError('container does not exist', ExitCode.VerbFailed);
      throw new MiniboxError(`cannot read the state of ${id}: ${(error as Error).message}`, ExitCode.VerbFailed);
    }
  }

  /** Every container with a state.json, in name order. */
  list(): SavedContainer[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.root).sort();
    } catch {
      return [];
    }
    const found: SavedContainer[] = [];
    for (const name of names) {
      try {
        found.push(this.load(name));
      } catch { /* a container being created (no state.json yet) or deleted */ }
    }
    return found;
  }

  status(container: SavedContainer): OciStatus {
    if (!isRunning(container.init)) return 'stopped';
    if (isPausedCgroup(container.cgroup)) return 'paused';
    return fs.existsSync(this.fifo(container.id)) ? 'created' : 'running';
  }

  /** The runtime-spec state document; pid 0 once stopped, as runc prints it. */
  state(container: SavedContainer): OciState {
    const status = this.status(container);
    return {
      ociVersion: OCI_VERSION,
      id: container.id,
      status,
      pid: status === 'stopped' ? 0 : container.init.pid,
      bundle: container.bundle,
      annotations: container.annotations,
    };
  }

  remove(id: string): void {
    fs.rmSync(this.dir(id), { recursive: true, force: true });
  }
}

/** The handle of the init process right after `create` spawned it. */
export function handleOfInit(pid: number): ProcessHandle {
  const handle = handleOf(pid);
  if (!handle) throw new MiniboxError(`the container's process ${pid} exited during create`);
  return handle;
}

/** runc writes a pid file whole (temp file + rename): a reader never sees a partial number. */
export function writePidFile(file: string, pid: number): void {
  const target = path.resolve(file);
  fs.writeFileSync(`${target}.tmp`, String(pid));
  fs.renameSync(`${target}.tmp`, target);
}
