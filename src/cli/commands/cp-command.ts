/**
 * cp-command.ts — `minibox cp`, shaped like `docker cp`: `CONTAINER:SRC DEST|-` or
 * `SRC|- CONTAINER:DEST`. An argument names a container path when a `:` comes before any `/`
 * (`web:/etc`, not `./a:b` or `/tmp/a:b`), as Docker's CLI splits it. The work is in
 * src/lifecycle/copy.ts.
 *
 * Try: `minibox create --name cc busybox true >/dev/null && echo hi > f && minibox cp f cc:/f &&
 * minibox cp cc:/f - | tar -xO` → `hi` (`-` is a tar stream, as with `docker cp`).
 */
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { contextOf } from '../context.js';
import { containerGroup } from './container-command.js';

interface ContainerPath { container: string; path: string }

/** `web:/etc` → { container: 'web', path: '/etc' }; a local path → undefined. */
export function splitContainerPath(arg: string): ContainerPath | undefined {
  if (arg.startsWith('/') || arg.startsWith('.')) return undefined;
  const colon = arg.indexOf(':');
  if (colon <= 0) return undefined;
  const slash = arg.indexOf('/');
  if (slash !== -1 && slash < colon) return undefined;
  return { container: arg.slice(0, colon), path: arg.slice(colon + 1) || '/' };
}

export function registerCpCommand(program: Command, name = 'cp'): void {
  program
    .command(name)
    .description('Copy files/folders between a container and the local filesystem')
    .usage('[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n       minibox cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH')
    .argument('<source>', 'CONTAINER:SRC_PATH, a host path, or - (a tar on stdin)')
    .argument('<destination>', 'CONTAINER:DEST_PATH, a host path, or - (a tar on stdout)')
    .option('-a, --archive', 'archive mode (copy all uid/gid information)')
    .option('-L, --follow-link', 'always follow symbol link in SRC_PATH')
    .option('-q, --quiet', 'suppress progress output (minibox prints none)')
    .action(async (source: string, destination: string, flags: { archive?: boolean; followLink?: boolean }, cmd: Command) => {
      const { root } = contextOf(cmd);
      const from = splitContainerPath(source);
      const to = splitContainerPath(destination);
      if (from && to) throw new UsageError('copying between containers is not supported: copy to the host first');
      if (!from && !to) throw new UsageError('must specify at least one container source: CONTAINER:PATH');
      const options = { archive: flags.archive ?? false, followLink: flags.followLink ?? false };
      const { copyFromContainer, copyToContainer } = await import('../../lifecycle/copy.js');
      if (from) {
        await copyFromContainer(root, from.container, from.path, destination === '-' ? process.stdout : destination, options);
      } else {
        await copyToContainer(root, source === '-' ? process.stdin : source, to!.container, to!.path, options);
      }
    });
}

/** `cp` at the top and as `container cp`. */
export function registerCpCommands(program: Command): void {
  registerCpCommand(program);
  registerCpCommand(containerGroup(program));
}
