/**
 * free-subnet.ts — a bridge name and a /24 that nothing on this host uses, for one test file's
 * default network (MINIBOX_BRIDGE_NAME / MINIBOX_BRIDGE_SUBNET, which the CLI inherits).
 *
 * Fixed per-file values (`172.27.0.0/16`) break a file as soon as a leftover state root of
 * someone else still claims them, and keep two network test files from running side by side.
 * `useFreeBridge(label)` picks, when the file is loaded:
 *   - a /24 of 10.200.0.0–10.229.255.0 that overlaps no route or address of the host, no claim
 *     in /run/minibox/networks (standing or stale: a stale one may still have its bridge up), and
 *     no other test process's reservation;
 *   - the bridge name `minibox-t` + 6 hex digits of that subnet, which must not exist yet.
 * The choice is reserved with an O_EXCL file /run/minibox-test/subnets/<subnet>.pid (a file whose
 * process is gone is stale and taken over) and released after the file (and at process exit). The scan starts
 * at a seeded offset, printed with the choice (MINIBOX_TEST_SEED=N repeats it), so that files
 * started together rarely try the same one first.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll } from 'vitest';
import { overlaps, parseIPv4, parseSubnet, type Subnet } from '../../src/network/cidr.js';

const RESERVATIONS = '/run/minibox-test/subnets';
const CLAIMS = '/run/minibox/networks';
const SECOND_OCTETS = 30; // 10.200 … 10.229

export interface FreeBridge {
  name: string;
  /** `10.a.b.0/24` */
  subnet: string;
  prefix: number;
  /** `10.a.b.1`, the bridge's address and the containers' default route. */
  gateway: string;
  /** A regular expression source matching any address of the subnet (`10\\.201\\.7\\.\\d+`). */
  pattern: string;
  /** The n-th address (`address(2)` is the first container's). */
  address(n: number): string;
  /** Drops the reservation (also done at exit). */
  release(): void;
}

function hostSubnets(): Subnet[] {
  const found: Subnet[] = [];
  const routes = JSON.parse(spawnSync('ip', ['-j', '-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' }).stdout || '[]') as { dst?: string; type?: string }[];
  for (const route of routes) {
    if (!route.dst || route.dst === 'default') continue;
    try { found.push(parseSubnet(route.dst.includes('/') ? route.dst : `${route.dst}/32`)); } catch { /* not IPv4 */ }
  }
  const links = JSON.parse(spawnSync('ip', ['-j', '-4', 'addr'], { encoding: 'utf8' }).stdout || '[]') as { addr_info?: { local: string; prefixlen: number }[] }[];
  for (const info of links.flatMap((link) => link.addr_info ?? [])) {
    const address = parseIPv4(info.local);
    if (address === undefined) continue;
    const size = 2 ** (32 - info.prefixlen);
    found.push({ base: address - (address % size), prefix: info.prefixlen });
  }
  return found;
}

function claimedSubnets(): Subnet[] {
  let files: string[] = [];
  try { files = fs.readdirSync(CLAIMS).filter((name) => name.endsWith('.json')); } catch { return []; }
  return files.flatMap((file) => {
    try { return [parseSubnet((JSON.parse(fs.readFileSync(path.join(CLAIMS, file), 'utf8')) as { subnet: string }).subnet)]; } catch { return []; }
  });
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (error) { return (error as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** Takes the reservation file for `subnet`, or false when a live process holds it. */
function reserve(subnet: string): string | undefined {
  fs.mkdirSync(RESERVATIONS, { recursive: true });
  const file = path.join(RESERVATIONS, `${subnet.replace('/', '_')}.pid`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      return file;
    } catch {
      const holder = Number(fs.readFileSync(file, 'utf8').trim() || 0);
      if (holder > 0 && alive(holder)) return undefined;
      fs.rmSync(file, { force: true }); // its process is gone: stale
    }
  }
  return undefined;
}

export function freeBridge(label: string): FreeBridge {
  const seed = Number(process.env.MINIBOX_TEST_SEED ?? (Date.now() ^ process.pid) % 1_000_000);
  const taken = [...hostSubnets(), ...claimedSubnets()];
  const count = SECOND_OCTETS * 256;
  for (let i = 0; i < count; i++) {
    const index = (seed + i) % count;
    const base = `10.${200 + Math.floor(index / 256)}.${index % 256}`;
    const subnet = `${base}.0/24`;
    if (taken.some((t) => overlaps(t, parseSubnet(subnet)))) continue;
    const name = `minibox-t${createHash('sha256').update(subnet).digest('hex').slice(0, 6)}`;
    if (fs.existsSync(`/sys/class/net/${name}`)) continue;
    const file = reserve(subnet);
    if (!file) continue;
    const release = (): void => { try { if (fs.readFileSync(file, 'utf8') === String(process.pid)) fs.rmSync(file); } catch { /* gone */ } };
    process.once('exit', release);
    console.log(`free-subnet: ${label} uses ${subnet} on bridge ${name} (seed ${seed}; MINIBOX_TEST_SEED=${seed} repeats it)`);
    const pattern = `${base.replace(/\./g, '\\.')}\\.\\d+`;
    return { name, subnet, prefix: 24, gateway: `${base}.1`, pattern, address: (n) => `${base}.${n}`, release };
  }
  throw new Error('free-subnet: no free /24 left in 10.200.0.0–10.229.255.0');
}

/**
 * freeBridge, set as this process's MINIBOX_BRIDGE_NAME and MINIBOX_BRIDGE_SUBNET; call at the top
 * of a test file (the reservation is dropped after the file: a worker may end without 'exit').
 */
export function useFreeBridge(label: string): FreeBridge {
  const bridge = freeBridge(label);
  afterAll(() => bridge.release());
  process.env.MINIBOX_BRIDGE_NAME = bridge.name;
  process.env.MINIBOX_BRIDGE_SUBNET = bridge.subnet;
  return bridge;
}
