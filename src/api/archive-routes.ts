/**
 * archive-routes.ts — `docker cp`: a container's files as a tar, both ways, by minibox's cp.
 *
 *   HEAD /containers/{id}/archive?path=P   what P is, in the `X-Docker-Container-Path-Stat` header:
 *                                          base64 of {"name","size","mode","mtime","linkTarget"}
 *   GET  /containers/{id}/archive?path=P   the same header, and a tar whose one top entry is P
 *   PUT  /containers/{id}/archive?path=D   a tar, unpacked into the directory D (`copyUIDGID=1`
 *                                          with -a keeps the tar's owners; else root's)
 * The CLI does the host's half itself: it asks HEAD first (404 means "does not exist yet"),
 * renames the tar's top entry to land as `docker cp` promises, and unpacks a GET's tar on the
 * host. The container's half is lifecycle/copy.ts, the code `minibox cp` runs: container paths
 * resolve inside the container's root — a symlink to `/` is the container's `/`, not the host's
 * (CVE-2018-15664 / CVE-2019-14271, docker cp's symlink escapes) — and a tar's names stay inside
 * the destination (image/unpack/).
 *
 * `mode` is Go's os.FileMode, not stat(2)'s: the permission bits plus Go's own type bits (a
 * directory is 1<<31, a symlink 1<<27) — the CLI asks `mode.IsDir()`.
 *
 * Try: `docker -H unix:///tmp/mb.sock cp web:/etc/hostname -  | tar -t` → `hostname`
 */
import type fs from 'node:fs';
import type { ServerResponse } from 'node:http';
import { ApiError } from './api-errors.js';
import { copyFromContainer, copyToContainer, statInContainer } from '../lifecycle/copy.js';
import { queryFlag, sendEmpty, type ApiRequest } from './request.js';

/** Go's os.FileMode type bits, from stat(2)'s S_IFMT and the set-id/sticky bits. */
function goFileMode(stats: fs.Stats): number {
  let mode = stats.mode & 0o777;
  if (stats.isDirectory()) mode |= 2 ** 31;
  else if (stats.isSymbolicLink()) mode |= 2 ** 27;
  else if (stats.isBlockDevice()) mode |= 2 ** 26;
  else if (stats.isCharacterDevice()) mode |= 2 ** 26 | 2 ** 21;
  else if (stats.isFIFO()) mode |= 2 ** 25;
  else if (stats.isSocket()) mode |= 2 ** 24;
  if (stats.mode & 0o4000) mode |= 2 ** 23;
  if (stats.mode & 0o2000) mode |= 2 ** 22;
  if (stats.mode & 0o1000) mode |= 2 ** 20;
  return mode >>> 0;
}

function pathParameter(api: ApiRequest): string {
  const given = api.query.get('path');
  if (!given) throw new ApiError(400, 'no path given: use ?path=/path/in/the/container');
  return given;
}

/** The stat header's value for `given` in the container (404 when it does not exist). */
async function pathStatHeader(api: ApiRequest, given: string): Promise<string> {
  const { stats, linkTarget } = await statInContainer(api.daemon.root, api.params[0]!, given);
  const name = given.split('/').filter((part) => part !== '').at(-1) ?? '/';
  const stat = { name, size: stats.size, mode: goFileMode(stats), mtime: stats.mtime.toISOString(), linkTarget };
  return Buffer.from(JSON.stringify(stat)).toString('base64');
}

/** `HEAD` (the stat only) and `GET` (the stat and the tar). */
export async function getArchiveRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const given = pathParameter(api);
  const header = await pathStatHeader(api, given);
  if (api.req.method === 'HEAD') {
    res.writeHead(200, { 'X-Docker-Container-Path-Stat': header, 'Content-Type': 'application/x-tar' });
    res.end();
    return;
  }
  res.writeHead(200, { 'X-Docker-Container-Path-Stat': header, 'Content-Type': 'application/x-tar' });
  await copyFromContainer(api.daemon.root, api.params[0]!, given, res);
  res.end();
}

export async function putArchiveRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const given = pathParameter(api);
  await copyToContainer(api.daemon.root, api.req, api.params[0]!, given, { archive: queryFlag(api.query, 'copyUIDGID') });
  sendEmpty(res, 200);
}
