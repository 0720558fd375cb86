/**
 * A real CNCF distribution registry (`docker-registry` from apt) for tests, on 127.0.0.1 and a
 * free port, with its storage in a temp dir. Optional auth: htpasswd (Basic) or token (Bearer,
 * trusting a test token server's certificate — see token-server.ts). The registry itself is
 * started as the benchmarks start theirs (bench/local-registry.ts).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freeLoopbackPort, pushLayout, startLocalRegistry } from '../../bench/local-registry.js';

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

/** A free port on 127.0.0.1. */
export const freePort = freeLoopbackPort;

export { pushLayout };

export async function startRegistry(options: RegistryOptions = {}): Promise<TestRegistry> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-registry-'));
  const auth: string[] = [];
  if (options.htpasswd) {
    const file = path.join(dir, 'htpasswd');
    const entries = options.htpasswd.map(({ user, password }) =>
      execFileSync('htpasswd', ['-Bbn', user, password], { encoding: 'utf8' }).trim());
    fs.writeFileSync(file, `${entries.join('\n')}\n`);
    auth.push('auth:', '  htpasswd:', '    realm: minibox-test', `    path: ${file}`);
  } else if (options.token) {
    const bundle = path.join(dir, 'token-ca.pem');
    fs.writeFileSync(bundle, options.token.certificatePem);
    auth.push('auth:', '  token:', `    realm: ${options.token.realm}`, `    service: ${options.token.service}`,
      `    issuer: ${options.token.issuer}`, `    rootcertbundle: ${bundle}`);
  }
  const registry = await startLocalRegistry(dir, auth);
  return {
    host: registry.host, port: registry.port, dir,
    async stop() {
      await registry.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
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
