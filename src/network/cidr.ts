/**
 * cidr.ts — IPv4 addresses and subnets as numbers.
 *
 * An IPv4 address is a 32-bit number written as four bytes (172.29.0.5). A subnet in CIDR
 * notation, 172.29.0.0/16, is "every address whose first 16 bits equal those of 172.29.0.0":
 * 65,536 addresses, of which the first (the network itself) and the last (broadcast) are not
 * given to hosts. Two subnets clash when one contains the other's first address.
 *
 * Try: `minibox network create --subnet 127.0.0.0/24 lonet` → `127.0.0.0/24`… (refused: the host
 * already routes it; `ip -4 route` shows what it reaches).
 */
import { UsageError } from '../errors.js';

export interface Subnet {
  /** The network address as a 32-bit unsigned number. */
  base: number;
  /** Prefix length: how many leading bits are fixed (0–32). */
  prefix: number;
}

export function parseIPv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    value = value * 256 + Number(part);
  }
  return value;
}

export function formatIPv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses `A.B.C.D/N`; the host bits must be zero (172.29.0.0/16, not 172.29.0.7/16). */
export function parseSubnet(text: string): Subnet {
  const match = /^([\d.]+)\/(\d{1,2})$/.exec(text.trim());
  const base = match ? parseIPv4(match[1] ?? '') : undefined;
  const prefix = Number(match?.[2]);
  if (base === undefined || !(prefix >= 8 && prefix <= 30)) {
    throw new UsageError(`invalid subnet "${text}": expected CIDR notation A.B.C.D/N with N between 8 and 30, e.g. 172.30.0.0/24`);
  }
  if (((base & mask(prefix)) >>> 0) !== base) {
    throw new UsageError(`invalid subnet "${text}": host bits are set; did you mean ${formatIPv4((base & mask(prefix)) >>> 0)}/${prefix}?`);
  }
  return { base, prefix };
}

export function formatSubnet(subnet: Subnet): string {
  return `${formatIPv4(subnet.base)}/${subnet.prefix}`;
}

export function subnetSize(subnet: Subnet): number {
  return 2 ** (32 - subnet.prefix);
}

export function contains(subnet: Subnet, address: number): boolean {
  return ((address & mask(subnet.prefix)) >>> 0) === subnet.base;
}

export function overlaps(a: Subnet, b: Subnet): boolean {
  return contains(a, b.base) || contains(b, a.base);
}

/** The gateway (the bridge's own address) is the first host address: .1 in a /24. */
export function gatewayOf(subnet: Subnet): number {
  return subnet.base + 1;
}

/** The last address is broadcast; hosts get base+1 … base+size-2. */
export function broadcastOf(subnet: Subnet): number {
  return subnet.base + subnetSize(subnet) - 1;
}
