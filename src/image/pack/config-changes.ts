/**
 * config-changes.ts — `--change 'CMD ["sh"]'`: Dockerfile instructions applied to an image config.
 *
 * `docker commit -c` and `docker import -c` take a subset of the Dockerfile's instructions, the
 * ones that only change the config (no files): CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER,
 * WORKDIR, VOLUME. Their arguments have the Dockerfile's two forms:
 *   exec form   CMD ["httpd", "-f"]      — a JSON array: the argv as written
 *   shell form  CMD httpd -f             — a string run by `/bin/sh -c`
 * which is why `docker inspect` shows `["/bin/sh","-c","httpd -f"]` for the second.
 *
 * Try: `minibox commit -c 'ENV A=1' -c 'CMD ["env"]' CTR x && minibox run --rm x` → `A=1` among the lines.
 */
import { MiniboxError } from '../../errors.js';
import type { ContainerConfig } from '../oci.js';

const SUPPORTED = ['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'USER', 'WORKDIR', 'VOLUME'] as const;

/** `["a","b"]` as an argv, or a shell-form string as `/bin/sh -c STRING`. */
function commandLine(argument: string): string[] {
  if (argument.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(argument);
      if (Array.isArray(parsed) && parsed.every((item) => typeof item === 'string')) return parsed as string[];
    } catch { /* not JSON: Docker then treats it as shell form too */ }
  }
  return ['/bin/sh', '-c', argument];
}

/** `K=V K2="V 2"` or the old `K V` form, as Docker reads ENV and LABEL. */
function pairs(argument: string, instruction: string): [string, string][] {
  const words = argument.match(/(?:[^\s"']+|"(?:\\.|[^"])*"|'[^']*')+/g) ?? [];
  if (words.length > 0 && !words[0]!.includes('=')) {
    if (words.length < 2) throw new MiniboxError(`--change "${instruction} ${argument}": ${instruction} needs a value`);
    return [[words[0]!, argument.slice(argument.indexOf(words[0]!) + words[0]!.length).trim()]];
  }
  return words.map((word) => {
    const equals = word.indexOf('=');
    if (equals <= 0) throw new MiniboxError(`--change "${instruction} ${argument}": "${word}" is not KEY=VALUE`);
    return [word.slice(0, equals), word.slice(equals + 1).replace(/^"(.*)"$/s, '$1').replace(/^'(.*)'$/s, '$1')];
  });
}

/** Applies each `--change` to a copy of `config` and returns it. */
export function applyConfigChanges(config: ContainerConfig, changes: string[]): ContainerConfig {
  const result: ContainerConfig = structuredClone(config);
  for (const change of changes) {
    const match = /^\s*(\w+)\s*(.*)$/s.exec(change);
    const instruction = match?.[1]?.toUpperCase() ?? '';
    const argument = match?.[2]?.trim() ?? '';
    if (!(SUPPORTED as readonly string[]).includes(instruction)) {
      throw new MiniboxError(`--change "${change}": ${instruction || 'an empty change'} is not one of ${SUPPORTED.join(', ')}`);
    }
    if (argument === '') throw new MiniboxError(`--change "${change}": ${instruction} needs an argument`);
    switch (instruction) {
      case 'CMD': result.Cmd = commandLine(argument); break;
      case 'ENTRYPOINT': result.Entrypoint = commandLine(argument); break;
      case 'USER': result.User = argument; break;
      case 'WORKDIR': result.WorkingDir = argument; break;
      case 'ENV':
        for (const [key, value] of pairs(argument, instruction)) {
          result.Env = [...(result.Env ?? []).filter((entry) => !entry.startsWith(`${key}=`)), `${key}=${value}`];
        }
        break;
      case 'LABEL':
        result.Labels = { ...(result.Labels ?? {}), ...Object.fromEntries(pairs(argument, instruction)) };
        break;
      case 'EXPOSE':
        for (const port of argument.split(/\s+/)) {
          if (!/^\d+(\/(tcp|udp|sctp))?$/.test(port)) throw new MiniboxError(`--change "${change}": "${port}" is not PORT[/PROTOCOL]`);
          result.ExposedPorts = { ...(result.ExposedPorts ?? {}), [port.includes('/') ? port : `${port}/tcp`]: {} };
        }
        break;
      case 'VOLUME': {
        const volumes = argument.startsWith('[') ? commandLine(argument) : argument.split(/\s+/);
        if (volumes[0] === '/bin/sh') throw new MiniboxError(`--change "${change}": VOLUME needs a JSON array of strings or paths`);
        for (const volume of volumes) result.Volumes = { ...(result.Volumes ?? {}), [volume]: {} };
        break;
      }
    }
  }
  return result;
}
