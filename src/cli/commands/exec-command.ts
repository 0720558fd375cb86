/**
 * exec-command.ts — `minibox exec [OPTIONS] CONTAINER COMMAND [ARG...]`, shaped like `docker exec`.
 *
 * Options end at the container name: in `minibox exec web ls -l`, `-l` belongs to `ls`.
 * The work is in src/engine/exec.ts (what the process gets) and src/runtime/exec-process.ts
 * (how it enters the container).
 *
 * Try: `minibox run -d --name web busybox sleep 60 >/dev/null && minibox exec web echo inside` →
 * `inside`
 */
import type { Command } from 'commander';
import { execInContainer } from '../../lifecycle/exec.js';
import { collect, contextOf, requireTerminalFor } from '../context.js';
import { withExplainFlags } from '../explain-flags.js';

interface ExecFlags {
  interactive?: boolean;
  tty?: boolean;
  detach?: boolean;
  env: string[];
  workdir?: string;
  user?: string;
}

export function registerExecCommand(program: Command): void {
  withExplainFlags(program
    .command('exec')
    .description('Run a command in a running container')
    .usage('[OPTIONS] CONTAINER COMMAND [ARG...]')
    .argument('<container>', 'container name or id')
    .argument('<command...>', 'command and arguments')
    .passThroughOptions()
    .option('-i, --interactive', 'keep standard input open')
    .option('-t, --tty', 'allocate a pseudo-terminal')
    .option('-d, --detach', 'run the command in the background')
    .option('-e, --env <KEY=VALUE>', 'set an environment variable; KEY alone copies it from here (repeatable)', collect, [])
    .option('-w, --workdir <dir>', 'working directory inside the container (absolute)')
    .option('-u, --user <user[:group]>', 'user name or uid, optionally with group name or gid')
    .action(async (container: string, command: string[], flags: ExecFlags, cmd: Command) => {
      requireTerminalFor(flags);
      process.exitCode = await execInContainer(contextOf(cmd).root, {
        container,
        command,
        interactive: flags.interactive ?? false,
        tty: flags.tty ?? false,
        detach: flags.detach ?? false,
        env: flags.env,
        ...(flags.workdir !== undefined ? { workdir: flags.workdir } : {}),
        ...(flags.user !== undefined ? { user: flags.user } : {}),
      });
    }), 'how the command joins the container');
}
