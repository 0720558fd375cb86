/**
 * ipam.ts — IP address management: which container has which address on a network.
 *
 * Nothing in the kernel hands out addresses: `ip addr add` accepts any address, even one already
 * in use next door (both containers would then answer ARP for it and traffic would flap between
 * them). So the engine keeps a ledger, `<root>/networks/<name>/allocations.json` (ip → container
 * id), and changes it only while holding the network's lock (lock.ts, an flock), because several
 * `minibox run` processes may start containers at the same moment. Each allocation reads the
 * ledger, takes the lowest free address, and writes the ledger back (to a temp file renamed over
 * the old one, so a crash never leaves half a ledger) before the lock is released.
 *
 * Reserved: the network address (.0), the gateway (.1, the bridge's own address) and broadcast.
 *
 * Try: `minibox run -d busybox sleep 60 >/dev/null && cat
 * $MINIBOX_ROOT/networks/bridge/allocations.json` → `172.…0.2": "`
 */
import fs from 'node:fs';
import path from 'node:path';
import { MiniboxError } from '../errors.js';
import { withLock } from '../lock.js';
import { publishStep } from '../sys/trace.js';
import type { StateRoot } from '../state-root.js';
import { broadcastOf, formatIPv4, gatewayOf, parseSubnet } from './cidr.js';
import { networkDir, type NetworkRecord } from './networks.js';

export type Allocations = Record<string, string>;

function ledgerFile(root: StateRoot, network: string): string {
  return path.join(networkDir(root, network), 'allocations.json');
}

export function readAllocations(root: StateRoot, network: string): Allocations {
  try {
    return JSON.parse(fs.readFileSync(ledgerFile(root, network), 'utf8')) as Allocations;
  } catch {
    return {};
  }
}

function writeAllocations(root: StateRoot, network: string, allocations: Allocations): void {
  const file = ledgerFile(root, network);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temp = `${file}.tmp`; // stable: written only under the network's lock, so the next write reuses it
  fs.writeFileSync(temp, `${JSON.stringify(allocations, null, 2)}\n`);
  fs.renameSync(temp, file);
}

/** Runs `fn` holding the network's ledger lock. */
export async function withNetworkLock<T>(root: StateRoot, network: string, fn: () => Promise<T>): Promise<T> {
  return await withLock(root.locks, `network-${network}`, fn);
}

/** Gives `containerId` the lowest free address of the network (the same one again if it has one). */
export async function allocateAddress(root: StateRoot, network: NetworkRecord, containerId: string): Promise<string> {
  return await withNetworkLock(root, network.Name, async () => {
    const allocations = readAllocations(root, network.Name);
    const mine = Object.entries(allocations).find(([, owner]) => owner === containerId);
    if (mine) return mine[0];
    const subnet = parseSubnet(network.Subnet);
    for (let address = gatewayOf(subnet) + 1; address < broadcastOf(subnet); address++) {
      const text = formatIPv4(address);
      if (allocations[text] === undefined) {
        allocations[text] = containerId;
        writeAllocations(root, network.Name, allocations);
        publishStep('net.ipam', { action: 'allocate', network: network.Name, address: text });
        return text;
      }
    }
    throw new MiniboxError(`network ${network.Name} (${network.Subnet}) has no free address left: remove containers or use a larger subnet`);
  });
}

/** Returns the container's address(es) on the network to the pool. */
export async function releaseAddress(root: StateRoot, network: string, containerId: string): Promise<void> {
  await withNetworkLock(root, network, async () => {
    const allocations = readAllocations(root, network);
    const released: string[] = [];
    for (const [address, owner] of Object.entries(allocations)) {
      if (owner === containerId) {
        delete allocations[address];
        released.push(address);
      }
    }
    if (released.length === 0) return;
    writeAllocations(root, network, allocations);
    publishStep('net.ipam', { action: 'release', network, address: released.join(', ') });
  });
}
