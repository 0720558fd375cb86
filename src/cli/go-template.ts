/**
 * go-template.ts — the small part of Go's text/template that `docker inspect --format` and
 * `docker ps --format` users type every day:
 *
 *   {{.State.Pid}}              a field, walked by dots
 *   {{json .NetworkSettings}}   a value as JSON
 *   {{.}}                       the whole value
 *   anything else               printed as it is ("pid={{.State.Pid}}\n" works)
 *
 * Values print as Go's fmt does: strings bare, true/false, numbers, `map[key:value …]` with
 * sorted keys, `[a b c]`, and `<no value>` for a field that does not exist.
 */
import { UsageError } from '../errors.js';

function goString(value: unknown): string {
  if (value === undefined || value === null) return '<no value>';
  if (Array.isArray(value)) return `[${value.map(goString).join(' ')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `map[${entries.map(([key, item]) => `${key}:${goString(item)}`).join(' ')}]`;
  }
  return String(value);
}

function lookup(data: unknown, path: string): unknown {
  if (path === '.') return data;
  if (!/^(\.[A-Za-z_][A-Za-z0-9_]*)+$/.test(path)) throw new UsageError(`template: unsupported expression "${path}": use {{.Field.Sub}} or {{json .Field}}`);
  let value: unknown = data;
  for (const key of path.slice(1).split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** Renders `template` with `data` (one value; the caller adds the newline). */
export function renderGoTemplate(template: string, data: unknown): string {
  return template.replace(/\{\{-?\s*(.*?)\s*-?\}\}/g, (_, action: string) => {
    const json = /^json\s+(\S+)$/.exec(action);
    if (json) return JSON.stringify(lookup(data, json[1]!) ?? null);
    return goString(lookup(data, action));
  });
}
