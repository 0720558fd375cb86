/**
 * minibox-monitor's attach socket on its own (no container): clients connect through the
 * engine's client (src/runtime/attach-client.ts), get stdout and stderr as separate frames, and
 * feed a --stdin-pipe program — 1 MiB, sixteen times a pipe's buffer, arrives whole (the monitor
 * stops reading clients while the program does not read, instead of dropping input). The socket
 * is bound below a directory deeper than sun_path's 107 bytes, replaces a stale one, serves two
 * clients at once, and is gone once the exit status is written.
 * Fails on today's main: the monitor there knows neither --attach-socket nor --stdin-pipe. And the
 * 1 MiB check fails if the monitor drops input it cannot write at once (checked: 782336 bytes came).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nativeProgramPath } from '../../src/runtime/programs.js';
import { connectAttachSocket, type AttachConnection } from '../../src/runtime/attach-client.js';
import { until } from './helpers.js';

let dir: string;
beforeEach(() => {
  dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mb-monitor-attach-')), 'a-directory-name-long-enough'.repeat(4));
  fs.mkdirSync(dir, { recursive: true });
});
afterEach(() => fs.rmSync(path.dirname(dir), { recursive: true, force: true }));

/** Starts the monitor; resolves once it reported the child's pid (it listens from before the fork). */
async function startMonitor(program: string[]): Promise<{ socket: string; status: string; exited: Promise<number | null> }> {
  const files = { log: path.join(dir, 'container.log'), status: path.join(dir, 'exit-status.json'), pids: path.join(dir, 'pids.json') };
  const socket = path.join(dir, 'attach.sock');
  const child = spawn(nativeProgramPath('minibox-monitor'), ['--stdin-pipe', '--attach-socket', socket,
    '--log', files.log, '--status', files.status, '--pids', files.pids, '--', ...program], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  return { socket, status: files.status, exited };
}

function collect(connection: AttachConnection): { stdout: string; stderr: string } {
  const seen = { stdout: '', stderr: '' };
  connection.onOutput((stream, data) => { seen[stream === 1 ? 'stdout' : 'stderr'] += data.toString(); });
  return seen;
}

describe('minibox-monitor --attach-socket', () => {
  it('relays 1 MiB of stdin whole, stdout and stderr apart, then the exit', async () => {
    expect(path.join(dir, 'attach.sock').length).toBeGreaterThan(108);
    fs.writeFileSync(path.join(dir, 'attach.sock'), 'stale'); // a killed monitor's leftover
    const monitor = await startMonitor(['/bin/sh', '-c', 'wc -c; echo err >&2; exit 6']);
    const connection = await connectAttachSocket(monitor.socket);
    const seen = collect(connection);
    connection.sendInput(Buffer.alloc(1024 * 1024, 'x'));
    connection.closeInput();
    await connection.closed;
    expect(seen).toEqual({ stdout: '1048576\n', stderr: 'err\n' });
    expect(await monitor.exited).toBe(0);
    expect(JSON.parse(fs.readFileSync(monitor.status, 'utf8'))).toMatchObject({ exitCode: 6 });
    expect(fs.existsSync(monitor.socket)).toBe(false);
  });

  it('shows the same output to every client; one hanging up changes nothing for the others', async () => {
    const monitor = await startMonitor(['/bin/sh', '-c', 'read first; echo "1 $first"; read second; echo "2 $second"']);
    const leaving = await connectAttachSocket(monitor.socket);
    const staying = await connectAttachSocket(monitor.socket);
    const left = collect(leaving);
    const stayed = collect(staying);
    leaving.sendInput(Buffer.from('a\n'));
    await until(() => left.stdout !== '', 'the first answer');
    leaving.hangUp();
    await leaving.closed;
    staying.sendInput(Buffer.from('b\n'));
    await staying.closed;
    expect(left.stdout).toBe('1 a\n');
    expect(stayed.stdout).toBe('1 a\n2 b\n');
    expect(await monitor.exited).toBe(0);
  });
});
