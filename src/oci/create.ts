/**
 * create.ts — `minibox-runc create`: an OCI bundle becomes a container that waits for `start`.
 *
 * The same init stage as `minibox run` (runtime/stages/init-stage.ts), started the same way
 * (runtime/run-bundle.ts: unshare(CLONE_NEWPID), spawn, setns back), speaking the same start
 * protocol (runtime/start-protocol.ts). What differs is who is around afterwards:
 *   - a `user` namespace in config.json is made first, with its uid/gid maps, and owns the PID
 *     namespace (runtime/user-namespace.ts): a runc feature `minibox run` does not use;
 *   - the container's stdio is *this* process's stdio, passed straight through: the caller
 *     (containerd's shim, podman's conmon, a shell) made it, as with runc;
 *   - at "namespaces ready" this runtime does what an engine would: rlimits and oom_score_adj
 *     (process-limits.ts), the cgroup (cgroup v2 hosts: linux.cgroupsPath, oci-cgroup.ts), then
 *     the prestart/createRuntime hooks;
 *   - with a terminal, the pty master goes to `--console-socket` (console-socket.ts) instead of
 *     being relayed here;
 *   - the stage stops before execve and waits on the exec fifo (runtime/exec-fifo.ts); at its
 *     "created" this process writes state.json and `--pid-file`, and exits. The waiting process
 *     is orphaned and re-parented to the nearest subreaper — the shim or conmon, which reap it
 *     and report its exit, exactly as they do for runc's init.
 *
 * Try: `minibox-runc create --bundle $BUNDLE c1 >/dev/null 2>&1; minibox-runc state c1` →
 * `"status": "created"` (and `ps -o pid,ppid,args -p PID` shows the stage waiting, adopted).
 */
import { type ChildProcess, type StdioOptions } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { MiniboxError, describeError } from '../errors.js';
import { readBundle, type RuntimeSpec } from '../bundle/oci-bundle.js';
import { cgroupMode, removeContainerCgroup } from '../cgroups/index.js';
import { joinCgroup } from './oci-cgroup.js';
import { pidNamespacePath, wantsMountNamespace, wantsPidNamespace } from '../runtime/namespace-table.js';
import { startInitStage } from '../runtime/run-bundle.js';
import { establishUserNamespace, planUserNamespace } from '../runtime/user-namespace.js';
import { driveStart } from '../runtime/start-protocol.js';
import type { TerminalRelay } from '../runtime/terminal-relay.js';
import { makeExecFifo } from '../runtime/exec-fifo.js';
import type { ParentMessage } from '../runtime/stages/channel.js';
import { applyProcessLimits, type SpecRlimit } from './process-limits.js';
import { assertSupported } from './spec-support.js';
import { runHooks } from '../runtime/spec-hooks.js';
import { OCI_VERSION, OciStateDir, handleOfInit, writePidFile, type SavedContainer } from './oci-state.js';
import { sendConsole } from './console-socket.js';
import { readMountInfo } from '../mountinfo.js';
import { detachHostMounts } from './lifecycle.js';

export interface CreateOptions {
  bundle: string;
  /** --systemd-cgroup: refused where minibox would create a cgroup (a cgroup v2 host). */
  systemdCgroup?: boolean;
  pidFile?: string;
  consoleSocket?: string;
  noNewKeyring?: boolean;
  /** --no-pivot: MS_MOVE + chroot instead of pivot_root (runtime/rootfs/rootfs.ts). */
  noPivot?: boolean;
  /** --preserve-fds N: this process's fds 3…3+N-1 go on to the container's program. */
  preserveFds?: number;
  /**
   * `run` in the foreground: with a user namespace the init is the launcher's child, and the
   * launcher stays to wait for it (launch-userns.c), so that `child`'s exit is the program's.
   */
  waitForExit?: boolean;
  /** `run` without --console-socket: this process relays its own terminal (runtime/terminal-relay.ts). */
  relayTerminal?: boolean;
}

/** The parts of config.json only the OCI front door reads. */
export type OciSpec = RuntimeSpec & {
  process: RuntimeSpec['process'] & { rlimits?: SpecRlimit[]; oomScoreAdj?: number };
  linux?: NonNullable<RuntimeSpec['linux']> & { cgroupsPath?: string };
};

