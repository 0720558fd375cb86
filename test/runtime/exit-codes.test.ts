import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { runInBusybox, expectNothingLeft } from '../helpers/containers.js';
import { makeBundle } from '../helpers/bundle.js';
import { repoRoot } from '../helpers/registry.js';
import { MiniboxError } from '../../src/errors.js';

describe('exit codes are the ones Docker gives', () => {
  test('the program\'s own status: 0 and 3', async () => {
    expect((await runInBusybox('true')).exitCode).toBe(0);
    expect((await runInBusybox('exit 3')).exitCode).toBe(3);
  });

  test('127 with runc\'s message when the command is not in the container\'s $PATH', async () => {
    const error = await runInBusybox(['no-such-command']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MiniboxError);
    expect((error as MiniboxError).exitCode).toBe(127);
    expect((error as MiniboxError).message).toBe('exec: "no-such-command": executable file not found in $PATH');
  });

  test('126 for a file without the execute bit, and for one the kernel cannot run', async () => {
    const notExecutable = await runInBusybox(['/data/notes.txt'], {
      change: (_spec, { upper }) => { fs.mkdirSync(`${upper}/data`); fs.writeFileSync(`${upper}/data/notes.txt`, 'hello\n', { mode: 0o644 }); },
    }).catch((e: unknown) => e);
    expect((notExecutable as MiniboxError).exitCode).toBe(126);
    expect((notExecutable as MiniboxError).message).toContain('permission denied');

    const badFormat = await runInBusybox(['/data/garbage'], {
      change: (_spec, { upper }) => { fs.mkdirSync(`${upper}/data`); fs.writeFileSync(`${upper}/data/garbage`, '\x00\x01\x02 not a program', { mode: 0o755 }); },
    }).catch((e: unknown) => e);
    expect((badFormat as MiniboxError).exitCode).toBe(126);
    expect((badFormat as MiniboxError).message).toContain('exec format error');
  });

  test('137 when the container is killed with SIGKILL', async () => {
    const run = await runInBusybox('while :; do sleep 1; done', { onStarted: (pid) => process.kill(pid, 'SIGKILL') });
    expect(run.exitCode).toBe(137);
    expect(run.signal).toBe('SIGKILL');
  });

  test('SIGTERM sent to the engine is forwarded to the container\'s PID 1', async () => {
    const bundle = makeBundle(['sh', '-c', 'trap "echo got-term; exit 7" TERM; echo ready; while :; do sleep 0.1; done']);
    try {
      const engine = spawn(process.execPath, [path.join(repoRoot, 'test/runtime/fixtures/run-bundle.mjs'), bundle.dir],
        { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      const exit = new Promise<number | null>((resolve) => engine.on('close', (code) => resolve(code)));
      await new Promise<void>((resolve) => engine.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('ready')) resolve();
      }));
      engine.kill('SIGTERM');
      expect(await exit).toBe(7);
      expect(output).toContain('got-term');
    } finally {
      expectNothingLeft(bundle.dir, undefined);
      bundle.remove();
    }
  });
});
