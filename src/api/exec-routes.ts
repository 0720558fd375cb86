/**
 * exec-routes.ts — `docker exec [-it]`: three requests, one process in a running container.
 *
 *   POST /containers/{id}/exec   {"Cmd": [...], "AttachStdout": true, …} → 201 {"Id": EXEC_ID}
 *   POST /exec/{id}/start        hijacked like attach: the program's output, framed, until it exits
 *   GET  /exec/{id}/json         {"Running": false, "ExitCode": N} — the CLI's exit code comes from here
 *   POST /exec/{id}/resize       -t: the client's window size → TIOCSWINSZ on the exec's pty master
 *
 * dockerd keeps exec instances in memory, and so does this daemon: an exec is a request, not
 * container state (nothing on disk; gone with the daemon). The work is lifecycle/exec.ts — the
 * same `execInContainer` as `minibox exec` — with the program's stdio copied to and from the
 * client's connection instead of minibox's own terminal. With -t the daemon opens a pty in the
 * container's devpts (runtime/terminal-relay.ts) and relays its master raw, as `minibox exec -it`
 * relays it to your terminal; the exec ends with its program, so the daemon may hold the master.
 *
 * Try: `docker -H unix:///tmp/mb.sock exec web echo inside` → `inside`
 */
import crypto from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { PassThrough, Writable } from 'node:stream';
import { describeError } from '../errors.js';
import { execInContainer, runningContainerPid, type ExecRequest } from '../lifecycle/exec.js';
import { findContainer } from '../container/container-store.js';
import { ApiError } from './api-errors.js';
import { sendJson, type ApiRequest, type HijackedConnection } from './request.js';
import { frame, MULTIPLEXED, RAW_STREAM, type StreamName } from './stream-framing.js';
import { windowSize } from './terminal-session.js';
import type { TerminalRelay } from '../runtime/terminal-relay.js';

interface ExecBody {
  Cmd?: string[];
  Env?: string[] | null;
  WorkingDir?: string;
  User?: string;
  Tty?: boolean;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  Privileged?: boolean;
  /** `[rows, columns]` of the client's terminal (API 1.42+), for -t. */
  ConsoleSize?: [number, number] | null;
}

interface ExecInstance {
  id: string;
  containerId: string;
  body: ExecBody;
  running: boolean;
  exitCode: number | null;
  started: boolean;
  /** -t: the exec's terminal once it exists (for `resize`), and a size that came before it. */
  relay?: TerminalRelay;
  size?: { rows: number; columns: number };
}

/** Exec instances of this daemon's lifetime (the newest few hundred). */
const execs = new Map<string, ExecInstance>();
const KEPT_EXECS = 256;

function findExec(id: string): ExecInstance {
  const exec = execs.get(id);
  if (!exec) throw new ApiError(404, `No such exec instance: ${id}`);
  return exec;
}

export async function createExecRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const { root } = api.daemon;
  const body = await api.json<ExecBody>();
  if (!Array.isArray(body.Cmd) || body.Cmd.length === 0) throw new ApiError(400, 'No exec command specified');
  if (body.Privileged) throw new ApiError(400, 'exec --privileged is not supported by minibox');
  const record = findContainer(root, api.params[0]!);
  if (await runningContainerPid(root, record) === undefined) throw new ApiError(409, `container ${record.Id} is not running`);
  const id = crypto.randomBytes(32).toString('hex');
  const [rows, columns] = body.ConsoleSize ?? [0, 0];
  execs.set(id, { id, containerId: record.Id, body, running: false, exitCode: null, started: false, ...(rows > 0 && columns > 0 ? { size: { rows, columns } } : {}) });
  if (execs.size > KEPT_EXECS) execs.delete(execs.keys().next().value!);
  sendJson(res, 201, { Id: id });
}

/** A stream that wraps every chunk written to it in a frame of `stream` on `out`. */
function framed(out: NodeJS.WritableStream, stream: StreamName, wanted: boolean): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (wanted) out.write(frame(stream, chunk));
      done();
    },
  });
}

/** Where the program's stdio goes: a terminal relayed raw (-t), or frames of stdout and stderr. */
function execStdio(exec: ExecInstance, out: Writable, input: NodeJS.ReadableStream): Pick<ExecRequest, 'streams' | 'terminal'> {
  if (exec.body.Tty) {
    return { terminal: { input, output: out, ...(exec.size ? { size: exec.size } : {}), onOpen: (relay) => { exec.relay = relay; } } };
  }
  return {
    streams: {
      input,
      stdout: framed(out, 'stdout', exec.body.AttachStdout !== false),
      stderr: framed(out, 'stderr', exec.body.AttachStderr !== false),
    },
  };
}

export async function startExecRoute(api: ApiRequest, connection: HijackedConnection): Promise<void> {
  const exec = findExec(api.params[0]!);
  if (exec.started) throw new ApiError(409, `exec ${exec.id} has already been started`);
  const options = await api.json<{ Detach?: boolean; Tty?: boolean; ConsoleSize?: [number, number] | null }>();
  const [rows, columns] = options.ConsoleSize ?? [0, 0];
  if (rows > 0 && columns > 0) exec.size = { rows, columns };
  exec.started = true;
  exec.running = true;
  const tty = exec.body.Tty === true;
  const out = options.Detach ? undefined : connection.open(tty ? RAW_STREAM : MULTIPLEXED);
  const input = exec.body.AttachStdin && connection.input ? connection.input : new PassThrough().end();
  try {
    exec.exitCode = await execInContainer(api.daemon.root, {
      container: exec.containerId,
      command: exec.body.Cmd!,
      interactive: exec.body.AttachStdin === true,
      tty,
      detach: options.Detach === true,
      env: exec.body.Env ?? [],
      ...(exec.body.WorkingDir ? { workdir: exec.body.WorkingDir } : {}),
      ...(exec.body.User ? { user: exec.body.User } : {}),
      ...(out ? execStdio(exec, out, input) : {}),
    });
  } catch (error) {
    exec.exitCode = error instanceof Error && 'exitCode' in error ? Number(error.exitCode) : 126;
    if (!out) throw error;
    const message = `${describeError(error)}\n`; // the head was sent: the error travels in the stream
    out.write(tty ? message.replace(/\n/g, '\r\n') : frame('stderr', message));
  } finally {
    exec.running = false;
    delete exec.relay;
    out?.end();
  }
}

/** `POST /exec/{id}/resize?h=ROWS&w=COLUMNS`: the exec's terminal gets the client's window size. */
export async function resizeExecRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const exec = findExec(api.params[0]!);
  const size = windowSize(api.query);
  if (!exec.body.Tty) throw new ApiError(400, `exec ${exec.id} has no terminal (it was created without -t): nothing to resize`);
  exec.size = size;
  exec.relay?.resize(size.rows, size.columns);
  res.writeHead(200);
  res.end();
}

export async function inspectExecRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const exec = findExec(api.params[0]!);
  sendJson(res, 200, {
    ID: exec.id, ContainerID: exec.containerId, Running: exec.running, ExitCode: exec.exitCode,
    OpenStdin: exec.body.AttachStdin === true, OpenStdout: exec.body.AttachStdout !== false, OpenStderr: exec.body.AttachStderr !== false,
    ProcessConfig: { entrypoint: exec.body.Cmd![0], arguments: exec.body.Cmd!.slice(1), tty: exec.body.Tty === true, user: exec.body.User ?? '', privileged: false },
    Pid: 0,
  });
}
