/**
 * errors.ts — how minibox fails, and with which exit code. The one place exit codes are decided.
 *
 * Docker users read exit codes, and Docker's CLI has two families:
 *   `run` (creating and starting a container): 125 means the engine itself failed (bad flag,
 *     unknown image, mount failure), 126 the command exists but cannot be executed, 127 the
 *     command was not found, 128+n the container's process was killed by signal n; anything
 *     else is the container's own exit status.
 *   the lifecycle verbs on an existing container (start, stop, kill, rm, exec, logs, top, diff,
 *     port, wait, update…): 1 when the verb cannot do what was asked — no such container, not
 *     running, running and not forced. Bad flags are still 125.
 * A `MiniboxError` carries the code and a one-line message that says what went wrong and what
 * to do about it; the CLI prints `minibox: <message>` and exits with the code. Code elsewhere
 * picks the error *class* (`UsageError`, `NotFoundError`, `VerbError`, `NoSuchContainerError`),
 * never a number.
 *
 * Try: `minibox stop nosuch; echo $?` → `1`
 * and `minibox run --rm busybox nosuch; echo $?` → `127`
 */
import os from 'node:os';

export const ExitCode = {
  /**
   * A lifecycle verb could not do what was asked (no such container, not running): Docker's CLI
   * exits 1 when the daemon refuses a request (`docker port|stats|update|inspect|start|cp|rename
   * nope`); only `run`/`create` and bad flags use 125.
   */
  VerbFailed: 1,
  /** minibox itself failed: bad input, missing image, a kernel call refused. */
  Engine: 125,
  /** The container's command exists but could not be executed (permissions, not a program). */
  CannotExecute: 126,
  /** The container's command was not found. */
  NotFound: 127,
  /** Base for "killed by signal n": exit code = 128 + n. */
  SignalBase: 128,
} as const;

/** Docker's exit code for a process killed by `signal`: 128 + its number (SIGKILL → 137). */
export function signalExitCode(signal: NodeJS.Signals | number): number {
  return ExitCode.SignalBase + (typeof signal === 'number' ? signal : os.constants.signals[signal] ?? 0);
}

export class MiniboxError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode: number = ExitCode.Engine, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MiniboxError';
    this.exitCode = exitCode;
  }
}

/** Something the user asked for does not exist (image, container, volume, network). */
export class NotFoundError extends MiniboxError {
  constructor(message: string, exitCode: number = ExitCode.Engine) {
    super(message, exitCode);
    this.name = 'NotFoundError';
  }
}

/** Docker's "No such container: NAME" — a lifecycle verb's failure, exit 1. */
export class NoSuchContainerError extends NotFoundError {
  constructor(idOrName: string) {
    super(`No such container: ${idOrName}`, ExitCode.VerbFailed);
    this.name = 'NoSuchContainerError';
  }
}

/** A lifecycle verb refused: the container is not running, is running, is being removed… (exit 1). */
export class VerbError extends MiniboxError {
  constructor(message: string) {
    super(message, ExitCode.VerbFailed);
    this.name = 'VerbError';
  }
}

/** Bad input from the user: a malformed reference, flag value or path. */
export class UsageError extends MiniboxError {
  constructor(message: string) {
    super(message, ExitCode.Engine);
    this.name = 'UsageError';
  }
}

/** Any thrown value as one line of text (never a stack trace for expected failures). */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message.split('\n')[0] ?? String(error);
  return String(error);
}
