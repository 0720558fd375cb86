/**
 * terminal-session.ts — `docker run -it`, `run -dt`, `attach`: a container's terminal, through its monitor.
 *
 * With `-t` the container's stdin, stdout and stderr are one pseudo-terminal. Its master is held
 * by the container's minibox-monitor (native/monitor-attach.c), which lives as long as the
 * container and serves the terminal on `attach.sock` (runtime/attach-client.ts) — so a `-t`
 * container started through the API is like any other: `docker run -dt` works, it keeps running
 * when the daemon stops, and `docker logs` reads what it printed (the monitor logs it too).
 * The daemon is only a relay between the docker CLI's hijacked connection and that socket:
 *   client → monitor   the keys, raw (the CLI put its own terminal in raw mode); the detach keys
 *                      (`detachKeys`, Ctrl-P Ctrl-Q by default) are caught here, as dockerd does,
 *                      and end the attach while the container runs on;
 *   monitor → client   the terminal's output, raw (no frames: a terminal has one stream);
 *   window size        `POST /containers/{id}/resize?h=ROWS&w=COLUMNS` → a window-size frame →
 *                      the monitor's TIOCSWINSZ on the master → SIGWINCH in the container.
 * `docker run -it` attaches before it starts the container: such a client waits here, and the
 * start connects it the moment the monitor listens, before the program runs (nothing is missed).
 * The monitor hangs up when the container exits, after writing its exit status: the relay ends,
 * and the CLI's `wait` answers the exit code.
 *
 * Try: `docker -H unix:///tmp/mb.sock run -dt --name tt busybox sh -c 'tty; sleep 60' >/dev/null;
 * sleep 1; docker -H unix:///tmp/mb.sock logs tt` → `/dev/pts/0` (the container's own devpts)
 */
import type { ServerResponse } from 'node:http';
import type { Writable } from 'node:stream';
import { describeError } from '../errors.js';
import { ContainerStore, findContainer } from '../container/container-store.js';
import { connectAttachSocket, type AttachConnection } from '../runtime/attach-client.js';
import { DEFAULT_DETACH_KEYS, escapeMatcher, parseDetachKeys } from '../lifecycle/detach-keys.js';
import type { StateRoot } from '../state-root.js';
import { ApiError } from './api-errors.js';
import type { ApiRequest } from './request.js';

interface TerminalClient {
  input: NodeJS.ReadableStream | undefined;
  output: Writable;
  keys: Buffer;
  /** Resolves when this client's relay is over (exit, detach, hang-up, or a failed connect). */
  finish: () => void;
  connection?: AttachConnection;
  /** The attach is over (the client left): a connection that arrives now is hung up at once. */
  over?: boolean;
}

/** Clients attached before the start (`docker run -it`, `start -ai`), by container id. */
const waiting = new Map<string, Set<TerminalClient>>();
/** Clients relaying now, by container id (for `resize`). */
const relaying = new Map<string, Set<TerminalClient>>();
/** A window size that came before any connection could carry it. */
const pendingSizes = new Map<string, { rows: number; columns: number }>();

function clientsOf(table: Map<string, Set<TerminalClient>>, id: string): Set<TerminalClient> {
  let set = table.get(id);
  if (!set) table.set(id, (set = new Set()));
  return set;
}

function forget(table: Map<string, Set<TerminalClient>>, id: string, client: TerminalClient): void {
  const set = table.get(id);
  set?.delete(client);
  if (set?.size === 0) table.delete(id);
}

/** Relays one client to its monitor connection until either side ends. */
function relay(id: string, client: TerminalClient, connection: AttachConnection): void {
  if (client.over) { connection.hangUp(); return; }
  client.connection = connection;
  clientsOf(relaying, id).add(client);
  const size = pendingSizes.get(id);
  if (size) connection.sendWindowSize(size.rows, size.columns);
  connection.onOutput((_stream, data) => { client.output.write(data); });
  const matcher = escapeMatcher(client.keys);
  const onInput = (chunk: Buffer): void => {
    const { send, detach } = matcher.feed(chunk);
    if (send.length > 0) connection.sendInput(send);
    if (detach) connection.hangUp(); // the container runs on
  };
  client.input?.on('data', onInput);
  client.input?.resume(); // an upgraded socket starts paused
  void connection.closed.then(() => {
    client.input?.off('data', onInput);
    forget(relaying, id, client);
    client.finish();
  });
}

/**
 * An attach of a `-t` container: relays now if it runs, else when it next starts. `open` sends
 * the answer's head (after the connect, so a refusal is still an HTTP error). Resolves when the
 * relay is over; `closed` is the client hanging up (the container runs on).
 */
export async function attachTerminal(
  root: StateRoot, id: string, client: { input: NodeJS.ReadableStream | undefined; open: () => Writable; detachKeys: string | null },
  running: boolean, closed: Promise<void>,
): Promise<void> {
  const keys = parseDetachKeys(client.detachKeys || DEFAULT_DETACH_KEYS);
  const connection = running ? await connectAttachSocket(new ContainerStore(root).paths(id).attachSocket) : undefined;
  let finish: () => void = () => undefined;
  const over = new Promise<void>((resolve) => { finish = resolve; });
  const terminal: TerminalClient = { input: client.input, output: client.open(), keys, finish };
  if (connection) relay(id, terminal, connection);
  else clientsOf(waiting, id).add(terminal);
  try {
    await Promise.race([over, closed]);
  } finally {
    terminal.over = true;
    forget(waiting, id, terminal);
    terminal.connection?.hangUp();
    terminal.output.end();
  }
}

/**
 * For the start of a `-t` container: connects the clients waiting for it. Called when the
 * monitor listens and before the program runs (start.ts `onMonitorReady`).
 */
export function connectWaitingTerminals(root: StateRoot, id: string): void {
  const clients = waiting.get(id);
  if (!clients) return;
  waiting.delete(id);
  const socket = new ContainerStore(root).paths(id).attachSocket;
  for (const client of clients) {
    connectAttachSocket(socket).then((connection) => relay(id, client, connection), (error: unknown) => {
      client.output.write(`minibox: ${describeError(error)}\r\n`);
      client.finish();
    });
  }
}

/** The clients waiting for a start that failed: their relay is over. */
export function releaseWaitingTerminals(id: string): void {
  for (const client of waiting.get(id) ?? []) client.finish();
  waiting.delete(id);
}

/** `POST /containers/{id}/resize?h=ROWS&w=COLUMNS`. */
export async function resizeRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const id = findContainer(api.daemon.root, api.params[0]!).Id;
  const { rows, columns } = windowSize(api.query);
  pendingSizes.set(id, { rows, columns });
  if (pendingSizes.size > 512) pendingSizes.delete(pendingSizes.keys().next().value!);
  for (const client of relaying.get(id) ?? []) client.connection?.sendWindowSize(rows, columns);
  res.writeHead(200); // dockerd answers 200 without a body
  res.end();
}

/** `h` and `w` of a resize request, checked. */
export function windowSize(query: URLSearchParams): { rows: number; columns: number } {
  const rows = Number(query.get('h'));
  const columns = Number(query.get('w'));
  if (!Number.isInteger(rows) || !Number.isInteger(columns) || rows < 0 || columns < 0 || rows > 65535 || columns > 65535) {
    throw new ApiError(400, 'resize needs h (rows) and w (columns) as whole numbers up to 65535');
  }
  return { rows, columns };
}
