/**
 * attach.ts — `POST /containers/{id}/attach`: a container's output, live, on a taken-over connection.
 *
 * `docker run` (without -d) attaches before it starts the container, so that not one byte of
 * output is missed. The request carries `Connection: Upgrade` / `Upgrade: tcp`: the daemon
 * answers `101 UPGRADED` and from then on the connection is no longer HTTP — it is the
 * container's stdout and stderr, multiplexed (stream-framing.ts), until the container exits and
 * the daemon closes it. With `stdin=1` the client's bytes in the other direction are the
 * container's stdin.
 *
 * A minibox container started through the API belongs to its minibox-monitor, which writes the
 * output to the json-file log (runtime/monitor.ts). Attaching is therefore following that file:
 * the log is opened (created if the container never ran) at attach time and held open — so
 * neither a rotation nor the deletion of a `--rm` container takes the unread end away — and read
 * as it grows, until the container's run is over; the monitor writes the exit status only after
 * it has copied the last output, so by then the log is complete.
 *
 * Try: `docker -H unix:///tmp/mb.sock run --rm busybox sh -c 'echo out; echo err >&2' 2>/dev/null`
 * → `out`
 */
import fs from 'node:fs';
import type { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseLogLines, type LogEntry } from '../lifecycle/logs.js';
import { findContainer, type ContainerRecord } from '../container/container-store.js';
import { reconcileContainer } from '../container/reconcile.js';
import { ContainerStore } from '../container/container-store.js';
import { frame, MULTIPLEXED, RAW_STREAM } from './stream-framing.js';
import { queryFlag, type ApiRequest, type HijackedConnection } from './request.js';
import { waitForExit } from './container-wait.js';
import { attachStdin } from './attach-stdin.js';
import { attachTerminal } from './terminal-session.js';

/** A json-file log held open from an offset; reads whatever was appended since. */
class LogTail {
  private pending = '';
  private fd: number;
  private ino: number;

  constructor(private readonly file: string, private offset: number | 'end') {
    this.fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_CREAT, 0o640);
    const stats = fs.fstatSync(this.fd);
    this.ino = stats.ino;
    if (offset === 'end') this.offset = stats.size;
  }

  /** New complete entries; follows a rotation (the old file is read to its end first). */
  read(): LogEntry[] {
    const entries = this.drain();
    let current: fs.Stats | undefined;
    try { current = fs.statSync(this.file); } catch { /* deleted (--rm) or between rename and create */ }
    if (current && current.ino !== this.ino) {
      fs.closeSync(this.fd);
      this.fd = fs.openSync(this.file, 'r');
      this.ino = fs.fstatSync(this.fd).ino;
      this.offset = 0;
      entries.push(...this.drain());
    }
    return entries;
  }

  private drain(): LogEntry[] {
    const buffer = Buffer.alloc(64 * 1024);
    const chunks: Buffer[] = [];
    let count: number;
    while ((count = fs.readSync(this.fd, buffer, 0, buffer.length, this.offset as number)) > 0) {
      chunks.push(Buffer.from(buffer.subarray(0, count)));
      this.offset = (this.offset as number) + count;
    }
    const { entries, rest } = parseLogLines(this.pending + Buffer.concat(chunks).toString('utf8'));
    this.pending = rest;
    return entries;
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

/** Writes entries as frames (or raw with a terminal); only the streams the client asked for. */
function entryWriter(out: Writable, tty: boolean, wanted: { stdout: boolean; stderr: boolean }) {
  return (entry: LogEntry): void => {
    if (!wanted[entry.stream]) return;
    out.write(tty ? entry.log : frame(entry.stream, entry.log));
  };
}

/** `-t`: the connection relays the monitor's terminal (terminal-session.ts) until the exit or a detach. */
async function attachToTerminal(api: ApiRequest, record: ContainerRecord, connection: HijackedConnection): Promise<void> {
  const input = queryFlag(api.query, 'stdin') ? connection.input : undefined;
  const client = { input, open: () => connection.open(RAW_STREAM), detachKeys: api.query.get('detachKeys') };
  await attachTerminal(api.daemon.root, record.Id, client, record.State.Running, connection.closed);
}

export async function attachRoute(api: ApiRequest, connection: HijackedConnection): Promise<void> {
  const { root } = api.daemon;
  const record = findContainer(root, api.params[0]!);
  let gone = false;
  void connection.closed.then(() => { gone = true; });
  if (record.Config.Tty) {
    await attachToTerminal(api, (await reconcileContainer(root, record.Id)) ?? record, connection);
    return;
  }
  const tail = new LogTail(new ContainerStore(root).paths(record.Id).log, 'end');
  const out = connection.open(MULTIPLEXED);
  const detachStdin = queryFlag(api.query, 'stdin') && connection.input ? attachStdin(root, record.Id, connection.input) : undefined;
  const write = entryWriter(out, false, { stdout: queryFlag(api.query, 'stdout'), stderr: queryFlag(api.query, 'stderr') });
  let over = false;
  const exit = waitForExit(root, record.Id, 'next-exit', () => gone).catch(() => undefined).finally(() => { over = true; });
  try {
    if (!queryFlag(api.query, 'stream')) return; // `logs=1` without `stream`: nothing live was asked for
    while (!over && !gone) {
      for (const entry of tail.read()) write(entry);
      await Promise.race([exit, sleep(40)]);
    }
    for (const entry of tail.read()) write(entry); // the monitor copied the last output before the exit was written
  } finally {
    tail.close();
    detachStdin?.();
    if (!gone) out.end();
  }
}
