/**
 * images-command.ts — the image commands: pull, images, rmi, tag, history, image inspect/mount/unmount/prune.
 * Parsing and printing only; the work is done in src/image/, the listings are in image-list.ts.
 *
 * Try: `minibox images` → `REPOSITORY … TAG … IMAGE ID … CREATED … SIZE`
 */
import type { Command } from 'commander';
import { ExitCode, MiniboxError, describeError } from '../../errors.js';
import { formatBytes } from '../../format.js';
import { collectGarbage, pruneImages, removeImage } from '../../image/store/garbage.js';
import { imagesInUse } from '../../container/container-store.js';
import { inspectImage } from '../../image/image-inspect.js';
import { mountImage, unmountImage } from '../../image/image-mount.js';
import { pullImage } from '../../image/pull.js';
import { reporterFor } from '../../image/pull-progress.js';
import { parseReference } from '../../image/reference.js';
import { ImageStore } from '../../image/store/images.js';
import { renderGoTemplate } from '../go-template.js';
import { confirm, contextOf, say } from '../context.js';
import { familiar, printHistory, printImages, type ListOptions } from './image-list.js';
import { withExplainFlags } from '../explain-flags.js';

/** Each top-level image command by name, and what adds it (`image`, the group, is all of them). */
const BY_NAME = new Map<string, (parent: Command) => void>([
  ['pull', registerPullCommand], ['images', (parent) => registerImagesCommand(parent, 'images')],
  ['rmi', (parent) => registerRmiCommand(parent, 'rmi')], ['tag', registerTagCommand], ['history', registerHistoryCommand],
]);

/** Every image command, or with `only` (`pull` in `minibox pull`) that one alone (main.ts `Register`). */
export function registerImageCommands(program: Command, only?: string): void {
  const alone = only === undefined ? undefined : BY_NAME.get(only);
  if (alone) {
    alone(program);
    return;
  }
  registerPullCommand(program);
  registerImagesCommand(program, 'images');
  registerRmiCommand(program, 'rmi');
  registerTagCommand(program);
  registerHistoryCommand(program);
  const image = program.command('image').description('Manage images');
  registerImagesCommand(image, 'ls', ['list']);
  registerImageInspectCommand(image);
  registerHistoryCommand(image);
  registerImageMountCommands(image);
  registerImagePruneCommand(image);
  registerRmiCommand(image, 'rm', ['remove']);
  registerPullCommand(image);
  registerTagCommand(image);
  image.command('gc').description('Delete blobs and layers no image references (also done by rmi and prune)')
    .action(async (_options: object, command: Command) => {
      const swept = await collectGarbage(contextOf(command).root);
      say(`Removed ${swept.layers.length} unreferenced layers and ${swept.blobs.length} blobs`);
    });
}

function registerPullCommand(parent: Command): void {
  withExplainFlags(parent.command('pull')
    .description('Download an image from a registry')
    .argument('<image>', 'image reference, e.g. alpine or 127.0.0.1:5000/busybox:latest')
    .option('-q, --quiet', 'print only the image reference')
    .option('--platform <os/arch[/variant]>', 'platform to pick from a multi-platform image', 'linux/amd64')
    .action(async (name: string, options: { quiet?: boolean; platform: string }, command: Command) => {
      const { root, insecureRegistries, registryMirrors } = contextOf(command);
      const reference = parseReference(name);
      const lastComponent = name.split('/').pop() ?? '';
      if (!options.quiet && !reference.digest && !lastComponent.includes(':')) say('Using default tag: latest');
      const result = await pullImage(root, name, {
        platform: options.platform,
        insecureRegistries,
        registryMirrors,
        reporter: reporterFor(process.stdout, options.quiet === true),
      });
      say(result.reference.canonical);
    }), 'the pull');
}

function registerImagesCommand(parent: Command, name: string, aliases: string[] = []): void {
  parent.command(name).aliases(aliases)
    .description('List images (SIZE: uncompressed layer bytes)')
    .argument('[repository]', 'only images of this repository (e.g. alpine)')
    .option('-q, --quiet', 'only show image IDs')
    .option('--digests', 'show digests')
    .option('--no-trunc', "don't truncate IDs")
    .option('--format <format>', "'table', 'table TEMPLATE', 'json' or a Go TEMPLATE, e.g. '{{.Repository}}:{{.Tag}}'")
    .action((repository: string | undefined, options: ListOptions, command: Command) => {
      printImages(command, repository, options);
    });
}

