/**
 * netdevice.ts — switching a network interface on, the way `ip link set lo up` does it underneath.
 *
 * A new network namespace (unshare(CLONE_NEWNET)) has exactly one interface, the loopback `lo`,
 * and it is *down*: nothing, not even 127.0.0.1, answers until someone sets its IFF_UP flag.
 * netdevice(7) gives the oldest way to do that, two ioctl(2)s on any socket of the namespace:
 *   SIOCGIFFLAGS  read the interface's flags into a `struct ifreq` (name at 0, flags at 16)
 *   SIOCSIFFLAGS  write them back with IFF_UP added
 * The socket only names the namespace the request is for; nothing is sent on it. `ip` speaks
 * netlink (RTM_NEWLINK) for the same change; the result is the same flag.
 *
 * Why a kernel call here when the rest of src/network runs `ip` (network/host-commands.ts
 * explains that choice)? The init stage is already *inside* the new namespace right after its
 * unshare, so it needs no `nsenter`, and two ioctls cost microseconds where starting
 * `nsenter … ip link set lo up` cost ~10–20 ms on every container start (docs/benchmarks.md).
 *
 * Try: `unshare -n ip -br link` → `lo DOWN`; `minibox run --rm --network none busybox ip -o link show lo` → `LOOPBACK,UP`.
 */
import { invoke } from './call.js';
import { libcFunction } from './libc.js';

const fns = {
  socket: libcFunction<(domain: number, type: number, protocol: number) => number>('int socket(int domain, int type, int protocol)'),
  ioctl: libcFunction<(fd: number, request: number, ifreq: Buffer) => number>('int ioctl(int fd, unsigned long request, void *arg)'),
  close: libcFunction<(fd: number) => number>('int close(int fd)'),
};

const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const SIOCGIFFLAGS = 0x8913;
const SIOCSIFFLAGS = 0x8914;
const IFF_UP = 0x1;
/** sizeof(struct ifreq) on Linux: a 16-byte name, then a 24-byte union (ifr_flags is its first short). */
const IFREQ_SIZE = 40;
const IFNAMSIZ = 16;

/** Declares the C functions now (the init stage declares everything before pivot_root). */
export function declareNetdeviceCalls(): void {
  for (const declare of Object.values(fns)) declare();
}

/** Sets IFF_UP on `name` in the caller's network namespace (`ip link set NAME up`). */
export function bringInterfaceUp(name: string): void {
  const ifreq = Buffer.alloc(IFREQ_SIZE);
  ifreq.write(name, 0, IFNAMSIZ - 1, 'latin1');
  const fd = invoke('socket', { domain: 'AF_INET', type: 'SOCK_DGRAM|SOCK_CLOEXEC', purpose: `ioctl on ${name}` },
    () => fns.socket()(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  try {
    invoke('ioctl', { fd, request: 'SIOCGIFFLAGS', interface: name }, () => fns.ioctl()(fd, SIOCGIFFLAGS, ifreq), { what: name });
    ifreq.writeUInt16LE(ifreq.readUInt16LE(IFNAMSIZ) | IFF_UP, IFNAMSIZ);
    invoke('ioctl', { fd, request: 'SIOCSIFFLAGS', interface: name, flags: 'IFF_UP' }, () => fns.ioctl()(fd, SIOCSIFFLAGS, ifreq), { what: name });
  } finally {
    fns.close()(fd);
  }
}
