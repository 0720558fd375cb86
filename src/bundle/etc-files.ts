/**
 * etc-files.ts — the three files every container gets from the engine, not from its image:
 * /etc/hostname, /etc/hosts and /etc/resolv.conf.
 *
 * They describe the container's *network identity*, which only exists once the container does,
 * so Docker writes them into the container's directory and bind-mounts each one over the image's
 * copy (the image's own file is hidden, not changed). resolv.conf is derived from the host's:
 * a nameserver on the host's loopback (systemd-resolved's 127.0.0.53, a local dnsmasq) cannot be
 * reached from a container with its own network namespace — its 127.0.0.1 is its own — so those
 * are dropped, and when none are left Google's public resolvers are used, as Docker does.
 *
 * Try: `minibox run --rm busybox grep -c 127.0.0.53 /etc/resolv.conf` → `0` (never the host's stub
 * resolver, which a container cannot reach).
 */
import fs from 'node:fs';

export const DEFAULT_NAMESERVERS = ['8.8.8.8', '8.8.4.4'];

/** systemd-resolved keeps the real upstream servers here when /etc/resolv.conf points at its stub. */
const RESOLVED_UPSTREAM = '/run/systemd/resolve/resolv.conf';

export function hostnameFile(hostname: string): string {
  return `${hostname}\n`;
}

/** /etc/hosts for a container; `address` is the container's own IP once it has one (bridge). */
export function hostsFile(hostname: string, address?: string): string {
  return [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
    // Without an address of its own, the hostname resolves to loopback, as on a Debian host.
    `${address ?? '127.0.1.1'}\t${hostname}`,
    '',
  ].join('\n');
}

function isLoopbackNameserver(address: string): boolean {
  return address.startsWith('127.') || address === '::1' || address === '0:0:0:0:0:0:0:1';
}

/**
 * The container's resolv.conf from the host's text: loopback nameservers removed, defaults added
 * if none remain; `search` and `options` lines are kept.
 */
export function deriveResolvConf(hostText: string): string {
  const kept: string[] = [];
  let nameservers = 0;
  for (const line of hostText.split('\n')) {
    const [keyword, value] = line.trim().split(/\s+/);
    if (keyword === 'nameserver') {
      if (value === undefined || isLoopbackNameserver(value)) continue;
      nameservers++;
    }
    if (line.trim() !== '') kept.push(line.trim());
  }
  if (nameservers === 0) {
    kept.push(...DEFAULT_NAMESERVERS.map((address) => `nameserver ${address}`));
  }
  return `${kept.join('\n')}\n`;
}

/** The host's resolv.conf, or systemd-resolved's upstream list when the host file is its stub. */
export function readHostResolvConf(): string {
  let text = '';
  try {
    text = fs.readFileSync('/etc/resolv.conf', 'utf8');
  } catch { /* no resolver configured: the defaults apply */ }
  if (/^\s*nameserver\s+127\.0\.0\.53\b/m.test(text) && fs.existsSync(RESOLVED_UPSTREAM)) {
    return fs.readFileSync(RESOLVED_UPSTREAM, 'utf8');
  }
  return text;
}

/** The resolv.conf text for a container: the host's own with host networking, derived otherwise. */
export function containerResolvConf(networkMode: string, hostText = readHostResolvConf()): string {
  return networkMode === 'host' ? hostText : deriveResolvConf(hostText);
}
