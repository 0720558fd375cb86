/**
 * events-route.ts — `docker events` and `docker diff`: what happened to containers and images, and
 * what a container changed in its files — both read from what minibox already records.
 *
 *   GET /events?since=S&until=U&filters={"container":["web"],"event":["die"]}
 *       the journal (events/event-log.ts) as dockerd streams it: the head at once, then one
 *       events.Message JSON object a line — the past ones first (with `since`), then each new one
 *       as it is appended, until `until` passes or the client goes away. The CLI turns `--since
 *       10m` into Unix seconds itself; filters are `minibox events -f`'s (container, event, type,
 *       image, label).
 *   GET /containers/{id}/changes
 *       the overlay upper dir read as `docker diff` wants it (lifecycle/diff.ts):
 *       `[{"Path":"/tmp/x","Kind":1}]`, Kind 0 changed, 1 added, 2 deleted.
 *
 * Try: `docker -H unix:///tmp/mb.sock events --since 1m --until 0s --format '{{.Action}}'`
 * → `create`, `start`, `die`… one a line
 */
import type { ServerResponse } from 'node:http';
import { describeError } from '../errors.js';
import { ContainerStore } from '../container/container-store.js';
import { followJournal, readJournal, type JournalEvent } from '../events/event-log.js';
import { parseEventFilters } from '../cli/commands/events-command.js';
import { containerChanges, type ChangeKind } from '../lifecycle/diff.js';
import { parseLogTime } from '../lifecycle/logs.js';
import { ApiError } from './api-errors.js';
import { sendJson, type ApiRequest } from './request.js';

/** Docker's archive.ChangeType numbers. */
const KIND_NUMBER: Record<ChangeKind, number> = { C: 0, A: 1, D: 2 };

export async function containerChangesRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  sendJson(res, 200, containerChanges(api.daemon.root, api.params[0]!).map((change) => ({ Path: change.Path, Kind: KIND_NUMBER[change.Kind] })));
}

/** `filters={"container":["web"]}` as `minibox events -f container=web` specs. */
function filterSpecs(text: string | null): string[] {
  if (!text) return [];
  let parsed: Record<string, string[] | Record<string, boolean>>;
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    throw new ApiError(400, `invalid filters: ${text}`);
  }
  return Object.entries(parsed).flatMap(([key, values]) => (Array.isArray(values) ? values : Object.keys(values)).map((value) => `${key}=${value}`));
}

/** A `since`/`until` parameter in ns (the CLI sends Unix seconds, `1764488400.000000000`). */
function timeParameter(query: URLSearchParams, name: 'since' | 'until'): bigint | undefined {
  const text = query.get(name);
  if (!text) return undefined;
  try {
    return BigInt(Math.floor(parseLogTime(text, Date.now(), name))) * 1_000_000n;
  } catch (error) {
    throw new ApiError(400, describeError(error));
  }
}

export async function eventsRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const { root } = api.daemon;
  const sinceNano = timeParameter(api.query, 'since');
  const untilNano = timeParameter(api.query, 'until');
  const store = new ContainerStore(root);
  let filters;
  try {
    filters = parseEventFilters(filterSpecs(api.query.get('filters')), (name) => {
      try { return store.resolve(name)?.Id; } catch { return undefined; }
    });
  } catch (error) {
    throw new ApiError(400, describeError(error));
  }
  let closed = false;
  res.once('close', () => { closed = true; });
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.flushHeaders(); // the CLI waits for the head before it prints anything
  const emit = (event: JournalEvent): void => {
    if (sinceNano !== undefined && event.timeNano < sinceNano) return;
    if (untilNano !== undefined && event.timeNano > untilNano) return;
    if (!closed && filters.every((keep) => keep(event))) res.write(`${event.line}\n`);
  };
  const journal = readJournal(root);
  // As dockerd: without since (and until) only new events; with them, the past first.
  if (sinceNano !== undefined || untilNano !== undefined) journal.events.forEach(emit);
  const untilMs = untilNano === undefined ? undefined : Number(untilNano / 1_000_000n);
  if (untilMs === undefined || untilMs > Date.now()) {
    await followJournal(root, journal, emit, () => closed || (untilMs !== undefined && Date.now() > untilMs));
  }
  res.end();
}
