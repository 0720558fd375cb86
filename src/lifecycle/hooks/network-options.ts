/**
 * network-options.ts — the network flags of `minibox run`, checked before anything is created.
 *
 *   -p [hostIP:][hostPort:]containerPort[/proto]   publish a port (repeatable)
 *   -P                                             publish every port the image EXPOSEs
 *   --network bridge|none|host|NAME                which network namespace, plugged into what
 *   --add-host NAME:IP                             an extra /etc/hosts line (IP may be host-gateway)
 *   --dns IP                                       a nameserver in /etc/resolv.conf instead of the host's
 *
 * Every value is parsed, and every fixed host port checked free, *before* the container record
 * exists: a typo or a taken port costs nothing to undo. The ports are kept in the record the way
 * Docker keeps them (HostConfig.PortBindings: {"8080/tcp": [{HostIp, HostPort}]}), so that
 * `minibox start` publishes the same ports again; the host port actually chosen for `-p 8080`
 * is only known once the container is plugged in (network-hooks.ts).
 *
 * Try: `minibox run --rm --add-host db:10.0.0.5 busybox tail -1 /etc/hosts` → `10.0.0.5 db`
 */
import { UsageError } from '../../errors.js';
import { addHostLines, parseAddHost, parsePublish, publishAllExposed, resolvConfWithDns, type PortSpec } from '../../network/index.js';
import { ensureDefaultNetwork, findNetwork } from '../../network/networks.js';
import { withHostNetworkLock } from '../../network/host-state.js';
import { resolveHostPorts } from '../../network/ports.js';
import type { StateRoot } from '../../state-root.js';
import type { NetworkMode } from '../../bundle/spec-from-image.js';

/** Docker's HostConfig.PortBindings: `"8080/tcp": [{ HostIp: "", HostPort: "18081" }]`. */
export type PortBindings = Record<string, { HostIp: string; HostPort: string }[]>;

export interface NetworkFlags {
  publish?: string[];
  publishAll?: boolean;
  addHost?: string[];
  dns?: string[];
}

/** Checks the flags that need neither the image nor the host (usage errors, exit 125). */
export function checkNetworkFlags(flags: NetworkFlags, network: NetworkMode): PortSpec[] {
  const ports = (flags.publish ?? []).map(parsePublish);
  if ((ports.length > 0 || flags.publishAll) && (network === 'none' || network === 'host')) {
    throw new UsageError(`conflicting options: port publishing and --network ${network} (a container without its own bridge network has nothing to publish)`);
  }
  for (const value of flags.addHost ?? []) parseAddHost(value);
  resolvConfWithDns('', flags.dns ?? []);
  return ports;
}

/** `-p` values plus, with `-P`, the image's EXPOSEd ports (each on a host port chosen later). */
export function wantedPorts(ports: PortSpec[], publishAll: boolean, exposedPorts: Record<string, unknown> | undefined): PortSpec[] {
  if (!publishAll) return ports;
  const exposed = publishAllExposed(exposedPorts)
    .filter((spec) => !ports.some((p) => p.containerPort === spec.containerPort && p.protocol === spec.protocol));
  return [...ports, ...exposed];
}

/**
 * Fails early when a fixed host port is already published or listened on. The real reservation
 * happens under the host network lock when the container is plugged in; this check only spares
 * the user a container record for a port that is visibly taken.
 */
export async function checkHostPortsFree(ports: PortSpec[]): Promise<void> {
  await resolveHostPorts(ports.filter((port) => port.hostPort !== undefined));
}

export function toPortBindings(ports: PortSpec[]): PortBindings {
  const bindings: PortBindings = {};
  for (const port of ports) {
    const key = `${port.containerPort}/${port.protocol}`;
    (bindings[key] ??= []).push({ HostIp: port.hostIp === '0.0.0.0' ? '' : port.hostIp, HostPort: port.hostPort === undefined ? '' : String(port.hostPort) });
  }
  return bindings;
}

export function fromPortBindings(bindings: PortBindings | undefined): PortSpec[] {
  return Object.entries(bindings ?? {}).flatMap(([key, list]) => {
    const [port = '', protocol = 'tcp'] = key.split('/');
    return list.map((binding): PortSpec => ({
      hostIp: binding.HostIp || '0.0.0.0',
      containerPort: Number(port),
      protocol: protocol === 'udp' ? 'udp' : 'tcp',
      ...(binding.HostPort ? { hostPort: Number(binding.HostPort) } : {}),
    }));
  });
}

/** The `--add-host` lines for the hosts file; `host-gateway` is the network's gateway address. */
export async function extraHostsLines(root: StateRoot, network: NetworkMode, addHost: string[]): Promise<string> {
  if (addHost.length === 0) return '';
  let gateway: string | undefined;
  if (addHost.some((value) => parseAddHost(value).ip === 'host-gateway') && network !== 'none' && network !== 'host') {
    gateway = network === 'bridge' || network === 'default'
      ? (await withHostNetworkLock(() => ensureDefaultNetwork(root))).Gateway
      : findNetwork(root, network)?.Gateway;
  }
  return addHostLines(addHost, gateway);
}

