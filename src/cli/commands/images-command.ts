/**
 * images-command.ts — the image commands: pull, images, rmi, tag, history, image inspect/mount/unmount/prune.
 * Parsing and printing only; the work is done in src/image/.
 */
import type { Command } from 'commander';
import { MiniboxError } from '../../errors.js';
import { formatAgo, formatBytes, formatTable } from '../../format.js';
import { shortId } from '../../image/digest.js';
import { collectGarbage, pruneImages, removeImage } from '../../image/store/garbage.js';
import { inspectImage } from '../../image/image-inspect.js';
import { mountImage, unmountImage } from '../../image/image-mount.js';
import { pullImage } from '../../image/pull.js';
import { reporterFor } from '../../image/pull-progress.js';
import { parseReference } from '../../image/reference.js';
import { ImageStore, type ImageRecord } from '../../image/store/images.js';
import { confirm, contextOf, say } from '../context.js';

export function registerImageCommands(program: Command): void {
  program.command('pull')
    .description('Download an image from a registry')
    .argument('<image>', 'image reference, e.g. alpine or 127.0.0.1:5000/busybox:latest')
    .option('-q, --quiet', 'print only the image reference')
    .option('--platform <os/arch[/variant]>', 'platform to pick from a multi-platform image', 'linux/amd64')
    .action(async (name: string, options: { quiet?: boolean; platform: string }, command: Command) => {
      const { root, insecureRegistries } = contextOf(command);
      const reference = parseReference(name);
      const lastComponent = name.split('/').pop() ?? '';
      if (!options.quiet && !reference.digest && !lastComponent.includes(':')) say('Using default tag: latest');
      const result = await pullImage(root, name, {
        platform: options.platform,
        insecureRegistries,
        reporter: reporterFor(process.stdout, options.quiet === true),
      });
      say(result.reference.canonical);
    });

  program.command('images')
    .description('List images')
    .argument('[repository]', 'only images of this repository (e.g. alpine)')
    .option('-q, --quiet', 'only show image IDs')
    .option('--digests', 'show digests')
    .option('--no-trunc', "don't truncate IDs")
    .option('--format <format>', "'table' (default) or 'json'")
    .action((repository: string | undefined, options: { quiet?: boolean; digests?: boolean; trunc: boolean; format?: string }, command: Command) => {
      printImages(command, repository, options);
    });

  program.command('rmi')
    .description('Remove one or more images')
    .argument('<images...>')
    .option('-f, --force', 'remove even if containers use it')
    .action(async (names: string[], options: { force?: boolean }, command: Command) => {
      const { root } = contextOf(command);
      let failed: unknown;
      for (const name of names) {
        try {
          const { untagged, deleted } = await removeImage(root, name, options.force === true);
          for (const line of untagged) say(`Untagged: ${familiar(line)}`);
          for (const line of deleted) say(`Deleted: ${line}`);
        } catch (error) {
          failed = error;
          process.stderr.write(`Error response from daemon: ${(error as Error).message}\n`);
        }
      }
      if (failed) process.exitCode = 1;
    });

  program.command('tag')
    .description('Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE')
    .argument('<source>').argument('<target>')
    .action(async (source: string, target: string, _options: object, command: Command) => {
      const store = new ImageStore(contextOf(command).root);
      const image = store.get(source);
      const ref = parseReference(target);
      if (ref.digest) throw new MiniboxError(`refusing to create a tag with a digest reference: ${target}`);
      await store.tag(image.id, `${ref.name}:${ref.tag}`);
    });

  program.command('history')
    .description('Show the history of an image, layer by layer')
    .argument('<image>')
    .option('--no-trunc', "don't truncate output")
    .option('-q, --quiet', 'only show image IDs')
    .option('-H, --human', 'print sizes and dates in human readable format', true)
    .option('--format <format>', "'table' (default) or 'json'")
    .action((name: string, options: { trunc: boolean; quiet?: boolean; format?: string }, command: Command) => {
      printHistory(command, name, options);
    });

  const image = program.command('image').description('Manage images');
  image.command('ls').description('List images')
    .argument('[repository]')
    .option('-q, --quiet').option('--digests').option('--no-trunc').option('--format <format>')
    .action((repository: string | undefined, options: { quiet?: boolean; digests?: boolean; trunc: boolean; format?: string }, command: Command) => {
      printImages(command, repository, options);
    });
  image.command('inspect').description('Display detailed information on one or more images')
    .argument('<images...>')
    .action((names: string[], _options: object, command: Command) => {
      const { root } = contextOf(command);
      say(JSON.stringify(names.map((name) => inspectImage(root, name)), null, 4));
    });
  image.command('history').description('Show the history of an image').argument('<image>')
    .option('--no-trunc').option('-q, --quiet').option('--format <format>')
    .action((name: string, options: { trunc: boolean; quiet?: boolean; format?: string }, command: Command) => {
      printHistory(command, name, options);
    });
  image.command('mount').description("Mount an image's layers read-only with overlayfs and print the path")
    .argument('<image>').argument('[dir]', 'where to mount (default: under the state root)')
    .action((name: string, dir: string | undefined, _options: object, command: Command) => {
      say(mountImage(contextOf(command).root, name, dir));
    });
  image.command('unmount').alias('umount').description('Unmount an image mounted with `image mount`')
    .argument('<image-or-dir>')
    .action((target: string, _options: object, command: Command) => {
      unmountImage(contextOf(command).root, target);
    });
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
      const { deleted, reclaimed, swept } = await pruneImages(root, options.all === true);
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
  image.command('rm').description('Remove one or more images').argument('<images...>').option('-f, --force')
    .action(async (names: string[], options: { force?: boolean }, command: Command) => {
      const { root } = contextOf(command);
      for (const name of names) {
        const { untagged, deleted } = await removeImage(root, name, options.force === true);
        for (const line of untagged) say(`Untagged: ${familiar(line)}`);
        for (const line of deleted) say(`Deleted: ${line}`);
      }
    });
  image.command('gc').description('Delete blobs and layers no image references (also done by rmi and prune)')
    .action(async (_options: object, command: Command) => {
      const swept = await collectGarbage(contextOf(command).root);
      say(`Removed ${swept.layers.length} unreferenced layers and ${swept.blobs.length} blobs`);
    });
}

