/**
 * log-options.ts — how much of a container's output is kept: `--log-opt max-size=… max-file=…`.
 *
 * A container's stdout and stderr go to its json-file log (the monitor writes it: see
 * native/minibox-monitor.c). Whatever the container prints lands on the host's disk, so a
 * container running `yes` fills the disk unless the log is bounded. Docker's json-file driver
 * keeps everything by default and offers two options, rotated by the writer:
 *   max-size=10m   when the next entry would take container.log past 10 MB (decimal units, as
 *                  Docker's FromHumanSize: 1m = 1 000 000 bytes), container.log becomes
 *                  container.log.1 (and .1 becomes .2 …) and a new container.log starts;
 *   max-file=3     at most 3 files: container.log, .1 and .2; the oldest drops off.
 *                  With max-file=1 the one file is truncated instead.
 *
 * minibox's default is what Docker's own documentation puts in daemon.json for production hosts,
 * `{"log-opts": {"max-size": "10m", "max-file": "3"}}`: at most 30 MB per container, the newest
 * output kept. Docker's built-in default (unbounded) is the denial of service this file exists
 * to prevent; a cap that is too small for a real service is fixed with one flag, a full disk is
 * not. Options given with --log-opt are merged over the defaults, as Docker merges a container's
 * log-opts over daemon.json's; `inspect` shows the result under HostConfig.LogConfig.
 *
 * Try: `minibox run -d --name lg --log-opt max-size=1k --log-opt max-file=2 busybox seq 1 1000
 * >/dev/null && minibox wait lg >/dev/null && ls $MINIBOX_ROOT/containers/$(minibox inspect
 * --format '{{.Id}}' lg)` → `container.log container.log.1` (and `minibox logs lg` starts far
 * past 1).
 */
import { UsageError } from '../errors.js';

export interface LogConfig {
  Type: 'json-file';
  Config: Record<string, string>;
}

/** What the monitor enforces: bytes per file (-1: unbounded) and the number of files. */
export interface LogLimits {
  maxSize: number;
  maxFiles: number;
}

export const DEFAULT_LOG_OPTIONS: Readonly<Record<string, string>> = { 'max-size': '10m', 'max-file': '3' };

/** Keys Docker's json-file driver accepts; only the first two change what minibox does. */
const KNOWN_KEYS = ['max-size', 'max-file', 'compress', 'labels', 'labels-regex', 'env', 'env-regex', 'tag'];
const SUPPORTED_KEYS = ['max-size', 'max-file'];

const DECIMAL: Record<string, number> = { '': 1, b: 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12, p: 1e15 };

/** `10m` → 10000000, as Docker's units.FromHumanSize (what json-file uses for max-size). */
export function parseLogSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?) ?([kmgtpb])?i?b?$/i.exec(text.trim());
  const bytes = match ? Math.floor(Number(match[1]) * (DECIMAL[(match[2] ?? '').toLowerCase()] ?? 1)) : NaN;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new UsageError(`invalid --log-opt max-size=${text}: max-size must be a positive size such as 10m, 512k or 1g`);
  }
  return bytes;
}

/** `--log-opt KEY=VALUE` values (repeatable) merged over the defaults; one-line UsageError otherwise. */
export function parseLogOptions(values: string[]): LogConfig {
  const config: Record<string, string> = { ...DEFAULT_LOG_OPTIONS };
  for (const value of values) {
    const at = value.indexOf('=');
    const key = at > 0 ? value.slice(0, at) : '';
    if (!KNOWN_KEYS.includes(key)) {
      throw new UsageError(at > 0 ? `unknown log opt '${key}' for json-file log driver` : `invalid --log-opt "${value}": expected KEY=VALUE, e.g. max-size=10m`);
    }
    if (!SUPPORTED_KEYS.includes(key)) throw new UsageError(`--log-opt ${key} is not supported by minibox yet (only max-size and max-file)`);
    config[key] = value.slice(at + 1);
  }
  // Sorted as Go prints a map: by bytes. Not `localeCompare`: its first call loads ICU's
  // collation tables, ~10 ms of every `run` and `create` (measured: issue #17), and the keys
  // are ASCII, where comparing code units gives the same order.
  const sorted = Object.fromEntries(Object.entries(config).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  logLimits({ Type: 'json-file', Config: sorted }); // check the values now: exit 125 before anything is made
  return { Type: 'json-file', Config: sorted };
}

/** The limits of a container's log; records made before log options existed get the defaults. */
export function logLimits(config: LogConfig | undefined): LogLimits {
  const options = config?.Config ?? DEFAULT_LOG_OPTIONS;
  const maxSize = options['max-size'] === undefined ? -1 : parseLogSize(options['max-size']);
  const maxFilesText = options['max-file'] ?? '1';
  const maxFiles = Number(maxFilesText);
  if (!/^\d+$/.test(maxFilesText) || maxFiles < 1 || maxFiles > 1000) {
    throw new UsageError(`invalid --log-opt max-file=${maxFilesText}: max-file must be a whole number from 1 to 1000`);
  }
  return { maxSize, maxFiles };
}
