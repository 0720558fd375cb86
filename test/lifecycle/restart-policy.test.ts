/**
 * `--restart` policies, restarted by the C monitor with Docker's back-off — the built CLI, a real
 * registry, real namespaces. Every wait is a condition with a deadline (`until`), never a sleep;
 * nothing asserts how long a back-off took.
 * Fails on main (checked): `--restart` was an unknown option (exit 125), RestartCount always 0.
 */
import { describe, expect, it } from 'vitest';
import { isRunning } from '../../src/container/process-handle.js';
import { readExitStatus } from '../../src/container/run-files.js';
import { ContainerStore } from '../../src/container/container-store.js';
import { StateRoot } from '../../src/state-root.js';
import { nextBackoffMs, parseRestartPolicy, shouldRestart } from '../../src/lifecycle/restart-policy.js';
import { until, withWorld, type LifecycleWorld } from './helpers.js';

let world: LifecycleWorld;

withWorld((started) => { world = started; });

function exitStatusOf(name: string) {
  const store = new ContainerStore(new StateRoot(world.root));
  return readExitStatus(store.paths(world.record(name)!.Id));
}

async function events(name: string): Promise<string[]> {
  const result = await world.mb(['events', '--since', '10m', '--until', '0s', '--filter', `container=${name}`, '--format', '{{.Action}}']);
  expect(result.stderr).toBe('');
  return result.stdout.trim().split('\n').filter(Boolean);
}

describe('the rules (moby restartmanager)', () => {
  it('parses Docker\'s policy strings and refuses bad ones with its messages', () => {
    expect(parseRestartPolicy('on-failure:3')).toEqual({ Name: 'on-failure', MaximumRetryCount: 3 });
    expect(parseRestartPolicy('unless-stopped')).toEqual({ Name: 'unless-stopped', MaximumRetryCount: 0 });
    expect(() => parseRestartPolicy('sometimes')).toThrow(/unknown policy 'sometimes'/);
    expect(() => parseRestartPolicy('always:2')).toThrow(/only be used with 'on-failure'/);
    expect(() => parseRestartPolicy('on-failure:x')).toThrow(/must be an integer/);
    expect(() => parseRestartPolicy(':3')).toThrow(/no policy provided before colon/);
  });

  it('back-off: 100 ms, doubling to at most a minute, back to 100 ms after 10 s up', () => {
    const delays: number[] = [];
    for (let last = 0, i = 0; i < 12; i++) delays.push(last = nextBackoffMs(last, 50));
    expect(delays.slice(0, 4)).toEqual([100, 200, 400, 800]);
    expect(delays.at(-1)).toBe(60_000);
    expect(nextBackoffMs(60_000, 10_000)).toBe(100);
    expect(shouldRestart({ Name: 'on-failure', MaximumRetryCount: 3 }, 1, 3, false)).toBe(false);
    expect(shouldRestart({ Name: 'unless-stopped', MaximumRetryCount: 0 }, 0, 0, true)).toBe(false);
    expect(shouldRestart({ Name: 'always', MaximumRetryCount: 0 }, 0, 0, true)).toBe(true);
  });
});

