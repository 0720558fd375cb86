/**
 * credential-store.ts — where `docker login` keeps passwords, so minibox can share them.
 *
 * Docker stores credentials in `~/.docker/config.json` (or `$DOCKER_CONFIG/config.json`):
 *   { "auths": { "127.0.0.1:5000": { "auth": "base64(user:password)" },
 *                "https://index.docker.io/v1/": { "auth": "…" } } }
 * Docker Hub's key is its historical v1 URL, other registries use their host[:port]. The value is
 * only base64, not encryption: the file must be mode 0600 in a 0700 directory. (Docker can also
 * delegate to an OS keychain via `credsStore`/`credHelpers`; minibox reads only `auths`.)
 *
 * Try: `echo pw | DOCKER_CONFIG=$PWD minibox login -u u --password-stdin $REGISTRY >/dev/null &&
 * cat config.json` → `"auth": "dTpwdw=="` (base64 of `u:pw`).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MiniboxError } from '../../errors.js';
import { DOCKER_HUB_DOMAIN, DOCKER_HUB_REGISTRY_HOST } from '../reference.js';

export interface Credentials {
  username: string;
  password: string;
}

/** The config.json key Docker uses for Docker Hub. */
export const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/';

interface DockerConfigFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string; [key: string]: unknown }>;
  [key: string]: unknown;
}

/** `--config`-less Docker: $DOCKER_CONFIG/config.json, else ~/.docker/config.json. */
export function defaultDockerConfigPath(): string {
  const dir = process.env.DOCKER_CONFIG || path.join(os.homedir(), '.docker');
  return path.join(dir, 'config.json');
}

/** 'https://index.docker.io/v1/', 'registry-1.docker.io', 'docker.io' → 'docker.io'; strips scheme and path. */
export function normalizeRegistryHost(server: string): string {
  const host = server.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '').toLowerCase();
  if (host === 'index.docker.io' || host === DOCKER_HUB_REGISTRY_HOST || host === DOCKER_HUB_DOMAIN) return DOCKER_HUB_DOMAIN;
  return host;
}

export function authKeyFor(host: string): string {
  const normalized = normalizeRegistryHost(host);
  return normalized === DOCKER_HUB_DOMAIN ? DOCKER_HUB_AUTH_KEY : normalized;
}

function readConfig(configPath: string): DockerConfigFile {
  let text: string;
  try {
    text = fs.readFileSync(configPath, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new MiniboxError(`cannot read ${configPath}: ${(error as Error).message}`);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed && typeof parsed === 'object' ? parsed as DockerConfigFile : {};
  } catch {
    throw new MiniboxError(`${configPath} is not valid JSON; fix or remove it`);
  }
}

/** Looks up stored credentials for a registry host ('docker.io', '127.0.0.1:5000'). */
export function findCredentials(host: string, configPath = defaultDockerConfigPath()): Credentials | undefined {
  const wanted = normalizeRegistryHost(host);
  const auths = readConfig(configPath).auths ?? {};
  for (const [key, entry] of Object.entries(auths)) {
    if (normalizeRegistryHost(key) !== wanted || !entry) continue;
    if (typeof entry.auth === 'string' && entry.auth !== '') {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
    if (typeof entry.username === 'string' && typeof entry.password === 'string') {
      return { username: entry.username, password: entry.password };
    }
  }
  return undefined;
}

/** Writes the file atomically (temp + rename) with mode 0600, creating its directory 0700. */
function writeConfig(configPath: string, config: DockerConfigFile): void {
  const dir = path.dirname(configPath);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const temp = `${configPath}.${process.pid}.tmp`;
  fs.writeFileSync(temp, `${JSON.stringify(config, null, '\t')}\n`, { mode: 0o600 });
  fs.chmodSync(temp, 0o600);
  fs.renameSync(temp, configPath);
}

export function storeCredentials(host: string, credentials: Credentials, configPath = defaultDockerConfigPath()): void {
  const config = readConfig(configPath);
  const auths = config.auths ?? {};
  const key = authKeyFor(host);
  for (const existing of Object.keys(auths)) {
    if (existing !== key && normalizeRegistryHost(existing) === normalizeRegistryHost(host)) delete auths[existing];
  }
  auths[key] = { auth: Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64') };
  config.auths = auths;
  writeConfig(configPath, config);
}

/** Removes every entry for the host; returns false when there was none. */
export function removeCredentials(host: string, configPath = defaultDockerConfigPath()): boolean {
  const config = readConfig(configPath);
  const auths = config.auths ?? {};
  const wanted = normalizeRegistryHost(host);
  const keys = Object.keys(auths).filter((key) => normalizeRegistryHost(key) === wanted);
  if (keys.length === 0) return false;
  for (const key of keys) delete auths[key];
  config.auths = auths;
  writeConfig(configPath, config);
  return true;
}
