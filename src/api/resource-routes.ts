/**
 * resource-routes.ts — networks, volumes and `top`: `docker network ls/create/inspect/rm`,
 * `docker volume ls/create/inspect/rm`, `docker top` — each the library call the minibox CLI makes.
 *
 *   GET /networks · POST /networks/create · GET /networks/{id} · DELETE /networks/{id}
 *   GET /volumes  · POST /volumes/create  · GET /volumes/{name} · DELETE /volumes/{name}
 *   GET /containers/{id}/top?ps_args=…
 *
 * `host` and `none` are listed as networks (drivers `host` and `null`), as dockerd lists them,
 * though they are modes of `run`, not networks on disk (network/networks.ts).
 *
 * Try: `docker -H unix:///tmp/mb.sock network create web && docker -H unix:///tmp/mb.sock network ls`
 * → `web       bridge    local`
 */
import type { ServerResponse } from 'node:http';
import { VolumeStore } from '../bundle/volumes.js';
import { containerTop } from '../lifecycle/top.js';
import { createUserNetwork, inspectNetwork, listAllNetworks, removeUserNetwork } from '../network/index.js';
import { ApiError } from './api-errors.js';
import { sendEmpty, sendJson, type ApiRequest } from './request.js';

const MODE_NETWORKS = [
  { Name: 'host', Id: 'host', Driver: 'host', Scope: 'local', IPAM: { Driver: 'default', Config: [] }, Containers: {}, Options: {}, Labels: {} },
  { Name: 'none', Id: 'none', Driver: 'null', Scope: 'local', IPAM: { Driver: 'default', Config: [] }, Containers: {}, Options: {}, Labels: {} },
];

export async function listNetworksRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const { root } = api.daemon;
  const networks = await Promise.all((await listAllNetworks(root)).map(async (network) => await inspectNetwork(root, network.Name)));
  sendJson(res, 200, [...networks, ...MODE_NETWORKS]);
}

export async function inspectNetworkRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const mode = MODE_NETWORKS.find((network) => network.Name === api.params[0]);
  sendJson(res, 200, mode ?? await inspectNetwork(api.daemon.root, api.params[0]!));
}

export async function createNetworkRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const body = await api.json<{ Name?: string; Driver?: string; IPAM?: { Config?: { Subnet?: string }[] | null } }>();
  if (!body.Name) throw new ApiError(400, 'network name is required');
  if (body.Driver && body.Driver !== 'bridge') throw new ApiError(400, `network driver "${body.Driver}" is not supported by minibox: only bridge`);
  const subnet = body.IPAM?.Config?.[0]?.Subnet;
  const created = await createUserNetwork(api.daemon.root, body.Name, subnet ? { subnet } : {});
  sendJson(res, 201, { Id: created.Id, Warning: '' });
}

export async function removeNetworkRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  await removeUserNetwork(api.daemon.root, api.params[0]!);
  sendEmpty(res);
}

export async function listVolumesRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  sendJson(res, 200, { Volumes: new VolumeStore(api.daemon.root).list(), Warnings: [] });
}

export async function inspectVolumeRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const volume = new VolumeStore(api.daemon.root).get(api.params[0]!);
  if (!volume) throw new ApiError(404, `get ${api.params[0]}: no such volume`);
  sendJson(res, 200, volume);
}

export async function createVolumeRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const body = await api.json<{ Name?: string; Driver?: string }>();
  if (body.Driver && body.Driver !== 'local') throw new ApiError(400, `volume driver "${body.Driver}" is not supported by minibox: only local`);
  sendJson(res, 201, await new VolumeStore(api.daemon.root).create(body.Name || undefined));
}

export async function removeVolumeRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  await new VolumeStore(api.daemon.root).remove(api.params[0]!);
  sendEmpty(res);
}

export async function containerTopRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const psArgs = api.query.get('ps_args');
  sendJson(res, 200, await containerTop(api.daemon.root, api.params[0]!, psArgs ? psArgs.split(/\s+/).filter(Boolean) : []));
}
