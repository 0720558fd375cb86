/**
 * A restart by the policy on the default bridge network: the restart stage plugs the container in
 * again, which runs iptables — so it needs a PATH, though the monitor that execs it has an empty
 * environment. Uses minibox0: run under `flock /tmp/minibox-net.lock`.
 * Fails without the PATH the engine passes to the stage (checked): Exited (125), "iptables-save
 * not found", instead of the container's own exit code.
 */
import { expect, it } from 'vitest';
import { until, withWorld, type LifecycleWorld } from './helpers.js';

let world: LifecycleWorld;

withWorld((started) => { world = started; });

it('on-failure:1 on the bridge restarts once and ends with the container\'s own exit code', async () => {
  expect((await world.mb(['run', '-d', '--name', 'br', '--restart', 'on-failure:1', world.image, 'sh', '-c', 'exit 5'])).code).toBe(0);
  await until(async () => /^Exited/.test((await world.mb(['ps', '-a', '--format', '{{.Status}}'])).stdout), 'br to settle for good', 400);
  expect(world.record('br')).toMatchObject({ RestartCount: 1, State: { ExitCode: 5, Error: '' } });
  expect((await world.mb(['rm', 'br'])).code).toBe(0);
});
