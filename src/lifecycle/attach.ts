/**
 * attach.ts — `minibox attach` and `start -a`: this terminal joins a running container's stdio.
 *
 * The container's stdio is held by its minibox-monitor (native/monitor-attach.c), which serves it
 * on `attach.sock` (runtime/attach-client.ts). Attaching relays, until the container exits or you
 * detach:
 *   - its output to this stdout/stderr (with -t, one stream: the pty's);
 *   - with -t: this terminal in raw mode, every key to the container's pty (Ctrl-C too: the pty
 *     turns it into SIGINT), this window's size to the pty on every resize (SIGWINCH →
 *     TIOCSWINSZ on the master, by the monitor), and the detach keys (detach-keys.ts) to leave;
 *   - without -t: stdin to the container's stdin pipe (when it was made with -i), and, with
 *     --sig-proxy (default), the signals minibox receives to the container, as `kill` sends them.
 * When the container exits, the exit code is its own (Docker's `attach` does the same); detaching
 * leaves it running — `attach` then says `read escape sequence` and exits 1 (docker/cli returns
 * the term.EscapeError, which its main prints), while `start -a` exits 0 silently (it catches it).
 *
 * Try: `minibox run -di --name box busybox sh -c 'read x; echo "$x" >&2; exit 5' >/dev/null; echo
 * to-stderr | minibox attach box 2>&1 >/dev/null; echo $?` → `to-stderr 5`
 *
 * In a terminal: `minibox run -dit --name box busybox sh`, `minibox attach box`, `echo hi`, then
 * Ctrl-P Ctrl-Q → `read escape sequence`; `minibox ps` shows it Up.
 */
import { NotFoundError, VerbError, describeError } from '../errors.js';
import type { StateRoot } from '../state-root.js';
import { ContainerStore, findContainer, type ContainerRecord } from '../container/container-store.js';
import { reconcileContainer } from '../container/reconcile.js';
import { readExitStatus } from '../container/run-files.js';
import { FORWARDED_SIGNALS } from '../runtime/signal-relay.js';
import { connectAttachSocket, type AttachConnection } from '../runtime/attach-client.js';
import { DEFAULT_DETACH_KEYS, escapeMatcher, parseDetachKeys } from './detach-keys.js';
import { startContainer } from './start.js';
import { killContainer, waitContainer } from './stop.js';

export interface AttachOptions {
  /** Relay this process's stdin (it reaches the container only if that keeps stdin open: -i). */
  stdin: boolean;
  /** Docker's syntax; Ctrl-P Ctrl-Q by default. */
  detachKeys?: string;
  /** Without -t: forward the signals minibox receives to the container. */
  sigProxy: boolean;
}

export type AttachOutcome = { detached: true } | { detached: false; exitCode: number };

/** `attach`: the container must be running, with a monitor (a `-d` run or `start`). */
export async function attachContainer(root: StateRoot, idOrName: string, options: AttachOptions): Promise<AttachOutcome> {
  const keys = parseDetachKeys(options.detachKeys ?? DEFAULT_DETACH_KEYS);
  const record = await reconcileContainer(root, findContainer(root, idOrName).Id);
  if (!record?.State.Running) throw new VerbError('You cannot attach to a stopped container, start it first');
  const stdin = options.stdin && record.Config.OpenStdin;
  checkTerminal(record, stdin);
  let connection: AttachConnection;
  try {
    connection = await connectAttachSocket(new ContainerStore(root).paths(record.Id).attachSocket);
  } catch (error) {
    const now = await reconcileContainer(root, record.Id);
    if (!now?.State.Running) throw new VerbError('You cannot attach to a stopped container, start it first');
    throw new VerbError(`${describeError(error)}: a container run in the foreground (without -d) has its ` +
      'terminal in that `minibox run`; attach works for `run -d` and `start`');
  }
  return await relayAttached(root, record, connection, { ...options, stdin, keys, closeStdinAtEnd: false });
}

/**
 * `start -a [-i]`: starts the container with the monitor listening, connects before the program
 * runs (nothing it prints is missed), then relays as `attach`. With -i its stdin is a pipe the
 * monitor fills from ours, closed at our end of file.
 */
