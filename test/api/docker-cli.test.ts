/**
 * The real docker CLI drives minibox through `minibox serve` (issue 15): version, pull, images,
 * run --rm (attach + wait + start), exit codes, run -d, ps, logs, inspect, stop, kill, rm — and
 * the same containers seen by `minibox ps` (one state root, two front doors). Every docker CLI
 * found here runs the same checks (28.x always on the project's machines; Debian's 20.10 client
 * when scripts/provision.sh extracted it). Skipped, saying why, where no docker CLI exists.
 *
 * Containers use the default bridge (as `docker run` does): on a shared machine run this file
 * under `flock /tmp/minibox-net.lock npx vitest run test/api/docker-cli.test.ts`.
 *
 * Hostile by construction: on main before `minibox serve` existed, startDaemon fails ("unknown
 * command 'serve'") and every test here with it.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCKER_CLIS, docker, startDaemon, type Daemon } from '../helpers/api-daemon.js';
import { expectNoContainers, expectNoLeaks } from '../helpers/leaks.js';
import { minibox, tempRoot } from '../helpers/minibox.js';
import { busyboxImageLayout, freePort, pushLayout, startRegistry, type TestRegistry } from '../helpers/registry.js';

if (DOCKER_CLIS.length === 0) {
  describe.skip('docker CLI against minibox serve (no docker CLI on this machine: /usr/local/bin/docker or /opt/docker-cli-20.10/docker)', () => undefined);
}

let registry: TestRegistry;
let root: string;
let daemon: Daemon;
let image: string;

beforeAll(async () => {
  if (DOCKER_CLIS.length === 0) return;
  registry = await startRegistry();
  image = `${registry.host}/apitest/busybox:latest`;
  pushLayout(busyboxImageLayout(), 'latest', image);
  root = tempRoot();
  daemon = await startDaemon(root);
});

afterAll(async () => {
  if (DOCKER_CLIS.length === 0) return;
  expect(await daemon.stop()).toBe(0);
  expect(fs.existsSync(daemon.socket), 'socket left behind').toBe(false);
  expect(minibox(root, ['ps', '-a', '-q']).stdout).toBe('');
  expectNoContainers(root);
  expectNoLeaks(root);
  fs.rmSync(root, { recursive: true, force: true });
  await registry.stop();
});

describe.each(DOCKER_CLIS)('$name against minibox serve', ({ path: cli }) => {
  it('docker version shows the minibox server and the API version', async () => {
    const result = await docker(daemon, ['version'], { cli });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Server: minibox/);
    expect(result.stdout).toMatch(/API version:\s+1\.50 \(minimum version 1\.24\)/);
  });

  it('docker pull shows progress; docker images lists the image', async () => {
    const pulled = await docker(daemon, ['pull', image], { cli });
    expect(pulled.stderr).toBe('');
    expect(pulled.code).toBe(0);
    expect(pulled.stdout).toMatch(/latest: Pulling from apitest\/busybox/);
    expect(pulled.stdout).toMatch(/Digest: sha256:[0-9a-f]{64}/);
    expect(pulled.stdout.trim().split('\n').at(-1)).toBe(image);
    const images = await docker(daemon, ['images'], { cli });
    expect(images.code).toBe(0);
    expect(images.stdout).toMatch(new RegExp(`${registry.host}/apitest/busybox\\s+latest\\s+[0-9a-f]{12}`));
  });

  it('docker run --rm prints the output, keeps stdout and stderr apart, exits with the code', async () => {
    const hi = await docker(daemon, ['run', '--rm', image, 'sh', '-c', 'echo hi; echo oops >&2'], { cli });
    expect(hi).toEqual({ code: 0, stdout: 'hi\n', stderr: 'oops\n' });
    const three = await docker(daemon, ['run', '--rm', image, 'sh', '-c', 'exit 3'], { cli });
    expect(three.code).toBe(3);
    expect(minibox(root, ['ps', '-a', '-q']).stdout).toBe('');
  });

  it('docker run of a missing command exits 127 with the reason', async () => {
    const result = await docker(daemon, ['run', '--rm', image, 'no-such-program'], { cli });
    expect(result.code).toBe(127);
    expect(result.stderr).toMatch(/no-such-program/);
  });

  it('run -d, ps, logs, inspect, stop, rm: one container, seen by docker and minibox alike', async () => {
    const started = await docker(daemon, ['run', '-d', '--name', 'web', image, 'sh', '-c', 'echo ready; exec sleep 1000'], { cli });
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    const id = started.stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const ps = await docker(daemon, ['ps'], { cli });
    expect(ps.stdout).toMatch(new RegExp(`^${id.slice(0, 12)}\\s+${image.replace(/[.]/g, '\\.')}\\s+"sh -c 'echo ready; …"\\s+.*Up .*\\s+web$`, 'm'));
    expect(minibox(root, ['ps', '--format', '{{.Names}} {{.State}}']).stdout).toBe('web running\n');
    // The log is written by the container's monitor: wait for the line, with a deadline.
    let logs = '';
    for (let i = 0; i < 200 && logs !== 'ready\n'; i++) logs = (await docker(daemon, ['logs', 'web'], { cli })).stdout;
    expect(logs).toBe('ready\n');
    const inspect = await docker(daemon, ['inspect', '--format', '{{.State.Status}} {{.Config.Tty}} {{.Name}}', 'web'], { cli });
    expect(inspect.stdout).toBe('running false /web\n');
    const stop = await docker(daemon, ['stop', '-t', '1', 'web'], { cli });
    expect(stop).toEqual({ code: 0, stdout: 'web\n', stderr: '' });
    expect((await docker(daemon, ['ps', '-a', '--format', '{{.Names}} {{.Status}}'], { cli })).stdout).toMatch(/^web Exited \(137\) /);
    expect((await docker(daemon, ['rm', 'web'], { cli }))).toEqual({ code: 0, stdout: 'web\n', stderr: '' });
    expect(minibox(root, ['ps', '-a', '-q']).stdout).toBe('');
  });

  it('kill and rm -f; refusals come back as Docker errors with exit 1', async () => {
    const id = (await docker(daemon, ['run', '-d', image, 'sleep', '1000'], { cli })).stdout.trim();
    const rm = await docker(daemon, ['rm', id], { cli });
    expect(rm.code).toBe(1);
    expect(rm.stderr).toMatch(/Error response from daemon: .*container is running/);
    expect((await docker(daemon, ['kill', id], { cli })).code).toBe(0);
    const killAgain = await docker(daemon, ['kill', id], { cli });
    expect(killAgain.code).toBe(1);
    expect(killAgain.stderr).toMatch(/is not running/);
    expect((await docker(daemon, ['rm', '-f', id], { cli })).code).toBe(0);
    const missing = await docker(daemon, ['stop', 'nosuch'], { cli });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/No such container: nosuch/);
  });

  it('run -d -p then curl; exec prints, exits with its code and takes stdin; run -i pipes stdin', async () => {
    const port = await freePort();
    const serve = 'mkdir -p /www && echo hello from minibox > /www/index.html && exec httpd -f -p 8080 -h /www';
    const web = await docker(daemon, ['run', '-d', '--name', 'web2', '-p', `${port}:8080`, image, 'sh', '-c', serve], { cli });
    expect(web.stderr).toBe('');
    const id = web.stdout.trim();
    let page = '';
    for (let i = 0; i < 200 && page === ''; i++) {
      try { page = await (await fetch(`http://127.0.0.1:${port}/`)).text(); } catch { /* httpd not listening yet */ }
    }
    expect(page).toBe('hello from minibox\n');
    expect((await docker(daemon, ['ps', '--format', '{{.Names}} {{.Ports}}'], { cli })).stdout).toBe(`web2 0.0.0.0:${port}->8080/tcp\n`);
    expect(await docker(daemon, ['exec', 'web2', 'cat', '/etc/hostname'], { cli })).toEqual({ code: 0, stdout: `${id.slice(0, 12)}\n`, stderr: '' });
    expect((await docker(daemon, ['exec', 'web2', 'sh', '-c', 'echo err >&2; exit 4'], { cli }))).toEqual({ code: 4, stdout: '', stderr: 'err\n' });
    expect(await docker(daemon, ['exec', '-i', 'web2', 'tr', 'a-z', 'A-Z'], { cli, input: 'shout\n' })).toEqual({ code: 0, stdout: 'SHOUT\n', stderr: '' });
    expect((await docker(daemon, ['rm', '-f', 'web2'], { cli })).code).toBe(0);
    expect(await docker(daemon, ['run', '--rm', '-i', image, 'cat'], { cli, input: 'piped in\n' })).toEqual({ code: 0, stdout: 'piped in\n', stderr: '' });
  });

  it('image verbs: image inspect, history, tag, rmi', async () => {
    const inspect = await docker(daemon, ['image', 'inspect', '--format', '{{.Os}} {{json .RepoTags}}', image], { cli });
    expect(inspect).toEqual({ code: 0, stdout: `linux ["${image}"]\n`, stderr: '' });
    expect((await docker(daemon, ['history', image], { cli })).stdout).toMatch(/^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT\n[0-9a-f]{12}\s/);
    expect((await docker(daemon, ['tag', image, 'mine:v1'], { cli })).code).toBe(0);
    expect((await docker(daemon, ['images', '--format', '{{.Repository}}:{{.Tag}}'], { cli })).stdout).toMatch(/^mine:v1$/m);
    expect(await docker(daemon, ['rmi', 'mine:v1'], { cli })).toEqual({ code: 0, stdout: 'Untagged: mine:v1\n', stderr: '' });
    const missing = await docker(daemon, ['rmi', 'nosuch:v9'], { cli });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/No such image: nosuch:v9/);
  });

  it('network and volume verbs, top and port', async () => {
    expect((await docker(daemon, ['network', 'create', 'apinet'], { cli })).code).toBe(0);
    expect((await docker(daemon, ['network', 'ls', '--format', '{{.Name}} {{.Driver}}'], { cli })).stdout).toMatch(/^apinet bridge$/m);
    expect((await docker(daemon, ['network', 'rm', 'apinet'], { cli })).stdout).toBe('apinet\n');
    expect((await docker(daemon, ['volume', 'create', 'apivol'], { cli })).stdout).toBe('apivol\n');
    expect((await docker(daemon, ['volume', 'ls', '-q'], { cli })).stdout).toBe('apivol\n');
    expect((await docker(daemon, ['volume', 'rm', 'apivol'], { cli })).stdout).toBe('apivol\n');
    const port = await freePort();
    expect((await docker(daemon, ['run', '-d', '--name', 'tp', '-p', `${port}:8080`, image, 'sleep', '1000'], { cli })).code).toBe(0);
    expect((await docker(daemon, ['top', 'tp'], { cli })).stdout).toMatch(/^UID\s+PID\s+PPID.*\n.*sleep 1000$/m);
    expect((await docker(daemon, ['port', 'tp'], { cli })).stdout).toBe(`8080/tcp -> 0.0.0.0:${port}\n`);
    expect((await docker(daemon, ['rm', '-f', 'tp'], { cli })).code).toBe(0);
  });
});
