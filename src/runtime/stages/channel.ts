/**
 * channel.ts — how the engine and the init stage talk before the container's program starts.
 *
 * Two pipes (socket pairs, really): fd 3 carries the engine's words to the init stage ("go",
 * "your pty is N"), fd 4 carries the init stage's words back ("namespaces ready", "devpts
 * ready", trace events, an error). Each message is one JSON line, so a C monitor could speak the
 * same protocol. fd 4 is close-on-exec: when the engine reads end-of-file on it while no error
 * came, the container's program has replaced the init stage — it is running.
 *
 * The first message may be the bundle itself. A foreground `run` starts the init stage *before*
 * it knows the bundle (run-bundle.ts): Node needs ~50–70 ms to boot and load its modules, and
 * the engine spends about as long finding the image and writing the bundle. So both happen at
 * once, and the init stage learns which container it is from `{"type":"bundle","dir":…}` — or
 * `abort` when the engine failed first (bad image, name taken), and it exits without having
 * touched anything. A detached start works the same way, the message passing through its C
 * monitor (early-monitor.ts).
 *
 * The init stage side is synchronous on purpose: it has nothing else to do while it waits.
 *
 * Try: `minibox run --rm --explain=all busybox true 2>&1 | grep 'namespaces ready'` → `namespaces
 * ready: the engine may now put the container in cgroups`
 */
import fs from 'node:fs';
import { ExitCode } from '../../errors.js';
import { onSysEvent, type SysEvent } from '../../sys/trace.js';
import { CommandError } from '../process/find-program.js';
import type { HookState } from '../spec-hooks.js';

export const FROM_PARENT_FD = 3;
export const TO_PARENT_FD = 4;

/** Where messages to the engine go: fd 4, until `--preserve-fds` needs 3 and 4 (exec-handoff.ts). */
let toParentFd = TO_PARENT_FD;

/** The channel to the engine now lives at `fd` (a copy made by the init stage). */
export function moveChannelTo(fd: number): void {
  toParentFd = fd;
}

/** Messages from the init stage to the engine. */
export type ChildMessage =
  | { type: 'namespaces-ready' }
  | { type: 'devpts-ready'; ptmx: string }
  /** OCI `create`: everything is set up; the stage now waits on the exec fifo (exec-fifo.ts). */
  | { type: 'created' }
  | { type: 'event'; event: SysEvent }
  | { type: 'error'; message: string; exitCode: number };

/**
 * What only minibox-runc asks of the init stage: config devices by mknod (config-devices.ts),
 * MS_MOVE + chroot instead of pivot_root (`--no-pivot`), fds 3… passed on (`--preserve-fds N`:
 * they arrive at 5…5+N-1, beside this channel).
 */
export interface OciStart { noPivot?: boolean; preserveFds?: number }

/** Messages from the engine to the init stage. */
export type ParentMessage =
  | { type: 'bundle'; dir: string; trace: boolean; execFifo?: string; noNewKeyring?: boolean; containerId?: string; hookState?: HookState; oci?: OciStart }
  | { type: 'go' }
  | { type: 'pty'; number: number }
  | { type: 'abort'; message: string };

/** Init-stage side: write one message (blocking). */
export function sendToParent(message: ChildMessage): void {
  const line = Buffer.from(`${JSON.stringify(message)}\n`);
  let written = 0;
  while (written < line.length) written += fs.writeSync(toParentFd, line, written);
}

let pending = '';

let forwarding = false;

/**
 * Stage side: with `--trace` in argv (or `true`, from the bundle message), every kernel-call
 * event travels to the engine before exec.
 */
export function forwardTraceEvents(wanted: string[] | boolean): void {
  const on = Array.isArray(wanted) ? wanted.includes('--trace') : wanted;
  if (!on || forwarding) return;
  forwarding = true;
  onSysEvent((event) => sendToParent({ type: 'event', event }));
}

/**
 * Stage side: report a failure before exec as one message and exit with Docker's code — 126 or
 * 127 when the program could not be started, 125 for anything else. If the engine is gone,
 * the message goes to stderr instead.
 */
export function failStage(stage: string, error: unknown): never {
  const exitCode = error instanceof CommandError ? error.exitCode : ExitCode.Engine;
  const message = error instanceof Error ? error.message : String(error);
  try {
    sendToParent({ type: 'error', message, exitCode });
  } catch {
    fs.writeSync(2, `minibox ${stage}: ${message}\n`);
  }
  process.exit(exitCode);
}

/**
 * Stage side: one blocking read from the engine's pipe into `chunk`; 0 means end-of-file. The
 * pipe may be non-blocking (libuv made it), so EAGAIN just means "not yet": read again.
 */
export function readFromParent(chunk: Buffer): number {
  for (;;) {
    try {
      return fs.readSync(FROM_PARENT_FD, chunk, 0, chunk.length, null);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
    }
  }
}

/** Init-stage side: block until the engine sends one message. */
export function receiveFromParent(): ParentMessage {
  const chunk = Buffer.alloc(4096);
  while (!pending.includes('\n')) {
    const count = readFromParent(chunk);
    if (count === 0) throw new Error('the engine went away before the container started');
    pending += chunk.toString('utf8', 0, count);
  }
  const newline = pending.indexOf('\n');
  const line = pending.slice(0, newline);
  pending = pending.slice(newline + 1);
  return JSON.parse(line) as ParentMessage;
}

/** Engine side: splits a byte stream into JSON messages. */
export function messageSplitter(onMessage: (message: ChildMessage) => void): (chunk: Buffer) => void {
  let buffered = '';
  return (chunk) => {
    buffered += chunk.toString('utf8');
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (line.trim()) onMessage(JSON.parse(line) as ChildMessage);
    }
  };
}
