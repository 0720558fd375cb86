/**
 * exec.ts — `minibox exec`: what a second process in a running container starts with.
 *
 * Docker's rules (moby daemon/exec.go), applied to the container's config.json:
 *   user         the container's user, or `-u` resolved in the *container's* /etc/passwd and
 *                /etc/group as they are now (read through /proc/<pid>/root, every symlink kept
 *                inside the container's root — resolve-in-root.ts);
 *   environment  the container's env, then `-e` (later wins); TERM=xterm with -t; with `-u`,
 *                HOME follows the user unless `-e HOME=` says otherwise;
 *   directory    `-w`, or the container's working directory;
 *   privileges   the container's capability sets, no_new_privs, seccomp filter and session
 *                keyring — an exec never has more power than the container's own process.
 * Then the runtime joins the container (runtime/exec-in-container.ts). A container that is not running
 * has no namespaces to join: Docker answers "container … is not running" and exits 1 (a VerbError).
 *
 * Try: `minibox run -d --name web busybox sleep 60 >/dev/null && minibox exec -e A=1 -w /tmp web sh
 * -c 'echo $A; pwd'` → `1 … /tmp`
 */
import fs from 'node:fs';
import { MiniboxError, UsageError, VerbError } from '../errors.js';
import type { StateRoot } from '../state-root.js';
import { runExecProcess } from '../runtime/exec-in-container.js';
import type { StdioStreams } from '../runtime/stdio-relay.js';
import type { TerminalStreams } from '../runtime/terminal-relay.js';
import { sessionKeyringName } from '../runtime/process/session-keyring.js';
import { addProcess, cgroupMode, containerCgroupPath } from '../cgroups/index.js';
import { openInRoot, openRootDir, type RootDir } from '../resolve-in-root.js';
import { O } from '../sys/openat2.js';
import { ACCOUNTS_FILE_LIMIT, readUntrustedFd } from '../untrusted-file.js';
import { ContainerStore, findContainer, type ContainerRecord } from '../container/container-store.js';
import { reconcileContainer } from '../container/reconcile.js';
import { expandEnvOption } from '../bundle/spec-from-image.js';
import { resolveUser, validateUserSpec } from '../bundle/user.js';
import { readSpec, SECCOMP_CACHE_ANNOTATION } from '../bundle/oci-bundle.js';

export interface ExecRequest {
  /** Name, id or id prefix. */
  container: string;
  command: string[];
  interactive?: boolean;
  tty?: boolean;
  detach?: boolean;
  /** `KEY=VALUE`, or `KEY` to copy it from minibox's own environment. */
  env?: string[];
  workdir?: string;
  user?: string;
  /** Copy the program's stdio to and from these (the API daemon's client) instead of minibox's own. */
  streams?: StdioStreams;
  /** With `tty`: the terminal to relay instead of minibox's own (the API daemon's client). */
  terminal?: TerminalStreams;
}

/**
 * The host PID of the container's PID 1 if it is really running, else undefined. A record can
 * lie (its engine was killed, the PID was reused): reconcile.ts asks the kernel first, matching
 * PID *and* start time, and corrects the record.
 */
export async function runningContainerPid(root: StateRoot, record: ContainerRecord): Promise<number | undefined> {
  const current = await reconcileContainer(root, record.Id);
  const pid = current?.State.Pid ?? 0;
  return current?.State.Running && pid > 0 ? pid : undefined;
}

/**
 * Reads files of the running container, as its processes see them, without leaving its root.
 * The container can write them: O_NONBLOCK (a FIFO cannot stall us), a size cap (untrusted-file.ts).
 */
export function containerFiles(pid: number): { readFile(containerPath: string): string | undefined } {
  const root = `/proc/${pid}/root`;
  return {
    readFile(containerPath) {
      // The container runs and may swap symlinks: resolved by the kernel inside its root, to an fd.
      let dir: RootDir | undefined;
      let fd: number | undefined;
      try {
        try {
          dir = openRootDir(root);
          fd = openInRoot(dir, containerPath, O.RDONLY | fs.constants.O_NONBLOCK);
        } catch {
          return undefined;
        }
        return readUntrustedFd(fd, ACCOUNTS_FILE_LIMIT, `${containerPath} of the container`);
      } finally {
        if (fd !== undefined) fs.closeSync(fd);
        if (dir !== undefined) fs.closeSync(dir.fd);
      }
    },
  };
}

