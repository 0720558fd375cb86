/**
 * run-bundle.ts — the engine's side of starting a container from an OCI bundle.
 *
 * Node cannot fork, and the process that calls unshare(CLONE_NEWPID) stays outside the new PID
 * namespace — only its *next child* becomes PID 1 there. So the engine:
 *   1. saves a handle on its own PID namespace (/proc/self/ns/pid),
 *   2. unshare(CLONE_NEWPID), starts the init stage (init-stage.ts), and at once
 *   3. setns() back, so anything the engine starts later lands on the host again;
 *   4. answers the init stage over fd 3/4 (channel.ts): "go" after `onNamespacesReady` (cgroups,
 *      network), the pty number when the container has a terminal;
 *   5. reads end-of-file on fd 4 (close-on-exec): the program runs;
 *   6. forwards signals, relays stdio, waits, and returns the exit code Docker would: the status,
 *      or 128+n — steps 4–6 under the supervisor that `exec` shares (supervise.ts).
 * Steps 4–5 are start-protocol.ts, shared with detached containers (monitor.ts), where the C
 * monitor takes the engine's place as the init stage's parent and the engine leaves after step 5.
 *
 * Two Node start-ups, overlapped. The init stage is a second Node process, and Node needs
 * ~50–70 ms to boot and load its modules. A foreground `minibox run` therefore starts it early
 * (`startInitStageEarly`, steps 1–3 without a bundle) as soon as its flags are parsed
 * (lifecycle/early-init-stage.ts), and only then loads the engine, finds the image and writes the
 * bundle; `runContainer(dir, { initStage })` sends the
 * bundle directory as the first message on fd 3 (channel.ts) while the stage has long been
 * waiting for it. Everything the early start needs is known from the flags: a PID namespace
 * (minibox's specs always ask for one), a terminal or not (-t), the stdio. If the engine fails
 * before the bundle exists, `abort()` sends "abort", and the stage — which has done nothing yet —
 * exits and is reaped. Without `initStage`, runContainer starts the stage itself, the same way,
 * and sends the bundle at once.
 *
 * Try: `minibox run --rm busybox ps -o pid,args` → `1 ps -o pid,args`
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CLONE, setns, unshare } from '../sys/namespaces.js';
import { publishStep, isTracing } from '../sys/trace.js';
import { ExitCode, MiniboxError, describeError } from '../errors.js';
import { readBundle, type RuntimeSpec } from '../bundle/oci-bundle.js';
import { wantsMountNamespace, wantsPidNamespace } from './namespace-table.js';
import { driveStart } from './start-protocol.js';
import { observe, type ExplainLevel } from '../explain/observe.js';
import { superviseStage } from './supervise.js';
import { openStdioPipes, type StdioPipes, type StdioRelay, type StdioStreams } from './stdio-relay.js';
import { openJsonFileLog, type LogRotation } from './json-file-log.js';
import type { ParentMessage } from './stages/channel.js';
import { stageCommand } from './programs.js';

export interface RunOptions {
  /** Narrate the start on stderr: the story (`true`, 'story') or a sentence per call ('all'). */
  explain?: boolean | ExplainLevel;
  /** Write every kernel call (engine's and init stage's) to this file as JSON lines. */
  traceFile?: string;
  /**
   * 'relay' (default): the container's stdin, stdout and stderr are pipes that the engine copies
   * from/to its own (stdio-relay.ts). 'relay-output': the same, but stdin is /dev/null (no -i).
   * 'pipe': stdin gets `input` (or nothing), stdout and stderr are collected into the result.
   * 'ignore': all three are /dev/null (a quiet build's RUN).
   */
  stdio?: 'relay' | 'relay-output' | 'pipe' | 'ignore';
  /** With stdio 'pipe': bytes written to the container's stdin, which is then closed. */
  input?: string | Buffer;
  /** Called with the init stage's host PID as soon as it exists (before the program runs). */
  onSpawned?: (pid: number) => void;
  /** Called with the init process's host PID once the container's program runs. */
  onStarted?: (pid: number) => void;
  /** Called when the init stage has its namespaces and waits: put it in cgroups, wire its network. */
  onNamespacesReady?: (pid: number) => Promise<void>;
  /** An init stage started before the bundle existed; its stdio replaces `stdio` above. */
  initStage?: EarlyInitStage;
  /** The container's json-file log: relayed output is written there too (json-file-log.ts). */
  log?: { file: string; limits: LogRotation };
}

/** What an early start needs to know before any bundle exists (a foreground `run` knows it from its flags). */
export interface EarlyStartOptions {
  /** The spec will ask for a PID namespace (minibox's own specs always do). */
  newPidNamespace: boolean;
  /** The container gets a terminal: the stage's own stdio is ignored, the pty replaces it. */
  terminal: boolean;
  stdio?: RunOptions['stdio'];
  /** With stdio 'relay'/'relay-output': copy to these instead of minibox's own (the API's build stream). */
  streams?: StdioStreams;
}

