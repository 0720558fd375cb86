/**
 * host-state.ts — what minibox changes on the *host* for networking, and how it gives it back.
 *
 * Most of minibox's state lives under its state root, but bridges, iptables chains and the
 * `ip_forward` switch belong to the host's network namespace, shared by every minibox (and every
 * state root) on the machine. So their changes are serialised by a host-wide lock in
 * /run/minibox/locks (/run is a tmpfs: it is empty after a reboot, exactly like the kernel state
 * it protects).
 *
 * ip_forward (/proc/sys/net/ipv4/ip_forward) decides whether the host routes packets that are
 * not addressed to itself — a container's packet to the outside world arrives on the bridge and
 * must leave through another interface, so egress needs it. It is off by default on this kind of
 * host. minibox turns it on when it creates its first bridge and records the old value in
 * /run/minibox/ip_forward.saved; when the last minibox bridge is removed it writes the saved value
 * back. If forwarding was already on, nothing is saved and nothing is restored. The default
 * network's bridge is kept between containers (kept-bridge.ts), so "the last bridge is removed"
 * means `minibox network prune` (or `system prune`) with no container left on it.
 * (Traffic between containers on one bridge and published ports reached from the host itself do
 * not need forwarding: the first is switched by the bridge, the second is the host's own output.)
 *
 * Try: `minibox run -d --name fw busybox sleep 60 >/dev/null && cat /proc/sys/net/ipv4/ip_forward &&
 * minibox rm -f fw >/dev/null && minibox network prune -f && cat /proc/sys/net/ipv4/ip_forward` →
 * `1` (while a minibox bridge exists; after the prune, the host's own value again)
 */
import fs from 'node:fs';
import { withLock } from '../lock.js';
import { publishStep } from '../sys/trace.js';

export const HOST_STATE_DIR = '/run/minibox';
const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';
const SAVED_IP_FORWARD = `${HOST_STATE_DIR}/ip_forward.saved`;

/** Runs `fn` while no other minibox process changes the host's bridges or iptables chains. */
export async function withHostNetworkLock<T>(fn: () => Promise<T>): Promise<T> {
  return await withLock(`${HOST_STATE_DIR}/locks`, 'host-network', fn);
}

/** Writes a sysctl file and publishes the step (`--explain` narrates it). */
export function writeSysctl(file: string, value: string, why: string): void {
  try {
    fs.writeFileSync(file, value);
    publishStep('net.sysctl', { key: file.replace('/proc/sys/', '').replaceAll('/', '.'), value, why });
  } catch (error) {
    publishStep('net.sysctl', { key: file, value, why }, (error as NodeJS.ErrnoException).code ?? 'EIO');
    throw error;
  }
}

/** Turns forwarding on (remembering the old value) if it is off. Call with the host lock held. */
export function enableForwarding(): void {
  const current = fs.readFileSync(IP_FORWARD, 'utf8').trim();
  if (current === '1') return;
  fs.mkdirSync(HOST_STATE_DIR, { recursive: true });
  if (!fs.existsSync(SAVED_IP_FORWARD)) fs.writeFileSync(SAVED_IP_FORWARD, current);
  writeSysctl(IP_FORWARD, '1', 'route container packets from the bridge to other interfaces (egress)');
}

/**
 * Names of the bridges minibox made on this host (any state root): minibox* and mbr-*. A bridge
 * has a `bridge/` directory in sysfs; reading /sys/class/net costs no process.
 */
export async function miniboxBridges(): Promise<string[]> {
  return fs.readdirSync('/sys/class/net')
    .filter((name) => name.startsWith('minibox') || name.startsWith('mbr-'))
    .filter((name) => fs.existsSync(`/sys/class/net/${name}/bridge`));
}

/** Puts ip_forward back once no minibox bridge is left. Call with the host lock held. */
export async function restoreForwardingIfUnused(): Promise<void> {
  if (!fs.existsSync(SAVED_IP_FORWARD)) return;
  if ((await miniboxBridges()).length > 0) return;
  const saved = fs.readFileSync(SAVED_IP_FORWARD, 'utf8').trim();
  writeSysctl(IP_FORWARD, saved === '1' ? '1' : '0', 'no minibox bridge is left: give the host back its own setting');
  fs.rmSync(SAVED_IP_FORWARD, { force: true });
}
