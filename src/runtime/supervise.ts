/**
 * supervise.ts — the engine's watch over a stage it started, from spawn to the program's exit.
 *
 * `run` and `exec` start different stages (init-stage.ts, native/minibox-exec.c) and talk to them
 * differently before the program starts (start-protocol.ts; the exec plan), but from then on the
 * engine's job is the same — what containerd's shim does for Docker:
 *   1. learn the stage's host PID (or report that it could not be started at all);
 *   2. forward minibox's signals to it, from the first moment (signal-relay.ts);
 *   3. let the caller bring the stage to "the program runs" — or report its failure (125/126/127);
 *   4. start the terminal relay (-t) — the stdio relay (stdio-relay.ts) runs from step 1 —, wait
 *      for the program to exit and its output to be copied, and return Docker's exit code: its
 *      status, or 128+n;
 *   5. on every way out: stop forwarding, restore the terminal, and kill a stage left half-started.
 * With `exec -d` the caller says "handed over" after step 3: the program runs on without us.
 *
 * Try: `minibox run -d --name web busybox sleep 60 >/dev/null && minibox exec web sh -c 'kill -TERM
 * $$'; echo $?` → `143` (and the same for `run`).
 */
import type { ChildProcess } from 'node:child_process';
import { publishStep } from '../sys/trace.js';
import { ExitCode, MiniboxError, signalExitCode } from '../errors.js';
import { relaySignals } from './signal-relay.js';
import type { TerminalRelay } from './terminal-relay.js';
import type { StartFailure } from './start-protocol.js';
import type { StdioPipes, StdioRelay } from './stdio-relay.js';
import type { JsonFileLog } from './json-file-log.js';

export interface StageStarted {
  /** The stage reported an error (or a hook failed): the program never ran. */
  failure?: StartFailure;
  /** The container's terminal, with -t. */
  relay?: TerminalRelay;
}

export interface SuperviseOptions {
  stage: 'init' | 'exec';
  /** -t: only SIGTERM and SIGHUP are forwarded (the keyboard's signals go through the pty). */
  terminal: boolean;
  /** Step 3: speaks to the stage until its program runs. */
  start: (pid: number) => Promise<StageStarted>;
  /** The stdio relay (stdio-relay.ts) or a collector, started as soon as the stage exists. */
  streams?: Pick<StdioPipes, 'start' | 'close'>;
  /** The container's json-file log, for what a terminal (-t) relays (the stdio relay gets it in `streams`). */
  terminalLog?: JsonFileLog;
  /** `exec -d`: return after step 3. */
  detach?: boolean;
  /** Step 2, on by default; off in the API daemon, whose SIGTERM is not its client's. */
  proxySignals?: boolean;
  onSpawned?: (pid: number) => void;
  onStarted?: (pid: number) => void;
}

export interface ProgramExit {
  exitCode: number;
  signal?: NodeJS.Signals;
}

/** Steps 1–5; undefined when the program was handed over (`detach`). */
export async function superviseStage(child: ChildProcess, options: SuperviseOptions): Promise<ProgramExit | undefined> {
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })));
  const pid = child.pid;
  if (pid === undefined) {
    options.streams?.close();
    const error = await new Promise<Error>((resolve) => child.once('error', resolve));
    throw new MiniboxError(`cannot start the ${options.stage} stage: ${error.message}`);
  }
  publishStep(`spawn-${options.stage}`, { pid });
  options.onSpawned?.(pid);
  let relay: TerminalRelay | undefined;
  let streams: StdioRelay | undefined;
  let handedOver = false;
  const stopSignals = options.proxySignals === false
    ? () => undefined
    : relaySignals(child, { terminal: options.terminal, onHangup: () => relay?.stop() });
  try {
    streams = options.streams?.start(); // from the start: an unread pipe would never report its end
    const started = await options.start(pid);
    relay = started.relay;
    if (started.failure) {
      await exited;
      throw new MiniboxError(started.failure.message, started.failure.exitCode);
    }
    if (options.detach) {
      handedOver = true;
      child.unref();
      for (const stream of child.stdio) stream?.destroy();
      return undefined;
    }
    relay?.start(options.terminalLog);
    options.onStarted?.(pid);
    const { code, signal } = await exited;
    await Promise.all([relay?.finished, streams?.finished]);
    return signal ? { exitCode: signalExitCode(signal), signal } : { exitCode: code ?? ExitCode.Engine };
  } finally {
    stopSignals();
    relay?.stop();
    streams?.stop();
    if (!handedOver && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
