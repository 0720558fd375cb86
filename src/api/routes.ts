/**
 * routes.ts — the Engine API's route table: every path minibox answers, and the ones it refuses.
 *
 * Paths are matched after the version prefix is taken off (`/v1.50/containers/json` →
 * `/containers/json`, api-version.ts). A path minibox has no route for gets dockerd's
 * `404 page not found`; a *feature* minibox does not have (swarm, plugins, secrets…) gets a
 * 501 whose message names it — so `docker swarm init` says why instead of hanging or crashing.
 *
 * Try: `docker -H unix:///tmp/mb.sock swarm init` → `… swarm is not supported by minibox`
 */
import os from 'node:os';
import type { ServerResponse } from 'node:http';
import { reconcileAll } from '../container/reconcile.js';
import { cgroupMode } from '../cgroups/mode.js';
import { ImageStore } from '../image/store/images.js';
import { notImplemented } from './api-errors.js';
import { ENGINE_VERSION, pingHeaders, versionBody } from './api-version.js';
import { attachRoute } from './attach.js';
import { imageAndFileRoutes } from './image-and-file-routes.js';
import { authRoute } from './registry-auth.js';
import { resizeRoute } from './terminal-session.js';
import {
  containerLogsRoute, createContainerRoute, inspectContainerRoute, killContainerRoute, listContainers, removeContainerRoute,
  restartContainerRoute, startContainerRoute, stopContainerRoute, waitContainerRoute,
} from './container-routes.js';
import { pauseContainerRoute, renameContainerRoute, unpauseContainerRoute, updateContainerRoute } from './container-admin-routes.js';
import { containerStatsRoute } from './stats-route.js';
import { createExecRoute, inspectExecRoute, resizeExecRoute, startExecRoute } from './exec-routes.js';
import { imageHistoryRoute, inspectImageRoute, listImagesRoute, pullImageRoute, removeImageRoute, tagImageRoute } from './image-routes.js';
import { sendJson, type ApiRequest, type Route } from './request.js';
import {
  containerTopRoute, createNetworkRoute, createVolumeRoute, inspectNetworkRoute, inspectVolumeRoute, listNetworksRoute,
  listVolumesRoute, removeNetworkRoute, removeVolumeRoute,
} from './resource-routes.js';

async function ping(api: ApiRequest, res: ServerResponse): Promise<void> {
  res.writeHead(200, { ...pingHeaders(), 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': 2 });
  res.end(api.req.method === 'HEAD' ? undefined : 'OK');
}

async function version(_api: ApiRequest, res: ServerResponse): Promise<void> {
  sendJson(res, 200, versionBody());
}

/** `GET /info`: what `docker info` prints under "Server:". */
async function info(api: ApiRequest, res: ServerResponse): Promise<void> {
  const { root } = api.daemon;
  const containers = await reconcileAll(root);
  const running = containers.filter((record) => record.State.Running).length;
  const mode = cgroupMode();
  sendJson(res, 200, {
    ID: 'minibox', Containers: containers.length, ContainersRunning: running, ContainersPaused: 0,
    ContainersStopped: containers.length - running, Images: new ImageStore(root).list().length,
    Driver: 'overlay2', DriverStatus: [['Backing Filesystem', 'overlayfs layers'], ['Root Dir', root.layers]],
    DockerRootDir: root.dir, CgroupDriver: 'cgroupfs', CgroupVersion: mode === 'unified' ? '2' : '1',
    KernelVersion: os.release(), OperatingSystem: 'minibox', OSType: 'linux', Architecture: os.machine(),
    NCPU: os.cpus().length, MemTotal: os.totalmem(), Name: os.hostname(), ServerVersion: ENGINE_VERSION,
    IndexServerAddress: 'https://index.docker.io/v1/', LoggingDriver: 'json-file', Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'none'], Log: ['json-file'] },
    RegistryConfig: { Mirrors: api.daemon.registryMirrors, InsecureRegistryCIDRs: ['127.0.0.0/8'], IndexConfigs: {} },
    Swarm: { LocalNodeState: 'inactive', NodeID: '', NodeAddr: '', ControlAvailable: false, Error: '', RemoteManagers: null },
    SecurityOptions: ['name=seccomp,profile=builtin'], Runtimes: { minibox: { path: 'minibox' } }, DefaultRuntime: 'minibox',
    Warnings: mode === 'unified' ? [] : ['WARNING: no cgroup v2 on this host: resource limits, stats and update are unavailable'],
  });
}

const unsupported = (feature: string) => async (): Promise<void> => { throw notImplemented(feature); };

const ID = '([^/]+)';
/** Image names hold slashes (`127.0.0.1:5000/team/app:1`): the longest match before the suffix. */
const NAME = '(.+)';

