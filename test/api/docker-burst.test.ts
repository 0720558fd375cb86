/**
 * Twenty `docker run --rm` at once through one `minibox serve`: every one prints its own line
 * and exits 0, and afterwards nothing is left (no container, process, mount, cgroup, veth or
 * iptables rule). Twenty concurrent create/attach/wait/start sequences share one daemon process:
 * a request that blocked the daemon, or a wait that lost its exit code to another request's
 * reconciliation, fails here. About 20 s on 2 cores (twenty container starts on the bridge).
 *
 * Containers use the default bridge: run under `flock /tmp/minibox-net.lock` on a shared machine.
 * Hostile: on main before `minibox serve` existed, the daemon never starts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCKER_CLIS, docker, startDaemon, type Daemon } from '../helpers/api-daemon.js';
import { expectNoContainers } from '../helpers/leaks.js';
import { pulledBusybox } from '../helpers/pulled-busybox.js';

const frame = pulledBusybox('apiburst/busybox');
let daemon: Daemon;

beforeAll(async () => { daemon = await startDaemon(frame.root); });
afterAll(async () => { await daemon.stop(); expectNoContainers(frame.root); });

describe.skipIf(DOCKER_CLIS.length === 0)('a burst of docker run --rm through minibox serve (needs a docker CLI)', () => {
  it('twenty at once: each prints its own line, exits with its own code, and nothing is left', async () => {
    const runs = await Promise.all(Array.from({ length: 20 }, async (_, n) =>
      await docker(daemon, ['run', '--rm', frame.image, 'sh', '-c', `echo run ${n}; exit ${n % 4}`])));
    runs.forEach((run, n) => expect(run, `run ${n}`).toEqual({ code: n % 4, stdout: `run ${n}\n`, stderr: '' }));
  }, 180_000);
});
