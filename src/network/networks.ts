/**
 * networks.ts — the networks minibox knows: their records on disk and their subnets.
 *
 * A minibox network is Docker's "bridge driver" network: one Linux bridge (a virtual switch in
 * the kernel) with its own IPv4 subnet; containers plug into it with veth pairs (veth.ts). The
 * default network is called `bridge` and uses the device `minibox0`; `network create NAME` makes
 * a user network with device `mbr-<id8>`. Each network's state lives in
 *
 *   <root>/networks/<name>/config.json        name, id, driver, subnet, gateway, bridge device
 *   <root>/networks/<name>/allocations.json   ip → container id (ipam.ts)
 *   <root>/networks/<name>/endpoints/<id>.json one attached container (attach.ts)
 *
 * A subnet must not overlap any route or address the host already has: the kernel picks the way
 * out for a packet by the most specific matching route, so an overlapping container subnet would
 * silently steal traffic meant for a real network. minibox refuses such a subnet.
 *
 * The default subnet is 172.29.0.0/16 (Docker's 172.17 is often taken by Docker itself); set
 * MINIBOX_BRIDGE_SUBNET and MINIBOX_BRIDGE_NAME before first use to change it, as dockerd's
 * `--bip` and `--bridge` do.
 *
 * Try: `minibox network create --subnet 172.30.5.0/24 demo >/dev/null && cat
 * $MINIBOX_ROOT/networks/demo/config.json` → `"Subnet": "172.30.5.0/24"`
 */
import { crashPoint } from '../crash-point.js';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { MiniboxError, NotFoundError, UsageError } from '../errors.js';
import type { StateRoot } from '../state-root.js';
import { formatIPv4, formatSubnet, gatewayOf, overlaps, parseSubnet, type Subnet } from './cidr.js';
import { claimBridge, claimOf, deviceOwner, foreignClaims, ownedByOther, ownerTag, releaseClaim } from './bridge-claims.js';
import { runProgram } from './host-commands.js';
import { readAllocations } from './ipam.js';
import { publishStep } from '../sys/trace.js';

export const DEFAULT_NETWORK = 'bridge';
export const DEFAULT_BRIDGE_DEVICE = 'minibox0';
export const DEFAULT_BRIDGE_SUBNET = '172.29.0.0/16';
/** User networks without --subnet get the first free /24 of this range. */
const USER_SUBNET_POOL = { base: 0xac1e0000, prefix: 16 }; // 172.30.0.0/16

/** Network modes that are not networks on disk: `none` (only lo) and `host` (the host's stack). */
export const SPECIAL_MODES = ['none', 'host'] as const;

export interface NetworkRecord {
  Name: string;
  Id: string;
  Driver: 'bridge';
  Subnet: string;
  Gateway: string;
  /** The Linux bridge device: minibox0 for the default network, mbr-<id8> for user networks. */
  Bridge: string;
  Created: string;
}

const namePattern = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function networksDir(root: StateRoot): string {
  return root.networks;
}

export function networkDir(root: StateRoot, name: string): string {
  return path.join(networksDir(root), name);
}

/** The file that holds a network's record (what `network inspect` shows). */
export function networkRecordFile(root: StateRoot, name: string): string {
  return path.join(networkDir(root, name), 'config.json');
}

export function readNetwork(root: StateRoot, name: string): NetworkRecord | undefined {
  try {
    return JSON.parse(fs.readFileSync(networkRecordFile(root, name), 'utf8')) as NetworkRecord;
  } catch {
    return undefined;
  }
}

export function listNetworks(root: StateRoot): NetworkRecord[] {
  let names: string[] = [];
  try { names = fs.readdirSync(networksDir(root)); } catch { /* no network yet */ }
  return names.map((name) => readNetwork(root, name)).filter((n): n is NetworkRecord => n !== undefined)
    .sort((a, b) => a.Name.localeCompare(b.Name));
}

/** A network by name or id prefix, as Docker resolves them. */
export function findNetwork(root: StateRoot, nameOrId: string): NetworkRecord | undefined {
  const all = listNetworks(root);
  return all.find((n) => n.Name === nameOrId) ?? all.find((n) => nameOrId.length >= 3 && n.Id.startsWith(nameOrId));
}

