/**
 * logs.ts — reading a container's output back: `minibox logs`.
 *
 * The monitor appends every line the container writes to `container.log` in Docker's json-file
 * format — one JSON object per line: {"log":"text\n","stream":"stdout"|"stderr","time":RFC3339Nano}.
 * Reading it back is filtering (--since, --tail) and printing each entry to the same stream it
 * came from, optionally with its timestamp (-t). `-f` keeps reading as the file grows and ends
 * once the container is no longer running (the monitor writes the exit status only after the
 * pipes are drained, so by then the log is complete).
 *
 * Try: `minibox run -d --name box busybox echo hello >/dev/null && minibox wait box >/dev/null &&
 * find $MINIBOX_ROOT/containers -name container.log | xargs cat` →
 * `{"log":"hello\n","stream":"stdout"`
 */
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { NoSuchContainerError, UsageError } from '../errors.js';
import type { StateRoot } from '../state-root.js';
import { ContainerStore } from '../container/container-store.js';
import { reconcileContainer } from '../container/reconcile.js';

export interface LogEntry {
  log: string;
  stream: 'stdout' | 'stderr';
  time: string;
}

export interface LogOptions {
  follow?: boolean;
  /** Only the last N entries (before following). */
  tail?: number;
  /** Only entries at or after this time (ms since the epoch). */
  sinceMs?: number;
  /** Only entries before this time. */
  untilMs?: number;
  /** Start reading at this byte offset (`start -a`: only what the new run writes). */
  startOffset?: number;
}

/** The log's current size: an offset for `startOffset`. */
export function logSize(root: StateRoot, id: string): number {
  try {
    return fs.statSync(new ContainerStore(root).paths(id).log).size;
  } catch {
    return 0;
  }
}

/** Go duration units, as `--since 1h30m` accepts them. */
const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `--since`/`--until`: RFC 3339 (`2024-05-01T10:00:00Z`), Unix seconds, or relative (`10m`, `1h30m`). */
export function parseLogTime(text: string, now = Date.now()): number {
  const value = text.trim();
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  if (/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(value)) {
    let ms = 0;
    for (const match of value.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(match[1]) * (DURATION_UNITS[match[2]!] ?? 0);
    return now - ms;
  }
  const parsed = Date.parse(value);
  if (Number.isNaN(parsed)) throw new UsageError(`invalid value for "since": ${text}: use RFC 3339 (2024-05-01T10:00:00Z), Unix seconds or a duration (10m)`);
  return parsed;
}

/** Parses json-file lines; a torn last line (still being written) is left for the next read. */
export function parseLogLines(text: string): { entries: LogEntry[]; rest: string } {
  const entries: LogEntry[] = [];
  const lines = text.split('\n');
  const rest = lines.pop() ?? '';
  for (const line of lines) {
    if (!line.trim()) continue;
    try {
      entries.push(JSON.parse(line) as LogEntry);
    } catch { /* a damaged line is skipped, as Docker's reader does */ }
  }
  return { entries, rest };
}

/** Milliseconds of an RFC3339Nano time (sub-millisecond digits only matter for display). */
function timeMs(entry: LogEntry): number {
  return Date.parse(entry.time);
}

/** Reads (and with `follow`, keeps reading) a container's log, calling `write` per entry. */
export async function readContainerLogs(root: StateRoot, id: string, options: LogOptions, write: (entry: LogEntry) => void): Promise<void> {
  const store = new ContainerStore(root);
  if (!store.get(id)) throw new NoSuchContainerError(id);
  const file = store.paths(id).log;
  const wanted = (entry: LogEntry): boolean =>
    (options.sinceMs === undefined || timeMs(entry) >= options.sinceMs) && (options.untilMs === undefined || timeMs(entry) < options.untilMs);

  let offset = options.startOffset ?? 0;
  let pending = '';
  const readNew = (): LogEntry[] => {
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch {
      return []; // no output yet
    }
    try {
      const chunks: Buffer[] = [];
      const buffer = Buffer.alloc(64 * 1024);
      let count: number;
      while ((count = fs.readSync(fd, buffer, 0, buffer.length, offset)) > 0) {
        chunks.push(Buffer.from(buffer.subarray(0, count)));
        offset += count;
      }
      const { entries, rest } = parseLogLines(pending + Buffer.concat(chunks).toString('utf8'));
      pending = rest;
      return entries.filter(wanted);
    } finally {
      fs.closeSync(fd);
    }
  };

  let first = readNew();
  if (options.tail !== undefined) first = options.tail === 0 ? [] : first.slice(-options.tail);
  for (const entry of first) write(entry);
  if (!options.follow) return;
  for (;;) {
    const record = await reconcileContainer(root, id);
    const running = record?.State.Running ?? false;
    for (const entry of readNew()) write(entry);
    if (!running) return;
    await sleep(100);
  }
}
