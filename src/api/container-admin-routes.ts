/**
 * container-admin-routes.ts — what `docker rename`, `pause`, `unpause` and `update` send: changes
 * to a container that neither start nor stop it, each answered by the verb `minibox` itself runs.
 *
 *   POST /containers/{id}/rename?name=NEW   204; 409 when NEW is taken        → renameContainer
 *   POST /containers/{id}/pause             204; 409 not running / paused     → pauseContainer
 *   POST /containers/{id}/unpause           204; 409 not running / not paused → unpauseContainer
 *   POST /containers/{id}/update            200 {"Warnings": []}              → updateContainers
 * Pausing freezes the container's cgroup (cgroup.freeze, cgroup v2 only). On a host without it —
 * this project's hybrid machines — the answer is minibox's own one-line refusal with the status
 * dockerd gives when its runtime cannot pause (500, a server-side failure, not a bad request).
 *
 * Try: `docker -H unix:///tmp/mb.sock create --name aa busybox true >/dev/null && docker -H
 * unix:///tmp/mb.sock rename aa bb && docker -H unix:///tmp/mb.sock ps -a --format '{{.Names}}'` → `bb`
 */
import type { ServerResponse } from 'node:http';
import { describeError } from '../errors.js';
import { findContainer } from '../container/container-store.js';
import { assertFreezer, pauseContainer, unpauseContainer } from '../lifecycle/pause.js';
import { renameContainer } from '../lifecycle/rename.js';
import { updateContainers } from '../lifecycle/resources.js';
import type { ResourceFlags } from '../cgroups/index.js';
import { ApiError } from './api-errors.js';
import { resourceFlagsOf, type ApiResourceLimits } from './create-body.js';
import { sendEmpty, sendJson, type ApiRequest } from './request.js';

export async function renameContainerRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const name = api.query.get('name');
  if (!name) throw new ApiError(400, 'rename needs the new name: ?name=NEW');
  const record = findContainer(api.daemon.root, api.params[0]!);
  if (`/${name.replace(/^\//, '')}` === record.Name) throw new ApiError(400, 'Renaming a container with the same name as its current name');
  await renameContainer(api.daemon.root, record.Id, name.replace(/^\//, ''));
  sendEmpty(res);
}

/** The freezer's absence is the host's failure, not the request's: 500, as dockerd's runtime error. */
function freezerOrFail(): void {
  try {
    assertFreezer();
  } catch (error) {
    throw new ApiError(500, describeError(error));
  }
}

export async function pauseContainerRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const id = findContainer(api.daemon.root, api.params[0]!).Id;
  freezerOrFail();
  await pauseContainer(api.daemon.root, id);
  sendEmpty(res);
}

export async function unpauseContainerRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const id = findContainer(api.daemon.root, api.params[0]!).Id;
  freezerOrFail();
  await unpauseContainer(api.daemon.root, id);
  sendEmpty(res);
}

interface UpdateBody extends ApiResourceLimits {
  RestartPolicy?: { Name?: string } | null;
  [other: string]: unknown;
}

/** The update body's limits as `minibox update`'s flags (0 and absent both mean "unchanged"). */
function updateFlags(body: UpdateBody): ResourceFlags {
  if (body.RestartPolicy?.Name) throw new ApiError(400, 'changing the restart policy with update is not supported by minibox: recreate the container with --restart');
  return resourceFlagsOf(body);
}

export async function updateContainerRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const body = await api.json<UpdateBody>();
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError(400, 'the update body must be a JSON object');
  const id = findContainer(api.daemon.root, api.params[0]!).Id;
  await updateContainers(api.daemon.root, [id], updateFlags(body));
  sendJson(res, 200, { Warnings: [] });
}
