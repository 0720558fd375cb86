/**
 * `docker run --rm` answers its container's own exit code even when *another process* settles
 * that exit (and, --rm, deletes the container with the code in its record) before the daemon's
 * waiters look again — the race of container-wait.ts.
 *
 * The chosen point, without timing: the program prints `ready` (so the daemon's waiters have
 * seen it running) and blocks reading a FIFO; the test stops the daemon (SIGSTOP), lets the
 * program exit 7, runs `minibox ps -a` until that other process has settled and removed it
 * (and the monitor has appended its "die" event), then lets the daemon go on (SIGCONT).
 * Hostile: on main (checked) the daemon answered the last record it saw — running, code 0 — and
 * docker exited 0.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCKER_CLIS, startDaemon, type Daemon } from '../helpers/api-daemon.js';
import { expectNoContainers } from '../helpers/leaks.js';
import { minibox } from '../helpers/minibox.js';
import { pulledBusybox } from '../helpers/pulled-busybox.js';

if (DOCKER_CLIS.length === 0) describe.skip('docker run --rm wait race (no docker CLI on this machine)', () => undefined);

const frame = pulledBusybox('apiwait/busybox');
let daemon: Daemon;
let scratch: string;

beforeAll(async () => {
  daemon = await startDaemon(frame.root);
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-api-wait-'));
});
afterAll(async () => {
  expect(await daemon.stop()).toBe(0);
  expectNoContainers(frame.root);
  fs.rmSync(scratch, { recursive: true, force: true });
});

/** Runs `minibox ps -a` (each settles exits, --rm removes) until `name` is gone and its "die" is journalled. */
function settleElsewhere(name: string, id: () => string): void {
  for (let i = 0; i < 300; i++) {
    const gone = !minibox(frame.root, ['ps', '-a', '--format', '{{.Names}}']).stdout.split('\n').includes(name);
    const journal = fs.readFileSync(path.join(frame.root, 'events.log'), 'utf8');
    if (gone && new RegExp(`"Action":"die","Actor":\\{"ID":"${id()}"`).test(journal)) return;
  }
  throw new Error(`${name} was never settled and removed by minibox ps`);
}

describe.each(DOCKER_CLIS)('$name run --rm through minibox serve', ({ name, path: cli }) => {
  it('exits with the program\'s code when another process recorded the exit first', async () => {
    const box = `race-${name.replace(/\W/g, '')}`;
    const fifo = path.join(scratch, box);
    execFileSync('mkfifo', [fifo]);
    const config = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-docker-config-'));
    const child = spawn(cli, ['-H', `unix://${daemon.socket}`, 'run', '--rm', '--network', 'none', '--name', box,
      '-v', `${scratch}:/sig`, frame.image, 'sh', '-c', `echo ready; read x < /sig/${box}; exit 7`], { env: { PATH: process.env.PATH, DOCKER_CONFIG: config } });
    let stdout = '';
    const ready = new Promise<void>((resolve) => child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); if (stdout.includes('ready')) resolve(); }));
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    await ready;
    const id = minibox(frame.root, ['inspect', '-f', '{{.Id}}', box]).stdout.trim();
    process.kill(daemon.pid, 'SIGSTOP');
    try {
      fs.writeFileSync(fifo, 'go\n'); // the program reads it and exits 7
      settleElsewhere(box, () => id);
    } finally {
      process.kill(daemon.pid, 'SIGCONT');
    }
    expect(await exited).toBe(7);
    fs.rmSync(config, { recursive: true, force: true });
  });
});