export interface Created {
  saved: SavedContainer;
  /**
   * The init stage, a child of this process until it exits (`run` waits for it) — or, with a user
   * namespace, the launcher that forked it, which mirrors its exit when `waitForExit`.
   */
  child: ChildProcess;
  /** With a terminal and no console socket (`run`): the pty master, relayed once started. */
  relay?: TerminalRelay;
}

/** Reads and checks the bundle: runc's one-line errors, nothing created yet. */
export function loadBundle(bundleDir: string): OciSpec {
  let spec: OciSpec;
  try {
    spec = readBundle(bundleDir, { userNamespace: true }).spec as OciSpec;
  } catch (error) {
    throw new MiniboxError(describeError(error));
  }
  assertSupported(spec);
  if (!wantsMountNamespace(spec)) refuseHostMountNamespaceChanges(spec);
  const mountPath = spec.linux?.namespaces?.find((ns) => ns.type === 'mount')?.path;
  if (mountPath && sameNamespace(mountPath, '/proc/self/ns/mnt')) {
    throw new MiniboxError(`config.json joins the host's own mount namespace (${mountPath}): minibox will not pivot_root the host`);
  }
  return spec;
}

/**
 * Without a mount namespace of its own the container's mounts are made in the host's (as runc
 * does, then chroot: rootfs.ts). What would change the host's own mounts is refused: masked and
 * read-only paths (runc's words), and a rootfsPropagation (runc applies it to the host's `/`).
 */
function refuseHostMountNamespaceChanges(spec: OciSpec): void {
  if ((spec.linux?.maskedPaths ?? []).length > 0 || (spec.linux?.readonlyPaths ?? []).length > 0) {
    throw new MiniboxError('unable to restrict sys entries without a private MNT namespace');
  }
  if (spec.linux?.rootfsPropagation) {
    throw new MiniboxError('config.json linux.rootfsPropagation needs a mount namespace: it would change the propagation of the host\'s own /');
  }
}

function sameNamespace(a: string, b: string): boolean {
  try {
    return fs.readlinkSync(a) === fs.readlinkSync(b);
  } catch (error) {
    throw new MiniboxError(`config.json namespace path ${a}: ${describeError(error)}`);
  }
}

