/**
 * A real CNCF distribution registry (`docker-registry` from apt) for tests, on 127.0.0.1 and a
 * free port, with its storage in a temp dir. Optional auth: htpasswd (Basic) or token (Bearer,
 * trusting a test token server's certificate — see token-server.ts).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface RegistryOptions {
  /** Basic auth: users allowed to log in. */
  htpasswd?: { user: string; password: string }[];
  /** Bearer auth: the registry trusts tokens signed by this certificate. */
  token?: { realm: string; service: string; issuer: string; certificatePem: string };
}

export interface TestRegistry {
  /** `127.0.0.1:PORT` — use as the registry part of an image reference. */
  host: string;
  port: number;
  dir: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export async function startRegistry(options: RegistryOptions = {}): Promise<TestRegistry> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-registry-'));
  const port = await freePort();
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${dir}/data`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '  relativeurls: true', // upload Locations relative to the request: pushes through a test proxy stay on it
  ];
  if (options.htpasswd) {
    const file = path.join(dir, 'htpasswd');
    const entries = options.htpasswd.map(({ user, password }) =>
      execFileSync('htpasswd', ['-Bbn', user, password], { encoding: 'utf8' }).trim());
    fs.writeFileSync(file, `${entries.join('\n')}\n`);
    lines.push('auth:', '  htpasswd:', '    realm: minibox-test', `    path: ${file}`);
  } else if (options.token) {
    const bundle = path.join(dir, 'token-ca.pem');
    fs.writeFileSync(bundle, options.token.certificatePem);
    lines.push('auth:', '  token:', `    realm: ${options.token.realm}`, `    service: ${options.token.service}`,
      `    issuer: ${options.token.issuer}`, `    rootcertbundle: ${bundle}`);
  }
  const config = path.join(dir, 'config.yml');
  fs.writeFileSync(config, `${lines.join('\n')}\n`);
  const child: ChildProcess = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const host = `127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${stderr}`);
    try {
      const response = await fetch(`http://${host}/v2/`);
      if (response.status === 200 || response.status === 401) break;
    } catch { /* not listening yet */ }
    if (i > 200) throw new Error(`docker-registry did not start: ${stderr}`);
    await sleep(25);
  }
  return {
    host, port, dir,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((resolve) => child.once('exit', resolve));
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Pushes an OCI layout (`oci:DIR:TAG`) to the registry with skopeo. */
export function pushLayout(layoutDir: string, tag: string, destination: string, extra: string[] = []): void {
  execFileSync('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', ...extra,
    `oci:${layoutDir}:${tag}`, `docker://${destination}`], { stdio: ['ignore', 'ignore', 'pipe'] });
}

const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

/**
 * The busybox image layout (scripts/build-busybox-image.sh), built once for the whole run by
 * test/global-setup.ts; built on demand (and left for the OS to clean) when a file runs alone.
 */
let busyboxLayout: string | undefined = process.env.MB_BUSYBOX_LAYOUT;
export function busyboxImageLayout(): string {
  if (busyboxLayout && fs.existsSync(busyboxLayout)) return busyboxLayout;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-busybox-'));
  execFileSync(path.join(repoRoot, 'scripts/build-busybox-image.sh'), [path.join(dir, 'layout'), 'latest'], { stdio: 'ignore' });
  busyboxLayout = path.join(dir, 'layout');
  return busyboxLayout;
}

export { repoRoot };
