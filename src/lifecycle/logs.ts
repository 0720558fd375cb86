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
 * The log may be rotated (`--log-opt max-size=… max-file=…`, log-options.ts): older output is in
 * container.log.1, .2 …, so those are read first, highest number first. While following, the
 * current file is read through an open descriptor: when the monitor renames it to .1, the
 * descriptor still reads it to its last entry, and then the new container.log is opened.
 *
 * Try: `minibox run -d --name box busybox echo hello >/dev/null && minibox wait box >/dev/null &&
 * find $MINIBOX_ROOT/containers -name container.log | xargs cat` →
 * `{"log":"hello\n","stream":"stdout"`
 */
import fs from 'node:fs';
import path from 'node:path';
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
  /** While following: stop when this says so (the API's client went away). */
  shouldStop?: () => boolean;
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
export function parseLogTime(text: string, now = Date.now(), flag = 'since'): number {
  const value = text.trim();
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  if (/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(value)) {
    let ms = 0;
    for (const match of value.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(match[1]) * (DURATION_UNITS[match[2]!] ?? 0);
    return now - ms;
  }
  const parsed = Date.parse(value);
  if (Number.isNaN(parsed)) throw new UsageError(`invalid value for "${flag}": ${text}: use RFC 3339 (2024-05-01T10:00:00Z), Unix seconds or a duration (10m)`);
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

/** The rotated files of a log, oldest first: container.log.N … container.log.1. */
export function rotatedLogFiles(logFile: string): string[] {
  const dir = path.dirname(logFile);
  const prefix = `${path.basename(logFile)}.`;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((name) => name.startsWith(prefix) && /^\d+$/.test(name.slice(prefix.length)))
    .map((name) => Number(name.slice(prefix.length))).sort((a, b) => b - a)
    .map((number) => path.join(dir, `${prefix}${number}`));
}

/** The current log file, held open so that a rotation (rename) cannot take the unread end away. */
interface Cursor { fd: number; ino: number; offset: number }

function openCursor(file: string, offset: number): Cursor | undefined {
  try {
    const fd = fs.openSync(file, 'r');
    return { fd, ino: fs.fstatSync(fd).ino, offset };
  } catch {
    return undefined; // no output yet
  }
}

/** Everything from the cursor to the end of its file (from 0 again if the file was truncated). */
function readToEnd(cursor: Cursor): Buffer {
  if (fs.fstatSync(cursor.fd).size < cursor.offset) cursor.offset = 0; // max-file=1: truncated in place
  const chunks: Buffer[] = [];
  const buffer = Buffer.alloc(64 * 1024);
  let count: number;
  while ((count = fs.readSync(cursor.fd, buffer, 0, buffer.length, cursor.offset)) > 0) {
    chunks.push(Buffer.from(buffer.subarray(0, count)));
    cursor.offset += count;
  }
  return Buffer.concat(chunks);
}

/** Reads (and with `follow`, keeps reading) a container's log, calling `write` per entry. */
export async function readContainerLogs(root: StateRoot, id: string, options: LogOptions, write: (entry: LogEntry) => void): Promise<void> {
  const store = new ContainerStore(root);
  if (!store.get(id)) throw new NoSuchContainerError(id);
  const file = store.paths(id).log;
  const wanted = (entry: LogEntry): boolean =>
    (options.sinceMs === undefined || timeMs(entry) >= options.sinceMs) && (options.untilMs === undefined || timeMs(entry) < options.untilMs);

  let pending = '';
  const parse = (text: Buffer): LogEntry[] => {
    const { entries, rest } = parseLogLines(pending + text.toString('utf8'));
    pending = rest;
    return entries.filter(wanted);
  };
  let cursor: Cursor | undefined;
  const readNew = (): LogEntry[] => {
    cursor ??= openCursor(file, options.startOffset ?? 0);
    if (!cursor) return [];
    const entries = parse(readToEnd(cursor));
    let now: fs.Stats | undefined;
    try { now = fs.statSync(file); } catch { /* between rename and the new file */ }
    if (now && now.ino !== cursor.ino) { // rotated: finish the old file, go on with the new one
      entries.push(...parse(readToEnd(cursor)));
      fs.closeSync(cursor.fd);
      cursor = openCursor(file, 0);
      if (cursor) entries.push(...parse(readToEnd(cursor)));
    }
    return entries;
  };

  try {
    // `start -a` (startOffset) wants only what the new run writes; otherwise the rotated files first.
    let first = options.startOffset === undefined
      ? rotatedLogFiles(file).flatMap((rotated) => { try { return parse(fs.readFileSync(rotated)); } catch { return []; } })
      : [];
    first.push(...readNew());
    if (options.tail !== undefined) first = options.tail === 0 ? [] : first.slice(-options.tail);
    for (const entry of first) write(entry);
    if (!options.follow) return;
    for (;;) {
      if (options.shouldStop?.()) return;
      const record = await reconcileContainer(root, id);
      const running = record?.State.Running ?? false;
      for (const entry of readNew()) write(entry);
      if (!running) return;
      await sleep(100);
    }
  } finally {
    if (cursor) fs.closeSync(cursor.fd);
  }
}
