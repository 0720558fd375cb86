/**
 * config.ts — minibox's own settings file, the counterpart of Docker's /etc/docker/daemon.json.
 *
 *   /etc/minibox/config.json   (or $MINIBOX_CONFIG)
 *   { "insecure-registries": ["registry.lan:5000"],
 *     "registry-mirrors": ["http://10.0.0.5:5000"] }
 *
 * Settings here apply to every command; flags (`--insecure-registry HOST`) add to them.
 * "registry-mirrors" is Docker's setting of the same name: registries that hold copies of Docker
 * Hub's images under the same names, tried in order before Docker Hub itself — a classroom
 * without internet serves `alpine` from its own registry, and `minibox pull alpine` still works.
 *
 * Try: `echo '{"insecure-registries": 5}' > c.json; MINIBOX_CONFIG=c.json minibox images` →
 * `"insecure-registries" must be a list of strings`
 */
import fs from 'node:fs';
import { MiniboxError } from './errors.js';

export const DEFAULT_CONFIG_PATH = '/etc/minibox/config.json';

export interface MiniboxConfig {
  /** Registries that may be reached over plain HTTP (loopback registries always may). */
  insecureRegistries: string[];
  /** Base URLs of Docker Hub mirrors ("http://10.0.0.5:5000", "https://mirror.gcr.io"). */
  registryMirrors: string[];
}

/** "10.0.0.5:5000" → "https://10.0.0.5:5000" (loopback: http), "http://h:5000/" → "http://h:5000". */
export function mirrorUrl(text: string): string {
  const withScheme = /^https?:\/\//.test(text) ? text : `${/^(localhost|127\.)/.test(text) ? 'http' : 'https'}://${text}`;
  const url = new URL(withScheme);
  if (url.pathname !== '/' || url.search) throw new MiniboxError(`registry mirror ${text}: a mirror is a registry's address without a path, e.g. http://10.0.0.5:5000`);
  return `${url.protocol}//${url.host}`;
}

function stringList(parsed: Record<string, unknown>, key: string, file: string, example: string): string[] {
  const value = parsed[key] ?? [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw new MiniboxError(`${file}: "${key}" must be a list of strings, e.g. ${example}`);
  }
  return value;
}

export function loadConfig(file = process.env.MINIBOX_CONFIG ?? DEFAULT_CONFIG_PATH): MiniboxConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { insecureRegistries: [], registryMirrors: [] };
    throw new MiniboxError(`cannot read ${file}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new MiniboxError(`${file} is not valid JSON (${(error as Error).message}); fix or remove it`);
  }
  const settings = (parsed ?? {}) as Record<string, unknown>;
  return {
    insecureRegistries: stringList(settings, 'insecure-registries', file, '["registry.lan:5000"]'),
    registryMirrors: stringList(settings, 'registry-mirrors', file, '["http://10.0.0.5:5000"]').map((text) => {
      try {
        return mirrorUrl(text);
      } catch (error) {
        throw new MiniboxError(`${file}: ${(error as Error).message}`);
      }
    }),
  };
}