describe('restart policies', () => {
  it('on-failure:3 with exit 1 restarts exactly 3 times, then stays Exited (1)', async () => {
    const run = await world.mb(['run', '-d', '--name', 'fails', '--network', 'none', '--restart', 'on-failure:3', world.image, 'sh', '-c', 'exit 1']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    // Settled for good: not running, not restarting, and the monitor's last word asks for no restart.
    await until(async () => {
      const ps = await world.mb(['ps', '-a', '--filter', 'name=^fails$', '--format', '{{.Status}}']);
      return /^Exited \(1\)/.test(ps.stdout) && world.record('fails')?.RestartCount === 3;
    }, 'three restarts of "fails"', 400);
    expect(exitStatusOf('fails')?.restartDelayMs).toBeUndefined();
    const inspect = await world.mb(['inspect', '--format', '{{.RestartCount}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}', 'fails']);
    expect(inspect.stdout).toBe('3 on-failure:3\n');
    const actions = await events('fails');
    expect(actions.filter((action) => action === 'start')).toHaveLength(4);
    expect(actions.filter((action) => action === 'die')).toHaveLength(4);
    expect(actions[0]).toBe('create');
    // on-failure does not restart a clean exit
    expect((await world.mb(['run', '-d', '--name', 'clean', '--network', 'none', '--restart', 'on-failure', world.image, 'true'])).code).toBe(0);
    expect((await world.mb(['wait', 'clean'])).stdout).toBe('0\n');
    expect(exitStatusOf('clean')?.restartDelayMs).toBeUndefined();
    expect(world.record('clean')?.RestartCount ?? 0).toBe(0);
    expect((await world.mb(['rm', 'fails', 'clean'])).code).toBe(0);
  });

  it('always survives kill -9 of the container process; stop ends it; start resets RestartCount', async () => {
    expect((await world.mb(['run', '-d', '--name', 'svc', '--network', 'none', '--restart', 'always', world.image, 'sleep', '1000'])).code).toBe(0);
    const first = world.record('svc')!.State.Pid;
    process.kill(first, 'SIGKILL');
    await until(async () => {
      const record = (await world.mb(['inspect', '--format', '{{.State.Running}} {{.State.Pid}} {{.RestartCount}}', 'svc'])).stdout.trim().split(' ');
      return record[0] === 'true' && Number(record[1]) > 0 && Number(record[1]) !== first && record[2] === '1'; // Pid 0: still restarting
    }, 'svc to come back after kill -9', 400);
    expect((await world.mb(['ps', '--filter', 'name=^svc$', '--format', '{{.Status}}'])).stdout).toMatch(/^Up /);

    expect((await world.mb(['stop', '-t', '0', 'svc'])).code).toBe(0);
    const stopped = world.record('svc')!;
    expect(stopped.State).toMatchObject({ Running: false, Restarting: false, ExitCode: 137 });
    // The monitor had begun a restart for that exit: stop killed it in its back-off.
    const restarter = exitStatusOf('svc')?.restarter;
    if (restarter) await until(() => !isRunning(restarter), 'the cancelled restarter to be gone');
    expect((await world.mb(['inspect', '--format', '{{.State.Status}}', 'svc'])).stdout).toBe('exited\n');
    expect((await events('svc')).slice(-2)).toEqual(['die', 'stop']);

    expect((await world.mb(['start', 'svc'])).code).toBe(0);
    expect((await world.mb(['inspect', '--format', '{{.State.Running}} {{.RestartCount}}', 'svc'])).stdout).toBe('true 0\n');
    expect((await world.mb(['rm', '-f', 'svc'])).code).toBe(0);
  });

  it('a crash loop shows Restarting (N) in ps; stop during the back-off ends it there', async () => {
    expect((await world.mb(['run', '-d', '--name', 'loop', '--network', 'none', '--restart', 'always', world.image, 'sh', '-c', 'exit 4'])).code).toBe(0);
    // The back-off doubles (100, 200, 400, 800 ms…): the window in which ps shows Restarting grows.
    await until(async () => /^loop restarting Restarting \(4\) /.test(
      (await world.mb(['ps', '-a', '--filter', 'status=restarting', '--format', '{{.Names}} {{.State}} {{.Status}}'])).stdout),
    'ps to show loop Restarting', 400);
    // Refused whether it is in its back-off or in one of its short runs by now (no race to win).
    const refused = await world.mb(['rm', 'loop']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/container is (restarting|running): stop the container before removing or force remove/);
    expect((await world.mb(['stop', 'loop'])).code).toBe(0);
    const restarter = exitStatusOf('loop')?.restarter;
    if (restarter) await until(() => !isRunning(restarter), 'the cancelled restarter to be gone');
    const count = world.record('loop')!.RestartCount;
    expect(world.record('loop')!.State).toMatchObject({ Running: false, Restarting: false, ExitCode: 4 });
    const actions = await events('loop');
    expect(actions.slice(actions.lastIndexOf('die') + 1).filter((action) => action !== 'stop')).toEqual([]); // no start after it
    expect(world.record('loop')!.RestartCount).toBe(count);
    expect((await world.mb(['rm', 'loop'])).code).toBe(0);
  });

  it('system restore starts always and unless-stopped-but-not-stopped containers, as dockerd at boot', async () => {
    for (const [name, policy] of [['alw', 'always'], ['unl', 'unless-stopped'], ['non', 'no']] as const) {
      expect((await world.mb(['run', '-d', '--name', name, '--network', 'none', '--restart', policy, world.image, 'sleep', '1000'])).code).toBe(0);
      expect((await world.mb(['stop', '-t', '0', name])).code).toBe(0);
    }
    const restored = await world.mb(['system', 'restore']);
    expect(restored).toMatchObject({ code: 0, stdout: 'alw\n', stderr: '' }); // unless-stopped was stopped by hand
    expect((await world.mb(['ps', '--format', '{{.Names}}'])).stdout).toBe('alw\n');
    expect((await world.mb(['rm', '-f', 'alw', 'unl', 'non'])).code).toBe(0);
  });

  it('bad input: Docker\'s messages, exit 125, nothing created', async () => {
    const before = (await world.mb(['ps', '-aq'])).stdout;
    for (const [policy, message] of [
      ['sometimes', /invalid restart policy: unknown policy 'sometimes'/],
      ['on-failure:x', /maximum retry count must be an integer/],
      ['always:3', /maximum retry count can only be used with 'on-failure'/],
    ] as const) {
      const bad = await world.mb(['run', '-d', '--network', 'none', '--restart', policy, world.image, 'true']);
      expect(bad.code).toBe(125);
      expect(bad.stderr).toMatch(message);
      expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    }
    const conflict = await world.mb(['run', '--rm', '--restart', 'always', '--network', 'none', world.image, 'true']);
    expect(conflict.code).toBe(125);
    expect(conflict.stderr).toMatch(/Conflicting options: --restart and --rm/);
    expect((await world.mb(['ps', '-aq'])).stdout).toBe(before);
  });
});
