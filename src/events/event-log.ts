/**
 * event-log.ts — `minibox events`' journal: what happened to containers and images, in order.
 *
 * Docker's daemon keeps recent events in memory and streams them to `docker events`. minibox has
 * no daemon, so every process that makes something happen appends a line to one file in the state
 * root, `events.log`: the verbs (create, start, kill, stop, destroy, rename, pause, pull, tag…),
 * the C monitor (die, oom — native/monitor-after-exit.c) and the health probes (health_status).
 * Each line is Docker's events.Message as JSON, so `events --format json` prints it unchanged:
 *   {"status":"start","id":"3f…","Type":"container","Action":"start",
 *    "Actor":{"ID":"3f…","Attributes":{"image":"busybox","name":"web"}},"scope":"local",
 *    "time":1764488400,"timeNano":1764488400123456789}
 * A line is written with one write(2) on an O_APPEND descriptor: concurrent writers never tear
 * each other's lines. Past 1 MiB the file is renamed to events.log.1 (the older one dropped), so
 * the journal stays small; readers read events.log.1, then events.log.
 *
 * Try: `minibox run --rm --name evlog busybox true; minibox events --since 1m --until 0s -f
 * container=evlog --format '{{.Type}} {{.Action}}'` → `container create container start
 * container die container destroy`
 */
import fs from 'node:fs';
import path from 'node:path';
import type { StateRoot } from '../state-root.js';
import type { ContainerRecord } from '../container/container-store.js';

export type EventType = 'container' | 'image';

/** Docker's events.Message. */
export interface EventMessage {
  status?: string;
  id?: string;
  from?: string;
  Type: EventType;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
}

/** One journal line: the message, and its exact time in ns (a JS number cannot hold it). */
export interface JournalEvent {
  message: EventMessage;
  timeNano: bigint;
  /** The line as written, for `--format json`. */
  line: string;
}

const ROTATE_AT_BYTES = 1024 * 1024;

export function eventsFile(root: StateRoot): string {
  return path.join(root.dir, 'events.log');
}

/** Now, in ns since the epoch; sub-millisecond digits from the monotonic clock keep one writer's order. */
function nowNano(): bigint {
  return BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
}

/** Appends one event; never throws (a full disk must not fail the verb that did the work). */
export function recordEvent(root: StateRoot, type: EventType, action: string, id: string, attributes: Record<string, string>): void {
  const timeNano = nowNano();
  const sorted = Object.fromEntries(Object.keys(attributes).sort().map((key) => [key, attributes[key]!]));
  const body = JSON.stringify({
    status: action, id, Type: type, Action: action,
    Actor: { ID: id, Attributes: sorted }, scope: 'local', time: Number(timeNano / 1_000_000_000n),
  });
  const line = `${body.slice(0, -1)},"timeNano":${timeNano}}\n`;
  try {
    const file = eventsFile(root);
    rotateIfLarge(file);
    const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o640);
    try {
      fs.writeSync(fd, line);
    } finally {
      fs.closeSync(fd);
    }
  } catch { /* no journal: the event is lost, the verb's work is not */ }
}

function rotateIfLarge(file: string): void {
  try {
    if (fs.statSync(file).size >= ROTATE_AT_BYTES) fs.renameSync(file, `${file}.1`);
  } catch { /* no file yet, or another writer rotated it first */ }
}

/** The attributes Docker gives a container's events: image, name and the container's labels. */
export function containerAttributes(record: ContainerRecord): Record<string, string> {
  return { ...(record.Config.Labels ?? {}), image: record.Image, name: record.Name.replace(/^\//, '') };
}

/** A container event with Docker's attributes, plus `extra` (exitCode, signal, oldName…). */
export function recordContainerEvent(root: StateRoot, record: ContainerRecord, action: string, extra: Record<string, string> = {}): void {
  recordEvent(root, 'container', action, record.Id, { ...containerAttributes(record), ...extra });
}

/** Parses journal text; a torn last line (still being written) is returned as `rest`. */
export function parseJournal(text: string): { events: JournalEvent[]; rest: string } {
  const lines = text.split('\n');
  const rest = lines.pop() ?? '';
  const events: JournalEvent[] = [];
  for (const line of lines) {
    const nano = /"timeNano":(\d+)/.exec(line);
    if (!nano) continue;
    try {
      events.push({ message: JSON.parse(line) as EventMessage, timeNano: BigInt(nano[1]!), line });
    } catch { /* not ours: skipped */ }
  }
  return { events, rest };
}

/** Every event in the journal now (events.log.1, then events.log), and where events.log ends. */
export function readJournal(root: StateRoot): { events: JournalEvent[]; offset: number; inode: number } {
  const file = eventsFile(root);
  const older = readOptional(`${file}.1`);
  const current = readOptional(file);
  const stat = statOptional(file);
  return {
    events: [...parseJournal(older).events, ...parseJournal(current).events],
    offset: Buffer.byteLength(current.slice(0, current.lastIndexOf('\n') + 1)),
    inode: stat?.ino ?? 0,
  };
}

function readOptional(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function statOptional(file: string): fs.Stats | undefined {
  try {
    return fs.statSync(file);
  } catch {
    return undefined;
  }
}

/**
 * Calls `onEvent` for each event appended after `offset`, polling every `intervalMs`, until
 * `shouldStop()` says so. A rotation (a new inode) is followed: the rest of the old file is in
 * events.log.1, then the new file is read from its start.
 */
export async function followJournal(root: StateRoot, start: { offset: number; inode: number },
  onEvent: (event: JournalEvent) => void, shouldStop: () => boolean, intervalMs = 100): Promise<void> {
  const file = eventsFile(root);
  let { offset, inode } = start;
  for (;;) {
    const stopping = shouldStop(); // decided before the read: what was written until then is shown
    const stat = statOptional(file);
    if (stat && inode !== 0 && stat.ino !== inode) {
      emitFrom(`${file}.1`, offset, onEvent);
      offset = 0;
    }
    if (stat) {
      inode = stat.ino;
      offset += emitFrom(file, offset, onEvent);
    }
    if (stopping) return;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Emits the whole lines of `file` after `offset`; returns how many bytes they took. */
function emitFrom(file: string, offset: number, onEvent: (event: JournalEvent) => void): number {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return 0;
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size <= offset) return 0;
    const buffer = Buffer.alloc(size - offset);
    const read = fs.readSync(fd, buffer, 0, buffer.length, offset);
    const text = buffer.subarray(0, read).toString('utf8');
    const complete = text.slice(0, text.lastIndexOf('\n') + 1);
    for (const event of parseJournal(complete).events) onEvent(event);
    return Buffer.byteLength(complete);
  } finally {
    fs.closeSync(fd);
  }
}
