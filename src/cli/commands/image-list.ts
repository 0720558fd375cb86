/**
 * image-list.ts — what `images` and `history` print, row by row as Docker's CLI makes them: one
 * row per repository:tag of an image (so `images -q` repeats an id that has two names, as
 * Docker's does), the digest of *that* repository with `--digests`, and `--format` as
 * `json`, `table TEMPLATE` or a Go TEMPLATE (go-template.ts).
 *
 * SIZE is the image's uncompressed layer bytes (the tar streams the registry's blobs unpack to);
 * Docker shows the sum of the files' sizes, a little less (tar adds 512 bytes a file).
 *
 * Try: `minibox tag busybox mine:v1 && minibox images` → `mine … v1` (two rows, one IMAGE ID).
 */
import type { Command } from 'commander';
import { formatAgo, formatBytes, formatTable } from '../../format.js';
import { shortId } from '../../image/digest.js';
import { parseReference } from '../../image/reference.js';
import { ImageStore, type ImageRecord } from '../../image/store/images.js';
import { renderRows } from '../go-template.js';
import { contextOf, say } from '../context.js';

export interface ListOptions { quiet?: boolean; digests?: boolean; trunc: boolean; format?: string }

/** `docker.io/library/alpine:latest` → `alpine:latest`, as Docker prints names. */
export function familiar(name: string): string {
  try {
    return parseReference(name).familiar;
  } catch {
    return name;
  }
}

interface ImageRow { repository: string; tag: string; digest: string; image: ImageRecord }

/** `name → [values]` for references `name:tag` or `name@digest` (familiar names). */
function byRepository(references: string[], separator: ':' | '@'): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const reference of references.map(familiar)) {
    const at = separator === '@' ? reference.indexOf('@') : reference.lastIndexOf(':');
    if (at <= reference.lastIndexOf('/') && separator === ':') continue;
    if (at === -1) continue;
    const name = reference.slice(0, at);
    map.set(name, [...(map.get(name) ?? []), reference.slice(at + 1)]);
  }
  return map;
}

/** Docker's rows of one image (cli/command/formatter/image.go, imageFormatTaggedAndDigest). */
function rowsOf(image: ImageRecord, withDigests: boolean): ImageRow[] {
  if (image.repoTags.length === 0 && image.repoDigests.length === 0) return [{ repository: '<none>', tag: '<none>', digest: '<none>', image }];
  const tags = byRepository(image.repoTags, ':');
  const digests = byRepository(image.repoDigests, '@');
  const rows: ImageRow[] = [];
  for (const [repository, tagList] of tags) {
    const repositoryDigests = digests.get(repository) ?? [];
    digests.delete(repository);
    for (const tag of tagList) {
      if (!withDigests || repositoryDigests.length === 0) rows.push({ repository, tag, digest: '<none>', image });
      else for (const digest of repositoryDigests) rows.push({ repository, tag, digest, image });
    }
  }
  for (const [repository, digestList] of digests) {
    if (withDigests) for (const digest of digestList) rows.push({ repository, tag: '<none>', digest, image });
    else rows.push({ repository, tag: '<none>', digest: '<none>', image });
  }
  return rows;
}

const IMAGE_HEADERS = {
  ID: 'IMAGE ID', Repository: 'REPOSITORY', Tag: 'TAG', Digest: 'DIGEST', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT',
  Size: 'SIZE', Containers: 'CONTAINERS', VirtualSize: 'SIZE', SharedSize: 'SHARED SIZE', UniqueSize: 'UNIQUE SIZE',
};

export function printImages(command: Command, repository: string | undefined, options: ListOptions): void {
  const store = new ImageStore(contextOf(command).root);
  const wantDigests = options.digests === true || (options.format ?? '').includes('.Digest');
  const rows = store.list().sort((a, b) => (b.created ?? '').localeCompare(a.created ?? '')).flatMap((image) => rowsOf(image, wantDigests));
  const wanted = repository ? familiar(repository).replace(/:latest$/, '') : undefined;
  const shown = wanted ? rows.filter((row) => row.repository === wanted || `${row.repository}:${row.tag}` === wanted) : rows;
  const id = (image: ImageRecord) => (options.trunc === false ? image.id : shortId(image.id));
  if (options.quiet) {
    for (const row of shown) say(id(row.image));
    return;
  }
  if (options.format && options.format !== 'table') {
    const fields = shown.map((row) => ({
      Containers: 'N/A', CreatedAt: row.image.created ?? '', CreatedSince: formatAgo(row.image.created),
      Digest: row.digest, ID: id(row.image), Repository: row.repository, SharedSize: 'N/A',
      Size: formatBytes(row.image.size), Tag: row.tag, UniqueSize: 'N/A', VirtualSize: formatBytes(row.image.size),
    }));
    for (const line of renderRows(options.format, fields, IMAGE_HEADERS)) say(line);
    return;
  }
  const header = ['REPOSITORY', 'TAG', ...(options.digests ? ['DIGEST'] : []), 'IMAGE ID', 'CREATED', 'SIZE'];
  say(formatTable(header, shown.map((row) => [
    row.repository, row.tag, ...(options.digests ? [row.digest] : []), id(row.image), formatAgo(row.image.created), formatBytes(row.image.size),
  ])));
}

export function printHistory(command: Command, name: string, options: { trunc: boolean; quiet?: boolean; format?: string }): void {
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
  if (options.format && options.format !== 'table') {
    const fields = entries.map(({ entry, size }, i) => ({
      Comment: entry.comment ?? '', CreatedAt: entry.created ?? '', CreatedBy: entry.created_by ?? '',
      CreatedSince: formatAgo(entry.created), ID: i === 0 ? id : '<missing>', Size: formatBytes(size),
    }));
    const headers = { ID: 'IMAGE', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', CreatedBy: 'CREATED BY', Size: 'SIZE', Comment: 'COMMENT' };
    for (const line of renderRows(options.format, fields, headers)) say(line);
    return;
  }
  say(formatTable(['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'], entries.map(({ entry, size }, i) => [
    i === 0 ? id : '<missing>', formatAgo(entry.created), createdBy(entry.created_by ?? ''), formatBytes(size), entry.comment ?? '',
  ])));
}
