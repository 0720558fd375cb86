/**
 * network-hooks.ts — where a container's life meets src/network: plug in, unplug, report.
 *
 *   namespaces ready   the init stage has made its network namespace and waits: give it a veth,
 *                      an address, a route, published ports (attachContainer). A failure here
 *                      aborts the start before the program runs, with nothing left plugged in.
 *   exited             unplug (detachContainer): a stopped container must not keep an address,
 *                      or DNAT rules that point at nothing. `start` plugs it in again.
 *   removed            unplug again (idempotent: a run killed half-way, `rm -f`).
 *
 * The endpoint files under `<root>/networks/<name>/endpoints/` are the truth about a running
 * container's network; `inspect` (NetworkSettings), `port` and the PORTS column of `ps` read them.
 * They are not copied into container.json: the start hook runs while the engine holds the
 * container's lock, and the endpoint disappears by itself when the container is unplugged.
 *
 * hooks.ts lists these hooks (after the cgroup's), so they run wherever a container starts, exits
 * or is removed.
 *
 * Try: `minibox run -d --name web -p 127.0.0.1:18082:80 busybox sleep 60 >/dev/null && minibox
 * inspect --format '{{json .NetworkSettings.Ports}}' web` → `"HostPort":"18082"`
 */
import { crashPoint } from '../../crash-point.js';
import { NotFoundError } from '../../errors.js';
import { attachContainer, containerEndpoints, containerPorts, detachContainer, type Endpoint } from '../../network/index.js';
import type { PublishedPort } from '../../network/ports.js';
import type { StateRoot } from '../../state-root.js';
import type { ContainerRecord } from '../../container/container-store.js';
import { ContainerStore } from '../../container/container-store.js';
import type { ContainerHooks } from './hooks.js';
import { fromPortBindings } from './network-options.js';

/** The network's part in a container's life (listed in hooks.ts): plug in, unplug. */
export const networkHooks: ContainerHooks = {
  namespacesReady: async (root, record, initPid) => {
    const mode = record.HostConfig.NetworkMode;
    if (mode === 'host') return;
    await attachContainer(root, {
      id: record.Id,
      name: record.Name.replace(/^\//, ''),
      pid: initPid,
      network: mode,
      ports: fromPortBindings(record.HostConfig.PortBindings),
      hostname: record.Config.Hostname,
      hostsFile: new ContainerStore(root).paths(record.Id).hosts,
    });
    crashPoint('net:attached');
  },
  exited: async (root, record) => { await detachContainer(root, record.Id); },
  removed: async (root, record) => { await detachContainer(root, record.Id); },
};

function endpointSettings(endpoint: Endpoint): Record<string, unknown> {
  return {
    NetworkID: endpoint.NetworkId, EndpointID: endpoint.EndpointId, Gateway: endpoint.Gateway,
    IPAddress: endpoint.IPAddress, IPPrefixLen: endpoint.PrefixLength, MacAddress: endpoint.MacAddress,
    Aliases: [endpoint.Name, endpoint.ContainerId.slice(0, 12)],
  };
}

/** Docker's NetworkSettings.Ports: `{"8080/tcp": [{HostIp, HostPort}]}` (null when not published). */
function portsSettings(record: ContainerRecord, published: PublishedPort[]): Record<string, { HostIp: string; HostPort: string }[] | null> {
  const ports: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
  for (const key of Object.keys(record.Config.ExposedPorts ?? {})) ports[key] = null;
  for (const port of published) {
    const key = `${port.containerPort}/${port.protocol}`;
    ports[key] = [...(ports[key] ?? []), { HostIp: port.hostIp, HostPort: String(port.hostPort) }];
  }
  return ports;
}

/** `inspect`'s NetworkSettings, shaped like Docker's (empty addresses when not running). */
export function networkSettings(root: StateRoot, record: ContainerRecord): Record<string, unknown> {
  const endpoints = containerEndpoints(root, record.Id);
  const main = endpoints[0];
  const mode = record.HostConfig.NetworkMode;
  const networks: Record<string, unknown> = Object.fromEntries(endpoints.map((e) => [e.Network, endpointSettings(e)]));
  if (endpoints.length === 0) networks[mode] = { NetworkID: '', EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0, MacAddress: '' };
  return {
    IPAddress: main?.IPAddress ?? '',
    IPPrefixLen: main?.PrefixLength ?? 0,
    Gateway: main?.Gateway ?? '',
    MacAddress: main?.MacAddress ?? '',
    Ports: portsSettings(record, endpoints.flatMap((e) => e.Ports)),
    SandboxKey: record.State.Pid ? `/proc/${record.State.Pid}/ns/net` : '',
    Networks: networks,
  };
}

/**
 * `minibox port CONTAINER [PRIVATE_PORT[/PROTO]]` as lines: `8080/tcp -> 0.0.0.0:18081`, or, for
 * one private port, just `0.0.0.0:18081`.
 */
export function portLines(root: StateRoot, record: ContainerRecord, privatePort?: string): string[] {
  const published = containerPorts(root, record.Id);
  if (privatePort === undefined) {
    return published.map((p) => `${p.containerPort}/${p.protocol} -> ${p.hostIp}:${p.hostPort}`);
  }
  const [port = '', protocol = 'tcp'] = privatePort.split('/');
  const matching = published.filter((p) => String(p.containerPort) === port && p.protocol === protocol);
  if (matching.length === 0) throw new NotFoundError(`No public port '${port}/${protocol}' published for ${record.Name.replace(/^\//, '')}`);
  return matching.map((p) => `${p.hostIp}:${p.hostPort}`);
}
