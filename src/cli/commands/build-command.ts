/**
 * build-command.ts — `minibox build` and `minibox builder prune`, shaped like Docker's classic
 * builder: `Step N/M`, ` ---> <id>`, `Successfully built …`, `Successfully tagged …`.
 *
 * Try: `printf 'FROM busybox\nRUN echo built > /f\n' > Dockerfile && minibox build -t b . &&
 * minibox run --rm b cat /f` → `Step 1/2 : FROM busybox … built`
 */
import path from 'node:path';
import type { Command } from 'commander';
import { MiniboxError } from '../../errors.js';
import { collect, contextOf, say } from '../context.js';

function pairsOf(values: string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const value of values) {
    const equals = value.indexOf('=');
    if (equals === 0) throw new MiniboxError(`${flag} ${value}: expected KEY=VALUE`);
    // `--build-arg NAME` alone takes the value from minibox's own environment, as Docker does.
    if (equals < 0) {
      const fromEnv = process.env[value];
      if (fromEnv !== undefined) out[value] = fromEnv;
    } else {
      out[value.slice(0, equals)] = value.slice(equals + 1);
    }
  }
  return out;
}

export function registerBuildCommands(program: Command): void {
  program
    .command('build')
    .description('Build an image from a Dockerfile')
    .usage('[OPTIONS] PATH')
    .argument('<path>', 'the build context: a directory (its Dockerfile unless -f)')
    .option('-t, --tag <name:tag>', 'name and optionally a tag (repeatable)', collect, [])
    .option('-f, --file <file>', 'name of the Dockerfile (default: PATH/Dockerfile)')
    .option('--build-arg <key=value>', 'set a build-time variable (repeatable)', collect, [])
    .option('--target <stage>', 'build this stage (and the stages it needs) only')
    .option('--no-cache', 'do not use the build cache')
    .option('--pull', 'always pull a newer version of the base images')
    .option('-q, --quiet', 'print only the image ID')
    .option('--network <mode>', 'network for RUN: bridge, none or host (default bridge)')
    .option('--label <key=value>', 'set a label on the image (repeatable)', collect, [])
    .option('--progress <plain|tty>', 'accepted for compatibility: the output is always plain steps')
    .option('--explain', 'narrate what each step does to the image\'s layers and config')
    .addHelpText('after', `
Examples:
  minibox build -t myapp:1 .
  minibox build -f docker/Dockerfile.prod --build-arg VERSION=2 -t myapp:2 .
  minibox build --target build -t myapp:build .     # stop after the "build" stage
  minibox build --no-cache -q .`)
    .action(async (context: string, flags: {
      tag: string[]; file?: string; buildArg: string[]; target?: string; cache: boolean; pull?: boolean; quiet?: boolean;
      network?: string; label: string[]; explain?: boolean;
    }, cmd: Command) => {
      const { buildImage } = await import('../../build/builder.js');
      const ctx = contextOf(cmd);
      const result = await buildImage(ctx.root, {
        context: path.resolve(context),
        ...(flags.file !== undefined ? { dockerfile: path.resolve(flags.file) } : {}),
        tags: flags.tag,
        buildArgs: pairsOf(flags.buildArg, '--build-arg'),
        ...(flags.target !== undefined ? { target: flags.target } : {}),
        noCache: flags.cache === false,
        pull: flags.pull === true,
        quiet: flags.quiet === true,
        ...(flags.network !== undefined ? { network: flags.network } : {}),
        labels: pairsOf(flags.label, '--label'),
        insecureRegistries: ctx.insecureRegistries,
        explain: flags.explain === true,
      }, say);
      if (flags.quiet) say(result.image.id);
    });

  const builder = program.command('builder').description('Manage the build cache');
  builder
    .command('prune')
    .description('Remove the build cache')
    .option('-f, --force', 'do not prompt for confirmation')
    .option('-a, --all', 'accepted for compatibility: the whole cache is removed')
    .addHelpText('after', `
Examples:
  minibox builder prune -f`)
    .action(async (_flags: object, cmd: Command) => {
      const { pruneCache } = await import('../../build/build-cache.js');
      const count = await pruneCache(contextOf(cmd).root);
      say(`Deleted build cache entries: ${count}`);
      say('Total reclaimed space: 0B (the layers stay until `minibox image prune` finds no image using them)');
    });
}
