/**
 * A detached container's monitor and init stage start before the container exists
 * (src/runtime/early-monitor.ts, native/monitor-control.c): the monitor forks the stage from the
 * flags alone, learns the container's files on fd 5, and the bundle follows on fd 3. Aborted —
 * by the engine, or by the engine's death — it kills and reaps its waiting stage and leaves.
 *
 * Fails on the main before this change: there is no runtime/early-monitor.ts, and that
 * minibox-monitor refuses `--early` ("unknown option"). Checked too: a monitor that exits at end
 * of file without killing its child fails the abort test (the stage outlives it).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { makeBundle } from '../helpers/bundle.js';
import { expectNothingLeft } from '../helpers/containers.js';
import { startMonitorEarly } from '../../src/runtime/early-monitor.js';
import { startDetached } from '../../src/runtime/monitor.js';

/** Waits for `condition` with a deadline (never a fixed sleep). */
async function until<T>(condition: () => T | undefined | false, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const exists = (pid: number): boolean => fs.existsSync(`/proc/${pid}`);

/** The monitor's forked child (the init stage, booting or waiting for its bundle). */
async function childOf(pid: number): Promise<number> {
  return await until(() => Number(fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ')[0]) || undefined, 'the monitor\'s fork');
}

function filesIn(dir: string): { logFile: string; statusFile: string; pidsFile: string } {
  return { logFile: path.join(dir, 'container.log'), statusFile: path.join(dir, 'exit-status.json'), pidsFile: path.join(dir, 'pids.json') };
}

describe('minibox-monitor --early', () => {
  test('runs the bundle it is sent after its files, as PID 1 of a new PID namespace; log, pids and status as before', async () => {
    const monitor = startMonitorEarly({ newPidNamespace: true, terminal: false, stdinPipe: false });
    const bundle = makeBundle(['sh', '-c', 'echo pid=$$; echo err >&2; exit 3']);
    const files = filesIn(bundle.dir);
    let initPid: number | undefined;
    try {
      const stage = await childOf(monitor.pid!); // forked before any file of the container existed
      expect(fs.existsSync(files.pidsFile)).toBe(false);
      ({ initPid } = await startDetached(bundle.dir, { ...files, monitor }));
      expect(initPid).toBe(stage);
      const status = await until(() => fs.existsSync(files.statusFile) && JSON.parse(fs.readFileSync(files.statusFile, 'utf8')), 'the exit status');
      expect(status).toMatchObject({ initPid: stage, exitCode: 3 });
      expect(JSON.parse(fs.readFileSync(files.pidsFile, 'utf8'))).toMatchObject({ monitor: { pid: monitor.pid }, init: { pid: stage } });
      const log = fs.readFileSync(files.logFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { log: string; stream: string });
      expect(log.map(({ log: text, stream }) => `${stream} ${text}`).sort()).toEqual(['stderr err\n', 'stdout pid=1\n']);
      await until(() => !exists(monitor.pid!), 'the monitor to leave');
    } finally {
      expectNothingLeft(bundle.dir, initPid);
      bundle.remove();
    }
  });

  test('aborted before its options, it kills and reaps the waiting stage and writes nothing', async () => {
    const monitor = startMonitorEarly({ newPidNamespace: true, terminal: false, stdinPipe: true });
    const stage = await childOf(monitor.pid!);
    await monitor.finish('no such image');
    expect(exists(monitor.pid!)).toBe(false); // reaped by this process (its 'exit' came after waitpid)
    expect(exists(stage)).toBe(false); // killed and reaped by the monitor before it left
    await monitor.finish('a second finish changes nothing');
  });

  test('the engine dying before the options is an abort too (Ctrl-C, kill -9)', async () => {
    // The built module (npm test builds first): a plain Node process, as the CLI is.
    const script = `import('${path.resolve('dist/runtime/early-monitor.js')}').then(({ startMonitorEarly }) => {
      const monitor = startMonitorEarly({ newPidNamespace: true, terminal: false, stdinPipe: false });
      console.log(monitor.pid);
    });`;
    const engine = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    engine.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    const monitorPid = await until(() => Number(output.trim()) || undefined, 'the monitor\'s pid');
    const stage = await childOf(monitorPid);
    engine.kill('SIGKILL');
    await until(() => !exists(monitorPid) && !exists(stage), 'the monitor and its stage to end');
  });

  test('a config.json that does not match the early start (a terminal) is refused, and the monitor leaves', async () => {
    const monitor = startMonitorEarly({ newPidNamespace: true, terminal: true, stdinPipe: false });
    const bundle = makeBundle(['true']);
    try {
      await expect(startDetached(bundle.dir, { ...filesIn(bundle.dir), monitor })).rejects.toThrow(/another kind of container/);
      expect(exists(monitor.pid!)).toBe(false);
      expect(fs.existsSync(filesIn(bundle.dir).pidsFile)).toBe(false);
    } finally {
      expectNothingLeft(bundle.dir, undefined);
      bundle.remove();
    }
  });
});