function registerRmiCommand(parent: Command, name: string, aliases: string[] = []): void {
  parent.command(name).aliases(aliases)
    .description('Remove one or more images')
    .argument('<image...>', 'image names or ids')
    .option('-f, --force', 'remove even if containers use it')
    .action(async (names: string[], options: { force?: boolean }, command: Command) => {
      const { root } = contextOf(command);
      let failed = false;
      for (const image of names) {
        try {
          const { untagged, deleted } = await removeImage(root, image, imagesInUse(root), options.force === true);
          for (const line of untagged) say(`Untagged: ${familiar(line)}`);
          for (const line of deleted) say(`Deleted: ${line}`);
        } catch (error) {
          failed = true;
          process.stderr.write(`minibox: ${describeError(error)}\n`);
        }
      }
      if (failed) process.exitCode = ExitCode.VerbFailed;
    });
}

function registerTagCommand(parent: Command): void {
  parent.command('tag')
    .description('Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE')
    .usage('SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]')
    .argument('<source_image>', 'the image to name: name[:tag] or id')
    .argument('<target_image>', 'the new name: [registry/]name[:tag]')
    .action(async (source: string, target: string, _options: object, command: Command) => {
      const { root } = contextOf(command);
      const store = new ImageStore(root);
      const image = store.get(source);
      const ref = parseReference(target);
      if (ref.digest) throw new MiniboxError(`refusing to create a tag with a digest reference: ${target}`);
      await store.tag(image.id, `${ref.name}:${ref.tag}`);
      const { recordEvent } = await import('../../events/event-log.js');
      recordEvent(root, 'image', 'tag', image.id, { name: ref.familiar });
    });
}

function registerHistoryCommand(parent: Command): void {
  parent.command('history')
    .description('Show the history of an image, layer by layer')
    .argument('<image>', 'image name or id')
    .option('--no-trunc', "don't truncate output")
    .option('-q, --quiet', 'only show image IDs')
    .option('-H, --human', 'print sizes and dates in human readable format', true)
    .option('--format <format>', "'table', 'json' or a Go TEMPLATE, e.g. '{{.CreatedBy}}'")
    .action((name: string, options: { trunc: boolean; quiet?: boolean; format?: string }, command: Command) => {
      printHistory(command, name, options);
    });
}

function registerImageInspectCommand(image: Command): void {
  image.command('inspect').description('Display detailed information on one or more images')
    .argument('<image...>', 'image names or ids')
    .option('-f, --format <template>', "format the output with a Go template, e.g. '{{.Os}}/{{.Architecture}}'")
    .action((names: string[], options: { format?: string }, command: Command) => {
      const { root } = contextOf(command);
      const results = names.map((name) => inspectImage(root, name));
      if (options.format !== undefined) for (const result of results) say(renderGoTemplate(options.format, result));
      else say(JSON.stringify(results, null, 4));
    });
}

function registerImageMountCommands(image: Command): void {
  image.command('mount').description("Mount an image's layers read-only with overlayfs and print the path")
    .argument('<image>', 'image name or id').argument('[dir]', 'an existing directory to mount on (default: one under the state root)')
    .action((name: string, dir: string | undefined, _options: object, command: Command) => {
      say(mountImage(contextOf(command).root, name, dir));
    });
  image.command('unmount').alias('umount').description('Unmount an image mounted with `image mount`')
    .argument('<image|dir>', 'the image, or the directory it is mounted on')
    .action((target: string, _options: object, command: Command) => {
      unmountImage(contextOf(command).root, target);
    });
}

function registerImagePruneCommand(image: Command): void {
  image.command('prune').description('Remove unused images')
    .option('-a, --all', 'remove all images not used by a container, not just untagged ones')
    .option('-f, --force', 'do not prompt for confirmation')
    .action(async (options: { all?: boolean; force?: boolean }, command: Command) => {
      const { root } = contextOf(command);
      if (!options.force) {
        const warning = options.all
          ? 'WARNING! This will remove all images without at least one container associated to them.'
          : 'WARNING! This will remove all dangling images.';
        if (!(await confirm(`${warning}\nAre you sure you want to continue? [y/N] `))) return;
      }
      const { deleted, reclaimed, swept } = await pruneImages(root, imagesInUse(root), options.all === true);
      if (deleted.length > 0 || swept.layers.length > 0) {
        say('Deleted Images:');
        for (const gone of deleted) {
          for (const tag of gone.repoTags) say(`untagged: ${familiar(tag)}`);
          say(`deleted: ${gone.id}`);
        }
        say('');
      }
      say(`Total reclaimed space: ${formatBytes(reclaimed)}`);
    });
}