export async function startAttached(root: StateRoot, id: string, options: AttachOptions): Promise<AttachOutcome> {
  const keys = parseDetachKeys(options.detachKeys ?? DEFAULT_DETACH_KEYS);
  const socketPath = new ContainerStore(root).paths(id).attachSocket;
  let connecting: Promise<AttachConnection> | undefined;
  let record: ContainerRecord;
  try {
    record = await startContainer(root, id, {
      stdinPipe: options.stdin,
      onMonitorReady: () => {
        connecting = connectAttachSocket(socketPath);
        connecting.catch(() => undefined); // awaited below; a failed start reports its own error
      },
    });
  } catch (error) {
    void connecting?.then((connection) => connection.hangUp(), () => undefined);
    throw new VerbError(describeError(error)); // `start -a` of a program that cannot start: 1, as Docker
  }
  const connection = await (connecting ?? connectAttachSocket(socketPath)); // already running: join it
  return await relayAttached(root, record, connection, { ...options, keys, closeStdinAtEnd: true });
}

/** Docker's check: a terminal container's keys must come from a terminal. */
function checkTerminal(record: ContainerRecord, stdin: boolean): void {
  if (stdin && record.Config.Tty && !process.stdin.isTTY) {
    throw new VerbError('the input device is not a TTY: use attach --no-stdin, or run it from a terminal');
  }
}

interface RelayOptions extends AttachOptions {
  keys: Buffer;
  closeStdinAtEnd: boolean;
}

/** Relays until the container exits (its exit code) or the detach keys are typed. */
async function relayAttached(root: StateRoot, record: ContainerRecord, connection: AttachConnection, options: RelayOptions): Promise<AttachOutcome> {
  const tty = record.Config.Tty;
  const input = process.stdin;
  const matcher = escapeMatcher(options.keys);
  let detached = false;
  connection.onOutput((stream, data) => (stream === 2 ? process.stderr : process.stdout).write(data));

  const onInput = (chunk: Buffer): void => {
    if (!tty) return connection.sendInput(chunk);
    const { send, detach } = matcher.feed(chunk);
    if (send.length > 0) connection.sendInput(send);
    if (detach) {
      detached = true;
      connection.hangUp();
    }
  };
  const onInputEnd = (): void => { if (options.closeStdinAtEnd) connection.closeInput(); };
  const onResize = (): void => { if (process.stdout.isTTY) connection.sendWindowSize(process.stdout.rows, process.stdout.columns); };
  const forward = (signal: NodeJS.Signals): void => { killContainer(root, record.Id, signal).catch(() => undefined); };
  const proxied = !tty && options.sigProxy ? FORWARDED_SIGNALS : [];
  const raw = tty && options.stdin && input.isTTY;

  if (raw) input.setRawMode(true);
  if (tty && process.stdout.isTTY) {
    // As docker attach: a size one larger, then the real one — two SIGWINCHes, so the program
    // redraws (a shell its prompt) for a user who re-attaches to a quiet terminal.
    connection.sendWindowSize(process.stdout.rows + 1, process.stdout.columns + 1);
    onResize();
    process.stdout.on('resize', onResize);
  }
  if (options.stdin) {
    input.on('data', onInput);
    input.once('end', onInputEnd);
    input.resume();
  }
  for (const signal of proxied) process.on(signal, forward);
  try {
    await connection.closed;
  } finally {
    for (const signal of proxied) process.off(signal, forward);
    process.stdout.off('resize', onResize);
    input.off('data', onInput);
    input.off('end', onInputEnd);
    if (options.stdin) input.pause();
    if (raw) input.setRawMode(false);
  }
  if (detached) return { detached: true };
  return { detached: false, exitCode: await exitCodeOf(root, record.Id) };
}

/** The monitor wrote the exit status before it hung up; reconciling folds it into the record. */
async function exitCodeOf(root: StateRoot, id: string): Promise<number> {
  const status = readExitStatus(new ContainerStore(root).paths(id)); // before an `rm -f` deletes it
  try {
    return await waitContainer(root, id);
  } catch (error) {
    if (error instanceof NotFoundError && status) return status.exitCode; // removed meanwhile
    throw error;
  }
}
