/**
 * attach-command.ts — `minibox attach [OPTIONS] CONTAINER`, shaped like `docker attach`.
 *
 * Flags as Docker's: `--detach-keys` (default ctrl-p,ctrl-q), `--no-stdin`, `--sig-proxy`
 * (default true; `--sig-proxy=false` to turn it off). Exit code: the container's when it exits
 * while attached; 1 after detaching (`read escape sequence`), for a stopped or missing container.
 * The work is in src/lifecycle/attach.ts.
 *
 * Try: `minibox run -di --name box busybox sh -c 'read x; echo "got $x"; exit 3' >/dev/null; echo
 * hi | minibox attach box; echo "exit $?"` → `got hi exit 3`
 *
 * In a terminal: `minibox run -dit --name box busybox sh`, `minibox attach box`, `exit 3`, then
 * `echo $?` → 3.
 */
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { contextOf } from '../context.js';
import { containerGroup } from './container-command.js';

interface AttachFlags { detachKeys?: string; stdin: boolean; sigProxy: string | boolean }

function parseBoolean(text: string | boolean, flag: string): boolean {
  if (typeof text === 'boolean') return text;
  if (/^(1|t|true)$/i.test(text)) return true;
  if (/^(0|f|false)$/i.test(text)) return false;
  throw new UsageError(`invalid argument "${text}" for "${flag}" flag: use true or false`);
}

function register(parent: Command): void {
  parent
    .command('attach')
    .description('Attach this terminal\'s input, output and error to a running container')
    .usage('[OPTIONS] CONTAINER')
    .argument('<container>', 'container name or id')
    .option('--detach-keys <keys>', 'keys that detach and leave the container running (default ctrl-p,ctrl-q)')
    .option('--no-stdin', 'do not attach standard input')
    .option('--sig-proxy [bool]', 'forward the signals minibox receives to the container (no -t)', true)
    .action(async (container: string, flags: AttachFlags, cmd: Command) => {
      const sigProxy = parseBoolean(flags.sigProxy, '--sig-proxy');
      const { attachContainer } = await import('../../lifecycle/attach.js');
      const outcome = await attachContainer(contextOf(cmd).root, container, {
        stdin: flags.stdin, sigProxy, ...(flags.detachKeys !== undefined ? { detachKeys: flags.detachKeys } : {}),
      });
      if (outcome.detached) {
        process.stderr.write('read escape sequence\n'); // docker/cli prints term.EscapeError and exits 1
        process.exitCode = 1;
        return;
      }
      process.exitCode = outcome.exitCode;
    });
}

/** `attach` and `container attach`. */
export function registerAttachCommand(program: Command): void {
  register(program);
  register(containerGroup(program));
}