export const apiRoutes: Route[] = [
  { method: 'GET', path: /^\/_ping$/, handle: ping },
  { method: 'GET', path: /^\/version$/, handle: version },
  { method: 'GET', path: /^\/info$/, handle: info },
  { method: 'POST', path: /^\/auth$/, handle: authRoute },

  { method: 'GET', path: /^\/containers\/json$/, handle: listContainers },
  { method: 'POST', path: /^\/containers\/create$/, handle: createContainerRoute },
  { method: 'GET', path: new RegExp(`^/containers/${ID}/json$`), handle: inspectContainerRoute },
  { method: 'GET', path: new RegExp(`^/containers/${ID}/logs$`), handle: containerLogsRoute },
  { method: 'POST', path: new RegExp(`^/containers/${ID}/start$`), handle: startContainerRoute },
  { method: 'POST', path: new RegExp(`^/containers/${ID}/stop$`), handle: stopContainerRoute },
  { method: 'POST', path: new RegExp(`^/containers/${ID}/kill$`), handle: killContainerRoute },
  { method: 'POST', path: new RegExp(`^/containers/${ID}/restart$`), handle: restartContainerRoute },
  { method: 'POST', path: new RegExp(`^/containers/${ID}/wait$`), handle: waitContainerRoute },
  { method: 'POST', path: new RegExp(`^/containers/${ID}/attach$`), hijack: attachRoute },
  { method: 'POST', path: new RegExp(`^/containers/${ID}/resize$`), handle: resizeRoute },
  { method: 'DELETE', path: new RegExp(`^/containers/${ID}$`), handle: removeContainerRoute },
  { method: 'GET', path: new RegExp(`^/containers/${ID}/top$`), handle: containerTopRoute },
  { method: 'GET', path: new RegExp(`^/containers/${ID}/stats$`), handle: containerStatsRoute },
  { method: 'POST', path: new RegExp(`^/containers/${ID}/rename$`), handle: renameContainerRoute },
  { method: 'POST', path: new RegExp(`^/containers/${ID}/pause$`), handle: pauseContainerRoute },
  { method: 'POST', path: new RegExp(`^/containers/${ID}/unpause$`), handle: unpauseContainerRoute },
  { method: 'POST', path: new RegExp(`^/containers/${ID}/update$`), handle: updateContainerRoute },
  { method: 'POST', path: new RegExp(`^/containers/${ID}/exec$`), handle: createExecRoute },
  { method: 'POST', path: new RegExp(`^/exec/${ID}/start$`), hijack: startExecRoute },
  { method: 'GET', path: new RegExp(`^/exec/${ID}/json$`), handle: inspectExecRoute },
  { method: 'POST', path: new RegExp(`^/exec/${ID}/resize$`), handle: resizeExecRoute },

  { method: 'POST', path: /^\/images\/create$/, handle: pullImageRoute },
  { method: 'GET', path: /^\/images\/json$/, handle: listImagesRoute },
  { method: 'GET', path: new RegExp(`^/images/${NAME}/json$`), handle: inspectImageRoute },
  { method: 'GET', path: new RegExp(`^/images/${NAME}/history$`), handle: imageHistoryRoute },
  { method: 'POST', path: new RegExp(`^/images/${NAME}/tag$`), handle: tagImageRoute },
  { method: 'DELETE', path: new RegExp(`^/images/${NAME}$`), handle: removeImageRoute },

  { method: 'GET', path: /^\/networks$/, handle: listNetworksRoute },
  { method: 'POST', path: /^\/networks\/create$/, handle: createNetworkRoute },
  { method: 'GET', path: new RegExp(`^/networks/${ID}$`), handle: inspectNetworkRoute },
  { method: 'DELETE', path: new RegExp(`^/networks/${ID}$`), handle: removeNetworkRoute },
  { method: 'GET', path: /^\/volumes$/, handle: listVolumesRoute },
  { method: 'POST', path: /^\/volumes\/create$/, handle: createVolumeRoute },
  { method: 'GET', path: new RegExp(`^/volumes/${ID}$`), handle: inspectVolumeRoute },
  { method: 'DELETE', path: new RegExp(`^/volumes/${ID}$`), handle: removeVolumeRoute },

  ...imageAndFileRoutes,

  ...['GET', 'POST', 'DELETE'].flatMap((method): Route[] => [
    { method, path: /^\/(swarm|nodes|services|tasks)(\/.*)?$/, handle: unsupported('swarm') },
    { method, path: /^\/(secrets|configs)(\/.*)?$/, handle: unsupported('swarm secrets and configs') },
    { method, path: /^\/plugins(\/.*)?$/, handle: unsupported('plugins') },
    { method, path: /^\/session$/, handle: unsupported('BuildKit sessions') },
  ]),
];
