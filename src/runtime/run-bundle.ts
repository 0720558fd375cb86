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
 *   6. forwards signals, waits, and returns the exit code Docker would: the status, or 128+n.
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
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLONE, setns, unshare } from '../sys/namespaces.js';
import { publishStep, isTracing } from '../sys/trace.js';
import { ExitCode, MiniboxError, describeError } from '../errors.js';
import { readBundle } from '../bundle/oci-bundle.js';
import { wantsMountNamespace, wantsPidNamespace } from './namespace-table.js';
import type { TerminalRelay } from './terminal-relay.js';
import { driveStart, observe, type StartFailure } from './start-protocol.js';
import type { ParentMessage } from './stages/channel.js';
import { stagePath } from './programs.js';
import type { OutputSink, OutputStream } from '../container/json-file-log.js';
import type { Readable } from 'node:stream';

export interface RunOptions {
  /** Narrate every step to stderr in plain words. */
  explain?: boolean;
  /** Write every kernel call (engine's and init stage's) to this file as JSON lines. */
  traceFile?: string;
  /**
   * 'inherit' (default): the container uses the engine's stdin/stdout/stderr.
   * 'pipe': stdin gets `input` (or nothing), stdout and stderr are collected into the result.
   * [in, out, err]: open file descriptors to hand over (e.g. log files for a detached container).
   */
  stdio?: 'inherit' | 'pipe' | [number | 'ignore', number | 'ignore', number | 'ignore'];
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
}

/**
 * Copies one output pipe of the container to one of minibox's streams, and every chunk to the
 * sink (the container's json-file log). If our stream fails (`minibox run … | head -1` closed
 * it), the pipe is closed and the program's next write fails with EPIPE, as it would have
 * failed writing there itself. Resolves at the pipe's end of file.
 */
function teeOutput(from: Readable | null, to: NodeJS.WriteStream, stream: OutputStream, sink: OutputSink): Promise<void> {
  if (!from) return Promise.resolve();
  return new Promise((resolve) => {
    const onError = (): void => { from.destroy(); resolve(); };
    to.on('error', onError);
    from.on('data', (chunk: Buffer) => {
      sink.write(stream, chunk);
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    });
    const done = (): void => { to.off('error', onError); resolve(); };
    from.once('end', done);
    from.once('close', done);
  });
}

/** What an early start needs to know before any bundle exists (a foreground `run` knows it from its flags). */
export interface EarlyStartOptions {
  /** The spec will ask for a PID namespace (minibox's own specs always do). */
  newPidNamespace: boolean;
  /** The container gets a terminal: the stage's own stdio is ignored, the pty replaces it. */
  terminal: boolean;
  stdio?: RunOptions['stdio'];
  /**
   * Without a terminal: the container's stdout and stderr become pipes the engine copies to its
   * own, and to this sink too (a foreground run's json-file log, container/json-file-log.ts).
   */
  output?: OutputSink;
}

export interface RunResult {
  exitCode: number;
  signal?: NodeJS.Signals;
  /** With stdio 'pipe' only. */
  stdout?: string;
  stderr?: string;
}

const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

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
      stage ??= startInitStageEarly({ newPidNamespace: wantsPidNamespace(spec), terminal, ...(options.stdio ? { stdio: options.stdio } : {}) });
      // isTracing() is true now if --explain/--trace subscribed: the stage forwards its events.
      const child = stage.sendBundle(path.resolve(bundleDir), isTracing());
      const copied = stage.output ? Promise.all([
        teeOutput(child.stdout, process.stdout, 'stdout', stage.output),
        teeOutput(child.stderr, process.stderr, 'stderr', stage.output),
      ]) : Promise.resolve();
      const result = await superviseContainer(child, options, stage.stdio, terminal);
      await copied; // every byte the program wrote is on our stdout and in its log
      return result;
    } finally {
      stopObserving();
    }
  } finally {
    await stage?.abort('the engine could not start the container');
  }
}

/**
 * An init stage started before its bundle exists (steps 1–3 done, the stage booting or waiting on
 * fd 3). Exactly one of `sendBundle` (runContainer does it) or `abort` ends the waiting.
 */
export class EarlyInitStage {
  private bundleSent = false;
  private readonly killOnExit = (): void => { this.child.kill('SIGKILL'); };

  constructor(
    private readonly child: ChildProcess,
    readonly newPidNamespace: boolean,
    readonly terminal: boolean,
    readonly stdio: RunOptions['stdio'],
    readonly output?: OutputSink,
  ) {
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
  }
}

