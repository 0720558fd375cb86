/**
 * exec-in-container.ts — the engine's side of running one more process in a running container.
 *
 * The container's PID 1 holds everything a process needs to be "in" the container; the host
 * sees it all under /proc/<pid>/: ns/* (its namespaces), root (its `/`), cgroup (its cgroups).
 * The engine:
 *   1. opens the container's PID namespace and setns(CLONE_NEWPID) — which, like unshare, only
 *      places the caller's *next children* there — starts the exec stage (native/minibox-exec.c,
 *      a small C program: Node would take ~50 ms to boot), and returns to its own PID namespace
 *      (a container with a user namespace: the stage's launcher joins that first,
 *      native/launch-userns.c, so the program is the container's root, not the host's);
 *   2. moves the stage into the container's cgroup (the engine says which: minibox's own, v2 only),
 *      so limits count the new process too — before it can run any of the user's code;
 *   3. sends the plan (namespaces to join, user, capabilities, the compiled seccomp filter, env,
 *      cwd, pty: exec-plan.ts) on fd 3;
 *   4. reads end-of-file on fd 4 (close-on-exec): the program runs — or an error with 126/127;
 *   5. relays the terminal or the stdio pipes, forwards signals, and returns the exit status
 *      (128+n for signal n) — steps 1 and 5 under the supervisor `run` shares (supervise.ts).
 * With `-d` it stops after step 4: the process lives on. When the engine exits, the kernel
 * gives the orphan to the init (or nearest subreaper) of the *engine's* PID namespace — the
 * host's — so inside the container its parent shows as PID 0, someone outside the namespace.
 * Docker's exec'd processes look the same: their parent is the shim, on the host. They still
 * die with the container: when its PID 1 exits, the kernel kills every process of the namespace.
 *
 * Try: `minibox run -d --name web busybox sleep 60 >/dev/null && minibox exec -d web sleep 50 &&
 * minibox exec web ps -o pid,ppid,args` → `0 sleep 50` (PPID 0: its parent is outside the PID
 * namespace).
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import fs from 'node:fs';
import { setns } from '../sys/namespaces.js';
import { isTracing, publish } from '../sys/trace.js';
import { MiniboxError, describeError } from '../errors.js';
import { JOIN_ORDER, cloneFlag, namespaceFile, type JoinedNamespace } from './namespace-table.js';
import { superviseStage, type StageStarted } from './supervise.js';
import { openStdioPipes, type StdioStreams } from './stdio-relay.js';
import type { StartFailure } from './start-protocol.js';
import { messageSplitter, type ChildMessage } from './stages/channel.js';
import { openTerminal, type TerminalRelay, type TerminalStreams } from './terminal-relay.js';
import { execStageCommand } from './programs.js';
import { encodeExecPlan, type ExecProgram, type ExecStageConfig } from './exec-plan.js';

export interface ExecProcessOptions extends ExecProgram {
  /** Allocate a pty in the container's devpts and relay this terminal to it. */
  tty: boolean;
  /** Pass our stdin on (without it the process reads /dev/null). */
  interactive: boolean;
  /** Return as soon as the program runs; it keeps running without us. */
  detach: boolean;
  /** Where stdin/stdout/stderr are copied from and to: minibox's own, unless given (the API daemon). */
  streams?: StdioStreams;
  /** With `tty`: the terminal to relay instead of minibox's own (the API daemon's client). */
  terminal?: TerminalStreams;
  /** Moves the stage into the container's cgroup (the engine knows where that is), if it has one. */
  joinCgroup?: ((pid: number) => void) | undefined;
  /**
   * OCI `exec` (src/oci/exec.ts): the process gets the caller's own stdio (it made them for this
   * process: conmon's or the shim's pipes) — or, with `ptyNumber`, a pty the caller already
   * opened in the container's devpts and handed over — instead of relayed pipes.
   */
  passStdio?: boolean;
  ptyNumber?: number;
  /** OCI: the container's root is a chroot of its init's (ExecStageConfig). */
  chrootToInitRoot?: boolean;
  /** Called with the stage's host pid — the program's, once it execs (`--pid-file`). */
  onSpawned?: (pid: number) => void;
}

/** Namespaces of `pid` that differ from ours: those are the ones to join. */
function namespacesToJoin(pid: number): JoinedNamespace[] {
  return JOIN_ORDER.filter((type) => {
    const theirs = fs.readlinkSync(namespaceFile(pid, type));
    let ours: string | undefined;
    try {
      ours = fs.readlinkSync(namespaceFile('self', type));
    } catch { /* this kernel lacks it for us: join theirs */ }
    return theirs !== ours;
  });
}

