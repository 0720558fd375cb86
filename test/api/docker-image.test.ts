/**
 * The real docker CLI pushes, commits and builds through `minibox serve` (issue 15): `docker push`
 * to a real registry (`docker-registry`) with dockerd's progress lines, `docker commit` with -c/-m/-a,
 * `docker build` with a context tar (-t, -f, --build-arg, --target, --no-cache, -q, .dockerignore)
 * — each by the code the minibox CLI runs — and their failures as dockerd reports them: a push of
 * a missing tag or to a registry that is down, a bad -c, a RUN that exits 3 (the CLI exits 3), a
 * Dockerfile that does not parse, a context that is not a tar. Every docker CLI found here runs
 * the same checks (28.x; Debian's 20.10 client when scripts/provision.sh extracted it).
 *
 * `docker cp` both ways (a symlink in the container resolves inside it), `docker diff` (the same
 * lines as `minibox diff`), `docker events` (the journal, filtered by container).
 *
 * Containers run with `--network none` (RUN steps too): no bridge. The leak check still reads the
 * host's iptables, so on a shared machine run this file under
 * `flock /tmp/minibox-net.lock npx vitest run test/api/docker-image.test.ts`.
 *
 * Hostile: on main before these routes, every docker command here got `404 page not found` (checked
 * by running this file against main's dist: push, commit and build all exit 1 with it).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
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

/** A build context directory with these files. */
function context(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(work, 'ctx-'));
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

/** Build contexts the daemon unpacked and has not removed. */
function leftoverContexts(): string[] {
  const tmp = path.join(root, 'tmp');
  return fs.existsSync(tmp) ? fs.readdirSync(tmp).filter((name) => name.startsWith('build-context-')) : [];
}

const LEGACY_NOTICE = /DEPRECATED: The legacy builder is deprecated/;