export interface RunResult {
  exitCode: number;
  signal?: NodeJS.Signals;
  /** With stdio 'pipe' only. */
  stdout?: string;
  stderr?: string;
}

export async function runContainer(bundleDir: string, options: RunOptions = {}): Promise<RunResult> {
  let stage = options.initStage;
  try {
    let bundle;
    try {
      bundle = readBundle(bundleDir);
    } catch (error) {
      throw new MiniboxError(describeError(error));
    }
    const { spec } = bundle;
    if (!wantsMountNamespace(spec)) throw new MiniboxError('config.json must ask for a mount namespace: minibox will not pivot_root the host');
    const terminal = spec.process.terminal === true;
    if (stage && (stage.newPidNamespace !== wantsPidNamespace(spec) || stage.terminal !== terminal)) {
      throw new MiniboxError('the init stage was started for another kind of container (PID namespace or terminal differ from config.json)');
    }
    const stopObserving = observe(options);
    try {
      publishSecurityChoices(spec); // --explain: the defences this config.json gives up, before it starts
      stage ??= startInitStageEarly({ newPidNamespace: wantsPidNamespace(spec), terminal, ...(options.stdio ? { stdio: options.stdio } : {}) });
      // isTracing() is true now if --explain/--trace subscribed: the stage forwards its events.
      const child = stage.sendBundle(path.resolve(bundleDir), isTracing());
      return await superviseContainer(child, options, stage.streams, terminal);
    } finally {
      stopObserving();
    }
  } finally {
    await stage?.abort('the engine could not start the container');
  }
}

/** What --explain says about a spec without a seccomp filter, masked paths or no_new_privs. */
function publishSecurityChoices(spec: RuntimeSpec): void {
  publishStep('spec.security', {
    seccomp: spec.linux?.seccomp !== undefined,
    maskedPaths: spec.linux?.maskedPaths?.length ?? 0,
    capabilities: spec.process.capabilities?.bounding?.length ?? 0,
    devices: spec.linux?.devices?.length ?? 0,
    noNewPrivileges: spec.process.noNewPrivileges === true,
  });
}

/**
 * An init stage started before its bundle exists (steps 1–3 done, the stage booting or waiting on
 * fd 3). Exactly one of `sendBundle` (runContainer does it) or `abort` ends the waiting.
 */
export class EarlyInitStage {
  private bundleSent = false;
  private readonly killOnExit = (): void => { this.child.kill('SIGKILL'); };

  readonly newPidNamespace: boolean;
  readonly terminal: boolean;

  constructor(
    private readonly child: ChildProcess,
    options: EarlyStartOptions,
    /** How the container's stdio is served: relayed pipes, collected ('pipe'), or none (-t). */
    readonly streams: StdioPipes | 'collect' | undefined,
  ) {
    this.newPidNamespace = options.newPidNamespace;
    this.terminal = options.terminal;
    // If this process ends abruptly (a signal before the container exists: lifecycle/run.ts exits at
    // once), the waiting stage would see end-of-file on fd 3 and exit anyway; killing it here
    // makes sure it never outlives us.
    process.once('exit', this.killOnExit);
  }

  /** Its host PID (undefined if Node could not start it: runContainer reports that). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The first message on fd 3: from here on, the start protocol owns the child. */
  sendBundle(dir: string, trace: boolean): ChildProcess {
    if (this.bundleSent) throw new MiniboxError('the init stage already has its bundle');
    this.bundleSent = true;
    process.off('exit', this.killOnExit);
    const toChild = this.child.stdio[3] as NodeJS.WritableStream | null;
    toChild?.on('error', () => undefined); // a stage that died says so by its exit status
    toChild?.write(`${JSON.stringify({ type: 'bundle', dir, trace } satisfies ParentMessage)}\n`);
    return this.child;
  }

  /** The engine failed before the bundle existed: the stage exits untouched, and is reaped. No-op after sendBundle. */
  async abort(message: string): Promise<void> {
    if (this.bundleSent) return;
    this.bundleSent = true;
    process.off('exit', this.killOnExit);
    const child = this.child;
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      const toChild = child.stdio[3] as NodeJS.WritableStream | null;
      toChild?.on('error', () => undefined);
      // "abort", then end-of-file: either one makes the waiting stage exit (failStage, 125).
      toChild?.end(`${JSON.stringify({ type: 'abort', message } satisfies ParentMessage)}\n`);
      await exited; // 'exit' comes after Node's waitpid(): the stage is reaped, no zombie left
    }
    for (const stream of child.stdio) stream?.destroy();
    if (this.streams !== 'collect') this.streams?.close();
  }
}

/**
 * Steps 1–3 before the bundle exists: the init stage boots while the caller prepares the bundle.
 * Hand the result to `runContainer(dir, { initStage })`, or `abort()` it if that never happens.
 */
