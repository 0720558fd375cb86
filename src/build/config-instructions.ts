/**
 * config-instructions.ts — the instructions that change only the image config, not its files.
 *
 * ENV, LABEL, EXPOSE, USER, WORKDIR, CMD, ENTRYPOINT, VOLUME, STOPSIGNAL, SHELL, HEALTHCHECK,
 * ONBUILD and MAINTAINER each edit the config (oci.ts `ContainerConfig`): how a container of the
 * image will run. They add a history line marked `empty_layer` and no layer — `minibox history`
 * shows them with size 0 B. (WORKDIR also makes its directory when the image lacks it: that one
 * is a layer, see builder.ts.)
 *
 * Shell form vs exec form: `CMD httpd -f` is stored as `["/bin/sh", "-c", "httpd -f"]` (or the
 * stage's SHELL), `CMD ["httpd", "-f"]` as written. A new ENTRYPOINT clears a CMD the base image
 * set, as Docker does: the old CMD was arguments for the old entrypoint.
 *
 * Try: `printf 'FROM busybox\nCMD echo $HOME\n' > Dockerfile && minibox build -t h . >/dev/null &&
 * minibox run --rm h` → `/root` (the shell form runs under `sh -c`; `CMD ["echo", "$HOME"]` would
 * print `$HOME` as it is).
 */
import { MiniboxError } from '../errors.js';
import type { ContainerConfig } from '../image/oci.js';
import { DockerfileError, parseJsonForm, type Instruction } from './dockerfile.js';
import { keyValuePairs } from './substitute.js';

export const DEFAULT_SHELL = ['/bin/sh', '-c'];

/** State of a stage that is not in the config itself. */
export interface StageMeta {
  /** Set once this Dockerfile's stage set CMD (then ENTRYPOINT keeps it). */
  cmdSet: boolean;
  author?: string;
}

/** `--interval=30s` → nanoseconds (Go's time.Duration, which the config stores). */
function duration(value: string | undefined, flag: string, where: Instruction): number | undefined {
  if (value === undefined) return undefined;
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(value);
  if (!match) throw new DockerfileError('Dockerfile', where.line, `HEALTHCHECK --${flag}=${value}: not a duration like 30s or 1m`);
  const unit = { ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 }[match[2] as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(match[1]) * unit);
}

/** The argv a shell-form or exec-form CMD/ENTRYPOINT/RUN stands for. */
export function commandOf(instruction: Instruction, args: string, shell: string[]): string[] {
  return instruction.json ?? parseJsonForm(args) ?? [...shell, args];
}

/** Applies one metadata instruction (arguments already substituted where Docker does). */
export function applyConfigInstruction(config: ContainerConfig, meta: StageMeta, instruction: Instruction, args: string): void {
  const shell = config.Shell ?? DEFAULT_SHELL;
  switch (instruction.name) {
    case 'ENV':
      for (const [key, value] of keyValuePairs(args)) {
        config.Env = [...(config.Env ?? []).filter((entry) => !entry.startsWith(`${key}=`)), `${key}=${value}`];
      }
      return;
    case 'LABEL':
      config.Labels = { ...(config.Labels ?? {}), ...Object.fromEntries(keyValuePairs(args)) };
      return;
    case 'EXPOSE':
      for (const port of args.split(/\s+/)) {
        if (!/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/i.test(port)) throw new DockerfileError('Dockerfile', instruction.line, `EXPOSE ${port}: not PORT[/PROTOCOL]`);
        config.ExposedPorts = { ...(config.ExposedPorts ?? {}), [port.includes('/') ? port.toLowerCase() : `${port}/tcp`]: {} };
      }
      return;
    case 'USER': config.User = args; return;
    case 'STOPSIGNAL': config.StopSignal = args; return;
    case 'MAINTAINER': meta.author = args; return;
    case 'CMD':
      config.Cmd = commandOf(instruction, args, shell);
      meta.cmdSet = true;
      return;
    case 'ENTRYPOINT':
      config.Entrypoint = commandOf(instruction, args, shell);
      if (!meta.cmdSet) config.Cmd = null;
      return;
    case 'VOLUME':
      for (const volume of parseJsonForm(args) ?? args.split(/\s+/)) config.Volumes = { ...(config.Volumes ?? {}), [volume]: {} };
      return;
    case 'SHELL':
      config.Shell = instruction.json!;
      return;
    case 'ONBUILD': {
      const trigger = args.split(/\s+/)[0]!.toUpperCase();
      if (['ONBUILD', 'FROM', 'MAINTAINER'].includes(trigger)) throw new DockerfileError('Dockerfile', instruction.line, `${trigger} isn't allowed as an ONBUILD trigger`);
      config.OnBuild = [...(config.OnBuild ?? []), args];
      return;
    }
    case 'HEALTHCHECK': {
      const words = args.split(/\s+/);
      if (words[0]!.toUpperCase() === 'NONE') {
        config.Healthcheck = { Test: ['NONE'] };
        return;
      }
      if (words[0]!.toUpperCase() !== 'CMD') throw new DockerfileError('Dockerfile', instruction.line, 'HEALTHCHECK must be NONE or CMD …');
      const rest = args.slice(args.toUpperCase().indexOf('CMD') + 3).trim();
      const json = parseJsonForm(rest);
      const flags = instruction.flags;
      const retries = flags.retries !== undefined ? Number(flags.retries) : undefined;
      config.Healthcheck = {
        Test: json ? ['CMD', ...json] : ['CMD-SHELL', rest],
        ...(duration(flags.interval, 'interval', instruction) !== undefined ? { Interval: duration(flags.interval, 'interval', instruction)! } : {}),
        ...(duration(flags.timeout, 'timeout', instruction) !== undefined ? { Timeout: duration(flags.timeout, 'timeout', instruction)! } : {}),
        ...(duration(flags['start-period'], 'start-period', instruction) !== undefined ? { StartPeriod: duration(flags['start-period'], 'start-period', instruction)! } : {}),
        ...(retries !== undefined ? { Retries: retries } : {}),
      };
      return;
    }
    default:
      throw new MiniboxError(`${instruction.name} is not a config instruction`);
  }
}
