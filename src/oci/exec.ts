/**
 * exec.ts — `minibox-runc exec`: one more process in a running container, for engines
 * (`podman exec`, `ctr task exec`, a Kubernetes probe).
 *
 * minibox's own `exec` (lifecycle/exec.ts) and this one share the runtime part
 * (runtime/exec-in-container.ts: setns into the container's PID namespace, the exec stage joins
 * the rest, the container's user, capabilities and seccomp filter). What differs is the request:
 *   --process FILE   a runtime-spec `process` object (args, env, cwd, user, terminal…) — what
 *                    conmon and containerd's shim write; or
 *   ARGS…            the command line, with the container's config.json process as the template
 *                    (its env, cwd, user, capabilities), as runc does;
 * and the stdio: the caller's own fds go to the process (or, with a terminal, a new pty in the
 * container whose master is sent to --console-socket). With --detach this returns once the
 * program runs, after writing --pid-file; otherwise it waits and exits with the program's status.
 *
 * Try: `minibox-runc run -d --bundle $BUNDLE c1 >/dev/null 2>&1; minibox-runc exec c1 ps` →
 * `1 0        sleep 1000` (the container's processes, PID 1 first).
 */
import fs from 'node:fs';
import { ExitCode, MiniboxError } from '../errors.js';
import { runExecProcess } from '../runtime/exec-in-container.js';
import { sessionKeyringName } from '../runtime/process/session-keyring.js';
import type { SpecProcess } from '../bundle/oci-bundle.js';
import { sendConsole } from './console-socket.js';
import { writePidFile, type OciStateDir } from './oci-state.js';
import { addProcess } from '../cgroups/index.js';

export interface ExecOptions {
  processFile?: string;
  args: string[];
  detach: boolean;
  pidFile?: string;
  tty: boolean;
  consoleSocket?: string;
  env: string[];
  cwd?: string;
}

/** The process to run: --process FILE, or ARGS over the container's own process. */
function processOf(template: SpecProcess, options: ExecOptions): SpecProcess {
  if (options.processFile) {
    try {
      return JSON.parse(fs.readFileSync(options.processFile, 'utf8')) as SpecProcess;
    } catch (error) {
      throw new MiniboxError(`cannot read --process ${options.processFile}: ${(error as Error).message}`, ExitCode.VerbFailed);
    }
  }
  if (options.args.length === 0) throw new MiniboxError('exec needs --process FILE or a command to run', ExitCode.VerbFailed);
  return {
    ...template, args: options.args, terminal: options.tty,
    env: [...(template.env ?? []), ...options.env], cwd: options.cwd ?? template.cwd,
  };
}

export async function execInContainer(states: OciStateDir, id: string, options: ExecOptions): Promise<number> {
  const saved = states.load(id);
  const status = states.status(saved);
  if (status !== 'running') throw new MiniboxError(`cannot exec in a ${status === 'paused' ? 'paused' : 'stopped'} container`, ExitCode.VerbFailed);
  const process = processOf(saved.process, options);
  if (!process.args?.length) throw new MiniboxError('the exec process has no args', ExitCode.VerbFailed);
  const pid = saved.init.pid;
  let ptyNumber: number | undefined;
  if (process.terminal) {
    if (!options.consoleSocket) throw new MiniboxError('exec with a terminal needs --console-socket SOCKET', ExitCode.VerbFailed);
    ptyNumber = sendConsole(options.consoleSocket, `/proc/${pid}/root/dev/pts/ptmx`, process.consoleSize);
  }
  return await runExecProcess({
    containerPid: pid,
    args: process.args,
    env: process.env ?? [],
    cwd: process.cwd ?? '/',
    user: process.user ?? { uid: 0, gid: 0 },
    ...(process.capabilities ? { capabilities: process.capabilities } : {}),
    noNewPrivileges: process.noNewPrivileges === true,
    ...(saved.seccomp ? { seccomp: saved.seccomp } : {}),
    sessionKeyring: sessionKeyringName(id),
    ...(saved.chrooted ? { chrootToInitRoot: true } : {}),
    tty: process.terminal === true,
    interactive: true,
    detach: options.detach,
    passStdio: true,
    ...(ptyNumber !== undefined ? { ptyNumber } : {}),
    joinCgroup: saved.cgroup ? (stagePid) => addProcess({ id, path: saved.cgroup! }, stagePid) : undefined,
    ...(options.pidFile ? { onSpawned: (stagePid: number) => writePidFile(options.pidFile!, stagePid) } : {}),
  });
}
