/**
 * diff-command.ts — `minibox diff CONTAINER`, shaped like `docker diff`: one `A|C|D /path` per line.
 * The work is in src/engine/diff.ts.
 *
 * Try: `minibox run --name box busybox touch /new && minibox diff box` → `A /new`
 */
import type { Command } from 'commander';
import { containerChanges } from '../../lifecycle/diff.js';
import { contextOf, say } from '../context.js';

export function registerDiffCommand(program: Command): void {
  program
    .command('diff')
    .description('Inspect changes to files or directories on a container\'s filesystem')
    .argument('<container>', 'container name or id')
    .action((container: string, _flags: object, cmd: Command) => {
      for (const change of containerChanges(contextOf(cmd).root, container)) say(`${change.Kind} ${change.Path}`);
    });
}