export async function createContainer(states: OciStateDir, id: string, options: CreateOptions): Promise<Created> {
  const bundle = path.resolve(options.bundle);
  const spec = loadBundle(bundle);
  const terminal = spec.process.terminal === true;
  if (terminal && !options.consoleSocket && !options.relayTerminal) throw new MiniboxError('config.json asks for a terminal: pass --console-socket SOCKET');
  if (!terminal && options.consoleSocket) throw new MiniboxError('--console-socket needs process.terminal true in config.json');
  if (options.systemdCgroup && cgroupMode() === 'unified') {
    throw new MiniboxError('--systemd-cgroup is not supported: minibox-runc manages cgroups itself (cgroupfs style); drop the flag');
  }
  const hostMounts = wantsMountNamespace(spec) ? undefined : mountsAt(rootfsPath(bundle, spec));
  states.claim(id);
  let child: ChildProcess | undefined;
  let initPid: number | undefined; // with a user namespace: the launcher's child, not `child`
  let cgroup: string | undefined;
  try {
    makeExecFifo(states.fifo(id));
    const preserved = callerFds(options.preserveFds ?? 0); // at 5… in the stage
    const stdio: StdioOptions = [...(terminal ? ['ignore', 'ignore', 'ignore'] as const : ['inherit', 'inherit', 'inherit'] as const), 'pipe', 'pipe', ...preserved];
    // config.json's `user` namespace: the launcher makes it, then the PID namespace (user-namespace.ts)
    const userns = planUserNamespace(spec, stdio, { newPidNamespace: wantsPidNamespace(spec), wait: options.waitForExit === true });
    child = startInitStage(userns ? false : wantsPidNamespace(spec), userns?.stdio ?? stdio, pidNamespacePath(spec), userns?.launcherArgs);
    if (child.pid === undefined) throw new MiniboxError('cannot start the init stage');
    const stageExited = new Promise<void>((resolve) => child!.once('exit', () => resolve())); // before any await: a launcher exits early
    let pid = child.pid;
    if (userns) {
      const established = await establishUserNamespace(child, spec, userns);
      pid = initPid = established.initPid;
      fs.chownSync(states.fifo(id), established.rootUid, established.rootGid); // the init stage opens it as the container's root
    }
    const annotations = spec.annotations ?? {};
    const hookState = { ociVersion: OCI_VERSION, id, status: 'creating' as const, pid, bundle, annotations };
    const bundleMessage: ParentMessage = { type: 'bundle', dir: bundle, trace: false, execFifo: states.fifo(id), containerId: id, hookState, ...(options.noNewKeyring ? { noNewKeyring: true } : {}),
      oci: { ...(options.noPivot ? { noPivot: true } : {}), ...(options.preserveFds ? { preserveFds: options.preserveFds } : {}) } };
    (child.stdio[3] as NodeJS.WritableStream).write(`${JSON.stringify(bundleMessage)}\n`);
    const outcome = await driveStart(child.stdio[3] as NodeJS.WritableStream, child.stdio[4] as NodeJS.ReadableStream, pid, {
      onNamespacesReady: async (initPid) => {
        applyProcessLimits(initPid, spec.process);
        cgroup = joinCgroup(id, spec.linux, initPid);
        const state = { ociVersion: OCI_VERSION, id, status: 'creating' as const, pid: initPid, bundle, annotations };
        runHooks(spec.hooks, 'prestart', state);
        runHooks(spec.hooks, 'createRuntime', state);
      },
      ...(options.consoleSocket ? { takeConsole: (ptmx: string) => sendConsole(options.consoleSocket!, ptmx, spec.process.consoleSize) } : {}),
    });
    if (outcome.failure) throw new MiniboxError(outcome.failure.message, outcome.failure.exitCode);
    if (!outcome.created) {
      await stageExited;
      throw new MiniboxError('the init stage exited before the container was created');
    }
    const saved: SavedContainer = { id, bundle, init: handleOfInit(pid), created: new Date().toISOString(), annotations,
      ...(cgroup ? { cgroup } : {}), ...(spec.hooks ? { hooks: spec.hooks } : {}),
      ...(hostMounts ? { hostMounts } : {}), ...(hostMounts || options.noPivot ? { chrooted: true } : {}),
      process: spec.process, ...(spec.linux?.seccomp ? { seccomp: spec.linux.seccomp } : {}) };
    states.save(saved);
    if (options.pidFile) writePidFile(options.pidFile, pid);
    return { saved, child, ...(outcome.relay ? { relay: outcome.relay } : {}) }; // `create` exits now; the stage outlives it
  } catch (error) {
    if (child?.pid !== undefined && child.exitCode === null) child.kill('SIGKILL');
    if (initPid !== undefined) killQuietly(initPid);
    if (cgroup) await removeContainerCgroup({ id, path: cgroup });
    if (hostMounts) {
      if (child && child.exitCode === null && child.signalCode === null) await new Promise((resolve) => child!.once('exit', resolve));
      detachHostMounts(hostMounts); // its mounts in the host's namespace (see lifecycle.ts)
    }
    states.remove(id);
    throw error;
  }
}

/**
 * `--preserve-fds N`: fds 3…3+N-1 as the caller left them. Node marks every fd it inherits
 * close-on-exec and opens its own at the lowest free numbers — its event loop's epoll first —
 * so a number the caller did not pass is closed, or one of Node's anon_inode fds: refused.
 */
function callerFds(count: number): number[] {
  const fds = Array.from({ length: count }, (_, index) => 3 + index);
  for (const fd of fds) {
    let target = '';
    try {
      target = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch { /* not open */ }
    if (target === '' || target.startsWith('anon_inode:')) {
      throw new MiniboxError(`--preserve-fds ${count}: fd ${fd} was not passed to minibox-runc (open fds 3…${2 + count} for it, or pass fewer)`);
    }
  }
  return fds;
}

/** The rootfs as the init stage mounts it (runtime/rootfs/rootfs.ts): absolute, or under the bundle. */
function rootfsPath(bundle: string, spec: OciSpec): string {
  return fs.realpathSync(path.resolve(bundle, spec.root.path));
}

/** How many mounts are stacked on `rootfs` now: `delete` detaches those the container adds (lifecycle.ts). */
function mountsAt(rootfs: string): { rootfs: string; depth: number } {
  return { rootfs, depth: readMountInfo().filter((entry) => entry.mountPoint === rootfs).length };
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch { /* already gone */ }
}
