/**
 * ports.ts — `-p` and `-P`: which host ports lead to which container ports.
 *
 * A container's servers listen inside its own network namespace, so its port 8080 is invisible
 * on the host — three containers can all listen on 8080 at once. Publishing makes one of them
 * reachable through a host port:
 *
 *   -p 18081:8080              host port 18081 (every host address) → container port 8080/tcp
 *   -p 127.0.0.1:18081:8080    only via the host's 127.0.0.1
 *   -p 8080  /  -p 127.0.0.1::8080   a free host port chosen by minibox
 *   -p 5353:53/udp             UDP instead of TCP
 *   -P                         every port the image EXPOSEs, each on a free host port
 *
 * Publishing is a DNAT rule (firewall.ts), not a listening socket, so the kernel would not stop
 * two containers — or a container and a host server — from claiming one port: minibox checks
 * both itself, by trying to bind the port and by reading the DNAT rules already there.
 *
 * Try: `minibox run -d --name web -p 8080 busybox sleep 60 >/dev/null && minibox port web` →
 * `8080/tcp -> 0.0.0.0:` (a free host port, chosen by minibox).
 */
import net from 'node:net';
import dgram from 'node:dgram';
import { MiniboxError, UsageError } from '../errors.js';
import { parseIPv4 } from './cidr.js';
import { forwardedPorts } from './firewall.js';

export type Protocol = 'tcp' | 'udp';

/** One `-p` as written: the host port is missing when minibox should choose one. */
export interface PortSpec { hostIp: string; hostPort?: number; containerPort: number; protocol: Protocol }

/** A port as published: host side decided. */
export interface PublishedPort { hostIp: string; hostPort: number; containerPort: number; protocol: Protocol }

function parsePort(text: string, option: string): number {
  if (!/^\d+$/.test(text)) {
    if (/^\d+-\d+$/.test(text)) throw new UsageError(`invalid port range "${text}" in -p ${option}: port ranges are not supported, publish each port`);
    throw new UsageError(`invalid port "${text}" in -p ${option}: expected a number between 1 and 65535`);
  }
  const port = Number(text);
  if (port < 1 || port > 65535) throw new UsageError(`invalid port "${text}" in -p ${option}: must be between 1 and 65535`);
  return port;
}

/** Parses one `-p [hostIP:][hostPort:]containerPort[/tcp|udp]`. */
export function parsePublish(option: string): PortSpec {
  const [ports = '', protocolText, ...extra] = option.split('/');
  const protocol = (protocolText ?? 'tcp').toLowerCase();
  if (extra.length > 0 || (protocol !== 'tcp' && protocol !== 'udp')) {
    throw new UsageError(`invalid protocol in -p ${option}: expected /tcp or /udp`);
  }
  const parts = ports.split(':');
  if (parts.length > 3 || ports === '') {
    throw new UsageError(`invalid -p ${option}: expected [hostIP:]hostPort:containerPort[/tcp|udp] or containerPort`);
  }
  const containerPort = parsePort(parts[parts.length - 1] ?? '', option);
  const hostPortText = parts.length >= 2 ? parts[parts.length - 2] ?? '' : '';
  const hostIp = parts.length === 3 ? parts[0] ?? '' : '0.0.0.0';
  if (parseIPv4(hostIp) === undefined) {
    throw new UsageError(`invalid host IP "${hostIp}" in -p ${option}: expected an IPv4 address such as 127.0.0.1`);
  }
  return {
    hostIp, containerPort, protocol,
    ...(hostPortText === '' ? {} : { hostPort: parsePort(hostPortText, option) }),
  };
}

/** `-P`: every exposed port (`"8080/tcp": {}` in the image config) on a host port minibox picks. */
export function publishAllExposed(exposedPorts: Record<string, unknown> | undefined): PortSpec[] {
  return Object.keys(exposedPorts ?? {}).map((key) => parsePublish(key));
}

async function canBind(protocol: Protocol, hostIp: string, port: number): Promise<number | string> {
  return await new Promise((resolve) => {
    if (protocol === 'udp') {
      const socket = dgram.createSocket('udp4');
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
      socket.bind({ address: hostIp, port, exclusive: true }, () => {
        const bound = socket.address().port;
        socket.close(() => resolve(bound));
      });
      return;
    }
    const server = net.createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    server.listen({ host: hostIp, port, exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : port;
      server.close(() => resolve(bound));
    });
  });
}

function sameSlot(a: { protocol: string; hostIp: string; hostPort: number }, b: { protocol: string; hostIp: string; hostPort: number }): boolean {
  return a.protocol === b.protocol && a.hostPort === b.hostPort
    && (a.hostIp === b.hostIp || a.hostIp === '0.0.0.0' || b.hostIp === '0.0.0.0');
}

/**
 * Decides every host port: checks the given ones are free (no listener, no DNAT rule, not twice
 * in this list) and picks free ones where none was given. Call with the host lock held, so that
 * two containers starting at once cannot both be told a port is free.
 */
export async function resolveHostPorts(specs: PortSpec[]): Promise<PublishedPort[]> {
  if (specs.length === 0) return []; // nothing to publish: no need to read the firewall
  const taken = [...(await forwardedPorts())];
  const published: PublishedPort[] = [];
  for (const spec of specs) {
    const describe = `${spec.hostIp}:${spec.hostPort ?? ''}:${spec.containerPort}/${spec.protocol}`;
    let hostPort = spec.hostPort;
    if (hostPort === undefined) {
      for (let attempt = 0; attempt < 20 && hostPort === undefined; attempt++) {
        const bound = await canBind(spec.protocol, spec.hostIp, 0);
        if (typeof bound === 'string') throw bindError(spec.hostIp, 0, bound, describe);
        if (!taken.some((t) => sameSlot(t, { ...spec, hostPort: bound }))) hostPort = bound;
      }
      if (hostPort === undefined) throw new MiniboxError(`no free host port found for ${describe}`);
    } else {
      const slot = { ...spec, hostPort };
      if (taken.some((t) => sameSlot(t, slot))) {
        throw new MiniboxError(`port is already allocated: ${spec.hostIp}:${hostPort}/${spec.protocol} is published by another container; choose another host port`);
      }
      const bound = await canBind(spec.protocol, spec.hostIp, hostPort);
      if (typeof bound === 'string') throw bindError(spec.hostIp, hostPort, bound, describe);
    }
    const port = { hostIp: spec.hostIp, hostPort, containerPort: spec.containerPort, protocol: spec.protocol };
    taken.push(port);
    published.push(port);
  }
  return published;
}

function bindError(hostIp: string, port: number, code: string, describe: string): MiniboxError {
  if (code === 'EADDRINUSE') {
    return new MiniboxError(`port is already allocated: ${hostIp}:${port} is in use by a program on the host (for -p ${describe}); choose another host port`);
  }
  if (code === 'EADDRNOTAVAIL') return new MiniboxError(`host IP ${hostIp} (in -p ${describe}) is not an address of this host`);
  return new MiniboxError(`cannot reserve host port ${hostIp}:${port} for -p ${describe}: ${code}`);
}

/** Docker's PORTS column: `0.0.0.0:18081->8080/tcp, 127.0.0.1:5353->53/udp`. */
export function formatPorts(ports: PublishedPort[]): string {
  return ports.map((p) => `${p.hostIp}:${p.hostPort}->${p.containerPort}/${p.protocol}`).join(', ');
}
