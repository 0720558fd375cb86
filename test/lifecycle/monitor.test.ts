/**
 * minibox-monitor on its own (no container, no namespaces): it runs a program, turns its output
 * into Docker's json-file log, reaps it and writes the exit status and its pids atomically.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nativeProgramPath } from '../../src/runtime/programs.js';

let dir: string;
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-monitor-')); });
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Entry { log: string; stream: string; time: string }
interface Outcome { report: string; status: Record<string, unknown>; pids: { monitor: { pid: number; startTime: number }; init: { pid: number; startTime: number } }; log: Entry[] }

async function monitor(program: string[], extra: string[] = []): Promise<Outcome> {
  const files = { log: path.join(dir, 'container.log'), status: path.join(dir, 'exit-status.json'), pids: path.join(dir, 'pids.json') };
  const child = spawn(nativeProgramPath('minibox-monitor'), ['--log', files.log, '--status', files.status, '--pids', files.pids, ...extra, '--', ...program],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let report = '';
  child.stdout.on('data', (chunk: Buffer) => { report += chunk.toString(); });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  expect(code).toBe(0);
  const log = fs.existsSync(files.log) ? fs.readFileSync(files.log, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Entry) : [];
  return { report, status: JSON.parse(fs.readFileSync(files.status, 'utf8')), pids: JSON.parse(fs.readFileSync(files.pids, 'utf8')), log };
}

describe('minibox-monitor', () => {
  it('logs each line as json-file entries, escaping as Go does, and keeps a last line without newline', async () => {
    const { log, status, report, pids } = await monitor(['/bin/sh', '-c', 'printf "a\\tb \\"q\\" <&>\\n"; printf "err\\n" >&2; printf "tail"']);
    expect(report).toBe(`${pids.init.pid}\n`);
    expect(pids.monitor.startTime).toBeGreaterThan(0);
    expect(log.filter((entry) => entry.stream === 'stdout').map((entry) => entry.log)).toEqual(['a\tb "q" <&>\n', 'tail']);
    expect(log.filter((entry) => entry.stream === 'stderr').map((entry) => entry.log)).toEqual(['err\n']);
    for (const entry of log) expect(entry.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/);
    const raw = fs.readFileSync(path.join(dir, 'container.log'), 'utf8');
    expect(raw).toContain('\\u003c\\u0026\\u003e'); // HTML-safe, like Docker's encoder
    expect(status).toMatchObject({ initPid: pids.init.pid, exitCode: 0, signal: 0, oomKilled: false });
    expect(Date.parse(status.finishedAt as string)).not.toBeNaN();
  });

  it('splits a line longer than 16 KiB, as Docker does', async () => {
    const { log } = await monitor(['/bin/sh', '-c', 'head -c 40000 /dev/zero | tr "\\0" x; echo']);
    expect(log.map((entry) => entry.log.length)).toEqual([16384, 16384, 40000 - 2 * 16384 + 1]);
    expect(log.map((entry) => entry.log).join('')).toBe(`${'x'.repeat(40000)}\n`);
  });

  it('records 128+n for a program killed by signal n, and its own exit code otherwise', async () => {
    expect((await monitor(['/bin/sh', '-c', 'kill -TERM $$'])).status).toMatchObject({ exitCode: 143, signal: 15 });
    expect((await monitor(['/bin/sh', '-c', 'exit 42'])).status).toMatchObject({ exitCode: 42, signal: 0 });
  });

  it('reads oom_kill from the cgroup files it is given; missing files mean no OOM', async () => {
    const events = path.join(dir, 'memory.events');
    fs.writeFileSync(events, 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n');
    const oom = await monitor(['/bin/true'], ['--oom-file', path.join(dir, 'missing'), '--oom-file', events]);
    expect(oom.status).toMatchObject({ exitCode: 0, oomKilled: true });
    fs.writeFileSync(events, 'oom 0\noom_kill 0\n');
    expect((await monitor(['/bin/true'], ['--oom-file', events])).status).toMatchObject({ oomKilled: false });
  });

  it('--early: forks first, takes its files from fd 5 ("LENGTH\\n" + NUL-ended options), then runs as before', async () => {
    const files = { log: path.join(dir, 'container.log'), status: path.join(dir, 'exit-status.json'), pids: path.join(dir, 'pids.json') };
    const child = spawn(nativeProgramPath('minibox-monitor'), ['--early', '--', '/bin/sh', '-c', 'echo early; exit 7'],
      { stdio: ['ignore', 'pipe', 'pipe', 'ignore', 'ignore', 'pipe'] });
    let report = '';
    child.stdout!.on('data', (chunk: Buffer) => { report += chunk.toString(); });
    const options = Buffer.from(['--log', files.log, '--status', files.status, '--pids', files.pids].map((o) => `${o}\0`).join(''));
    const control = (child.stdio as unknown[])[5] as NodeJS.WritableStream;
    control.write(`${options.length}\n`);
    control.end(options);
    expect(await new Promise((resolve) => child.on('close', resolve))).toBe(0);
    const pids = JSON.parse(fs.readFileSync(files.pids, 'utf8')) as Outcome['pids'];
    expect(report).toBe(`${pids.init.pid}\n`);
    expect(JSON.parse(fs.readFileSync(files.status, 'utf8'))).toMatchObject({ initPid: pids.init.pid, exitCode: 7 });
    expect(fs.readFileSync(files.log, 'utf8')).toContain('"log":"early\\n"');
  });

  it('--early: end of file on fd 5 before the options: exits 0 having written nothing', async () => {
    const child = spawn(nativeProgramPath('minibox-monitor'), ['--early', '--', '/bin/sleep', '100'], { stdio: ['ignore', 'pipe', 'pipe', 'ignore', 'ignore', 'pipe'] });
    const children = `/proc/${child.pid}/task/${child.pid}/children`;
    let forked = 0;
    for (const deadline = Date.now() + 10_000; !forked && Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 5))) {
      forked = Number(fs.readFileSync(children, 'utf8').trim()) || 0;
    }
    expect(forked).toBeGreaterThan(0);
    ((child.stdio as unknown[])[5] as NodeJS.WritableStream).end();
    expect(await new Promise((resolve) => child.on('close', resolve))).toBe(0);
    expect(fs.existsSync(`/proc/${forked}`)).toBe(false); // killed and reaped before the monitor left
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('reports a program it cannot execute with exit code 125', async () => {
    const { status } = await monitor(['/no/such/program']);
    expect(status).toMatchObject({ exitCode: 125 });
  });
});
