import fs from 'node:fs';
import { describe, expect, test } from 'vitest';
import { makeBundle } from '../helpers/bundle.js';
import { expectNothingLeft } from '../helpers/containers.js';
import { runContainer, startInitStageEarly } from '../../src/runtime/run-bundle.js';

/** Its parent pid, or undefined when the process is gone (reaped: no zombie either). */
function parentOf(pid: number): number | undefined {
  try {
    return Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[1]);
  } catch {
    return undefined;
  }
}

describe('the init stage can start before its bundle exists', () => {
  test('an early stage runs the bundle it is sent later, as PID 1 of its own PID namespace', async () => {
    const stage = startInitStageEarly({ newPidNamespace: true, terminal: false, stdio: 'pipe' });
    const bundle = makeBundle(['sh', '-c', 'echo pid=$$; echo err >&2; exit 4']);
    let pid: number | undefined;
    try {
      const result = await runContainer(bundle.dir, { initStage: stage, onSpawned: (p) => { pid = p; } });
      expect(result.exitCode).toBe(4);
      expect(result.stdout).toBe('pid=1\n');
      expect(result.stderr).toBe('err\n');
    } finally {
      expectNothingLeft(bundle.dir, pid);
      bundle.remove();
    }
  });

  test('aborting a waiting stage ends and reaps it before any bundle is sent', async () => {
    const stage = startInitStageEarly({ newPidNamespace: true, terminal: false, stdio: 'pipe' });
    const pid = stage.pid!;
    expect(parentOf(pid)).toBe(process.pid);
    await stage.abort('the image was not found');
    expect(parentOf(pid)).toBeUndefined();
    await stage.abort('a second abort changes nothing');
  });

  test('a bundle that does not match the early stage (terminal) is refused, and the stage reaped', async () => {
    const stage = startInitStageEarly({ newPidNamespace: true, terminal: true });
    const pid = stage.pid!;
    const bundle = makeBundle(['true']);
    try {
      await expect(runContainer(bundle.dir, { initStage: stage })).rejects.toThrow(/another kind of container/);
      expect(parentOf(pid)).toBeUndefined();
    } finally {
      expectNothingLeft(bundle.dir, undefined);
      bundle.remove();
    }
  });
});
