/**
 * `minibox serve` at its edges: version negotiation and _ping's headers, dockerd's error shape
 * for unknown paths, refused features, malformed and oversized bodies, clients that vanish in
 * the middle of a hijacked attach or a wait — after each, the daemon still answers. The socket's
 * mode and group, refusing a TCP address that is not loopback and a socket a live daemon holds,
 * SIGTERM leaving running containers running, and `--explain` narrating on the daemon's side.
 *
 * Containers use the default bridge: run under `flock /tmp/minibox-net.lock` on a shared machine.
 * Hostile: on main before `minibox serve` existed, every daemon start here fails.
 */
import fs from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCKER_CLIS, docker, rawRequest, startDaemon, type Daemon } from '../helpers/api-daemon.js';
import { mbAsync, minibox } from '../helpers/minibox.js';
import { pulledBusybox } from '../helpers/pulled-busybox.js';

const frame = pulledBusybox('apiedge/busybox');
let daemon: Daemon;

beforeAll(async () => { daemon = await startDaemon(frame.root, ['--group', '4242']); });
afterAll(async () => { await daemon.stop(); }); // registered after pulledBusybox's: runs before its leak check

const get = (path: string, extra = ''): string => `GET ${path} HTTP/1.1\r\nHost: minibox\r\nConnection: close\r\n${extra}\r\n`;
const statusOf = (answer: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
const bodyOf = (answer: string): string => answer.slice(answer.indexOf('\r\n\r\n') + 4);

async function stillServes(): Promise<void> {
  const answer = await rawRequest(daemon.socket, get('/_ping'));
  expect(statusOf(answer)).toBe(200);
}

describe('minibox serve', () => {
  it('listens on a 0660 socket owned by the --group given', () => {
    const stats = fs.statSync(daemon.socket);
    expect(stats.isSocket()).toBe(true);
    expect(stats.mode & 0o777).toBe(0o660);
    expect(stats.gid).toBe(4242);
  });

  it('answers _ping with the version headers, and negotiates versions as dockerd', async () => {
    const ping = await rawRequest(daemon.socket, `HEAD /_ping HTTP/1.1\r\nHost: minibox\r\nConnection: close\r\n\r\n`);
    expect(ping).toMatch(/^HTTP\/1\.1 200/);
    for (const header of [/^Api-Version: 1\.50\r$/m, /^Ostype: linux\r$/m, /^Docker-Experimental: false\r$/m, /^Builder-Version: 1\r$/m]) {
      expect(ping).toMatch(header);
    }
    expect(JSON.parse(bodyOf(await rawRequest(daemon.socket, get('/v1.24/version'))))).toMatchObject({ ApiVersion: '1.50', MinAPIVersion: '1.24', Os: 'linux' });
    expect(statusOf(await rawRequest(daemon.socket, get('/version')))).toBe(200);
    const old = await rawRequest(daemon.socket, get('/v1.12/version'));
    expect(statusOf(old)).toBe(400);
    expect(JSON.parse(bodyOf(old)).message).toMatch(/client version 1\.12 is too old\. Minimum supported API version is 1\.24/);
    const future = await rawRequest(daemon.socket, get('/v1.99/containers/json'));
    expect(statusOf(future)).toBe(400);
    expect(JSON.parse(bodyOf(future)).message).toMatch(/client version 1\.99 is too new\. Maximum supported API version is 1\.50/);
  });

  it('unknown paths are 404 page not found; swarm is refused by name (501), never a hang', async () => {
    const unknown = await rawRequest(daemon.socket, get('/v1.50/teapots'));
    expect(statusOf(unknown)).toBe(404);
    expect(JSON.parse(bodyOf(unknown))).toEqual({ message: 'page not found' });
    expect(JSON.parse(bodyOf(await rawRequest(daemon.socket, get('/containers/nope/json'))))).toEqual({ message: 'No such container: nope' });
    const swarm = await rawRequest(daemon.socket, get('/v1.50/swarm'));
    expect(statusOf(swarm)).toBe(501);
    expect(JSON.parse(bodyOf(swarm)).message).toMatch(/swarm is not supported by minibox/);
    if (DOCKER_CLIS.length > 0) {
      const init = await docker(daemon, ['swarm', 'init']);
      expect(init.code).toBe(1);
      expect(init.stderr).toMatch(/swarm is not supported by minibox/);
    }
  });

  it('a malformed JSON body is a 400 naming the problem', async () => {
    const body = '{"Image": ';
    const answer = await rawRequest(daemon.socket,
      `POST /v1.50/containers/create HTTP/1.1\r\nHost: minibox\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    expect(statusOf(answer)).toBe(400);
    expect(JSON.parse(bodyOf(answer)).message).toMatch(/^malformed JSON body: /);
    const noImage = await rawRequest(daemon.socket,
      `POST /containers/create HTTP/1.1\r\nHost: minibox\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}`);
    expect(JSON.parse(bodyOf(noImage)).message).toMatch(/no image given/);
    await stillServes();
  });

  it('a 1 GB body is refused with 413 before it is read, a streamed one after the cap', async () => {
    const declared = await rawRequest(daemon.socket,
      `POST /containers/create HTTP/1.1\r\nHost: minibox\r\nConnection: close\r\nContent-Length: ${1024 ** 3}\r\n\r\n{"Image":"`);
    expect(statusOf(declared)).toBe(413);
    // Chunked, no length announced: the daemon stops reading after its cap (4 MB), whatever follows.
    const answer = await new Promise<string>((resolve) => {
      const socket = net.connect(daemon.socket);
      let text = '';
      socket.on('data', (chunk: Buffer) => { text += chunk.toString(); if (/\r\n\r\n.*\}/s.test(text)) { socket.destroy(); resolve(text); } });
      socket.on('error', () => resolve(text));
      socket.write('POST /containers/create HTTP/1.1\r\nHost: minibox\r\nTransfer-Encoding: chunked\r\n\r\n');
      const chunk = Buffer.alloc(1024 * 1024, 'a');
      const sendMore = (left: number): void => {
        if (left === 0 || socket.destroyed) return;
        socket.write(`${chunk.length.toString(16)}\r\n`);
        socket.write(chunk);
        if (socket.write('\r\n')) setImmediate(() => sendMore(left - 1));
        else socket.once('drain', () => sendMore(left - 1));
      };
      sendMore(1024); // up to 1 GB; the answer arrives long before
    });
    expect(statusOf(answer)).toBe(413);
    await stillServes();
  });

  it('a hijacked attach or a wait whose client disconnects early leaves the daemon serving', async () => {
    const id = minibox(frame.root, ['create', '--network', 'none', frame.image, 'sh', '-c', 'echo done']).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    for (const path of [`/containers/${id}/attach?stream=1&stdout=1&stderr=1`, `/containers/${id}/wait?condition=next-exit`]) {
      await new Promise<void>((resolve) => {
        const socket = net.connect(daemon.socket);
        socket.on('data', () => { socket.destroy(); resolve(); }); // the head came: vanish now
        socket.write(`POST ${path} HTTP/1.1\r\nHost: minibox\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n`);
      });
    }
    const start = await rawRequest(daemon.socket, `POST /containers/${id}/start HTTP/1.1\r\nHost: minibox\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    expect(statusOf(start)).toBe(204);
    const wait = await rawRequest(daemon.socket, `POST /containers/${id}/wait HTTP/1.1\r\nHost: minibox\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    expect(wait).toMatch(/"StatusCode":0/);
    expect(minibox(frame.root, ['logs', id]).stdout).toBe('done\n');
    expect(minibox(frame.root, ['rm', id]).code).toBe(0);
    await stillServes();
  });

  it('refuses a TCP address that is not loopback, and a socket another daemon answers on', async () => {
    const open = await mbAsync(frame.root, ['serve', '--host', 'tcp://0.0.0.0:23750']);
    expect(open.code).toBe(125);
    expect(open.stderr).toMatch(/refusing --host tcp:\/\/0\.0\.0\.0:23750: the API gives root .* to whoever reaches it/);
    const twice = await mbAsync(frame.root, ['serve', '--host', `unix://${daemon.socket}`]);
    expect(twice.code).toBe(125);
    expect(twice.stderr).toMatch(/is in use: another daemon listens on it/);
    await stillServes();
  });

  it('SIGTERM closes the socket and leaves running containers running; --explain narrates starts', async () => {
    const id = minibox(frame.root, ['run', '-d', '--network', 'none', frame.image, 'sleep', '1000']).stdout.trim();
    expect(await daemon.stop()).toBe(0);
    expect(fs.existsSync(daemon.socket)).toBe(false);
    expect(minibox(frame.root, ['inspect', '--format', '{{.State.Running}}', id]).stdout).toBe('true\n');
    daemon = await startDaemon(frame.root, ['--explain']);
    if (DOCKER_CLIS.length > 0) {
      expect(await docker(daemon, ['rm', '-f', id])).toEqual({ code: 0, stdout: `${id}\n`, stderr: '' });
      expect((await docker(daemon, ['run', '--rm', '--network', 'none', frame.image, 'true'])).code).toBe(0);
      expect(daemon.stderr()).toMatch(/pivot_root/);
    } else {
      expect(minibox(frame.root, ['rm', '-f', id]).code).toBe(0);
    }
  });
});