interface HostRoute { subnet: Subnet; text: string; dev: string }

/** Every IPv4 route and address on the host (default routes excluded: they match everything). */
export async function hostSubnets(): Promise<HostRoute[]> {
  const found: HostRoute[] = [];
  // Two independent questions, asked at once: each `ip` costs a process start.
  const [routes, addrs] = await Promise.all([
    runProgram(['ip', '-j', '-4', 'route', 'show', 'table', 'all']), runProgram(['ip', '-j', '-4', 'addr', 'show']),
  ]);
  for (const route of JSON.parse(routes.stdout || '[]') as { dst?: string; dev?: string; type?: string }[]) {
    if (!route.dst || route.dst === 'default' || route.type === 'broadcast') continue;
    const text = route.dst.includes('/') ? route.dst : `${route.dst}/32`;
    try { found.push({ subnet: parseLoose(text), text, dev: route.dev ?? '' }); } catch { /* not IPv4 */ }
  }
  for (const link of JSON.parse(addrs.stdout || '[]') as { ifname: string; addr_info?: { local: string; prefixlen: number }[] }[]) {
    for (const info of link.addr_info ?? []) {
      found.push({ subnet: parseLoose(`${info.local}/${info.prefixlen}`), text: `${info.local}/${info.prefixlen}`, dev: link.ifname });
    }
  }
  return found;
}

/** Like parseSubnet, but masks host bits and accepts any prefix (routes on the host can be /32). */
function parseLoose(text: string): Subnet {
  const [address = '', prefixText = '32'] = text.split('/');
  const parts = address.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !(p >= 0 && p <= 255))) throw new Error('not IPv4');
  const prefix = Number(prefixText);
  const value = parts.reduce((acc, p) => acc * 256 + p, 0);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return { base: (value & mask) >>> 0, prefix };
}

/** Why `subnet` may not be used, or undefined when it is free (see checkSubnetFree). */
function subnetConflict(root: StateRoot, subnet: Subnet, ownName: string, ownBridge: string, routes: HostRoute[]): string | undefined {
  for (const route of routes) {
    if (route.dev === ownBridge) continue;
    if (overlaps(route.subnet, subnet)) {
      return `subnet ${formatSubnet(subnet)} overlaps ${route.text} on host interface ${route.dev || '?'}: `
        + 'choose another one (network create --subnet, or MINIBOX_BRIDGE_SUBNET for the default network)';
    }
  }
  for (const other of listNetworks(root)) {
    if (other.Name !== ownName && overlaps(parseSubnet(other.Subnet), subnet)) {
      return `subnet ${formatSubnet(subnet)} overlaps network ${other.Name} (${other.Subnet}): choose another one`;
    }
  }
  for (const claim of foreignClaims(root)) {
    if (overlaps(parseSubnet(claim.subnet), subnet)) {
      return `subnet ${formatSubnet(subnet)} overlaps ${claim.subnet} of network ${claim.network} of state root ${claim.root} `
        + `(bridge ${claim.bridge}): choose another one`;
    }
  }
  return undefined;
}

/**
 * Throws when `subnet` overlaps a host route/address (other than those of `ownBridge`, which is
 * this network's own device), another minibox network of this state root, or a network another
 * state root has claimed (bridge-claims.ts).
 */
export async function checkSubnetFree(root: StateRoot, subnet: Subnet, ownName: string, ownBridge: string): Promise<void> {
  const conflict = subnetConflict(root, subnet, ownName, ownBridge, await hostSubnets());
  if (conflict) throw new MiniboxError(conflict);
}

