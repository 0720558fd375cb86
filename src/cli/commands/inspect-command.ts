/**
 * inspect-command.ts — `minibox inspect [--format T] [--type container|image] NAME...`: containers
 * (lifecycle/inspect.ts) and images (image/image-inspect.ts) as Docker-style JSON, or one line per object
 * rendered with a Go-template subset (`--format '{{.State.Pid}}'`, go-template.ts).
 *
 * Try: `minibox run --name box busybox sh -c 'exit 3'; minibox inspect --format '{{.State.Status}}
 * {{.State.ExitCode}}' box` → `exited 3`
 */
import type { Command } from 'commander';
import { describeError, ExitCode, NoSuchContainerError, NotFoundError, UsageError } from '../../errors.js';
import { inspectImage } from '../../image/image-inspect.js';
import { inspectContainer } from '../../lifecycle/inspect.js';
import { reconcileContainer } from '../../container/reconcile.js';
import { ContainerStore } from '../../container/container-store.js';
import type { StateRoot } from '../../state-root.js';
import { contextOf, say } from '../context.js';
import { renderGoTemplate } from '../go-template.js';

type ObjectType = 'container' | 'image' | undefined;

async function inspectOne(root: StateRoot, name: string, type: ObjectType): Promise<Record<string, unknown>> {
  if (type !== 'image') {
    const found = new ContainerStore(root).resolve(name);
    const record = found && await reconcileContainer(root, found.Id);
    if (record) return inspectContainer(root, record);
    if (type === 'container') throw new NoSuchContainerError(name);
  }
  try {
    return inspectImage(root, name);
  } catch (error) {
    // Only "not found" means "no such object"; a broken image (a missing layer dir…) says so.
    if (!(error instanceof NotFoundError)) throw error;
    throw new Error(type === 'image' ? `No such image: ${name}` : `No such object: ${name}`);
  }
}

export function registerInspectCommand(parent: Command, fixedType?: 'container'): void {
  const command = parent
    .command('inspect')
    .description(fixedType ? 'Display detailed information on one or more containers' : 'Return low-level information on containers or images')
    .argument('<names...>', 'container or image names or ids')
    .option('-f, --format <template>', 'format the output with a Go template, e.g. {{.State.Pid}}');
  if (!fixedType) command.option('--type <type>', 'only look for this kind of object: container or image');
  command.action(async (names: string[], flags: { format?: string; type?: string }, cmd: Command) => {
    const { root } = contextOf(cmd);
    const type = (fixedType ?? flags.type) as ObjectType;
    if (type !== undefined && type !== 'container' && type !== 'image') throw new UsageError(`"${String(type)}" is not a valid value for --type`);
    const results: Record<string, unknown>[] = [];
    let failed = false;
    for (const name of names) {
      try {
        results.push(await inspectOne(root, name, type));
      } catch (error) {
        process.stderr.write(`minibox: ${describeError(error)}\n`);
        failed = true;
      }
    }
    if (flags.format !== undefined) for (const result of results) say(renderGoTemplate(flags.format, result));
    else say(JSON.stringify(results, null, 4));
    if (failed) process.exitCode = ExitCode.VerbFailed;
  });
}
