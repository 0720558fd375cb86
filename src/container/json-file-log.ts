/**
 * json-file-log.ts — a container's output in Docker's json-file format, written by the engine.
 *
 * Docker's default log driver writes every line a container prints, foreground or detached, to
 * `<id>-json.log`: one JSON object per line, `{"log":"hello\n","stream":"stdout","time":"…"}`,
 * time in RFC 3339 with nanoseconds (trailing zeros trimmed), lines cut at 16 KiB, and the text
 * escaped HTML-safe (`<` → `\u003c`) as Go's encoder does. That is why `docker logs` of a
 * container that ran in the foreground and exited still shows what it printed.
 *
 * For a detached container the C monitor (native/minibox-monitor.c) writes this file. For a
 * foreground `run` the engine itself copies the container's output to the terminal, and tees
 * every chunk here (run-bundle.ts); the same format, the same `container.log`, so `minibox logs`
 * reads both alike. The file is only known once the container exists, after the init stage has
 * started: what arrives before `open()` waits in memory (in practice nothing: the program runs
 * after the bundle is written).
 *
 * Try: `minibox run --name hi busybox echo hello; minibox logs hi; cat .../containers/<id>/container.log`.
 */
import fs from 'node:fs';

/** Docker (and the monitor) cut lines at 16 KiB. */
const LINE_MAX_BYTES = 16 * 1024;

export type OutputStream = 'stdout' | 'stderr';

/** Where a copy of the container's output goes. */
export interface OutputSink {
  write(stream: OutputStream, chunk: Buffer): void;
}

/** Go's RFC3339Nano in UTC: fractional seconds without trailing zeros (none at all when zero). */
export function rfc3339Nano(date: Date, extraNanos = 0): string {
  const iso = date.toISOString(); // 2024-05-01T10:00:00.123Z
  const nanos = String(date.getUTCMilliseconds() * 1_000_000 + extraNanos).padStart(9, '0').replace(/0+$/, '');
  return `${iso.slice(0, 19)}${nanos ? `.${nanos}` : ''}Z`;
}

/** One json-file entry, escaped as Go's encoding/json does (HTML-safe). */
export function jsonLogEntry(stream: OutputStream, text: string, time: string): string {
  const log = JSON.stringify(text).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return `{"log":${log},"stream":"${stream}","time":"${time}"}\n`;
}

export class JsonFileLog implements OutputSink {
  private fd: number | undefined;
  private readonly pending: Record<OutputStream, Buffer> = { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };
  private readonly early: { stream: OutputStream; chunk: Buffer }[] = [];
  private closed = false;

  /** Starts writing to `file` (appending, as a restarted container's log grows), early output first. */
  open(file: string): void {
    if (this.fd !== undefined || this.closed) return;
    this.fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o640);
    for (const { stream, chunk } of this.early.splice(0)) this.write(stream, chunk);
  }

  write(stream: OutputStream, chunk: Buffer): void {
    if (this.closed) return;
    if (this.fd === undefined) {
      this.early.push({ stream, chunk });
      return;
    }
    let pending = Buffer.concat([this.pending[stream], chunk]);
    for (;;) {
      const newline = pending.indexOf(0x0a);
      const end = newline >= 0 && newline < LINE_MAX_BYTES ? newline + 1 : pending.length >= LINE_MAX_BYTES ? LINE_MAX_BYTES : -1;
      if (end < 0) break;
      this.entry(stream, pending.subarray(0, end));
      pending = pending.subarray(end);
    }
    this.pending[stream] = pending;
  }

  /** Writes what is left of unfinished lines and closes the file (the program has exited). */
  close(): void {
    if (this.closed) return;
    if (this.fd !== undefined) {
      for (const stream of ['stdout', 'stderr'] as const) if (this.pending[stream].length > 0) this.entry(stream, this.pending[stream]);
      fs.closeSync(this.fd);
    }
    this.closed = true;
    this.fd = undefined;
  }

  private entry(stream: OutputStream, bytes: Buffer): void {
    try {
      fs.writeSync(this.fd!, jsonLogEntry(stream, bytes.toString('utf8'), rfc3339Nano(new Date())));
    } catch { /* disk full: drop the line rather than stop the container's output (as the monitor does) */ }
  }
}
