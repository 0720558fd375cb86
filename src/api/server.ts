/**
 * server.ts — `minibox serve`: the Docker Engine API on a unix socket, so that the real `docker`
 * CLI drives minibox (`docker -H unix:///run/minibox.sock run --rm busybox echo hi`).
 *
 * dockerd is an HTTP server on /var/run/docker.sock; the docker CLI is its client. This is the
 * same: Node's http server on a unix socket (mode 0660, group `--group`, as docker.sock is
 * root:docker), every route calling the engine library the minibox CLI calls — `createContainer`,
 * `startContainer`, `pullImage`… — so a container made through the socket is the same container
 * `minibox ps` lists: one state root, two front doors. A daemon adds no state of its own: each
 * detached container keeps its minibox-monitor, so stopping the daemon (SIGTERM, Ctrl-C) closes
 * the socket and leaves running containers running.
 *
 * Access to this socket is root on the host (whoever can create containers can bind-mount `/`),
 * exactly as with docker.sock: that is why it is 0660 and TCP is refused unless it is loopback.
 *
 * Try (with `minibox serve --host unix:///tmp/mb.sock` running):
 * `docker -H unix:///tmp/mb.sock version` → `Server: minibox`
 */
import fs from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net from 'node:net';
import type { Duplex, Writable } from 'node:stream';
import { MiniboxError, UsageError, describeError } from '../errors.js';
import { ApiError, errorBody, statusOf } from './api-errors.js';
import { API_VERSION, splitVersion } from './api-version.js';
import { MAX_JSON_BODY, parseJsonBody, readJson, type ApiRequest, type DaemonContext, type HijackedConnection, type Route } from './request.js';
import { apiRoutes } from './routes.js';

export interface ServeOptions {
  /** `unix:///path` or `tcp://127.0.0.1:PORT`. */
  host: string;
  /** Group id that may use the socket (mode 0660); root's group otherwise. */
  group?: number;
}

export interface RunningDaemon {
  /** Where it listens, as given. */
  host: string;
  /** Closes the socket and every open connection; running containers keep running. */
  close(): Promise<void>;
}

type Listen = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

/** `unix:///run/minibox.sock` or `tcp://127.0.0.1:2375`; anything reachable from outside is refused. */
export function parseHost(host: string): Listen {
  if (host.startsWith('unix://')) {
    const path = host.slice('unix://'.length);
    if (!path.startsWith('/')) throw new UsageError(`invalid --host ${host}: the socket path must be absolute (unix:///run/minibox.sock)`);
    return { kind: 'unix', path };
  }
  const tcp = /^tcp:\/\/([^:/]+):(\d+)$/.exec(host);
  if (tcp) {
    if (!/^127\.\d+\.\d+\.\d+$/.test(tcp[1]!) && tcp[1] !== 'localhost') {
      throw new UsageError(`refusing --host ${host}: the API gives root on this machine to whoever reaches it; listen on a unix socket or on 127.0.0.1`);
    }
    return { kind: 'tcp', host: tcp[1]!, port: Number(tcp[2]) };
  }
  throw new UsageError(`invalid --host ${host}: use unix:///path/to.sock or tcp://127.0.0.1:PORT`);
}