export function startInitStageEarly(options: EarlyStartOptions): EarlyInitStage {
  const mode = options.stdio ?? 'relay';
  if (options.terminal || mode === 'ignore') return new EarlyInitStage(startInitStage(options.newPidNamespace, NO_STDIO), options, undefined);
  if (mode === 'pipe') return new EarlyInitStage(startInitStage(options.newPidNamespace, COLLECTED_STDIO), options, 'collect');
  // Pipes, never minibox's own fds: the container must not hold a host file (stdio-relay.ts).
  const pipes = openStdioPipes({ stdin: mode === 'relay', ...(options.streams ? { streams: options.streams } : {}) });
  try {
    return new EarlyInitStage(startInitStage(options.newPidNamespace, [...pipes.stdio, 'pipe', 'pipe']), options, pipes);
  } catch (error) {
    pipes.close();
    throw error;
  }
}

/** With -t the pty replaces all three (the terminal relay); with 'pipe' Node's own pipes are read into the result. */
const NO_STDIO: StdioOptions = ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'];
const COLLECTED_STDIO: StdioOptions = ['pipe', 'pipe', 'pipe', 'pipe', 'pipe'];

/**
 * Steps 1–3: the init stage becomes PID 1 of a new PID namespace; the engine stays on the host.
 * Also the start of an OCI `create` (src/oci/create.ts), which passes its own stdio through and,
 * for a container with a user namespace, minibox-launch's options for it (user-namespace.ts):
 * then the launcher makes the PID namespace itself, from inside the user namespace.
 */
export function startInitStage(newPidNamespace: boolean, stdio: StdioOptions, joinPidNamespace?: string, launcherArgs: string[] = []): ChildProcess {
  // No bundle on the command line: it comes over fd 3 (see the header).
  const [launcher, args] = stageCommand('init-stage', [], launcherArgs);
  const start = (): ChildProcess => spawn(launcher, args, {
    stdio,
    detached: true, // its own session and process group: the engine forwards signals itself
    env: {}, // the program's environment comes from config.json, not from the engine
  });
  if (!newPidNamespace && !joinPidNamespace) return start();
  const ownPidNamespace = fs.openSync('/proc/self/ns/pid', 'r');
  try {
    if (joinPidNamespace) joinPidNamespaceAt(joinPidNamespace); // OCI: namespaces[].path
    else unshare(CLONE.NEWPID);
    try {
      return start();
    } finally {
      setns(ownPidNamespace, CLONE.NEWPID, '/proc/self/ns/pid (the engine\'s own)');
    }
  } finally {
    fs.closeSync(ownPidNamespace);
  }
}

/** setns(CLONE_NEWPID) into an existing PID namespace: like unshare, it places our *next child* there. */
function joinPidNamespaceAt(file: string): void {
  const fd = fs.openSync(file, 'r');
  try {
    setns(fd, CLONE.NEWPID, file);
  } finally {
    fs.closeSync(fd);
  }
}

/** Steps 4–6: the start protocol, then the one supervisor (supervise.ts). */
async function superviseContainer(
  child: ChildProcess, options: RunOptions, streams: EarlyInitStage['streams'], terminal: boolean,
): Promise<RunResult> {
  let collected: CollectedOutput | undefined;
  const relay = streams === 'collect' || streams === undefined ? undefined : streams;
  // The output goes to the container's log too, as Docker's json-file driver writes it (-t or not).
  const log = options.log && streams !== 'collect' ? openJsonFileLog(options.log.file, options.log.limits) : undefined;
  const source = streams === 'collect' ? { start: () => (collected = collectOutput(child, options.input)), close: () => undefined }
    : relay && { start: () => relay.start(log), close: () => relay.close() };
  let exit;
  try {
    exit = await superviseStage(child, {
      stage: 'init',
      terminal,
      ...(log && terminal ? { terminalLog: log } : {}),
      start: async (pid) => await driveStart(child.stdio[3] as NodeJS.WritableStream, child.stdio[4] as NodeJS.ReadableStream, pid, {
        ...(options.onNamespacesReady ? { onNamespacesReady: options.onNamespacesReady } : {}),
      }),
      ...(source ? { streams: source } : {}),
      ...(options.onSpawned ? { onSpawned: options.onSpawned } : {}),
      ...(options.onStarted ? { onStarted: options.onStarted } : {}),
    });
  } finally {
    log?.close(); // the last line without a newline, too
  }
  const result: RunResult = { ...exit! };
  if (collected) Object.assign(result, collected.output());
  return result;
}

interface CollectedOutput extends StdioRelay {
  output(): { stdout: string; stderr: string };
}

/** stdio 'pipe' (tests, tools): stdin gets `input`, stdout and stderr are kept for the result. */
function collectOutput(child: ChildProcess, input: string | Buffer | undefined): CollectedOutput {
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
  child.stdin?.on('error', () => { /* the program may exit without reading */ });
  child.stdin?.end(input ?? '');
  return {
    finished: Promise.resolve(),
    stop: () => undefined,
    output: () => ({ stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8') }),
  };
}
