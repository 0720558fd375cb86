/**
 * container-routes.ts — the container endpoints: what `docker ps/create/start/stop/kill/rm/
 * inspect/logs/wait` send, answered by the lifecycle library the minibox CLI calls.
 *
 *   GET    /containers/json             list (`all`, `filters`)         → reconcileAll
 *   POST   /containers/create?name=N    create (404 if the image is missing: the CLI pulls)
 *   POST   /containers/{id}/start       204, or 304 if it already runs  → startContainer
 *   POST   /containers/{id}/stop?t=S    204, or 304 if it was not running → stopContainer
 *   POST   /containers/{id}/kill        204, 409 if not running          → killContainer
 *   POST   /containers/{id}/restart     204
 *   POST   /containers/{id}/wait        head at once, body at the exit   (container-wait.ts)
 *   DELETE /containers/{id}?force&v     204, 409 if running              → removeContainerById
 *   GET    /containers/{id}/json        inspect                          → inspectContainer
 *   GET    /containers/{id}/logs        the json-file log, framed         → readContainerLogs
 *
 * Every answer reflects the kernel, not a cache: each handler reconciles first, as every CLI
 * command does (container/reconcile.ts).
 *
 * Try: `curl -s --unix-socket /tmp/mb.sock 'localhost/containers/json?all=1' | head -c 8` → `[{"Id":`
 */
import type { ServerResponse } from 'node:http';
import { reconcileAll, reconcileContainer } from '../container/reconcile.js';
import { findContainer, type ContainerRecord } from '../container/container-store.js';
import { commandOf, statusText } from '../cli/commands/ps-command.js';
import { inspectContainer } from '../lifecycle/inspect.js';
import { parseLogTime, readContainerLogs } from '../lifecycle/logs.js';
import { removeContainerById } from '../lifecycle/remove.js';
import { createForDaemon } from '../lifecycle/run.js';
import { startContainer } from '../lifecycle/start.js';
import { killContainer, stopContainer } from '../lifecycle/stop.js';
import { ImageStore } from '../image/store/images.js';
import { parseReference } from '../image/reference.js';
import { containerPorts } from '../network/index.js';
import { ApiError } from './api-errors.js';
import { takeAttachedStdin } from './attach-stdin.js';
import { connectWaitingTerminals, releaseWaitingTerminals } from './terminal-session.js';
import { parseWaitCondition, waitForExit } from './container-wait.js';
import { runRequestFromBody, type CreateBody } from './create-body.js';
import { queryFlag, sendEmpty, sendJson, type ApiRequest } from './request.js';
import { frame, MULTIPLEXED, RAW_STREAM } from './stream-framing.js';

/** `filters={"name":["web"],"status":["exited"]}`, as `docker ps -f` sends them. */
function parseFilters(text: string | null): Record<string, string[]> {
  if (!text) return {};
  try {
    const parsed = JSON.parse(text) as Record<string, string[] | Record<string, boolean>>;
    // API < 1.22 sent {"name": {"web": true}}: both shapes are accepted, as dockerd does.
    return Object.fromEntries(Object.entries(parsed).map(([key, value]) => [key, Array.isArray(value) ? value : Object.keys(value)]));
  } catch {
    throw new ApiError(400, `invalid filters: ${text}`);
  }
}

function matches(record: ContainerRecord, filters: Record<string, string[]>): boolean {
  return Object.entries(filters).every(([key, values]) => {
    switch (key) {
      case 'name': return values.some((value) => new RegExp(value).test(record.Name.slice(1)));
      case 'id': return values.some((value) => record.Id.startsWith(value));
      case 'status': return values.includes(record.State.Status);
      case 'exited': return record.State.Status === 'exited' && values.includes(String(record.State.ExitCode));
      default: throw new ApiError(400, `invalid filter '${key}': minibox filters by name, id, status and exited`);
    }
  });
}

/** One row of `GET /containers/json` (moby's types.Container). */
function listEntry(api: ApiRequest, record: ContainerRecord, now: number): Record<string, unknown> {
  return {
    Id: record.Id,
    Names: [record.Name],
    Image: record.Image,
    ImageID: record.ImageID,
    Command: commandOf(record),
    Created: Math.floor(Date.parse(record.Created) / 1000),
    Ports: containerPorts(api.daemon.root, record.Id).map((port) => ({
      IP: port.hostIp || '0.0.0.0', PrivatePort: port.containerPort, PublicPort: port.hostPort, Type: port.protocol,
    })),
    Labels: record.Config.Labels ?? {},
    State: record.State.Status,
    Status: statusText(record, now),
    HostConfig: { NetworkMode: record.HostConfig.NetworkMode },
    NetworkSettings: { Networks: {} },
    Mounts: record.Mounts.map((mount) => ({ Type: mount.Type, Name: mount.Name ?? '', Source: mount.Source, Destination: mount.Destination, RW: mount.RW })),
  };
}

export async function listContainers(api: ApiRequest, res: ServerResponse): Promise<void> {
  const filters = parseFilters(api.query.get('filters'));
  const all = queryFlag(api.query, 'all') || 'status' in filters || 'exited' in filters;
  const now = Date.now();
  const records = (await reconcileAll(api.daemon.root))
    .filter((record) => (all || record.State.Running) && matches(record, filters))
    .sort((a, b) => Date.parse(b.Created) - Date.parse(a.Created));
  const limit = Number(api.query.get('limit') ?? -1);
  sendJson(res, 200, (limit > 0 ? records.slice(0, limit) : records).map((record) => listEntry(api, record, now)));
}

