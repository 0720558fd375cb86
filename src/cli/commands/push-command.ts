/**
 * push-command.ts — `minibox push [-q] [--explain] NAME[:TAG]`, shaped like `docker push`.
 *
 * Try: `minibox tag busybox $REGISTRY/me/app:1 && minibox push $REGISTRY/me/app:1` → `digest:
 * sha256:`
 */
import type { Command } from 'commander';
import { contextOf } from '../context.js';
import { withExplainFlags } from '../explain-flags.js';

export function registerPushCommand(program: Command): void {
  withExplainFlags(program
    .command('push')
    .description('Upload an image to a registry')
    .usage('[OPTIONS] NAME[:TAG]')
    .argument('<name>', 'the image\'s name in the registry (tag it first with `minibox tag`)')
    .option('-q, --quiet', 'suppress verbose output')
    .addHelpText('after', `
Examples:
  minibox tag mysite:1 127.0.0.1:5000/me/mysite:1
  minibox push 127.0.0.1:5000/me/mysite:1
  minibox login -u me --password-stdin registry.example.com < password.txt
  minibox push registry.example.com/me/mysite:1`)
    .action(async (name: string, flags: { quiet?: boolean }, cmd: Command) => {
      const [{ pushImage }, { reporterFor }] = await Promise.all([import('../../image/push.js'), import('../../image/pull-progress.js')]);
      const context = contextOf(cmd);
      const result = await pushImage(context.root, name, {
        reporter: reporterFor(process.stdout, flags.quiet === true),
        insecureRegistries: context.insecureRegistries,
      });
      if (flags.quiet) process.stdout.write(`${result.name}:${result.tag}\n`);
    }), 'each request of the push, and why');
}
