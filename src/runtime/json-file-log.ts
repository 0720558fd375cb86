/**
 * json-file-log.ts — a foreground container's output, written to its log as it is relayed.
 *
 * Docker writes a container's output to its json-file log whether or not a client is attached:
 * `docker run alpine echo hi` prints "hi", and `docker logs` of that exited container prints it
 * again. A detached minibox container's log is written by the C monitor
 * (native/minibox-monitor.c); a foreground `run` has no monitor — minibox itself is the init's
 * parent and copies its pipes (stdio-relay.ts), or its terminal with -t (terminal-relay.ts, all
 * of it as "stdout", as Docker logs a tty) — so the copy also goes here, in the same format
 * and with the same rules:
 *   - one JSON object per line: {"log":"text\n","stream":"stdout"|"stderr","time":RFC3339Nano},
 *     escaped as Go's encoder does (<, > and & as \u003c…: Docker's jsonlog is HTML-safe);
 *   - a line longer than 16 KiB is split, as Docker splits it; a last line without a newline is
 *     written when its stream ends;
 *   - one write(2) per entry on an O_APPEND descriptor, so `logs -f` never reads half an entry;
 *   - `--log-opt max-size=… max-file=…` rotate it (container.log → .1 → .2 …), as the monitor does.
 * Writing the log never blocks or fails the container: a write error (a full disk) drops the entry.
 *
 * Try: `minibox run --name fg busybox echo hi >/dev/null; minibox logs fg` → `hi`
 */
import fs from 'node:fs';

/** Docker splits log lines at 16 KiB (and so does the monitor). */
const LINE_MAX_BYTES = 16 * 1024;

export type LogStream = 'stdout' | 'stderr';

/** `--log-opt max-size=… max-file=…` as numbers (lifecycle/log-options.ts): bytes (-1: never), files. */
export interface LogRotation { maxSize: number; maxFiles: number }

export interface JsonFileLog {
  /** Adds what the container wrote to one stream; whole lines become entries at once. */
  write(stream: LogStream, chunk: Buffer): void;
  /** The stream reached end of file: its unfinished last line becomes an entry. */
  end(stream: LogStream): void;
  /** Writes what is pending and closes the file (safe to call more than once). */
  close(): void;
}

/** RFC 3339 in UTC, trailing zeros of the fraction trimmed, like Go's time.RFC3339Nano (to the ms). */
export function rfc3339Nano(wall = Date.now()): string {
  return new Date(wall).toISOString().replace(/\.?0*Z$/, 'Z');
}

/** One json-file line, escaped as Go's encoding/json does for Docker's jsonlog. */
export function jsonFileEntry(stream: LogStream, text: string, time = rfc3339Nano()): string {
  // JSON.stringify's escapes, but \b, \f and the HTML characters as \u00XX (an escape pair is one match)
  const log = JSON.stringify(text).replace(/\\.|[<>&\u2028\u2029]/g, (m) => {
    if (m.length === 2) return m === '\\b' ? '\\u0008' : m === '\\f' ? '\\u000c' : m;
    return `\\u${m.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
  return `{"log":${log},"stream":"${stream}","time":"${time}"}\n`;
}

/** Splits off the complete lines (and 16 KiB pieces) of `pending`; the rest stays pending. */
export function takeLines(pending: Buffer, atEnd: boolean): { lines: Buffer[]; rest: Buffer } {
  const lines: Buffer[] = [];
  let start = 0;
  for (;;) {
    const newline = pending.indexOf(10, start);
    const limit = start + LINE_MAX_BYTES;
    if (newline >= 0 && newline < limit) {
      lines.push(pending.subarray(start, newline + 1));
      start = newline + 1;
    } else if (pending.length - start >= LINE_MAX_BYTES) {
      lines.push(pending.subarray(start, limit));
      start = limit;
    } else break;
  }
  if (atEnd && start < pending.length) {
    lines.push(pending.subarray(start));
    start = pending.length;
  }
  return { lines, rest: Buffer.from(pending.subarray(start)) };
}

/** Opens (appends to) a container's log; rotates it by `limits` as the monitor does. */
export function openJsonFileLog(file: string, limits: LogRotation): JsonFileLog {
  let fd: number | undefined = fs.openSync(file, 'a', 0o640); // O_APPEND (Node sets O_CLOEXEC itself)
  let size = fs.fstatSync(fd).size; // a restarted container appends
  const pending: Record<LogStream, Buffer> = { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };

  const rotate = (): void => {
    if (fd === undefined) return;
    if (limits.maxFiles < 2) {
      fs.ftruncateSync(fd, 0);
      size = 0;
      return;
    }
    for (let n = limits.maxFiles - 1; n >= 1; n--) {
      try { fs.renameSync(n === 1 ? file : `${file}.${n - 1}`, `${file}.${n}`); } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return; // try again at the next entry
      }
    }
    fs.closeSync(fd);
    fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o640);
    size = 0;
  };
  const append = (stream: LogStream, line: Buffer): void => {
    if (fd === undefined) return;
    const entry = Buffer.from(jsonFileEntry(stream, line.toString('utf8')));
    try {
      if (limits.maxSize > 0 && size > 0 && size + entry.length > limits.maxSize) rotate();
      size += fs.writeSync(fd, entry);
    } catch { /* a full disk drops the entry rather than stop the container */ }
  };
  const take = (stream: LogStream, atEnd: boolean): void => {
    const { lines, rest } = takeLines(pending[stream], atEnd);
    pending[stream] = rest;
    for (const line of lines) append(stream, line);
  };
  return {
    write(stream, chunk) {
      pending[stream] = Buffer.concat([pending[stream], chunk]);
      take(stream, false);
    },
    end(stream) { take(stream, true); },
    close() {
      take('stdout', true);
      take('stderr', true);
      if (fd !== undefined) fs.closeSync(fd);
      fd = undefined;
    },
  };
}