describe.each(DOCKER_CLIS)('$name against minibox serve: push, commit, build', ({ name, path: cli }) => {
  const tagged = (repo: string): string => `${registry.host}/apiimage/${repo}-${name.replace(/\D/g, '')}`;

  it('docker push sends an image to the registry with dockerd\'s progress; again: "Layer already exists"', async () => {
    const target = `${tagged('pushed')}:1`;
    expect((await docker(daemon, ['tag', image, target], { cli })).code).toBe(0);
    const pushed = await docker(daemon, ['push', target], { cli });
    expect(pushed.stderr).toBe('');
    expect(pushed.code).toBe(0);
    expect(pushed.stdout).toMatch(new RegExp(`^The push refers to repository \\[${tagged('pushed').replace(/[.]/g, '\\.')}\\]$`, 'm'));
    const digest = /^1: digest: (sha256:[0-9a-f]{64}) size: \d+$/m.exec(pushed.stdout)?.[1];
    expect(digest, pushed.stdout).toBeDefined();
    // The registry has it, under that digest.
    const manifest = await fetch(`http://${registry.host}/v2/apiimage/${target.split('/apiimage/')[1]!.replace(':', '/manifests/')}`, {
      headers: { Accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' },
    });
    expect(manifest.status).toBe(200);
    expect(manifest.headers.get('docker-content-digest')).toBe(digest);
    const again = await docker(daemon, ['push', target], { cli });
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/Layer already exists/);
    expect((await docker(daemon, ['rmi', target], { cli })).code).toBe(0);
  });

  it('docker push of a missing tag, and to a registry that is down: the CLI exits 1 with the reason', async () => {
    const missing = await docker(daemon, ['push', `${tagged('nosuch')}:1`], { cli });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/An image does not exist locally with the tag: 127\.0\.0\.1:\d+\/apiimage\/nosuch/);
    const down = `127.0.0.1:${await freePort()}/apiimage/down:1`;
    expect((await docker(daemon, ['tag', image, down], { cli })).code).toBe(0);
    const refused = await docker(daemon, ['push', down], { cli });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/The push refers to repository/); // the stream had started: the error is its last line
    expect(refused.stderr).toMatch(/127\.0\.0\.1:\d+.*(refused|ECONNREFUSED|cannot reach|connect)/i);
    expect((await docker(daemon, ['rmi', down], { cli })).code).toBe(0);
  });

  it('docker commit -c -m -a: the container\'s changes become an image; a bad -c is refused', async () => {
    const made = await docker(daemon, ['run', '--network', 'none', '--name', 'committed', image, 'sh', '-c', 'echo hi > /greeting'], { cli });
    expect(made.code).toBe(0);
    const bad = await docker(daemon, ['commit', '-c', 'FROB x', 'committed', 'nope:1'], { cli });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/Error response from daemon: .*FROB is not one of CMD, ENTRYPOINT/);
    const commit = await docker(daemon, ['commit', '-c', 'CMD ["cat", "/greeting"]', '-c', 'ENV GREETED=yes', '-m', 'say hi', '-a', 'Ada <ada@example.com>', 'committed', 'greeter:1'], { cli });
    expect(commit.stderr).toBe('');
    expect(commit.code).toBe(0);
    expect(commit.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    expect(await docker(daemon, ['run', '--rm', '--network', 'none', 'greeter:1'], { cli })).toEqual({ code: 0, stdout: 'hi\n', stderr: '' });
    const inspect = await docker(daemon, ['image', 'inspect', '--format', '{{.Author}}|{{.Comment}}|{{json .Config.Cmd}}|{{.Id}}', 'greeter:1'], { cli });
    expect(inspect.stdout).toBe(`Ada <ada@example.com>|say hi|["cat","/greeting"]|${commit.stdout.trim()}\n`);
    expect((await docker(daemon, ['run', '--rm', '--network', 'none', 'greeter:1', 'sh', '-c', 'echo $GREETED'], { cli })).stdout).toBe('yes\n');
    const missing = await docker(daemon, ['commit', 'nosuch', 'nope:1'], { cli });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/No such container: nosuch/);
    expect((await docker(daemon, ['rm', 'committed'], { cli })).code).toBe(0);
    expect((await docker(daemon, ['rmi', 'greeter:1'], { cli })).code).toBe(0);
  });

  it('docker build: -t, --build-arg, .dockerignore, RUN output in the stream; again from the cache, --no-cache not', async () => {
    const dir = context({
      'Dockerfile': `FROM ${image}\nARG V=default\nCOPY . /ctx\nRUN echo "v=$V" > /v && echo running-step && ls -a /ctx\nCMD ["cat", "/v"]\n`,
      'kept.txt': 'kept\n', 'secret.txt': 'secret\n', '.dockerignore': 'secret.txt\n',
    });
    const iidfile = path.join(work, `iid-${name.replace(/\D/g, '')}`);
    const args = ['build', '--network', 'none', '-t', 'built:1', '--build-arg', 'V=given', dir];
    const built = await docker(daemon, [...args, '--iidfile', iidfile], { cli });
    expect(built.code, built.stderr).toBe(0);
    expect(built.stderr.replace(LEGACY_NOTICE, '')).not.toMatch(/error/i);
    expect(built.stdout).toMatch(/^Step 1\/5 : FROM 127\.0\.0\.1:\d+\/apiimage\/busybox:latest$/m);
    expect(built.stdout).toMatch(/^running-step\n\.\n\.\.\n\.dockerignore\nDockerfile\nkept\.txt\n/m); // no secret.txt
    expect(built.stdout).toMatch(/^Removing intermediate container [0-9a-f]{12}$/m);
    const id = /^Successfully built ([0-9a-f]{12})$/m.exec(built.stdout)?.[1];
    expect(id, built.stdout).toBeDefined();
    expect(built.stdout).toMatch(/^Successfully tagged built:1$/m);
    expect(fs.readFileSync(iidfile, 'utf8')).toMatch(new RegExp(`^sha256:${id}[0-9a-f]{52}$`)); // from the {"aux":{"ID":…}} line
    expect(await docker(daemon, ['run', '--rm', '--network', 'none', 'built:1'], { cli })).toEqual({ code: 0, stdout: 'v=given\n', stderr: '' });
    const cached = await docker(daemon, args, { cli });
    expect(cached.stdout.match(/Using cache/g)).toHaveLength(4);
    expect(cached.stdout).toMatch(new RegExp(`^Successfully built ${id}$`, 'm'));
    const fresh = await docker(daemon, ['build', '--no-cache', ...args.slice(1)], { cli });
    expect(fresh.code).toBe(0);
    expect(fresh.stdout).not.toMatch(/Using cache/);
    expect(fresh.stdout).toMatch(/^running-step$/m);
    expect((await docker(daemon, ['rmi', 'built:1'], { cli })).code).toBe(0);
  });

  it('docker build -f (outside the context), --target, -q, --iidfile, --label', async () => {
    const dir = context({ 'file.txt': 'from the context\n' });
    const dockerfile = path.join(work, `Dockerfile.${name.replace(/\D/g, '')}`);
    fs.writeFileSync(dockerfile, `FROM ${image} AS base\nCOPY file.txt /file\nFROM base AS tested\nRUN cat /file > /copied\nFROM base\nRUN exit 9\n`);
    const iidfile = path.join(work, 'iid');
    const quiet = await docker(daemon, ['build', '--network', 'none', '-q', '-f', dockerfile, '--target', 'tested', '--iidfile', iidfile, '--label', 'team=api', '-t', 'staged:1', dir], { cli });
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    expect(fs.readFileSync(iidfile, 'utf8')).toBe(quiet.stdout); // with -q the CLI writes what it printed, newline too (as with dockerd)
    expect(await docker(daemon, ['run', '--rm', '--network', 'none', 'staged:1', 'cat', '/copied'], { cli })).toEqual({ code: 0, stdout: 'from the context\n', stderr: '' });
    expect((await docker(daemon, ['image', 'inspect', '--format', '{{.Config.Labels.team}}', 'staged:1'], { cli })).stdout).toBe('api\n');
    expect((await docker(daemon, ['rmi', 'staged:1'], { cli })).code).toBe(0);
  });

  it('docker build failures: RUN exits 3 → the CLI exits 3; a Dockerfile that does not parse → exit 1', async () => {
    const failing = await docker(daemon, ['build', '--network', 'none', context({ 'Dockerfile': `FROM ${image}\nRUN echo before-failing; exit 3\n` })], { cli });
    expect(failing.code).toBe(3);
    expect(failing.stdout).toMatch(/^before-failing$/m);
    expect(failing.stderr).toMatch(/The command '\/bin\/sh -c echo before-failing; exit 3' returned a non-zero code: 3/);
    const unparsable = await docker(daemon, ['build', context({ 'Dockerfile': `FROM ${image}\nFROB the widget\n` })], { cli });
    expect(unparsable.code).toBe(1);
    expect(unparsable.stderr).toMatch(/Error response from daemon: .*Dockerfile:2: unknown instruction: FROB/i);
    expect(unparsable.stdout).not.toMatch(/Step 1/);
    const missingBase = await docker(daemon, ['build', context({ 'Dockerfile': `FROM ${registry.host}/apiimage/nosuch:1\n` })], { cli });
    expect(missingBase.code).toBe(1);
    expect(missingBase.stderr).toMatch(/nosuch/);
    expect(minibox(root, ['ps', '-a', '-q']).stdout).toBe(''); // the failed RUN's container is gone
    expect(leftoverContexts()).toEqual([]);
  });
});

