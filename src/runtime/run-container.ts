/**
 * run-container.ts — the engine's side of starting a container from an OCI bundle.
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
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLONE, setns, unshare } from '../sys/namespaces.js';
import { publishStep, isTracing } from '../sys/trace.js';
import { ExitCode, MiniboxError, describeError } from '../errors.js';
import { readBundle } from './spec.js';
import { wantsMountNamespace, wantsPidNamespace } from './namespaces.js';
import type { TerminalRelay } from './terminal.js';
import { driveStart, observe, type StartFailure } from './start-protocol.js';

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
}

export interface RunResult {
  exitCode: number;
  signal?: NodeJS.Signals;
  /** With stdio 'pipe' only. */
  stdout?: string;
  stderr?: string;
}

const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** dist/runtime/init-stage.js — next to this file once compiled, or under dist/ when run from src/. */
export function initStagePath(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const sibling = path.join(here, 'init-stage.js');
  if (fs.existsSync(sibling)) return sibling;
  const built = path.resolve(here, '../../dist/runtime/init-stage.js');
  if (fs.existsSync(built)) return built;
  throw new MiniboxError(`the init stage ${built} is missing — run \`npm run build\` first`);
}

export async function runContainer(bundleDir: string, options: RunOptions = {}): Promise<RunResult> {
  let bundle;
  try {
    bundle = readBundle(bundleDir);
  } catch (error) {
    throw new MiniboxError(describeError(error));
  }
  const { spec } = bundle;
  if (!wantsMountNamespace(spec)) throw new MiniboxError('config.json must ask for a mount namespace: minibox will not pivot_root the host');
  const stopObserving = observe(options);
  try {
    const child = startInitStage(bundleDir, wantsPidNamespace(spec), stdioFor(options, spec.process.terminal === true));
    return await superviseContainer(child, options, spec.process.terminal === true);
  } finally {
    stopObserving();
  }
}

function stdioFor(options: RunOptions, terminal: boolean): StdioOptions {
  if (terminal) return ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'];
  const mode = options.stdio ?? 'inherit';
  if (mode === 'inherit') return ['inherit', 'inherit', 'inherit', 'pipe', 'pipe'];
  if (mode === 'pipe') return ['pipe', 'pipe', 'pipe', 'pipe', 'pipe'];
  return [...mode, 'pipe', 'pipe'];
}

/** Steps 1–3: the init stage becomes PID 1 of a new PID namespace; the engine stays on the host. */
function startInitStage(bundleDir: string, newPidNamespace: boolean, stdio: StdioOptions): ChildProcess {
  const args = [initStagePath(), path.resolve(bundleDir), ...(isTracing() ? ['--trace'] : [])];
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
async function superviseContainer(child: ChildProcess, options: RunOptions, terminal: boolean): Promise<RunResult> {
  const pid = child.pid;
  if (pid === undefined) {
    await new Promise((resolve) => child.once('error', resolve));
    throw new MiniboxError(`cannot start the init stage with ${process.execPath}`);
  }
  publishStep('spawn-init', { pid });
  options.onSpawned?.(pid);
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  if (options.stdio === 'pipe' && !terminal) {
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
    if (options.stdio === 'pipe' && !terminal) {
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
