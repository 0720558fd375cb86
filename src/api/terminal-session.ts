/**
 * terminal-session.ts — `docker run -it`: a container with a terminal, driven through the API.
 *
 * With `-t` the container's stdin, stdout and stderr are one pseudo-terminal (runtime/
 * terminal-relay.ts), and the docker CLI puts *its* terminal in raw mode and sends every key as
 * a byte on the hijacked attach connection, raw (no frames: a terminal has one stream). A
 * minibox-monitor has no pty to offer (runtime/monitor.ts), so this daemon is the container's
 * monitor instead, as a foreground `minibox run -it` is: it starts the init stage itself and
 * relays the pty's master to the attached connection (lifecycle/run.ts runAsMonitor — the pids,
 * the start and the exit recorded as a monitor records them). Consequences, said plainly: the
 * container needs an attached client to start (`docker run -it`, `docker start -ai`), and it is
 * killed if the daemon dies (reconciliation finds its monitor gone), unlike a container without -t.
 * Window sizes arrive as `POST /containers/{id}/resize?h=ROWS&w=COLUMNS` (TIOCSWINSZ on the master).
 *
 * Try: `docker -H unix:///tmp/mb.sock run --rm -it busybox stty size` → `24 80` (in an 80×24 terminal)
 */
import type { ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import { ExitCode, MiniboxError, describeError } from '../errors.js';
import { ContainerStore } from '../container/container-store.js';
import { reconcileContainer } from '../container/reconcile.js';
import { clearRunFiles } from '../container/run-files.js';
import { removeContainer } from '../lifecycle/create.js';
import { runAsMonitor } from '../lifecycle/run.js';
import { findContainer } from '../container/container-store.js';
import type { TerminalRelay } from '../runtime/terminal-relay.js';
import type { StateRoot } from '../state-root.js';
import { ApiError } from './api-errors.js';
import { sawExit } from './container-wait.js';
import type { ApiRequest } from './request.js';

interface AttachedTerminal {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  size?: { rows: number; columns: number };
}

/** Attached clients waiting for their container's start, by container id. */
const waiting = new Map<string, AttachedTerminal>();
/** Running terminals, for `resize`. */
const relays = new Map<string, TerminalRelay>();
/** The runs this daemon is the monitor of: their init's pid, and the end of the run. */
const sessions = new Map<string, { initPid: number; ended: Promise<unknown> }>();

/**
 * The daemon is stopping: its `-t` containers cannot outlive their monitor, so they are killed
 * now, and their exits recorded (with --rm, removed), rather than left for reconciliation.
 */
export async function endTerminalSessions(): Promise<void> {
  const ending = [...sessions.values()];
  for (const { initPid } of ending) {
    try { process.kill(initPid, 'SIGKILL'); } catch { /* already gone */ }
  }
  await Promise.all(ending.map(async ({ ended }) => await ended.catch(() => undefined)));
}

/** An attach of a `-t` container: its connection becomes the terminal of the next start. */
export function attachTerminal(id: string, input: NodeJS.ReadableStream | undefined, output: NodeJS.WritableStream): () => void {
  const terminal: AttachedTerminal = { input: input ?? new PassThrough(), output };
  waiting.set(id, terminal);
  return () => { if (waiting.get(id) === terminal) waiting.delete(id); };
}

/** Starts a `-t` container with this daemon as its monitor; resolves once its program runs. */
export async function startWithTerminal(root: StateRoot, id: string, explain: boolean): Promise<void> {
  const terminal = waiting.get(id);
  if (!terminal) {
    throw new ApiError(400, 'a container with a terminal (-t) starts only with an attached client in minibox: use docker run -it, or docker start -ai');
  }
  waiting.delete(id);
  const store = new ContainerStore(root);
  const record = await reconcileContainer(root, id);
  if (!record) throw new ApiError(404, `No such container: ${id}`);
  store.checkBundlePaths(id);
  const paths = store.paths(id);
  clearRunFiles(paths);
  await new Promise<void>((started, failed) => {
    let initPid = 0;
    const run = runAsMonitor(root, { record, paths }, {
      ...(explain ? { explain } : {}),
      proxySignals: false,
      onSpawned: (pid) => { initPid = pid; },
      terminalStreams: { ...terminal, onOpen: (relay) => { relays.set(id, relay); if (terminal.size) relay.resize(terminal.size.rows, terminal.size.columns); } },
      onStarted: () => started(),
    }, (code) => sawExit(id, code));
    const ended = run.catch(async (error: unknown) => {
      await settleFailedStart(root, id, error);
      failed(error);
    }).finally(() => { relays.delete(id); sessions.delete(id); });
    sessions.set(id, { get initPid() { return initPid; }, ended });
  });
}

/** The start failed before the program ran: the record says so (or, with --rm, it is gone). */
async function settleFailedStart(root: StateRoot, id: string, error: unknown): Promise<void> {
  const store = new ContainerStore(root);
  const record = store.get(id);
  if (!record) return;
  if (record.HostConfig.AutoRemove) { await removeContainer(root, id); return; }
  const code = error instanceof MiniboxError ? error.exitCode : ExitCode.Engine;
  await store.updateState(id, (state) => {
    Object.assign(state, { Status: 'exited', Running: false, Pid: 0, ExitCode: code, Error: describeError(error), FinishedAt: new Date().toISOString() });
  }).catch(() => undefined);
  clearRunFiles(store.paths(id));
}

/** `POST /containers/{id}/resize?h=ROWS&w=COLUMNS`. */
export async function resizeRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const id = findContainer(api.daemon.root, api.params[0]!).Id;
  const rows = Number(api.query.get('h'));
  const columns = Number(api.query.get('w'));
  if (!Number.isInteger(rows) || !Number.isInteger(columns) || rows < 0 || columns < 0) throw new ApiError(400, 'resize needs h (rows) and w (columns) as whole numbers');
  const relay = relays.get(id);
  const pending = waiting.get(id);
  if (relay) relay.resize(rows, columns);
  else if (pending) pending.size = { rows, columns };
  res.writeHead(200); // dockerd answers 200 without a body
  res.end();
}
