/**
 * hosts.ts — how containers on a user network find each other by name: /etc/hosts.
 *
 * Docker answers container names with an embedded DNS server (127.0.0.11). minibox keeps each
 * container's /etc/hosts up to date instead: every time a container joins or leaves a user
 * network, the hosts file of every container on that network is rewritten with one line per
 * member (`172.30.0.3  web2 3f2a…`). The C library reads /etc/hosts on every lookup, so a name
 * works as soon as the file changes — no server process to start, keep alive or secure, and a
 * student can `cat /etc/hosts` to see exactly what a name means. (What it cannot do that DNS can:
 * answer for containers of other hosts, or round-robin between replicas.) The default `bridge`
 * network has no name resolution, as in Docker.
 *
 * The engine bind-mounts `<root>/containers/<id>/hosts` over the container's /etc/hosts. A bind
 * mount of a file pins that file's *inode*, so the file is rewritten in place (truncate and
 * write); the usual write-a-temp-file-and-rename would replace the inode and the container would
 * keep seeing the old text.
 *
 * Also here: `--add-host NAME:IP` lines and `--dns IP` (resolv.conf nameservers).
 *
 * Try: `minibox network create n1 >/dev/null && minibox run -d --network n1 --name db busybox sleep
 * 60 >/dev/null && minibox run --rm --network n1 busybox ping -c1 db` → `1 packets received`
 */
import fs from 'node:fs';
import { UsageError, describeError } from '../errors.js';
import { HOSTS_FILE_LIMIT, readUntrustedFile } from '../untrusted-file.js';
import { publishStep } from '../sys/trace.js';
import { parseIPv4 } from './cidr.js';

/** Everything below this line in a hosts file is minibox's and rewritten on every change. */
export const MEMBERS_MARKER = '# minibox: containers on network';

export interface HostsMember { ip: string; names: string[] }

/**
 * The new text of a container's hosts file: the engine's part (with the placeholder line
 * `127.0.1.1 hostname` given the container's real address) and the network's members.
 */
export function renderHostsFile(current: string, own: { ip: string; hostname?: string }, network: string, members: HostsMember[]): string {
  const lines = current.split('\n');
  const markerAt = lines.findIndex((line) => line.startsWith(MEMBERS_MARKER));
  const base = (markerAt >= 0 ? lines.slice(0, markerAt) : lines).map((line) =>
    line.startsWith('127.0.1.1\t') || line.startsWith('127.0.1.1 ') ? `${own.ip}\t${line.split(/\s+/).slice(1).join(' ')}` : line);
  while (base.length > 0 && base[base.length - 1] === '') base.pop();
  if (own.hostname && !base.some((line) => line.split(/\s+/)[0] === own.ip)) base.push(`${own.ip}\t${own.hostname}`);
  if (members.length === 0) return `${base.join('\n')}\n`;
  const section = [`${MEMBERS_MARKER} ${network} (kept up to date by minibox)`, ...members.map((m) => `${m.ip}\t${m.names.join(' ')}`)];
  return `${[...base, ...section].join('\n')}\n`;
}

/** The container's own hosts file without the network's members (it left the network). */
export function withoutMembers(current: string): string {
  const lines = current.split('\n');
  const markerAt = lines.findIndex((line) => line.startsWith(MEMBERS_MARKER));
  return markerAt < 0 ? current : `${lines.slice(0, markerAt).join('\n')}\n`;
}

/**
 * Rewrites a bind-mounted file in place (same inode); a missing file is skipped. The container
 * can write this file: it is read with a size cap (untrusted-file.ts), and a file the container
 * made too large, or replaced, is left alone (names stop being updated for that container only).
 */
export function rewriteInPlace(file: string, render: (current: string) => string): void {
  let current: string | undefined;
  try {
    current = readUntrustedFile(file, HOSTS_FILE_LIMIT, `the hosts file ${file}`);
  } catch (error) {
    publishStep('net.hosts', { file }, describeError(error));
    return;
  }
  if (current === undefined) return; // the container has no hosts file of its own (e.g. --network host, or already removed)
  const next = render(current);
  if (next === current) return;
  fs.writeFileSync(file, next); // O_TRUNC on the same inode, not rename: see the header
  publishStep('net.hosts', { file, lines: next.split('\n').length - 1 });
}

/** `--add-host NAME:IP` (or NAME=IP); IP may be `host-gateway`, the network's gateway. */
export function parseAddHost(value: string): { name: string; ip: string } {
  const at = value.includes('=') ? value.indexOf('=') : value.indexOf(':');
  const name = value.slice(0, at);
  const ip = value.slice(at + 1);
  if (at <= 0 || !/^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$/.test(name)) {
    throw new UsageError(`invalid --add-host "${value}": expected NAME:IP, e.g. db:10.0.0.5`);
  }
  if (ip !== 'host-gateway' && parseIPv4(ip) === undefined && !/^[0-9a-fA-F:]+$/.test(ip.replace(/^\[|\]$/g, ''))) {
    throw new UsageError(`invalid IP address "${ip}" in --add-host ${value}`);
  }
  return { name, ip: ip.replace(/^\[|\]$/g, '') };
}

/** Lines to append to a hosts file for the given `--add-host` values. */
export function addHostLines(values: string[], gateway?: string): string {
  return values.map((value) => {
    const { name, ip } = parseAddHost(value);
    if (ip === 'host-gateway' && gateway === undefined) {
      throw new UsageError(`--add-host ${value}: host-gateway needs a bridge network`);
    }
    return `${ip === 'host-gateway' ? gateway : ip}\t${name}\n`;
  }).join('');
}

/** `--dns IP…`: resolv.conf with these nameservers instead of the host's (search/options kept). */
export function resolvConfWithDns(base: string, dns: string[]): string {
  if (dns.length === 0) return base;
  for (const server of dns) {
    if (parseIPv4(server) === undefined && !/^[0-9a-fA-F:]+$/.test(server)) {
      throw new UsageError(`invalid --dns "${server}": expected an IP address`);
    }
  }
  const kept = base.split('\n').filter((line) => line.trim() !== '' && !/^\s*nameserver\s/.test(line));
  return `${[...dns.map((server) => `nameserver ${server}`), ...kept].join('\n')}\n`;
}
