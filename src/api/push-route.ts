/**
 * push-route.ts — `docker push`: `POST /images/{name}/push?tag=T`, answered by minibox's push.
 *
 * The CLI sends the repository in the path and the tag in the query (an empty tag means every
 * tag of that repository, as `docker push --all-tags`), with the client's registry credentials
 * in `X-Registry-Auth` (registry-auth.ts) — the daemon stores none. The answer is the JSON-lines
 * progress dockerd sends (json-stream.ts):
 *   {"status":"The push refers to repository [127.0.0.1:5000/me/app]"}
 *   {"status":"Pushing","progressDetail":{"current":512,"total":2048},"id":"a3ed95caeb02"}
 *   {"status":"Pushed","progressDetail":{…},"id":"a3ed95caeb02"}
 *   {"status":"1: digest: sha256:… size: 527"}
 *   {"progressDetail":{},"aux":{"Tag":"1","Digest":"sha256:…","Size":527}}
 * A name with no local image is a 404 before the stream starts; a registry that refuses (or is
 * down) is an `errorDetail` line after it, and the CLI exits 1 printing its message. The work
 * is image/push.ts's `pushImage`, the one `minibox push` calls; only the reporter is another.
 *
 * Try: `docker -H unix:///tmp/mb.sock push 127.0.0.1:5000/me/app:1` → `1: digest: sha256:… size: …`
 */
import type { ServerResponse } from 'node:http';
import { NotFoundError } from '../errors.js';
import { pushImage } from '../image/push.js';
import { parseReference } from '../image/reference.js';
import { ImageStore } from '../image/store/images.js';
import { ApiError } from './api-errors.js';
import { jsonLinesReporter } from './image-routes.js';
import { jsonLineStream } from './json-stream.js';
import { requestCredentials } from './registry-auth.js';
import type { ApiRequest } from './request.js';

/** The tags to push: the one asked for, or every local tag of the repository. */
function tagsToPush(store: ImageStore, name: string, tag: string): string[] {
  let ref;
  try {
    ref = parseReference(tag ? `${name}:${tag}` : name);
  } catch (error) {
    throw new ApiError(400, error instanceof Error ? error.message : String(error));
  }
  if (ref.digest) throw new ApiError(400, `cannot push ${name}@${ref.digest}: push a tag, not a digest`);
  if (ref.tag) {
    if (!store.resolve(`${ref.name}:${ref.tag}`)) throw new NotFoundError(`An image does not exist locally with the tag: ${ref.familiar}`);
    return [ref.tag];
  }
  const prefix = `${ref.name}:`;
  const tags = store.list().flatMap((image) => image.repoTags).filter((repoTag) => repoTag.startsWith(prefix)).map((repoTag) => repoTag.slice(prefix.length));
  if (tags.length === 0) throw new NotFoundError(`An image does not exist locally with the tag: ${ref.familiar}`);
  return [...new Set(tags)].sort();
}

export async function pushImageRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const name = api.params[0]!;
  const credentials = requestCredentials(api.req);
  const tags = tagsToPush(new ImageStore(api.daemon.root), name, api.query.get('tag') ?? '');
  const stream = jsonLineStream(res);
  const reporter = jsonLinesReporter((line) => stream.send(line));
  try {
    for (const tag of tags) {
      const pushed = await pushImage(api.daemon.root, `${name}:${tag}`, {
        reporter, insecureRegistries: api.daemon.insecureRegistries, ...(credentials ? { credentials } : {}),
      });
      stream.send({ progressDetail: {}, aux: { Tag: pushed.tag, Digest: pushed.digest, Size: pushed.size } });
    }
  } catch (error) {
    stream.fail(error);
    return;
  }
  stream.end();
}
