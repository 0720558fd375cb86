/**
 * local-registry.ts — a real registry on 127.0.0.1 for the benchmarks to pull from.
 *
 * `docker-registry serve CONFIG` (apt: docker-registry) is the CNCF distribution registry, the
 * same server as the `registry:2` image. Pulling from it over loopback measures minibox's own
 * work (HTTP, hashing, decompressing, writing files) rather than the internet's.
 * The test suite has its own copy of this (test/helpers/registry.ts); src/ cannot import tests.
 *
 * Try: while `npm run bench -- --keep` runs, `curl http://127.0.0.1:PORT/v2/_catalog`.
 */
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface LocalRegistry {
  /** `127.0.0.1:PORT`, the registry part of an image reference. */
  host: string;
  stop(): Promise<void>;
}

async function freeLoopbackPort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });
}

/** Starts `docker-registry` with its storage under `dir` and waits until /v2/ answers. */
export async function startLocalRegistry(dir: string): Promise<LocalRegistry> {
  fs.mkdirSync(dir, { recursive: true });
  const port = await freeLoopbackPort();
  const config = path.join(dir, 'config.yml');
  fs.writeFileSync(config, [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${path.join(dir, 'data')}`,
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '',
  ].join('\n'));
  const child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-2000); });
  const spawnError = new Promise<never>((_resolve, reject) => child.once('error', reject));
  spawnError.catch(() => { /* reported below */ });
  const host = `127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  };
  for (let attempt = 0; ; attempt++) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${stderr.trim() || 'no output'} (is it installed? apt-get install docker-registry)`);
    try {
      const response = await Promise.race([fetch(`http://${host}/v2/`), spawnError]);
      await response.body?.cancel();
      if (response.ok) break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('docker-registry not found; run scripts/provision.sh (apt-get install docker-registry)');
    }
    if (attempt > 400) {
      await stop();
      throw new Error(`docker-registry did not answer on ${host} within 10 s: ${stderr.trim()}`);
    }
    await sleep(25);
  }
  return { host, stop };
}

/** Copies an OCI layout's image to the registry (skopeo speaks both formats). */
export function pushLayout(layout: string, tag: string, destination: string): void {
  execFileSync('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:${tag}`, `docker://${destination}`],
    { stdio: ['ignore', 'ignore', 'inherit'] });
}
