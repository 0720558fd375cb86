/**
 * request.ts — one Engine API request as a route handler sees it, and the route table's shape.
 *
 * A route is a method and a path pattern (`POST /containers/{id}/start`, written as a RegExp
 * whose groups are the path parameters); its handler gets the decoded parameters, the query
 * string, the JSON body on demand, and either the response or — for the routes that take over
 * the connection (attach, exec start) — a raw stream (`hijack`). Bodies are read with a cap:
 * a client that sends a gigabyte gets 413 after the first few megabytes, and the daemon keeps
 * serving everyone else.
 *
 * Try: `curl -s -XPOST -H 'Content-Type: application/json' -d '{' --unix-socket
 * /run/minibox.sock localhost/containers/create` → `{"message":"malformed JSON body: …"}`
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex, Writable } from 'node:stream';
import type { StateRoot } from '../state-root.js';
import { ApiError } from './api-errors.js';

/** A JSON body larger than this is refused (a container's create request is a few kB). */
export const MAX_JSON_BODY = 4 * 1024 * 1024;

/** What the daemon was started with, shared by every request. */
export interface DaemonContext {
  root: StateRoot;
  insecureRegistries: string[];
  registryMirrors: string[];
  /** `serve --explain`: narrate every container start on the daemon's stderr. */
  explain: boolean;
}

export interface ApiRequest {
  daemon: DaemonContext;
  req: IncomingMessage;
  /** The path parameters, decoded, in order. */
  params: string[];
  query: URLSearchParams;
  /** The API version the client speaks (from the path, or the current one). */
  version: string;
  /** The body as JSON (`{}` when empty); 400 when malformed, 413 when too big. */
  json<T>(): Promise<T>;
}

/** A normal route answers through `res`. */
export type Handler = (request: ApiRequest, res: ServerResponse) => Promise<void>;

/**
 * A hijacking route gets a raw stream to write to (and read the client's stdin from). `open`
 * sends the answer's head: `101 UPGRADED` when the client asked to upgrade, else 200.
 */
export interface HijackedConnection {
  open(contentType: string): Writable;
  /** The client's side after the head (its stdin), when it upgraded. */
  input: Duplex | undefined;
  /** Resolves when the client goes away. */
  closed: Promise<void>;
}
export type HijackHandler = (request: ApiRequest, connection: HijackedConnection) => Promise<void>;

export type Route =
  | { method: string; path: RegExp; handle: Handler; hijack?: undefined }
  | { method: string; path: RegExp; hijack: HijackHandler; handle?: undefined };

/** Reads the whole body (up to `limit` bytes). */
export async function readBody(req: IncomingMessage, limit = MAX_JSON_BODY): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    req.resume(); // let it drain into nothing; the answer goes out now
    throw new ApiError(413, `request body too large: ${declared} bytes (the limit is ${limit})`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      req.resume();
      throw new ApiError(413, `request body too large: more than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The body parsed as JSON; an empty body is `{}`. */
export async function readJson<T>(req: IncomingMessage): Promise<T> {
  return parseJsonBody<T>(await readBody(req));
}

/** Bytes as JSON: `{}` when empty, 400 when malformed. */
export function parseJsonBody<T>(body: Buffer): T {
  const text = body.toString('utf8').trim();
  if (text === '') return {} as T;
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new ApiError(400, `malformed JSON body: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Docker's booleans in a query string: `1`, `true`, `True` (anything else is false). */
export function queryFlag(query: URLSearchParams, name: string): boolean {
  const value = query.get(name);
  return value !== null && /^(1|true)$/i.test(value);
}

/** Sends a JSON answer. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** An answer without a body (204, 304). */
export function sendEmpty(res: ServerResponse, status = 204): void {
  res.writeHead(status);
  res.end();
}
