/**
 * lifecycle.ts — the runtime spec's operations after `create` (runtime.md "Operations"):
 * start, kill, delete, and `run` (create + start + wait + delete, runc's shortcut).
 *
 *   start ID          created → running: release the exec fifo (runtime/exec-fifo.ts), then the
 *                     poststart hooks. Anything but `created` is refused (exit 1).
 *   kill ID [SIG]     kill(2) to the init — allowed while created or running; `--all` signals
 *                     every process of the container (its cgroup, or its PID namespace).
 *   delete ID         stopped (or created: the waiting init is killed) → gone: the cgroup is
 *                     removed, the poststop hooks run, the state directory goes. A running
 *                     container is refused unless `--force` (SIGKILL first).
 * Every refusal is one line and exit 1, in runc's words, so engines that parse them (containerd
 * matches "does not exist") behave as with runc.
 *
 * Try: `minibox-runc run -d --bundle $BUNDLE c1 >/dev/null 2>&1; minibox-runc delete c1` →
 * `cannot delete container c1 that is not stopped: running`.
 */
import fs from 'node:fs';
import os from 'node:os';
import { ExitCode, MiniboxError } from '../errors.js';
import { isRunning, signalProcess } from '../container/process-handle.js';
import { removeContainerCgroup } from '../cgroups/index.js';
import { releaseExecFifo } from '../runtime/exec-fifo.js';
import { readMountInfo } from '../mountinfo.js';
import { umount, MNT } from '../sys/mount.js';
import { SysError } from '../sys/errno.js';
import { runHooksWarning } from '../runtime/spec-hooks.js';
import type { OciStateDir, SavedContainer } from './oci-state.js';

function refuse(message: string): never {
  throw new MiniboxError(message, ExitCode.VerbFailed);
}

export async function startContainer(states: OciStateDir, id: string): Promise<void> {
  const saved = states.load(id);
  const status = states.status(saved);
  if (status === 'stopped') refuse('cannot start a container that has stopped');
  if (status === 'running') refuse('cannot start an already running container');
  if (status === 'paused') refuse('cannot start a container in the paused state');
  try {
    await releaseExecFifo(states.fifo(id), () => isRunning(saved.init));
  } catch (error) {
    refuse((error as Error).message);
  }
  runHooksWarning(saved.hooks, 'poststart', { ...states.state(saved), status: 'running' });
}

/** `9`, `KILL`, `SIGKILL` → 9; runc's message for anything else. */
export function parseSignal(text: string): number {
  if (/^\d+$/.test(text)) {
    const number = Number(text);
    if (number >= 1 && number <= 64) return number;
  }
  const name = text.toUpperCase().startsWith('SIG') ? text.toUpperCase() : `SIG${text.toUpperCase()}`;
  const number = (os.constants.signals as Record<string, number>)[name];
  if (number === undefined) throw new MiniboxError(`unknown signal "${text}"`, ExitCode.VerbFailed);
  return number;
}

export function killContainer(states: OciStateDir, id: string, signal: number, all: boolean): void {
  const saved = states.load(id);
  if (states.status(saved) === 'stopped') refuse('container not running');
  const targets = all ? processesOf(saved) : [saved.init.pid];
  if (!all) {
    if (!signalProcess(saved.init, signal)) refuse('container not running');
    return;
  }
  for (const pid of targets) {
    try {
      process.kill(pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }
}

/** Every pid of the container: its cgroup's, or (no cgroup here) those sharing the init's PID namespace. */
export function processesOf(saved: SavedContainer): number[] {
  if (saved.cgroup) {
    try {
      return fs.readFileSync(`${saved.cgroup}/cgroup.procs`, 'utf8').split('\n').filter(Boolean).map(Number);
    } catch { /* removed already */ }
  }
  let namespace: string;
  try {
    namespace = fs.readlinkSync(`/proc/${saved.init.pid}/ns/pid`);
  } catch {
    return [];
  }
  if (namespace === fs.readlinkSync('/proc/self/ns/pid')) return [saved.init.pid]; // no PID namespace of its own
  return fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number).filter((pid) => {
    try {
      return fs.readlinkSync(`/proc/${pid}/ns/pid`) === namespace;
    } catch {
      return false;
    }
  });
}

export async function deleteContainer(states: OciStateDir, id: string, force: boolean): Promise<void> {
  let saved: SavedContainer;
  try {
    saved = states.load(id);
  } catch (error) {
    if (force) { // runc: --force on a missing container succeeds, removing what is left
      states.remove(id);
      return;
    }
    throw error;
  }
  const status = states.status(saved);
  if ((status === 'running' || status === 'paused') && !force) refuse(`cannot delete container ${id} that is not stopped: ${status}`);
  if (status !== 'stopped') {
    signalProcess(saved.init, 'SIGKILL'); // the PID namespace's init: the kernel kills the rest with it
    for (const pid of saved.cgroup ? processesOf(saved) : []) killQuietly(pid);
    await waitUntil(() => !isRunning(saved.init), 10_000, `container ${id}'s process ${saved.init.pid} did not die after SIGKILL`);
  }
  if (saved.cgroup) await removeContainerCgroup({ id, path: saved.cgroup });
  if (saved.hostMounts) detachHostMounts(saved.hostMounts);
  runHooksWarning(saved.hooks, 'poststop', { ...states.state(saved), status: 'stopped' });
  states.remove(id);
}

/**
 * A container without a mount namespace of its own left its rootfs bind and the mounts under it
 * (proc, /dev…) in the host's namespace; a lazy unmount of the bind takes the whole tree — where
 * runc leaves them behind. Only the mounts stacked on the rootfs since `create` counted them: an
 * engine's own mount there (podman's overlay) stays.
 */
export function detachHostMounts({ rootfs, depth }: { rootfs: string; depth: number }): void {
  while (readMountInfo().filter((entry) => entry.mountPoint === rootfs).length > depth) {
    try {
      umount(rootfs, MNT.DETACH);
    } catch (error) {
      if (error instanceof SysError && (error.code === 'EINVAL' || error.code === 'ENOENT')) return;
      throw error;
    }
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch { /* gone already */ }
}

/** Polls a condition until it holds or the deadline passes (a condition wait, not a sleep). */
async function waitUntil(condition: () => boolean, timeoutMs: number, failure: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new MiniboxError(failure, ExitCode.VerbFailed);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
