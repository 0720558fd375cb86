/**
 * commit-command.ts — `minibox commit`, `export` and `import`, shaped like Docker's: a container's
 * changes become an image layer, a container's files a tar, a tar an image.
 *
 * Try: `minibox run --name box busybox touch /made && minibox commit box made:1 >/dev/null &&
 * minibox run --rm made:1 ls /made` → `/made`
 */
import fs from 'node:fs';
import type { Command } from 'commander';
import { MiniboxError } from '../../errors.js';
import { collect, contextOf, say } from '../context.js';

/** Docker refuses to write a tar to a terminal: it would fill the screen with binary. */
function tarOutput(file: string | undefined, command: string): NodeJS.WritableStream {
  if (file !== undefined) return fs.createWriteStream(file, { mode: 0o600 });
  if (process.stdout.isTTY) throw new MiniboxError(`cowardly refusing to save to a terminal. Use the -o flag or redirect (minibox ${command})`);
  return process.stdout;
}

export function registerCommitCommands(program: Command): void {
  program
    .command('commit')
    .description('Create a new image from a container\'s changes')
    .usage('[OPTIONS] CONTAINER [REPOSITORY[:TAG]]')
    .argument('<container>', 'container name or id')
    .argument('[repository]', 'name (and tag) of the new image')
    .option('-a, --author <string>', 'author (e.g. "Jane Doe <jane@example.com>")')
    .option('-c, --change <instruction>', 'apply a Dockerfile instruction to the image config (repeatable)', collect, [])
    .option('-m, --message <string>', 'commit message')
    .option('-p, --pause', 'accepted for Docker compatibility: minibox commits without pausing')
    .option('--compression <gzip|zstd>', 'how the new layer is compressed', 'gzip')
    .addHelpText('after', `
Examples:
  minibox run --name web busybox sh -c 'echo hello > /index.html'
  minibox commit -m "add a page" web mysite:1
  minibox commit -c 'CMD ["httpd", "-f", "-p", "8080"]' -c 'EXPOSE 8080' web mysite:2`)
    .action(async (container: string, repository: string | undefined, flags: { author?: string; change: string[]; message?: string; compression: string }, cmd: Command) => {
      const { commitContainer } = await import('../../lifecycle/commit.js');
      if (flags.compression !== 'gzip' && flags.compression !== 'zstd') throw new MiniboxError(`--compression ${flags.compression}: use gzip or zstd`);
      const image = await commitContainer(contextOf(cmd).root, container, {
        ...(repository !== undefined ? { reference: repository } : {}),
        ...(flags.author !== undefined ? { author: flags.author } : {}),
        ...(flags.message !== undefined ? { message: flags.message } : {}),
        changes: flags.change,
        compression: flags.compression,
      });
      say(image.id);
    });

  program
    .command('export')
    .description('Export a container\'s filesystem as a tar archive')
    .usage('[OPTIONS] CONTAINER')
    .argument('<container>', 'container name or id')
    .option('-o, --output <file>', 'write to a file, instead of STDOUT')
    .addHelpText('after', `
Examples:
  minibox export web > web.tar
  minibox export -o web.tar web && tar -tf web.tar | head`)
    .action(async (container: string, flags: { output?: string }, cmd: Command) => {
      const { exportContainer } = await import('../../lifecycle/commit.js');
      const root = contextOf(cmd).root;
      await exportContainer(root, container, tarOutput(flags.output, 'export') as unknown as import('node:stream').Writable);
    });

  program
    .command('import')
    .description('Import the contents from a tarball to create a filesystem image')
    .usage('[OPTIONS] file|- [REPOSITORY[:TAG]]')
    .argument('<file>', 'a tar file (plain, gzip or zstd), or - for standard input')
    .argument('[repository]', 'name (and tag) of the new image')
    .option('-c, --change <instruction>', 'apply a Dockerfile instruction to the image config (repeatable)', collect, [])
    .option('-m, --message <string>', 'set a commit message for the imported image')
    .addHelpText('after', `
Examples:
  minibox export web | minibox import - web-flat:1
  minibox import -c 'CMD ["sh"]' rootfs.tar.gz mybase:1`)
    .action(async (file: string, repository: string | undefined, flags: { change: string[]; message?: string }, cmd: Command) => {
      const [{ importTar }, { tagFor }] = await Promise.all([import('../../image/pack/import-tar.js'), import('../../lifecycle/commit.js')]);
      if (file !== '-' && !fs.existsSync(file)) throw new MiniboxError(`open ${file}: no such file or directory`);
      const tag = tagFor(repository);
      const source = file === '-' ? process.stdin : fs.createReadStream(file);
      const image = await importTar(contextOf(cmd).root, source, {
        sourceName: file, changes: flags.change,
        ...(tag !== undefined ? { tag } : {}), ...(flags.message !== undefined ? { message: flags.message } : {}),
      });
      say(image.id);
    });
}