/** `docker.io/library/alpine:latest` → `alpine:latest`, as Docker prints names. */
function familiar(name: string): string {
  try {
    return parseReference(name).familiar;
  } catch {
    return name;
  }
}

function splitTag(tag: string): { repository: string; tag: string } {
  const shown = familiar(tag);
  const colon = shown.lastIndexOf(':');
  return colon > shown.lastIndexOf('/') ? { repository: shown.slice(0, colon), tag: shown.slice(colon + 1) } : { repository: shown, tag: '<none>' };
}

interface ImageRow { repository: string; tag: string; digest: string; image: ImageRecord }

function printImages(command: Command, repository: string | undefined, options: { quiet?: boolean; digests?: boolean; trunc: boolean; format?: string }): void {
  const store = new ImageStore(contextOf(command).root);
  const rows: ImageRow[] = [];
  for (const image of store.list().sort((a, b) => (b.created ?? '').localeCompare(a.created ?? ''))) {
    const digest = image.repoDigests[0]?.slice(image.repoDigests[0].indexOf('@') + 1) ?? '<none>';
    const names = image.repoTags.length > 0 ? image.repoTags.map(splitTag) : [{ repository: '<none>', tag: '<none>' }];
    for (const name of names) rows.push({ ...name, digest, image });
  }
  const wanted = repository ? familiar(repository).replace(/:latest$/, '') : undefined;
  const shown = wanted ? rows.filter((row) => row.repository === wanted) : rows;
  const id = (image: ImageRecord) => (options.trunc === false ? image.id : shortId(image.id));
  if (options.quiet) {
    for (const idText of new Set(shown.map((row) => id(row.image)))) say(idText);
    return;
  }
  if (options.format === 'json') {
    for (const row of shown) {
      say(JSON.stringify({
        Containers: 'N/A', CreatedAt: row.image.created ?? '', CreatedSince: formatAgo(row.image.created),
        Digest: row.digest, ID: id(row.image), Repository: row.repository, SharedSize: 'N/A',
        Size: formatBytes(row.image.size), Tag: row.tag, UniqueSize: 'N/A', VirtualSize: formatBytes(row.image.size),
      }));
    }
    return;
  }
  if (options.format && options.format !== 'table') throw new MiniboxError(`unsupported --format "${options.format}": use "table" or "json"`);
  const header = ['REPOSITORY', 'TAG', ...(options.digests ? ['DIGEST'] : []), 'IMAGE ID', 'CREATED', 'SIZE'];
  say(formatTable(header, shown.map((row) => [
    row.repository, row.tag, ...(options.digests ? [row.digest] : []), id(row.image), formatAgo(row.image.created), formatBytes(row.image.size),
  ])));
}

function printHistory(command: Command, name: string, options: { trunc: boolean; quiet?: boolean; format?: string }): void {
  const { root } = contextOf(command);
  const store = new ImageStore(root);
  const image = store.get(name);
  const config = store.config(image);
  // Each history entry that is not an empty layer corresponds to the next layer, bottom first.
  const layerSizes = image.layers.map((layer) => layer.unpackedSize);
  let nextLayer = 0;
  const entries = (config.history ?? []).map((entry) => ({
    entry,
    size: entry.empty_layer ? 0 : layerSizes[nextLayer++] ?? 0,
  })).reverse();
  const id = options.trunc === false ? image.id : shortId(image.id);
  if (options.quiet) {
    entries.forEach((_, i) => say(i === 0 ? id : '<missing>'));
    return;
  }
  const createdBy = (text: string) => (options.trunc === false || text.length <= 45 ? text : `${text.slice(0, 44)}…`);
  if (options.format === 'json') {
    entries.forEach(({ entry, size }, i) => say(JSON.stringify({
      Comment: entry.comment ?? '', CreatedAt: entry.created ?? '', CreatedBy: entry.created_by ?? '',
      CreatedSince: formatAgo(entry.created), ID: i === 0 ? id : '<missing>', Size: formatBytes(size),
    })));
    return;
  }
  say(formatTable(['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'], entries.map(({ entry, size }, i) => [
    i === 0 ? id : '<missing>', formatAgo(entry.created), createdBy(entry.created_by ?? ''), formatBytes(size), entry.comment ?? '',
  ])));
}