export async function createContainerRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const request = runRequestFromBody(await api.json<CreateBody>(), api.query.get('name') ?? undefined);
  // The CLI pulls when create answers 404 "No such image" (and says "Unable to find image").
  if (!new ImageStore(api.daemon.root).resolve(request.image)) {
    parseReference(request.image); // a malformed name is a 400, not a 404
    throw new ApiError(404, `No such image: ${parseReference(request.image).familiar}`);
  }
  const id = await createForDaemon(api.daemon.root, request);
  sendJson(res, 201, { Id: id, Warnings: [] });
}

export async function startContainerRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const { root, explain } = api.daemon;
  const id = findContainer(root, api.params[0]!).Id;
  const record = await reconcileContainer(root, id);
  if (record?.State.Running) { sendEmpty(res, 304); return; }
  // -t: attached clients join the monitor's terminal (terminal-session.ts); else the attach's stdin pipe.
  const stdin = record?.Config.Tty ? undefined : takeAttachedStdin(id);
  try {
    await startContainer(root, id, {
      ...(stdin ? { stdin: stdin.fd } : {}),
      ...(record?.Config.Tty ? { onMonitorReady: () => connectWaitingTerminals(root, id) } : {}),
      ...(explain ? { explain } : {}),
    });
  } catch (error) {
    releaseWaitingTerminals(id);
    throw error;
  } finally {
    stdin?.release();
  }
  sendEmpty(res);
}

export async function stopContainerRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const { root } = api.daemon;
  const id = findContainer(root, api.params[0]!).Id;
  const before = await reconcileContainer(root, id);
  const seconds = api.query.get('t') ?? api.query.get('timeout');
  if (!before?.State.Running) { sendEmpty(res, 304); return; }
  await stopContainer(root, id, seconds !== null && seconds !== '' ? Number(seconds) : undefined);
  sendEmpty(res);
}

export async function killContainerRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const { root } = api.daemon;
  await killContainer(root, findContainer(root, api.params[0]!).Id, api.query.get('signal') || 'SIGKILL');
  sendEmpty(res);
}

export async function restartContainerRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const { root, explain } = api.daemon;
  const id = findContainer(root, api.params[0]!).Id;
  const seconds = api.query.get('t');
  await stopContainer(root, id, seconds ? Number(seconds) : undefined);
  await startContainer(root, id, explain ? { explain } : {});
  sendEmpty(res);
}

export async function waitContainerRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const { root } = api.daemon;
  const condition = parseWaitCondition(api.query.get('condition'));
  const id = findContainer(root, api.params[0]!).Id;
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.flushHeaders(); // the CLI starts the container only once it has this head
  let gone = false;
  res.once('close', () => { gone = true; });
  try {
    const code = await waitForExit(root, id, condition, () => gone);
    res.end(`${JSON.stringify({ StatusCode: code, Error: null })}\n`);
  } catch (error) {
    if (gone) return;
    res.end(`${JSON.stringify({ StatusCode: -1, Error: { Message: error instanceof Error ? error.message : String(error) } })}\n`);
  }
}

export async function removeContainerRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const { root } = api.daemon;
  const id = findContainer(root, api.params[0]!).Id;
  await removeContainerById(root, id, { force: queryFlag(api.query, 'force'), volumes: queryFlag(api.query, 'v') });
  sendEmpty(res);
}

export async function inspectContainerRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const { root } = api.daemon;
  const record = await reconcileContainer(root, findContainer(root, api.params[0]!).Id);
  if (!record) throw new ApiError(404, `No such container: ${api.params[0]}`);
  sendJson(res, 200, inspectContainer(root, record));
}

export async function containerLogsRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const { root } = api.daemon;
  const record = findContainer(root, api.params[0]!);
  const wanted = { stdout: queryFlag(api.query, 'stdout'), stderr: queryFlag(api.query, 'stderr') };
  if (!wanted.stdout && !wanted.stderr) throw new ApiError(400, 'Bad parameters: you must choose at least one stream');
  const tail = api.query.get('tail');
  const since = api.query.get('since');
  const until = api.query.get('until');
  const timestamps = queryFlag(api.query, 'timestamps');
  res.writeHead(200, { 'Content-Type': record.Config.Tty ? RAW_STREAM : MULTIPLEXED });
  res.flushHeaders();
  let gone = false;
  res.once('close', () => { gone = true; });
  await readContainerLogs(root, record.Id, {
    follow: queryFlag(api.query, 'follow'),
    ...(tail && tail !== 'all' ? { tail: Number(tail) } : {}),
    ...(since && since !== '0' ? { sinceMs: parseLogTime(since) } : {}),
    ...(until && until !== '0' ? { untilMs: parseLogTime(until) } : {}),
    shouldStop: () => gone,
  }, (entry) => {
    if (!wanted[entry.stream]) return;
    const text = timestamps ? `${entry.time} ${entry.log}` : entry.log;
    res.write(record.Config.Tty ? text : frame(entry.stream, text));
  });
  res.end();
}