/**
 * Steps 1–3 before the bundle exists: the init stage boots while the caller prepares the bundle.
 * Hand the result to `runContainer(dir, { initStage })`, or `abort()` it if that never happens.
 */
export function startInitStageEarly(options: EarlyStartOptions): EarlyInitStage {
  const mode = options.stdio ?? 'inherit';
  const output = options.terminal ? undefined : options.output;
  const child = startInitStage(options.newPidNamespace, stdioFor(mode, options.terminal, output !== undefined));
  return new EarlyInitStage(child, options.newPidNamespace, options.terminal, mode, output);
}

function stdioFor(mode: NonNullable<RunOptions['stdio']>, terminal: boolean, teed = false): StdioOptions {
  if (terminal) return ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'];
  if (teed && mode !== 'pipe') return [mode === 'inherit' ? 'inherit' : mode[0], 'pipe', 'pipe', 'pipe', 'pipe'];
  if (mode === 'inherit') return ['inherit', 'inherit', 'inherit', 'pipe', 'pipe'];
  if (mode === 'pipe') return ['pipe', 'pipe', 'pipe', 'pipe', 'pipe'];
  return [...mode, 'pipe', 'pipe'];
}

/** Steps 1–3: the init stage becomes PID 1 of a new PID namespace; the engine stays on the host. */
function startInitStage(newPidNamespace: boolean, stdio: StdioOptions): ChildProcess {
  // No bundle on the command line: it comes over fd 3 (see the header).
  const args = [stagePath('init-stage')];
  const start = (): ChildProcess => spawn(process.execPath, args, {
    stdio,
    detached: true, // its own session and process group: the engine forwards signals itself
    env: {}, // the program's environment comes from config.json, not from the engine
  });
  if (!newPidNamespace) return start();
  const ownPidNamespace = fs.openSync('/proc/self/ns/pid', 'r');
  try {
    unshare(CLONE.NEWPID);
    try {
      return start();
    } finally {
      setns(ownPidNamespace, CLONE.NEWPID, '/proc/self/ns/pid (the engine\'s own)');
    }
  } finally {
    fs.closeSync(ownPidNamespace);
  }
}

/** Steps 4–6. */
async function superviseContainer(
  child: ChildProcess, options: RunOptions, stdio: RunOptions['stdio'], terminal: boolean,
): Promise<RunResult> {
  const pid = child.pid;
  if (pid === undefined) {
    await new Promise((resolve) => child.once('error', resolve));
    throw new MiniboxError(`cannot start the init stage with ${process.execPath}`);
  }
  publishStep('spawn-init', { pid });
  options.onSpawned?.(pid);
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  if (stdio === 'pipe' && !terminal) {
    child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.stdin?.on('error', () => { /* the program may exit without reading */ });
    child.stdin?.end(options.input ?? '');
  }
  let relay: TerminalRelay | undefined;
  const forward = (signal: NodeJS.Signals): void => {
    // Our terminal went away: hang up the container's pty too (its session gets SIGHUP, reads fail).
    if (signal === 'SIGHUP') relay?.stop();
    child.kill(signal);
  };
  const forwarded = terminal ? ['SIGTERM', 'SIGHUP'] as NodeJS.Signals[] : FORWARDED_SIGNALS;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })));

  // Forward from the first moment: the program may already run (and be signalled by someone
  // watching its output) before this process has read the end of file on fd 4.
  for (const signal of forwarded) process.on(signal, forward);
  let failure: StartFailure | undefined;
  try {
    const outcome = await driveStart(child.stdio[3] as NodeJS.WritableStream, child.stdio[4] as NodeJS.ReadableStream, pid,
      options.onNamespacesReady ? { onNamespacesReady: options.onNamespacesReady } : {});
    ({ failure, relay } = outcome);
    if (!failure) {
      relay?.start();
      options.onStarted?.(pid);
    }
    const { code, signal } = await exited;
    if (relay) await relay.finished;
    if (failure) throw new MiniboxError(failure.message, failure.exitCode);
    const result: RunResult = signal
      ? { exitCode: ExitCode.SignalBase + (os.constants.signals[signal] ?? 0), signal }
      : { exitCode: code ?? ExitCode.Engine };
    if (stdio === 'pipe' && !terminal) {
      result.stdout = Buffer.concat(stdout).toString('utf8');
      result.stderr = Buffer.concat(stderr).toString('utf8');
    }
    return result;
  } finally {
    for (const signal of forwarded) process.off(signal, forward);
    relay?.stop();
    if (child.exitCode === null && child.signalCode === null && failure) child.kill('SIGKILL');
  }
}