/** A socket file left by a daemon that died is removed; one a live daemon answers on is not. */
async function claimSocketPath(path: string): Promise<void> {
  if (!fs.existsSync(path)) return;
  const alive = await new Promise<boolean>((resolve) => {
    const probe = net.connect(path);
    probe.once('connect', () => { probe.destroy(); resolve(true); });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new MiniboxError(`${path} is in use: another daemon listens on it (stop it, or choose --host unix:///other.sock)`);
  if (!fs.lstatSync(path).isSocket()) throw new MiniboxError(`${path} exists and is not a socket: remove it or choose another --host`);
  fs.rmSync(path);
}

/** Finds the route for a method and a version-less path; 404 "page not found" as dockerd. */
function findRoute(routes: Route[], method: string, path: string): { route: Route; params: string[] } {
  const wanted = method === 'HEAD' ? 'GET' : method;
  for (const route of routes) {
    if (route.method !== wanted) continue;
    const match = route.path.exec(path);
    if (match) return { route, params: match.slice(1).map((part) => decodeURIComponent(part)) };
  }
  throw new ApiError(404, 'page not found');
}

function requestOf(daemon: DaemonContext, req: IncomingMessage, body?: () => Promise<Buffer>): { api: ApiRequest; route: Route } {
  const url = new URL(req.url ?? '/', 'http://minibox');
  const { version, path } = splitVersion(url.pathname);
  const { route, params } = findRoute(apiRoutes, req.method ?? 'GET', path);
  const json = body ? async <T>() => parseJsonBody<T>(await body()) : async <T>() => await readJson<T>(req);
  return { route, api: { daemon, req, params, query: url.searchParams, version, json } };
}

function sendError(res: ServerResponse, error: unknown): void {
  if (res.headersSent) { res.destroy(); return; }
  const body = errorBody(error);
  res.writeHead(statusOf(error), { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** An error answer written by hand on a connection that asked to upgrade (before the 101). */
function rawError(socket: Duplex, error: unknown): void {
  const body = errorBody(error);
  socket.end(`HTTP/1.1 ${statusOf(error)} ${http.STATUS_CODES[statusOf(error)] ?? 'Error'}\r\nContent-Type: application/json\r\n`
    + `Content-Length: ${Buffer.byteLength(body)}\r\nApi-Version: ${API_VERSION}\r\nConnection: close\r\n\r\n${body}`);
}

/**
 * The body of an upgrade request: Node's parser stops at the head, so the body (exec start's
 * `{"Detach":false}`) is the first Content-Length bytes of the raw connection.
 */
async function readUpgradeBody(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<Buffer> {
  const length = Number(req.headers['content-length'] ?? 0);
  if (length > MAX_JSON_BODY) throw new ApiError(413, `request body too large: ${length} bytes (the limit is ${MAX_JSON_BODY})`);
  return await new Promise((resolve, reject) => {
    let data = head;
    const onData = (chunk: Buffer): void => {
      data = Buffer.concat([data, chunk]);
      if (data.length >= length) done();
    };
    const onEnd = (): void => { socket.off('data', onData); reject(new ApiError(400, 'the connection closed before the request body arrived')); };
    const done = (): void => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.pause();
      if (data.length > length) socket.unshift(data.subarray(length)); // the client's first stdin bytes
      resolve(data.subarray(0, length));
    };
    if (data.length >= length) { done(); return; }
    socket.on('data', onData);
    socket.once('end', onEnd);
  });
}

/** The connection of an attach/exec-start request: `101 UPGRADED` and the raw socket, or 200. */
function hijacked(socket: Duplex | undefined, res: ServerResponse | undefined): HijackedConnection & { opened: boolean } {
  const transport = socket ?? res!;
  const closed = new Promise<void>((resolve) => { transport.once('close', () => resolve()); });
  const connection = {
    opened: false,
    input: socket,
    closed,
    open(contentType: string): Writable {
      connection.opened = true;
      if (socket) {
        socket.write(`HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nApi-Version: ${API_VERSION}\r\n\r\n`);
        return socket;
      }
      res!.writeHead(200, { 'Content-Type': contentType });
      res!.flushHeaders();
      return res!;
    },
  };
  return connection;
}

function setCommonHeaders(res: ServerResponse): void {
  res.setHeader('Api-Version', API_VERSION);
  res.setHeader('Ostype', 'linux');
  res.setHeader('Server', 'minibox (Docker Engine API)');
}

/** A normal request (or an upgrade request to a route that does not hijack). */
async function dispatch(daemon: DaemonContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  setCommonHeaders(res);
  try {
    const { api, route } = requestOf(daemon, req);
    if (route.hijack) await route.hijack(api, hijacked(undefined, res)); // curl without Upgrade: a plain 200 stream
    else await route.handle(api, res);
  } catch (error) {
    sendError(res, error);
  }
}

/** A request that asked to take the connection over (`Upgrade: tcp`). */
async function dispatchUpgrade(daemon: DaemonContext, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  let connection: ReturnType<typeof hijacked> | undefined;
  try {
    const body = readUpgradeBody(req, socket, head);
    body.catch(() => undefined);
    const { api, route } = requestOf(daemon, req, async () => await body);
    if (!route.hijack) {
      await body;
      const res = upgradedResponse(req, socket);
      setCommonHeaders(res);
      try { await route.handle(api, res); } catch (error) { sendError(res, error); }
      return;
    }
    connection = hijacked(socket, undefined);
    await route.hijack(api, connection);
  } catch (error) {
    if (!connection?.opened) rawError(socket, error);
    else if (!socket.destroyed) socket.destroy();
  }
}

/** A plain answer on a connection that asked to upgrade a route that does not hijack. */
function upgradedResponse(req: IncomingMessage, socket: Duplex): ServerResponse {
  const res = new http.ServerResponse(req);
  res.assignSocket(socket as net.Socket);
  res.shouldKeepAlive = false;
  res.once('finish', () => socket.end());
  return res;
}

/** Starts listening; resolves once the socket accepts connections. */
export async function serve(daemon: DaemonContext, options: ServeOptions): Promise<RunningDaemon> {
  const listen = parseHost(options.host);
  const connections = new Set<net.Socket>();
  const server = http.createServer((req, res) => { void dispatch(daemon, req, res); });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => { void dispatchUpgrade(daemon, req, socket, head); });
  server.on('connection', (socket: net.Socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
    socket.on('error', () => undefined); // a client that vanishes mid-answer is not the daemon's failure
  });
  server.on('clientError', (_error, socket) => { socket.destroy(); });
  if (listen.kind === 'unix') await claimSocketPath(listen.path);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new MiniboxError(`cannot listen on ${options.host}: ${describeError(error)}`)));
    if (listen.kind === 'unix') server.listen(listen.path, resolve);
    else server.listen(listen.port, listen.host, resolve);
  });
  if (listen.kind === 'unix') {
    fs.chmodSync(listen.path, 0o660);
    if (options.group !== undefined) fs.chownSync(listen.path, 0, options.group);
  }
  return {
    host: options.host,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of connections) socket.destroy();
      await closed;
      if (listen.kind === 'unix') fs.rmSync(listen.path, { force: true });
    },
  };
}
