/**
 * The real docker CLI's container administration through `minibox serve`: `create`/`start`,
 * `logs -f`, `wait`, `rename`, `restart`,
 * `pause`/`unpause`, `update`, `stats --no-stream`, restart policies (`run --restart`) and
 * `--mount` — each answered by the engine's own verb, with both CLIs where present.
 *
 * pause, update and stats need cgroup v2: on a v2 host they work; on this project's hybrid hosts
 * each answers minibox's own one-line refusal (the same words as the minibox verb), with
 * dockerd's status for a runtime failure (500) — the test checks whichever this host is.
 * No bridge (`--network none`): no network lock needed.
 *
 * Hostile, checked by running this file with main's routes.ts and create-body.ts: every test but
 * `restart` fails there (rename/pause/update 404 "page not found", stats 501, `--restart
 * on-failure` and `--mount` 400); `restart` existed and is here as the CLI's proof of it.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cgroupMode } from '../../src/cgroups/mode.js';
import { DOCKER_CLIS, docker, startDaemon, type Daemon } from '../helpers/api-daemon.js';
import { expectNoContainers } from '../helpers/leaks.js';
import { minibox } from '../helpers/minibox.js';
import { pulledBusybox } from '../helpers/pulled-busybox.js';

if (DOCKER_CLIS.length === 0) describe.skip('docker CLI administration (no docker CLI on this machine)', () => undefined);

const frame = pulledBusybox('apiadmin/busybox');
const unified = cgroupMode() === 'unified';
let daemon: Daemon;
let scratch: string;

beforeAll(async () => {
  daemon = await startDaemon(frame.root);
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-api-admin-'));
});
afterAll(async () => {
  const stopped = await daemon.stop();
  fs.rmSync(scratch, { recursive: true, force: true });
  const left = minibox(frame.root, ['ps', '-aq']).stdout.split('\n').filter(Boolean);
  if (left.length > 0) minibox(frame.root, ['rm', '-f', ...left]); // a failed test's, before the root goes
  for (const volume of minibox(frame.root, ['volume', 'ls', '-q']).stdout.split('\n').filter(Boolean)) minibox(frame.root, ['volume', 'rm', volume]);
  expect(stopped).toBe(0);
  expect(left).toEqual([]);
  expectNoContainers(frame.root);
});

/** A request straight to the daemon, for the status code the CLI does not print. */
async function rawRequest(method: string, url: string, body?: unknown): Promise<{ status: number; body: string }> {
  return await new Promise((resolve, reject) => {
    const headers = body === undefined ? {} : { 'Content-Type': 'application/json' };
    const req = http.request({ socketPath: daemon.socket, method, path: url, headers }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => { body += chunk.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** Polls `docker inspect -f FORMAT` until it prints `wanted` (bounded), returns the last answer. */
async function inspectUntil(cli: string, name: string, format: string, wanted: string): Promise<string> {
  let last = '';
  for (let i = 0; i < 300 && last !== wanted; i++) last = (await docker(daemon, ['inspect', '-f', format, name], { cli })).stdout.trim();
  return last;
}

describe.each(DOCKER_CLIS)('$name: container administration through minibox serve', ({ name, path: cli }) => {
  const tag = name.replace(/\W/g, '');
  const run = async (args: string[]) => await docker(daemon, ['run', '--network', 'none', ...args], { cli });

  it('create, start, logs -f (follows to the exit) and wait (the exit code)', async () => {
    const gate = fs.mkdtempSync(path.join(scratch, 'gate-'));
    const script = 'echo one; while [ ! -e /gate/go ]; do sleep 0.1; done; echo two; exit 4';
    expect((await docker(daemon, ['create', '--network', 'none', '--name', `lw-${tag}`, '-v', `${gate}:/gate`, frame.image, 'sh', '-c', script], { cli })).code).toBe(0);
    expect(await docker(daemon, ['start', `lw-${tag}`], { cli })).toEqual({ code: 0, stdout: `lw-${tag}\n`, stderr: '' });
    expect(await inspectUntil(cli, `lw-${tag}`, '{{.State.Status}}', 'running')).toBe('running');
    // Both block while the container waits at its gate: they end only because it exits.
    const following = docker(daemon, ['logs', '-f', `lw-${tag}`], { cli });
    const waiting = docker(daemon, ['wait', `lw-${tag}`], { cli });
    let early = '';
    for (let i = 0; i < 300 && early !== 'one\n'; i++) early = (await docker(daemon, ['logs', `lw-${tag}`], { cli })).stdout;
    expect(early).toBe('one\n');
    fs.writeFileSync(path.join(gate, 'go'), '');
    expect(await following).toEqual({ code: 0, stdout: 'one\ntwo\n', stderr: '' });
    expect(await waiting).toEqual({ code: 0, stdout: '4\n', stderr: '' });
    expect((await docker(daemon, ['rm', `lw-${tag}`], { cli })).code).toBe(0);
  });

  it('rename: the new name for docker and minibox alike; a taken name is a conflict', async () => {
    expect((await docker(daemon, ['create', '--network', 'none', '--name', `ra-${tag}`, frame.image, 'true'], { cli })).code).toBe(0);
    expect((await docker(daemon, ['create', '--network', 'none', '--name', `rc-${tag}`, frame.image, 'true'], { cli })).code).toBe(0);
    expect(await docker(daemon, ['rename', `ra-${tag}`, `rb-${tag}`], { cli })).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(minibox(frame.root, ['ps', '-a', '--format', '{{.Names}}']).stdout.split('\n')).toContain(`rb-${tag}`);
    const taken = await docker(daemon, ['rename', `rb-${tag}`, `rc-${tag}`], { cli });
    expect(taken.code).toBe(1);
    expect(taken.stderr).toMatch(new RegExp(`Error response from daemon: Conflict\\. The container name "/rc-${tag}" is already in use`));
    expect((await docker(daemon, ['rm', `rb-${tag}`, `rc-${tag}`], { cli })).code).toBe(0);
  });

  it('restart: the program runs again (its log says so twice)', async () => {
    expect((await run(['-d', '--name', `rs-${tag}`, frame.image, 'sh', '-c', 'echo started; exec sleep 600'])).code).toBe(0);
    const first = (await docker(daemon, ['inspect', '-f', '{{.State.StartedAt}}', `rs-${tag}`], { cli })).stdout.trim();
    expect(await docker(daemon, ['restart', '-t', '1', `rs-${tag}`], { cli })).toEqual({ code: 0, stdout: `rs-${tag}\n`, stderr: '' });
    expect(await inspectUntil(cli, `rs-${tag}`, '{{.State.Status}}', 'running')).toBe('running');
    expect((await docker(daemon, ['inspect', '-f', '{{.State.StartedAt}}', `rs-${tag}`], { cli })).stdout.trim()).not.toBe(first);
    let logs = '';
    for (let i = 0; i < 300 && logs !== 'started\nstarted\n'; i++) logs = (await docker(daemon, ['logs', `rs-${tag}`], { cli })).stdout;
    expect(logs).toBe('started\nstarted\n');
    expect((await docker(daemon, ['rm', '-f', `rs-${tag}`], { cli })).code).toBe(0);
  });

  it('run --restart on-failure:2: the monitor restarts it twice, then it stays exited', async () => {
    expect((await run(['-d', '--name', `rp-${tag}`, '--restart', 'on-failure:2', frame.image, 'sh', '-c', 'exit 3'])).code).toBe(0);
    expect(await inspectUntil(cli, `rp-${tag}`, '{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}', '2 exited 3')).toBe('2 exited 3');
    const policy = await docker(daemon, ['inspect', '-f', '{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}', `rp-${tag}`], { cli });
    expect(policy.stdout).toBe('on-failure:2\n');
    expect((await docker(daemon, ['rm', `rp-${tag}`], { cli })).code).toBe(0);
    const bad = await rawRequest('POST', '/containers/create', { Image: frame.image, HostConfig: { RestartPolicy: { Name: 'sometimes' } } });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).message).toMatch(/sometimes/);
  });

  it('--mount: bind (read-only), volume and tmpfs; a missing bind source is refused by name', async () => {
    const host = path.join(scratch, tag);
    fs.mkdirSync(host);
    fs.writeFileSync(path.join(host, 'note'), 'from the host\n');
    const script = 'cat /in/note; touch /in/x 2>/dev/null || echo read-only; echo kept > /vol/f; df -k /t | tail -1';
    const mounted = await run(['--rm', '--mount', `type=bind,src=${host},dst=/in,readonly`, '--mount', `type=volume,src=mv-${tag},dst=/vol`,
      '--mount', 'type=tmpfs,dst=/t,tmpfs-size=1m', frame.image, 'sh', '-c', script]);
    expect(mounted.stderr).toBe('');
    expect(mounted.stdout).toMatch(/^from the host\nread-only\ntmpfs\s+1024\s+0\s+1024\s+0% \/t\n$/);
    expect(await run(['--rm', '--mount', `type=volume,src=mv-${tag},dst=/vol`, frame.image, 'cat', '/vol/f'])).toEqual({ code: 0, stdout: 'kept\n', stderr: '' });
    expect((await docker(daemon, ['volume', 'rm', `mv-${tag}`], { cli })).code).toBe(0);
    const missing = await run(['--rm', '--mount', `type=bind,src=${host}/nosuch,dst=/in`, frame.image, 'true']);
    expect(missing.code).toBe(125);
    expect(missing.stderr).toMatch(/bind source path does not exist: .*\/nosuch/);
  });

  it('pause/unpause, update and stats --no-stream: working on cgroup v2, refused as minibox refuses elsewhere', async () => {
    expect((await run(['-d', '--name', `pz-${tag}`, frame.image, 'sleep', '600'])).code).toBe(0);
    const pause = await docker(daemon, ['pause', `pz-${tag}`], { cli });
    const update = await docker(daemon, ['update', '--memory', '64m', `pz-${tag}`], { cli });
    const stats = await docker(daemon, ['stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}}', `pz-${tag}`], { cli });
    if (unified) {
      expect(pause).toEqual({ code: 0, stdout: `pz-${tag}\n`, stderr: '' });
      expect((await docker(daemon, ['ps', '--format', '{{.Status}}', '-f', `name=pz-${tag}`], { cli })).stdout).toMatch(/\(Paused\)/);
      expect((await docker(daemon, ['unpause', `pz-${tag}`], { cli })).code).toBe(0);
      expect(update.code).toBe(0);
      expect((await docker(daemon, ['inspect', '-f', '{{.HostConfig.Memory}}', `pz-${tag}`], { cli })).stdout).toBe('67108864\n');
      expect(stats).toEqual({ code: 0, stdout: `pz-${tag} 1\n`, stderr: '' });
    } else {
      const minibox_ = minibox(frame.root, ['pause', `pz-${tag}`]);
      expect(minibox_.code).toBe(1);
      expect(pause.code).toBe(1);
      expect(pause.stderr).toBe(`Error response from daemon: ${minibox_.stderr.replace(/^minibox: /, '')}`);
      expect((await rawRequest('POST', `/containers/pz-${tag}/pause`)).status).toBe(500);
      expect(update.code).toBe(1);
      expect(update.stderr).toMatch(/^Error response from daemon: resource limits need cgroup v2, but this host's cgroups are hybrid/);
      // Named, the CLI prints the daemon's reason; listing all, it shows `--` (no made-up numbers).
      expect(stats.code).toBe(1);
      expect(stats.stderr).toMatch(/^Error response from daemon: `docker stats` through minibox serve reads cgroup v2 files, but this host's cgroups are hybrid/);
      const all = await docker(daemon, ['stats', '--no-stream'], { cli });
      expect(all.code).toBe(0);
      expect(all.stdout).toMatch(/^CONTAINER ID\s+NAME\s+CPU %.*\n\s+--\s+--\s+-- \/ --/);
      const raw = await rawRequest('GET', `/containers/pz-${tag}/stats?stream=false`);
      expect(raw.status).toBe(500);
      expect(JSON.parse(raw.body).message).toMatch(/`docker stats` through minibox serve reads cgroup v2 files, but this host's cgroups are hybrid/);
    }
    expect((await docker(daemon, ['rm', '-f', `pz-${tag}`], { cli })).code).toBe(0);
  });
});

describe('bad input to the administration routes', () => {
  it('answers dockerd\'s status and a message naming what was wrong; the daemon keeps serving', async () => {
    expect((await rawRequest('POST', '/containers/nosuch/rename?name=x')).status).toBe(404);
    expect((await rawRequest('POST', '/containers/nosuch/pause')).status).toBe(404);
    expect((await rawRequest('GET', '/containers/nosuch/stats?stream=false')).status).toBe(404);
    expect((await rawRequest('POST', '/exec/nosuch/resize?h=1&w=1')).status).toBe(404);
    const created = await rawRequest('POST', '/containers/create?name=badin', { Image: frame.image, HostConfig: { NetworkMode: 'none' } });
    expect(created.status).toBe(201);
    const noName = await rawRequest('POST', '/containers/badin/rename');
    expect(noName.status).toBe(400);
    expect(JSON.parse(noName.body).message).toMatch(/rename needs the new name/);
    const notObject = await rawRequest('POST', '/containers/badin/update', []);
    expect(notObject.status).toBe(400);
    const resize = await rawRequest('POST', '/containers/badin/resize?h=x&w=80');
    expect(resize.status).toBe(400);
    const mount = await rawRequest('POST', '/containers/create', { Image: frame.image, HostConfig: { Mounts: [{ Type: 'npipe', Target: '/x' }] } });
    expect(mount.status).toBe(400);
    expect(JSON.parse(mount.body).message).toMatch(/mount type "npipe" is not supported by minibox/);
    expect((await rawRequest('DELETE', '/containers/badin')).status).toBe(204);
    expect((await rawRequest('GET', '/_ping')).body).toBe('OK');
  });
});