function keyOf(entry: string): string {
  const equals = entry.indexOf('=');
  return equals < 0 ? entry : entry.slice(0, equals);
}

function setEnv(env: string[], entry: string): void {
  const index = env.findIndex((existing) => keyOf(existing) === keyOf(entry));
  if (index >= 0) env[index] = entry;
  else env.push(entry);
}

/** Runs `request.command` in the running container; resolves to its exit code. */
export async function execInContainer(root: StateRoot, request: ExecRequest): Promise<number> {
  if (request.command.length === 0) throw new UsageError('exec needs a command to run: minibox exec CONTAINER COMMAND [ARG...]');
  if (request.user) validateUserSpec(request.user);
  if (request.workdir !== undefined && !request.workdir.startsWith('/')) {
    throw new UsageError(`the working directory '${request.workdir}' is invalid, it needs to be an absolute path`);
  }
  const userEnv = (request.env ?? []).map((option) => expandEnvOption(option)).filter((entry): entry is string => entry !== undefined);

  const record = findContainer(root, request.container);
  const pid = await runningContainerPid(root, record);
  if (pid === undefined) throw new VerbError(`container ${record.Id} is not running`);
  if (new ContainerStore(root).get(record.Id)?.State.Paused) {
    throw new VerbError(`Container ${record.Id} is paused, unpause the container before exec`);
  }
  const spec = readSpec(new ContainerStore(root).paths(record.Id).dir);

  let user = spec.process.user;
  const env = [...(spec.process.env ?? [])];
  if (request.tty && !env.some((entry) => keyOf(entry) === 'TERM')) env.push('TERM=xterm');
  if (request.user) {
    const resolved = resolveUser(request.user, containerFiles(pid));
    user = { uid: resolved.uid, gid: resolved.gid, additionalGids: resolved.additionalGids };
    setEnv(env, `HOME=${resolved.home}`);
  }
  for (const entry of userEnv) setEnv(env, entry);

  const options = {
    containerPid: pid,
    args: request.command,
    env,
    cwd: request.workdir ?? spec.process.cwd,
    user,
    ...(spec.process.capabilities ? { capabilities: spec.process.capabilities } : {}),
    noNewPrivileges: spec.process.noNewPrivileges === true,
    ...(spec.linux?.seccomp ? { seccomp: spec.linux.seccomp } : {}),
    ...(spec.annotations?.[SECCOMP_CACHE_ANNOTATION] ? { seccompCache: spec.annotations[SECCOMP_CACHE_ANNOTATION] } : {}),
    sessionKeyring: sessionKeyringName(record.Id),
    tty: request.tty ?? false,
    interactive: request.interactive ?? false,
    detach: request.detach ?? false,
    joinCgroup: containerCgroupFor(record.Id),
    ...(request.streams ? { streams: request.streams } : {}),
    ...(request.terminal ? { terminal: request.terminal } : {}),
  };
  try {
    return await runExecProcess(options);
  } catch (error) {
    // It exited between our check and setns: /proc/<pid> vanished under us.
    if (!(error instanceof MiniboxError) && !fs.existsSync(`/proc/${pid}/ns`)) {
      throw new VerbError(`container ${record.Id} is not running`);
    }
    throw error;
  }
}

/**
 * How the exec'd process joins the container's cgroup: only minibox's own directory for this
 * container, only on a cgroup v2 host, and only when it exists (no limits, no cgroup on a
 * hybrid host) — minibox never writes anywhere else in a cgroup tree.
 */
function containerCgroupFor(id: string): ((pid: number) => void) | undefined {
  if (cgroupMode() !== 'unified') return undefined;
  const cgroup = { id, path: containerCgroupPath(id) };
  if (!fs.existsSync(cgroup.path)) return undefined;
  return (pid) => addProcess(cgroup, pid);
}