/** Step 1: the stage starts as a child in the container's PID namespace. */
function startExecStage(containerPid: number, stdio: StdioOptions): ChildProcess {
  const theirs = fs.openSync(namespaceFile(containerPid, 'pid'), 'r');
  const ours = fs.openSync(namespaceFile('self', 'pid'), 'r');
  const userns = otherUserNamespace(containerPid);
  try {
    setns(theirs, cloneFlag('pid'), namespaceFile(containerPid, 'pid'));
    try {
      // A container with a user namespace: minibox-launch joins it, as the next fd (launch-userns.c).
      const passed = userns !== undefined && Array.isArray(stdio) ? [...stdio, userns] : stdio;
      const [launcher, args] = execStageCommand(passed !== stdio ? ['--userns-fd', String((passed as unknown[]).length - 1)] : []);
      return spawn(launcher, args, {
        stdio: passed,
        detached: true, // its own session: the pty becomes its controlling terminal; signals are ours to forward
        env: {}, // the program's environment comes from the plan
      });
    } finally {
      setns(ours, cloneFlag('pid'), '/proc/self/ns/pid (the engine\'s own)');
    }
  } finally {
    fs.closeSync(theirs);
    fs.closeSync(ours);
    if (userns !== undefined) fs.closeSync(userns);
  }
}

/** An fd on the container's user namespace when it is not ours (minibox-runc's uidMappings). */
function otherUserNamespace(pid: number): number | undefined {
  return fs.readlinkSync(namespaceFile(pid, 'user')) === fs.readlinkSync(namespaceFile('self', 'user'))
    ? undefined : fs.openSync(namespaceFile(pid, 'user'), 'r');
}

/** Runs the program in the container; resolves to its exit code (0 at once with `detach`). */
export async function runExecProcess(options: ExecProcessOptions): Promise<number> {
  const pid = options.containerPid;
  const rootStats = fs.statSync(`/proc/${pid}/root`);
  const config: ExecStageConfig = {
    containerPid: pid,
    namespaces: namespacesToJoin(pid),
    rootIdentity: { dev: rootStats.dev, ino: rootStats.ino },
    ...(options.chrootToInitRoot ? { chrootToInitRoot: true } : {}),
    args: options.args,
    env: options.env,
    cwd: options.cwd,
    user: options.user,
    ...(options.capabilities ? { capabilities: options.capabilities } : {}),
    noNewPrivileges: options.noNewPrivileges,
    ...(options.seccomp ? { seccomp: options.seccomp } : {}),
    ...(options.seccompCache ? { seccompCache: options.seccompCache } : {}),
    sessionKeyring: options.sessionKeyring,
    trace: isTracing(),
  };

  let relay: TerminalRelay | undefined;
  if (options.ptyNumber !== undefined) {
    config.ptyNumber = options.ptyNumber;
  } else if (options.tty && !options.detach) {
    relay = openTerminal(pid, '/dev/pts/ptmx', options.terminal);
    config.ptyNumber = relay.number;
  }
  // Pipes (relayed by stdio-relay.ts), never the engine's own fds: nothing the container holds
  // may name a host file or terminal.
  const passed = options.passStdio && config.ptyNumber === undefined;
  const pipes = relay || options.detach || options.passStdio
    ? undefined
    : openStdioPipes({ stdin: options.interactive, ...(options.streams ? { streams: options.streams } : {}) });
  const stdio: StdioOptions = pipes ? [...pipes.stdio, 'pipe', 'pipe']
    : passed ? ['inherit', 'inherit', 'inherit', 'pipe', 'pipe'] : ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'];
  let child: ChildProcess;
  let plan: Buffer;
  try {
    // The plan before the stage: compiling the seccomp filter can fail (a bad profile), and the
    // C stage boots in a millisecond: there is no start-up for this work to hide behind.
    plan = encodeExecPlan(config);
    child = startExecStage(pid, stdio);
  } catch (error) {
    relay?.stop();
    pipes?.close();
    throw error;
  }
  const exit = await superviseStage(child, {
    stage: 'exec',
    terminal: relay !== undefined,
    detach: options.detach,
    proxySignals: options.streams === undefined && options.terminal === undefined, // a daemon's signals are its own
    start: async (stagePid) => await sendPlan(child, stagePid, plan, options.joinCgroup, relay),
    ...(pipes ? { streams: pipes } : {}),
    ...(options.onSpawned ? { onSpawned: options.onSpawned } : {}),
  });
  return exit?.exitCode ?? 0;
}

/** Steps 2–4: the cgroup, the plan, then end of file on fd 4 (the program runs) or an error. */
async function sendPlan(
  child: ChildProcess, pid: number, plan: Buffer, joinCgroup: ((pid: number) => void) | undefined,
  relay: TerminalRelay | undefined,
): Promise<StageStarted> {
  const toChild = child.stdio[3] as NodeJS.WritableStream;
  const fromChild = child.stdio[4] as NodeJS.ReadableStream;
  let failure: StartFailure | undefined;
  // Step 2. Before the stage reads its plan: it runs none of the user's code until then.
  try {
    joinCgroup?.(pid);
  } catch (error) {
    throw new MiniboxError(`cannot join the container's cgroup: ${describeError(error)}`);
  }
  fromChild.on('data', messageSplitter((message: ChildMessage) => {
    if (message.type === 'event') publish({ ...message.event, pid });
    if (message.type === 'error') failure = { message: message.message, exitCode: message.exitCode };
  }));
  const started = new Promise<void>((resolve) => fromChild.on('end', () => resolve()));
  (toChild as NodeJS.WritableStream & { on(event: 'error', cb: () => void): void }).on('error', () => { /* the stage died: reported below */ });
  toChild.end(plan);
  await started; // step 4
  return { ...(failure ? { failure } : {}), ...(relay ? { relay } : {}) };
}