function writeRecord(root: StateRoot, record: NetworkRecord): void {
  const dir = networkDir(root, record.Name);
  fs.mkdirSync(path.join(dir, 'endpoints'), { recursive: true });
  crashPoint('network:dir-made');
  const file = networkRecordFile(root, record.Name);
  fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(record, null, 2)}\n`);
  crashPoint('network:written');
  fs.renameSync(`${file}.tmp`, file);
}

function newRecord(name: string, subnet: Subnet, bridge?: string): NetworkRecord {
  const id = randomBytes(32).toString('hex');
  return {
    Name: name, Id: id, Driver: 'bridge', Subnet: formatSubnet(subnet), Gateway: formatIPv4(gatewayOf(subnet)),
    Bridge: bridge ?? `mbr-${id.slice(0, 8)}`, Created: new Date().toISOString(),
  };
}

/**
 * The default `bridge` network's record, written on first use. Callers hold the host lock.
 *
 * Its bridge and subnet are MINIBOX_BRIDGE_NAME / MINIBOX_BRIDGE_SUBNET when set (refused with a
 * one-line error, changing nothing, when another state root has them), otherwise the first free
 * pair of `minibox0` 172.29.0.0/16, `minibox1` 172.28.0.0/16, …: another state root's bridge, a
 * claimed device or subnet, or a host route are all "taken". While no container of this root is
 * on the network, a record whose bridge another root has taken meanwhile (or that differs from
 * the MINIBOX_BRIDGE_* values now set) is chosen again; with containers on it, it stays as it is.
 */
export async function ensureDefaultNetwork(root: StateRoot): Promise<NetworkRecord> {
  const existing = readNetwork(root, DEFAULT_NETWORK);
  const wanted = { bridge: process.env.MINIBOX_BRIDGE_NAME || undefined, subnet: process.env.MINIBOX_BRIDGE_SUBNET || undefined };
  if (existing) {
    const inUse = Object.keys(readAllocations(root, DEFAULT_NETWORK)).length > 0;
    const asWanted = (wanted.bridge ?? existing.Bridge) === existing.Bridge && (wanted.subnet ?? existing.Subnet) === existing.Subnet;
    if (inUse || (asWanted && await stillOurs(root, existing))) return existing;
  }
  const routes = await hostSubnets();
  const device = wanted.bridge ?? await freeDevice(root);
  checkDeviceName(device);
  if (wanted.bridge !== undefined) await checkDeviceFree(root, device);
  const subnet = wanted.subnet !== undefined ? parseSubnet(wanted.subnet) : freeDefaultSubnet(root, device, routes);
  const conflict = subnetConflict(root, subnet, DEFAULT_NETWORK, device, routes);
  if (conflict) throw new MiniboxError(conflict);
  const record = existing
    ? { ...existing, Bridge: device, Subnet: formatSubnet(subnet), Gateway: formatIPv4(gatewayOf(subnet)) }
    : newRecord(DEFAULT_NETWORK, subnet, device);
  if (existing) releaseClaim(root, existing);
  writeRecord(root, record);
  claimBridge(root, record);
  return record;
}

/** The record's bridge is not claimed by, or up as the bridge of, another state root. */
async function stillOurs(root: StateRoot, record: NetworkRecord): Promise<boolean> {
  const claim = claimOf(record.Bridge);
  if (claim) return claim.root === root.dir && claim.network === record.Name;
  if (await ownedByOther(root, record)) return false;
  claimBridge(root, record); // a record from before claims existed, or from before a reboot
  return true;
}

/** The default devices, in order: minibox0, minibox1, … */
const DEFAULT_DEVICES = Array.from({ length: 16 }, (_, i) => `minibox${i}`);
/** The default subnets, in order: 172.29/16, 172.28/16, … 172.18/16 (172.30 is the user pool). */
const DEFAULT_SUBNETS = Array.from({ length: 12 }, (_, i) => ({ base: (0xac1d0000 - i * 0x10000) >>> 0, prefix: 16 }));

async function freeDevice(root: StateRoot): Promise<string> {
  const claimed = new Set(foreignClaims(root).map((claim) => claim.bridge));
  const existing = await hostDevices();
  const device = DEFAULT_DEVICES.find((name) => !claimed.has(name) && !existing.has(name));
  if (!device) throw new MiniboxError('no free bridge name minibox0…minibox15 left: set MINIBOX_BRIDGE_NAME');
  return device;
}

function freeDefaultSubnet(root: StateRoot, device: string, routes: HostRoute[]): Subnet {
  const subnet = DEFAULT_SUBNETS.find((candidate) => subnetConflict(root, candidate, DEFAULT_NETWORK, device, routes) === undefined);
  if (!subnet) throw new MiniboxError('no free subnet left among 172.18.0.0/16 … 172.29.0.0/16: set MINIBOX_BRIDGE_SUBNET');
  return subnet;
}

/** MINIBOX_BRIDGE_NAME names a device another state root has claimed or made: refuse. */
async function checkDeviceFree(root: StateRoot, device: string): Promise<void> {
  const claim = foreignClaims(root).find((c) => c.bridge === device);
  const owner = claim ? `network ${claim.network} of state root ${claim.root}` : await foreignDeviceOwner(root, device);
  if (owner !== undefined) {
    throw new MiniboxError(`bridge ${device} (MINIBOX_BRIDGE_NAME) is used by ${owner}: choose another name, `
      + 'or unset MINIBOX_BRIDGE_NAME and MINIBOX_BRIDGE_SUBNET to have a free one chosen');
  }
}

/** Who made `device`, when it exists and is not this root's default bridge. */
async function foreignDeviceOwner(root: StateRoot, device: string): Promise<string | undefined> {
  const owner = await deviceOwner(device);
  if (owner === undefined) return undefined;
  const mine = readNetwork(root, DEFAULT_NETWORK);
  if (mine && owner === ownerTag(root, mine)) return undefined;
  return owner || 'another program (it has no minibox owner tag)';
}

async function hostDevices(): Promise<Set<string>> {
  const result = await runProgram(['ip', '-j', 'link', 'show']);
  return new Set((JSON.parse(result.stdout || '[]') as { ifname: string }[]).map((link) => link.ifname));
}

function checkDeviceName(device: string): void {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$/.test(device)) {
    throw new UsageError(`invalid bridge device name "${device}": 1–15 letters, digits, '.', '_' or '-'`);
  }
}

/** `network create [--subnet CIDR] NAME`. Callers hold the host lock (subnets are host-wide). */
export async function createNetwork(root: StateRoot, name: string, options: { subnet?: string } = {}): Promise<NetworkRecord> {
  if (!namePattern.test(name)) {
    throw new UsageError(`invalid network name "${name}": use letters, digits, '_', '.' or '-', starting with a letter or digit`);
  }
  if (name === DEFAULT_NETWORK || (SPECIAL_MODES as readonly string[]).includes(name)) {
    throw new UsageError(`network name "${name}" is reserved (bridge, host and none are built in)`);
  }
  if (readNetwork(root, name)) throw new MiniboxError(`network with name ${name} already exists`);
  let subnet: Subnet;
  if (options.subnet !== undefined) {
    subnet = parseSubnet(options.subnet);
    await checkSubnetFree(root, subnet, name, '');
  } else {
    subnet = await pickFreeSubnet(root, name);
  }
  const record = newRecord(name, subnet);
  writeRecord(root, record);
  claimBridge(root, record);
  publishStep('net.network', { action: 'create', network: record.Name, subnet: record.Subnet, gateway: record.Gateway, bridge: record.Bridge });
  return record;
}

async function pickFreeSubnet(root: StateRoot, name: string): Promise<Subnet> {
  const routes = await hostSubnets();
  for (let third = 0; third < 256; third++) {
    const candidate = { base: USER_SUBNET_POOL.base + third * 256, prefix: 24 };
    if (subnetConflict(root, candidate, name, '', routes) === undefined) return candidate;
  }
  throw new MiniboxError('no free /24 left in 172.30.0.0/16: pass --subnet CIDR');
}

/** Deletes the record of a network that has no endpoints and no bridge device anymore. */
export function deleteNetworkRecord(root: StateRoot, name: string): void {
  const record = readNetwork(root, name);
  if (record) releaseClaim(root, record);
  fs.rmSync(networkDir(root, name), { recursive: true, force: true });
  if (record) publishStep('net.network', { action: 'forget', network: name, subnet: record.Subnet });
}

/** The network a container asks for: a record, or a NotFoundError Docker-style. */
export async function resolveNetwork(root: StateRoot, name: string): Promise<NetworkRecord> {
  if (name === DEFAULT_NETWORK || name === 'default') return await ensureDefaultNetwork(root);
  const record = findNetwork(root, name);
  if (!record) throw new NotFoundError(`network ${name} not found`);
  return record;
}
