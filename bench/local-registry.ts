/**
 * local-registry.ts — a real registry on 127.0.0.1 for the benchmarks to pull from.
 *
 * `docker-registry serve CONFIG` (apt: docker-registry) is the CNCF distribution registry, the
 * same server as the `registry:2` image. Pulling from it over loopback measures minibox's own
 * work (HTTP, hashing, decompressing, writing files) rather than the internet's.
 * The test suite starts its registries with this too (test/helpers/registry.ts adds auth).
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
  port: number;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (the kernel picks it; it is free again once this returns). */
export async function freeLoopbackPort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });
}

/**
 * Starts `docker-registry` with its storage under `dir` and waits until /v2/ answers (200, or
 * 401 when `config` adds an `auth:` section). `config` lines are appended to the file as given.
 */
export async function startLocalRegistry(dir: string, config: string[] = []): Promise<LocalRegistry> {
  fs.mkdirSync(dir, { recursive: true });
  const port = await freeLoopbackPort();
  const file = path.join(dir, 'config.yml');
  fs.writeFileSync(file, `${[
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${path.join(dir, 'data')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '  relativeurls: true', // upload Locations relative to the request: pushes through a proxy stay on it
    ...config,
  ].join('\n')}\n`);
  const child = spawn('docker-registry', ['serve', file], { stdio: ['ignore', 'ignore', 'pipe'] });
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
      if (response.ok || response.status === 401) break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('docker-registry not found; run scripts/provision.sh (apt-get install docker-registry)');
    }
    if (attempt > 400) {
      await stop();
      throw new Error(`docker-registry did not answer on ${host} within 10 s: ${stderr.trim()}`);
    }
    await sleep(25);
  }
  return { host, port, stop };
}

/** Copies an OCI layout's image to the registry (skopeo speaks both formats); `extra`: skopeo flags. */
export function pushLayout(layout: string, tag: string, destination: string, extra: string[] = []): void {
  execFileSync('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', ...extra, `oci:${layout}:${tag}`, `docker://${destination}`],
    { stdio: ['ignore', 'ignore', 'pipe'] });
}
