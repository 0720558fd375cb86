/**
 * config.ts — minibox's own settings file, the counterpart of Docker's /etc/docker/daemon.json.
 *
 *   /etc/minibox/config.json   (or $MINIBOX_CONFIG)
 *   { "insecure-registries": ["registry.lan:5000"] }
 *
 * Settings here apply to every command; flags (`--insecure-registry HOST`) add to them.
 */
import fs from 'node:fs';
import { MiniboxError } from './errors.js';

export const DEFAULT_CONFIG_PATH = '/etc/minibox/config.json';

export interface MiniboxConfig {
  /** Registries that may be reached over plain HTTP (loopback registries always may). */
  insecureRegistries: string[];
}

export function loadConfig(file = process.env.MINIBOX_CONFIG ?? DEFAULT_CONFIG_PATH): MiniboxConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { insecureRegistries: [] };
    throw new MiniboxError(`cannot read ${file}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new MiniboxError(`${file} is not valid JSON (${(error as Error).message}); fix or remove it`);
  }
  const insecure = (parsed as Record<string, unknown>)['insecure-registries'] ?? [];
  if (!Array.isArray(insecure) || !insecure.every((host) => typeof host === 'string')) {
    throw new MiniboxError(`${file}: "insecure-registries" must be a list of host names, e.g. ["registry.lan:5000"]`);
  }
  return { insecureRegistries: insecure };
}
