/**
 * commit-route.ts — `docker commit`: `POST /commit?container=C&repo=R&tag=T`, by minibox's commit.
 *
 * The query carries what `docker commit` was given: `comment` (-m), `author` (-a), `changes`
 * (-c, one parameter per instruction: `CMD ["httpd"]`, `ENV A=1`…) and `pause` (--pause, true
 * unless `--pause=false`); the body is a container config (`{"Cmd": […], "Env": […]}`) whose
 * non-empty fields replace the image's before the changes apply — the CLI sends `null`. The
 * answer is `201 {"Id": "sha256:…"}`, which the CLI prints.
 *
 * The work is lifecycle/commit.ts's `commitContainer`, the one `minibox commit` calls: the
 * container's overlay upper dir becomes one more layer. Docker freezes a running container for
 * the commit (`pause=1`) so that no file is caught half-written; minibox commits without pausing
 * on every host, as `minibox commit -p` does (it has no freezer on a hybrid cgroup host): the
 * parameter is accepted, and a file written during the commit may or may not be in the layer.
 *
 * Try: `docker -H unix:///tmp/mb.sock commit -c 'CMD ["cat","/f"]' box made:1` → `sha256:…`
 */
import type { ServerResponse } from 'node:http';
import { describeError } from '../errors.js';
import type { ContainerConfig } from '../image/oci.js';
import { applyConfigChanges } from '../image/pack/config-changes.js';
import { parseReference } from '../image/reference.js';
import { commitContainer } from '../lifecycle/commit.js';
import { ApiError } from './api-errors.js';
import { sendJson, type ApiRequest } from './request.js';

/** The image config fields a commit body may set (moby's container.Config, the image's part). */
const CONFIG_FIELDS = [
  'User', 'ExposedPorts', 'Env', 'Entrypoint', 'Cmd', 'Volumes', 'WorkingDir', 'Labels', 'StopSignal', 'Healthcheck', 'OnBuild', 'Shell',
] as const;

function isEmpty(value: unknown): boolean {
  if (value === null || value === undefined || value === '') return true;
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === 'object' && Object.keys(value).length === 0;
}

/** The body's non-empty image-config fields (moby merges the rest from the image). */
function configOf(body: unknown): ContainerConfig {
  if (body === null || body === undefined) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new ApiError(400, 'the commit body must be a container config object (or null)');
  const fields = body as Record<string, unknown>;
  return Object.fromEntries(CONFIG_FIELDS.filter((key) => !isEmpty(fields[key])).map((key) => [key, fields[key]])) as ContainerConfig;
}

/** `repo` + `tag` as the new image's reference (none: an untagged image, as dockerd makes). */
function referenceOf(query: URLSearchParams): string | undefined {
  const repo = query.get('repo');
  if (!repo) return undefined;
  const reference = `${repo}:${query.get('tag') || 'latest'}`;
  try {
    parseReference(reference);
  } catch (error) {
    throw new ApiError(400, describeError(error));
  }
  return reference;
}

export async function commitRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const container = api.query.get('container');
  if (!container) throw new ApiError(400, 'no container given: commit takes ?container=NAME');
  const config = configOf(await api.json<unknown>());
  const changes = api.query.getAll('changes').filter((change) => change.trim() !== '');
  try {
    applyConfigChanges({}, changes); // a bad -c is the client's mistake (400), found before any layer is written
  } catch (error) {
    throw new ApiError(400, describeError(error));
  }
  const reference = referenceOf(api.query);
  const comment = api.query.get('comment');
  const author = api.query.get('author');
  const image = await commitContainer(api.daemon.root, container, {
    ...(reference !== undefined ? { reference } : {}),
    ...(comment ? { message: comment } : {}),
    ...(author ? { author } : {}),
    config,
    changes,
  });
  sendJson(res, 201, { Id: image.id });
}
