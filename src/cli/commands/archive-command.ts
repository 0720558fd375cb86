/**
 * archive-command.ts — `minibox save` and `minibox load`, shaped like Docker's: images to and
 * from a tar file, for machines without a registry between them.
 *
 * Try: `minibox save -o b.tar busybox && minibox load -i b.tar` → `Loaded image`
 */
import fs from 'node:fs';
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import { MiniboxError } from '../../errors.js';
import { contextOf, say } from '../context.js';

export function registerArchiveCommands(program: Command): void {
  program
    .command('save')
    .description('Save one or more images to a tar archive (streamed to STDOUT by default)')
    .usage('[OPTIONS] IMAGE [IMAGE...]')
    .argument('<images...>', 'images to save (name[:tag] or id)')
    .option('-o, --output <file>', 'write to a file, instead of STDOUT')
    .addHelpText('after', `
Examples:
  minibox save -o busybox.tar busybox:latest
  minibox save busybox:latest mysite:1 | gzip > images.tar.gz
  skopeo inspect docker-archive:busybox.tar`)
    .action(async (images: string[], flags: { output?: string }, cmd: Command) => {
      const { saveImages } = await import('../../image/archive/save.js');
      if (flags.output === undefined && process.stdout.isTTY) {
        throw new MiniboxError('cowardly refusing to save to a terminal. Use the -o flag or redirect');
      }
      const out = flags.output !== undefined ? fs.createWriteStream(`${flags.output}.partial`, { mode: 0o644 }) : process.stdout;
      try {
        await saveImages(contextOf(cmd).root, images, out as unknown as Writable);
        if (flags.output !== undefined) fs.renameSync(`${flags.output}.partial`, flags.output);
      } finally {
        if (flags.output !== undefined) fs.rmSync(`${flags.output}.partial`, { force: true });
      }
    });

  program
    .command('load')
    .description('Load images from a tar archive (docker save, skopeo docker-archive/oci-archive, minibox save)')
    .usage('[OPTIONS]')
    .option('-i, --input <file>', 'read from a tar archive file, instead of STDIN')
    .option('-q, --quiet', 'suppress the load output')
    .addHelpText('after', `
Examples:
  minibox load -i busybox.tar
  gunzip -c images.tar.gz | minibox load`)
    .action(async (flags: { input?: string; quiet?: boolean }, cmd: Command) => {
      const { loadImages } = await import('../../image/archive/load.js');
      if (flags.input === undefined && process.stdin.isTTY) {
        throw new MiniboxError('requested load from stdin, but stdin is empty: use -i FILE or pipe an archive in');
      }
      if (flags.input !== undefined && !fs.existsSync(flags.input)) throw new MiniboxError(`open ${flags.input}: no such file or directory`);
      const source = flags.input !== undefined ? fs.createReadStream(flags.input) : process.stdin;
      const images = await loadImages(contextOf(cmd).root, source);
      if (flags.quiet) return;
      for (const image of images) {
        if (image.repoTags.length === 0) say(`Loaded image ID: ${image.id}`);
        for (const tag of image.repoTags) say(`Loaded image: ${tag}`);
      }
    });
}
