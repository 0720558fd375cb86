/**
 * image-routes.ts — the image endpoints: `docker pull/images/image inspect/rmi/tag/history`.
 *
 *   POST   /images/create?fromImage=N&tag=T   pull; the answer is a stream of JSON lines
 *   GET    /images/json                       list
 *   GET    /images/{name}/json                inspect                  (names may hold slashes)
 *   GET    /images/{name}/history             history
 *   POST   /images/{name}/tag?repo=R&tag=T    tag (201)
 *   DELETE /images/{name}?force=1             rmi: [{"Untagged": …}, {"Deleted": …}]
 *
 * A pull's progress is Docker's JSON-lines protocol: `{"status":"Downloading","id":"a3ed95caeb02",
 * "progressDetail":{"current":1024,"total":2048}}` per layer event, `{"status":"Digest: sha256:…"}`
 * at the end, and `{"error":"…","errorDetail":{"message":"…"}}` if it fails after the head was
 * sent (the status is 200 by then) — the CLI draws its bars from these lines. The same pullImage
 * as `minibox pull` does the work; only the reporter (image/pull-progress.ts) is another.
 *
 * Try: `curl -s -XPOST --unix-socket /tmp/mb.sock 'localhost/images/create?fromImage=127.0.0.1:5000/busybox&tag=latest'`
 * → `{"status":"Digest: sha256:…"}`
 */
import type { ServerResponse } from 'node:http';
import { describeError } from '../errors.js';
import { shortId } from '../image/digest.js';
import { inspectImage } from '../image/image-inspect.js';
import { pullImage } from '../image/pull.js';
import type { LayerStatus, PullReporter } from '../image/pull-progress.js';
import { parseReference } from '../image/reference.js';
import { imagesInUse } from '../container/container-store.js';
import { removeImage } from '../image/store/garbage.js';
import { ImageStore, type ImageRecord } from '../image/store/images.js';
import { ApiError } from './api-errors.js';
import { requestCredentials } from './registry-auth.js';
import { queryFlag, sendJson, type ApiRequest } from './request.js';

function familiar(name: string): string {
  try { return parseReference(name).familiar; } catch { return name; }
}

/** The statuses during which dockerd reports bytes (the CLI draws a bar); the rest are one line each. */
const MOVING = new Set<LayerStatus>(['Downloading', 'Extracting', 'Pushing']);

/** Docker's pull (and push) progress: one JSON object a line, given to `send`. */
export function jsonLinesReporter(send: (line: Record<string, unknown>) => void): PullReporter {
  return {
    message(line) {
      const pulling = /^(\S+): (Pulling from .*)$/.exec(line);
      send(pulling ? { status: pulling[2], id: pulling[1] } : { status: line });
    },
    layer(digest: string, status: LayerStatus, current?: number, total?: number) {
      send({
        status: status === 'Waiting' ? 'Pulling fs layer' : status,
        // Counts only while bytes move: the CLI, writing to a pipe, skips every line that has them.
        progressDetail: current !== undefined && total !== undefined && MOVING.has(status) ? { current, total } : {},
        id: shortId(digest),
      });
    },
    done() {},
  };
}

export async function pullImageRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const from = api.query.get('fromImage');
  if (!from) throw new ApiError(400, 'importing an image (fromSrc) is not supported by minibox: use minibox import; pull with fromImage=NAME');
  const tag = api.query.get('tag');
  // `tag` is a tag, or a digest when the CLI pulls NAME@sha256:…
  const name = tag ? (tag.startsWith('sha256:') ? `${from}@${tag}` : `${from}:${tag}`) : from;
  parseReference(name); // a malformed name is a 400 before the 200 head
  const platform = api.query.get('platform');
  const credentials = requestCredentials(api.req);
  res.writeHead(200, { 'Content-Type': 'application/json' });
  const reporter = jsonLinesReporter((line) => { res.write(`${JSON.stringify(line)}\n`); });
  try {
    await pullImage(api.daemon.root, name, {
      reporter,
      ...(platform ? { platform } : {}),
      ...(credentials ? { credentials } : {}),
      insecureRegistries: api.daemon.insecureRegistries,
      registryMirrors: api.daemon.registryMirrors,
    });
  } catch (error) {
    const message = describeError(error);
    res.write(`${JSON.stringify({ errorDetail: { message }, error: message })}\n`);
  }
  res.end();
}

function listEntry(image: ImageRecord): Record<string, unknown> {
  return {
    Id: image.id,
    ParentId: '',
    RepoTags: image.repoTags.map(familiar),
    RepoDigests: image.repoDigests.map(familiar),
    Created: image.created ? Math.floor(Date.parse(image.created) / 1000) : 0,
    Size: image.size,
    VirtualSize: image.size,
    SharedSize: -1,
    Labels: {},
    Containers: -1,
  };
}

export async function listImagesRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const images = new ImageStore(api.daemon.root).list().sort((a, b) => (b.created ?? '').localeCompare(a.created ?? ''));
  sendJson(res, 200, images.map(listEntry));
}

export async function inspectImageRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const inspected = inspectImage(api.daemon.root, api.params[0]!);
  sendJson(res, 200, { ...inspected, RepoTags: (inspected.RepoTags as string[]).map(familiar), RepoDigests: (inspected.RepoDigests as string[]).map(familiar) });
}

export async function imageHistoryRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const store = new ImageStore(api.daemon.root);
  const image = store.get(api.params[0]!);
  const config = store.config(image);
  const sizes = image.layers.map((layer) => layer.unpackedSize);
  let next = 0;
  const rows = (config.history ?? []).map((entry) => ({
    Id: '<missing>',
    Created: entry.created ? Math.floor(Date.parse(entry.created) / 1000) : 0,
    CreatedBy: entry.created_by ?? '',
    Tags: null,
    Size: entry.empty_layer ? 0 : sizes[next++] ?? 0,
    Comment: entry.comment ?? '',
  })).reverse();
  if (rows[0]) Object.assign(rows[0], { Id: image.id, Tags: image.repoTags.map(familiar) });
  sendJson(res, 200, rows);
}

export async function tagImageRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const store = new ImageStore(api.daemon.root);
  const image = store.get(api.params[0]!);
  const repo = api.query.get('repo');
  if (!repo) throw new ApiError(400, 'repository name (repo) not specified');
  const ref = parseReference(`${repo}:${api.query.get('tag') || 'latest'}`);
  await store.tag(image.id, `${ref.name}:${ref.tag}`);
  res.writeHead(201);
  res.end();
}

export async function removeImageRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const { untagged, deleted } = await removeImage(api.daemon.root, api.params[0]!, imagesInUse(api.daemon.root), queryFlag(api.query, 'force'));
  sendJson(res, 200, [...untagged.map((name) => ({ Untagged: familiar(name) })), ...deleted.map((id) => ({ Deleted: id }))]);
}
