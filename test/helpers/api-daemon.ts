/**
 * api-daemon.ts — `minibox serve` on a temp unix socket for a test file, and the real docker CLI
 * pointed at it (`docker -H unix://SOCKET …`, with a temp DOCKER_CONFIG so the host's
 * ~/.docker is never read or written). Which docker CLIs exist here: `/usr/local/bin/docker`
 * (28.x on the project's machines) and Debian's 20.10 client, extracted by scripts/provision.sh
 * to /opt/docker-cli-20.10/docker (the docker.io package's daemon is never installed).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { bin } from './minibox.js';

export const DOCKER_CLIS: { name: string; path: string }[] = [
  { name: 'docker 28', path: '/usr/local/bin/docker' },
  { name: 'docker 20.10', path: '/opt/docker-cli-20.10/docker' },
].filter((cli) => fs.existsSync(cli.path));

export interface Daemon {
  socket: string;
  pid: number;
  /** What the daemon wrote to stderr so far (narration, warnings). */
  stderr(): string;
  /** SIGTERM, then waits for the exit; resolves to its exit code. */
  stop(): Promise<number>;
}

/** Starts `minibox --root ROOT serve --host unix://…`; resolves once the socket accepts connections. */
export async function startDaemon(root: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<Daemon> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-api-'));
  const socket = path.join(dir, 'minibox.sock');
  const child: ChildProcess = spawn(process.execPath, [bin, '--root', root, 'serve', '--host', `unix://${socket}`, ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => { out += chunk.toString(); });
  child.stderr!.on('data', (chunk: Buffer) => { err += chunk.toString(); });
  const exited = new Promise<number>((resolve) => child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? os.constants.signals[signal] : 0))));
  for (let i = 0; !out.includes('API listening'); i++) {
    if (child.exitCode !== null || i > 400) throw new Error(`minibox serve did not start: ${err}`);
    await sleep(25);
  }
  return {
    socket,
    pid: child.pid!,
    stderr: () => err,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const code = await exited;
      fs.rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}

export interface DockerResult { code: number; stdout: string; stderr: string }

/** Runs a docker CLI against the daemon to completion (`config`: a DOCKER_CONFIG dir to keep, for `login`). */
export async function docker(daemon: Daemon, args: string[], options: { cli?: string; input?: string; env?: NodeJS.ProcessEnv; config?: string } = {}): Promise<DockerResult> {
  const config = options.config ?? fs.mkdtempSync(path.join(os.tmpdir(), 'mb-docker-config-'));
  try {
    return await new Promise((resolve) => {
      const child = spawn(options.cli ?? DOCKER_CLIS[0]!.path, ['-H', `unix://${daemon.socket}`, ...args], {
        env: { PATH: process.env.PATH, HOME: config, DOCKER_CONFIG: config, ...options.env },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
      child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
      child.stdin.on('error', () => undefined); // a CLI that exits without reading its stdin (EPIPE)
      child.stdin.end(options.input ?? '');
      child.on('close', (code, signal) => resolve({ code: code ?? 128 + (signal ? os.constants.signals[signal] : 0), stdout, stderr }));
    });
  } finally {
    if (!options.config) fs.rmSync(config, { recursive: true, force: true });
  }
}

/** One raw HTTP/1.1 request on the socket; resolves to everything the daemon sent back. */
export async function rawRequest(socket: string, request: string | Buffer): Promise<string> {
  return await new Promise((resolve, reject) => {
    const connection = net.connect(socket);
    let answer = '';
    connection.on('data', (chunk: Buffer) => { answer += chunk.toString(); });
    connection.on('end', () => resolve(answer));
    connection.on('error', reject);
    connection.write(request);
  });
}
