/**
 * image-and-file-routes.ts — the part of the route table (routes.ts) that makes and moves images
 * and files, and reports what happened: what `docker push`, `commit`, `build`, `cp`, `diff` and
 * `events` send.
 *
 *   POST /images/{name}/push?tag=T        push-route.ts      (JSON-lines progress)
 *   POST /commit?container=C&repo=R        commit-route.ts    (201 {"Id"})
 *   POST /build?t=…&dockerfile=…           build-route.ts     (the context tar in, JSON lines out)
 *   HEAD|GET|PUT /containers/{id}/archive  archive-routes.ts  (docker cp)
 *   GET  /containers/{id}/changes          events-route.ts    (docker diff)
 *   GET  /events                           events-route.ts    (the journal, streamed)
 * Each handler calls the function the minibox CLI's own command calls (pushImage,
 * commitContainer, buildImage, copyToContainer/copyFromContainer, containerChanges, the journal).
 *
 * Try: `curl -s --unix-socket /tmp/mb.sock localhost/containers/web/changes` → `[{"Path":`
 */
import { getArchiveRoute, putArchiveRoute } from './archive-routes.js';
import { buildRoute } from './build-route.js';
import { commitRoute } from './commit-route.js';
import { containerChangesRoute, eventsRoute } from './events-route.js';
import { pushImageRoute } from './push-route.js';
import type { Route } from './request.js';

const ID = '([^/]+)';
/** Image names hold slashes (`127.0.0.1:5000/team/app`): the longest match before the suffix. */
const NAME = '(.+)';

export const imageAndFileRoutes: Route[] = [
  { method: 'POST', path: new RegExp(`^/images/${NAME}/push$`), handle: pushImageRoute },
  { method: 'POST', path: /^\/commit$/, handle: commitRoute },
  { method: 'POST', path: /^\/build$/, handle: buildRoute },
  { method: 'GET', path: new RegExp(`^/containers/${ID}/archive$`), handle: getArchiveRoute },
  { method: 'PUT', path: new RegExp(`^/containers/${ID}/archive$`), handle: putArchiveRoute },
  { method: 'GET', path: new RegExp(`^/containers/${ID}/changes$`), handle: containerChangesRoute },
  { method: 'GET', path: /^\/events$/, handle: eventsRoute },
];
