/**
 * bridge-claims.ts — which bridge device and subnet each state root uses, host-wide.
 *
 * A state root (`--root DIR`) is a world of its own: its containers, images and network records.
 * The host's network stack is not: there is one `minibox0` device name, one routing table, one set
 * of iptables chains for every state root on the machine. Two roots that both think they own
 * `minibox0` and 172.29.0.0/16 would fight over it — the second one deleting the first one's
 * bridge cuts every running container of the first one off its network. So:
 *
 *   - every network record is *claimed* host-wide when it is written:
 *       /run/minibox/networks/<device>.json   { bridge, subnet, root, network }
 *     and a second root choosing a default network skips claimed devices and subnets
 *     (`minibox0` 172.29.0.0/16 for the first root, `minibox1` 172.28.0.0/16 for the next …);
 *   - a bridge carries its owner in its interface alias (`ip link set minibox0 alias …`), so even
 *     without a claim (after a reboot /run is empty) a root never plugs into, or deletes, a bridge
 *     that another root made.
 * A claim whose root no longer has that record (the root was deleted, the network removed) is
 * stale: it is ignored and removed by the next reader. All of this runs under the host network
 * lock (host-state.ts).
 *
 * Try: `minibox run --rm busybox true && grep -l "\"root\":\"$MINIBOX_ROOT\"" /run/minibox/networks/*`
 * → `/run/minibox/networks/minibox` (this root's bridge, claimed; `cat` them all to see every
 * root's device and subnet).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { StateRoot } from '../state-root.js';
import { readNetwork, type NetworkRecord } from './networks.js';

/** Where claims live: a tmpfs, emptied by a reboot like the kernel state the claims describe. */
export const CLAIMS_DIR = '/run/minibox/networks';

export interface BridgeClaim {
  bridge: string;
  subnet: string;
  /** The state root directory whose network record uses this bridge. */
  root: string;
  /** The network's name in that root. */
  network: string;
}

function claimFile(bridge: string): string {
  return path.join(CLAIMS_DIR, `${bridge}.json`);
}

function readClaim(file: string): BridgeClaim | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as BridgeClaim;
  } catch {
    return undefined;
  }
}

/** A claim stands while its root still has that network record with that bridge and subnet. */
function stands(claim: BridgeClaim): boolean {
  const record = readNetwork(new StateRoot(claim.root), claim.network);
  return record?.Bridge === claim.bridge && record.Subnet === claim.subnet;
}

/** Standing claims of *other* state roots; stale claims are removed on the way. */
export function foreignClaims(root: StateRoot): BridgeClaim[] {
  let files: string[] = [];
  try { files = fs.readdirSync(CLAIMS_DIR).filter((name) => name.endsWith('.json')); } catch { /* none yet */ }
  const found: BridgeClaim[] = [];
  for (const name of files) {
    const file = path.join(CLAIMS_DIR, name);
    const claim = readClaim(file);
    if (!claim || !stands(claim)) {
      fs.rmSync(file, { force: true });
      continue;
    }
    if (claim.root !== root.dir) found.push(claim);
  }
  return found;
}

/** The claim on `bridge`, whoever holds it (undefined when free or stale). */
export function claimOf(bridge: string): BridgeClaim | undefined {
  const claim = readClaim(claimFile(bridge));
  return claim && stands(claim) ? claim : undefined;
}

/** Records that `record` of `root` uses its bridge and subnet (atomically; replaces a stale claim). */
export function claimBridge(root: StateRoot, record: NetworkRecord): void {
  const claim: BridgeClaim = { bridge: record.Bridge, subnet: record.Subnet, root: root.dir, network: record.Name };
  const file = claimFile(record.Bridge);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temp, `${JSON.stringify(claim)}\n`);
  fs.renameSync(temp, file);
}

/** Gives up the claim of `record` (network rm, or a default network that moved to another bridge). */
export function releaseClaim(root: StateRoot, record: NetworkRecord): void {
  const file = claimFile(record.Bridge);
  const claim = readClaim(file);
  if (claim && claim.root === root.dir && claim.network === record.Name) fs.rmSync(file, { force: true });
}

/** What a bridge made by minibox says about its owner (its interface alias). */
export function ownerTag(root: StateRoot, network: { Id: string; Name: string }): string {
  return `minibox network ${network.Id.slice(0, 12)} (${network.Name}) of ${root.dir}`.slice(0, 255);
}

/**
 * A device's alias, '' when it has none, or undefined when there is no such device. Read from
 * sysfs (/sys/class/net/DEV/ifalias), a file read instead of an `ip -j link show` process: the
 * kernel shows the same attribute there, for the devices of the reader's network namespace.
 */
export async function deviceOwner(device: string): Promise<string | undefined> {
  return deviceAlias(device);
}

/** deviceOwner, synchronously (sysfs is a file read). */
export function deviceAlias(device: string): string | undefined {
  if (!/^[\w.-]{1,15}$/.test(device)) return undefined; // not a device name: never a path outside /sys/class/net
  try {
    return fs.readFileSync(`/sys/class/net/${device}/ifalias`, 'utf8').replace(/\n$/, '');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    // A kernel without the ifalias file: ask ip.
    return deviceOwnerByIp(device);
  }
}

function deviceOwnerByIp(device: string): string | undefined {
  const result = spawnSync('ip', ['-j', 'link', 'show', 'dev', device], { encoding: 'utf8' });
  if (result.status !== 0) return undefined;
  try {
    return (JSON.parse(result.stdout) as { ifalias?: string }[])[0]?.ifalias ?? '';
  } catch {
    return '';
  }
}

/** True when the device exists and was not made by this root for this network. */
export async function ownedByOther(root: StateRoot, network: { Id: string; Name: string; Bridge: string }): Promise<boolean> {
  const owner = await deviceOwner(network.Bridge);
  return owner !== undefined && owner !== ownerTag(root, network);
}
