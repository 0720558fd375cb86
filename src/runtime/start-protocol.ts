/**
 * start-protocol.ts — the engine's half of the conversation with the init stage (channel.ts),
 * from "namespaces ready" to "the program runs".
 *
 * The same conversation happens whoever is the init stage's parent: the engine itself for a
 * foreground `run` (run-bundle.ts), or minibox-monitor for a detached one (monitor.ts), which
 * only passes fds 3 and 4 through. The engine answers:
 *   namespaces-ready → runs `onNamespacesReady(pid)` (cgroups, network), then "go" (or "abort");
 *   devpts-ready     → opens the container's pty master (or has someone else take it: the
 *                      monitor of a detached container, OCI's console socket), replies with its number;
 *   event            → a kernel-call trace event from inside, re-published here;
 *   error            → remembered: the start failed with this message and exit code;
 *   created          → (OCI `create` only) all is set up and the stage waits on its exec fifo
 *                      (exec-fifo.ts): the conversation ends here, and `create` returns.
 * End of file on fd 4 (close-on-exec in the init stage) means execve happened — or the stage died.
 *
 * Try: `minibox run --rm --explain=all busybox true 2>&1 | grep -E 'init stage|namespaces
 * ready|execve'` → `started the init stage … namespaces ready … execve /bin/true`
 */
import { ExitCode, describeError } from '../errors.js';
import { publish, publishStep } from '../sys/trace.js';
import { messageSplitter, type ChildMessage, type ParentMessage } from './stages/channel.js';
import { openTerminal, type TerminalRelay, type TerminalStreams } from './terminal-relay.js';

export interface StartFailure {
  message: string;
  exitCode: number;
}

export interface StartOutcome {
  /** Set when the init stage reported an error or a hook failed: the program never ran. */
  failure?: StartFailure;
  /** The container's terminal, when its spec asks for one. */
  relay?: TerminalRelay;
  /** The stage said "created" (OCI create) and waits for `start`. */
  created?: boolean;
}

export interface ProtocolOptions {
  onNamespacesReady?: (pid: number) => Promise<void>;
  /**
   * Someone else holds the pty master: OCI `--console-socket` (the caller takes it and passes it
   * on), or minibox-monitor for a detached container (it opens it itself). Given ptmx, a path under
   * /proc/PID/root, it returns the slave's number; without it this process relays the terminal.
   */
  takeConsole?: (ptmxPath: string) => number | Promise<number>;
  /** Relay the container's terminal to these instead of minibox's own (the API daemon). */
  terminal?: TerminalStreams;
}

/** Speaks the protocol over the two channel ends until the init stage closes fd 4. */
export async function driveStart(
  toChild: NodeJS.WritableStream, fromChild: NodeJS.ReadableStream, pid: number, options: ProtocolOptions,
): Promise<StartOutcome> {
  const outcome: StartOutcome = {};
  // A write to an init stage that just died fails with EPIPE; its end of file on fd 4 (and its
  // exit status) tell the story, so the socket error itself must not crash the engine.
  toChild.on('error', () => undefined);
  const send = (message: ParentMessage): void => { toChild.write(`${JSON.stringify(message)}\n`); };
  const fail = (message: string, exitCode: number): void => {
    outcome.failure ??= { message, exitCode };
  };
  const handle = async (message: ChildMessage): Promise<void> => {
    switch (message.type) {
      // The init stage knows itself as PID 1; the merged trace uses the host's number for it.
      case 'event': publish({ ...message.event, pid }); break;
      case 'error': fail(message.message, message.exitCode); break;
      case 'namespaces-ready':
        publishStep('namespaces-ready', { pid });
        try {
          await options.onNamespacesReady?.(pid);
          send({ type: 'go' });
        } catch (error) {
          fail(describeError(error), ExitCode.Engine);
          send({ type: 'abort', message: describeError(error) });
        }
        break;
      case 'created': outcome.created = true; finish(); break;
      case 'devpts-ready':
        try {
          if (options.takeConsole) {
            send({ type: 'pty', number: await options.takeConsole(`/proc/${pid}/root${message.ptmx}`) });
            break;
          }
          outcome.relay = openTerminal(pid, message.ptmx, options.terminal);
          send({ type: 'pty', number: outcome.relay.number });
        } catch (error) {
          const text = `cannot open the container's terminal: ${describeError(error)}`;
          fail(text, ExitCode.Engine);
          send({ type: 'abort', message: text });
        }
        break;
    }
  };
  // Messages are handled one at a time, in order, even when a handler waits (onNamespacesReady).
  let queue = Promise.resolve();
  let finish = (): void => undefined;
  const finished = new Promise<void>((resolve) => { finish = resolve; });
  fromChild.on('data', messageSplitter((message) => { queue = queue.then(() => handle(message)); }));
  fromChild.on('end', () => { void queue.then(() => finish()); });
  fromChild.on('error', () => { void queue.then(() => finish()); });
  await finished;
  return outcome;
}