describe('the build endpoint refuses what is not a build', () => {
  it.runIf(DOCKER_CLIS.length > 0)('a client that goes away (Ctrl-C) cancels the build: its RUN is killed, nothing is left', async () => {
    const imagesBefore = minibox(root, ['images', '-q']).stdout;
    const dir = context({ 'Dockerfile': `FROM ${image}\nRUN echo started-long-step && sleep 1000\n` });
    const config = fs.mkdtempSync(path.join(work, 'config-'));
    const child = spawn(DOCKER_CLIS[0]!.path, ['-H', `unix://${daemon.socket}`, 'build', '--network', 'none', '-t', 'cancelled:1', dir], {
      env: { PATH: process.env.PATH, HOME: config, DOCKER_CONFIG: config },
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); if (out.includes('started-long-step')) resolve(); });
      child.once('exit', () => reject(new Error(`the build ended before its RUN started: ${out}`)));
    });
    child.kill('SIGINT');
    await exited;
    // The daemon kills the RUN and removes its container and context: wait for that, with a deadline.
    // (Without the abort in build-route.ts the RUN sleeps on, and `ps -a -q` lists it.)
    const settled = (): boolean => minibox(root, ['ps', '-a', '-q']).stdout === '' && leftoverContexts().length === 0;
    for (let i = 0; i < 300 && !settled(); i++) await sleep(100);
    expect(minibox(root, ['ps', '-a', '-q']).stdout).toBe('');
    expect(leftoverContexts()).toEqual([]);
    expect(minibox(root, ['images', '-q']).stdout).toBe(imagesBefore); // no cancelled:1, no intermediate left
  });

  it.runIf(DOCKER_CLIS.length > 0)('a body that is not a tar: 400 naming it; the daemon keeps serving', async () => {
    const body = 'FROM busybox\nRUN echo this is not a tar archive at all, but a Dockerfile sent as the body\n'.repeat(10);
    const answer = await rawRequest(daemon.socket, `POST /v1.50/build?t=x HTTP/1.1\r\nHost: minibox\r\nContent-Type: application/x-tar\r\n`
      + `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toMatch(/"message":"the build context is not a tar archive: [^"]+"/);
    const remote = await rawRequest(daemon.socket, 'POST /build?remote=https://example.com/ctx.git HTTP/1.1\r\nHost: minibox\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    expect(remote).toMatch(/^HTTP\/1\.1 501 [^]*a remote build context .* is not supported by minibox/);
    expect((await docker(daemon, ['version', '--format', '{{.Server.Version}}'])).code).toBe(0);
    expect(leftoverContexts()).toEqual([]);
  });
});

describe.each(DOCKER_CLIS)('$name against minibox serve: cp, diff, events', ({ name, path: cli }) => {
  it('docker diff shows what minibox diff shows; docker cp both ways; a symlink resolves inside the container', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const script = 'echo made > /made && rm /etc/group && ln -s / /escape && echo ready && exec sleep 1000';
    const id = (await docker(daemon, ['run', '-d', '--network', 'none', '--name', 'files', image, 'sh', '-c', script], { cli })).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    let logs = '';
    for (let i = 0; i < 200 && logs !== 'ready\n'; i++) logs = (await docker(daemon, ['logs', 'files'], { cli })).stdout;
    expect(logs).toBe('ready\n');

    const diff = await docker(daemon, ['diff', 'files'], { cli });
    expect(diff.code).toBe(0);
    expect(diff.stdout).toBe(minibox(root, ['diff', 'files']).stdout); // one state, two front doors
    expect(diff.stdout).toMatch(/^A \/made$/m);
    expect(diff.stdout).toMatch(/^D \/etc\/group$/m);

    const out = fs.mkdtempSync(path.join(work, 'cp-'));
    expect(await docker(daemon, ['cp', 'files:/made', path.join(out, 'made')], { cli })).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(fs.readFileSync(path.join(out, 'made'), 'utf8')).toBe('made\n');
    // /escape -> / is the container's root: this is the container's hostname, never the host's.
    expect((await docker(daemon, ['cp', 'files:/escape/etc/hostname', path.join(out, 'hostname')], { cli })).code).toBe(0);
    expect(fs.readFileSync(path.join(out, 'hostname'), 'utf8')).toBe(`${id.slice(0, 12)}\n`);

    fs.writeFileSync(path.join(out, 'in.txt'), `into the container ${name}\n`);
    expect((await docker(daemon, ['cp', path.join(out, 'in.txt'), 'files:/tmp/'], { cli })).code).toBe(0);
    expect((await docker(daemon, ['cp', path.join(out, 'in.txt'), 'files:/renamed.txt'], { cli })).code).toBe(0); // HEAD 404: a new name
    const read = await docker(daemon, ['exec', 'files', 'sh', '-c', 'cat /tmp/in.txt /renamed.txt; stat -c %u /renamed.txt'], { cli });
    expect(read).toEqual({ code: 0, stdout: `into the container ${name}\n`.repeat(2) + '0\n', stderr: '' });

    const missing = await docker(daemon, ['cp', 'files:/nosuch', out], { cli });
    expect(missing.code).toBe(1);
    // The 404 in each CLI's words, as with dockerd: 28 says it itself, 20.10 prints the daemon's.
    expect(missing.stderr).toMatch(/No such container:path: files:\/nosuch|Could not find the file \/nosuch in container files/);
    expect((await docker(daemon, ['rm', '-f', 'files'], { cli })).code).toBe(0);

    // An RFC 3339 --until keeps its fraction; `0s` would be whole seconds (the CLI's), and leave out this second's events, as dockerd does.
    const events = await docker(daemon, ['events', '--since', String(since), '--until', new Date().toISOString(), '--filter', `container=${id}`, '--format', '{{.Type}} {{.Action}}'], { cli });
    expect(events.code).toBe(0);
    const actions = events.stdout.trim().split('\n');
    expect(actions.slice(0, 2)).toEqual(['container create', 'container start']);
    expect(actions).toContain('container die'); // the monitor's: before or after destroy
    expect(actions).toContain('container destroy');
  });
});
