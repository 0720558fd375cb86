/**
 * scm-rights.ts — handing an open file descriptor to another process over a Unix socket.
 *
 * A file descriptor is a number that only means something inside one process. To give another
 * process the *same open file* (not a new open of its path), the kernel offers SCM_RIGHTS: a
 * control message attached to sendmsg(2) on an AF_UNIX socket carrying fds; the receiver's
 * recvmsg(2) gets new numbers for the same open files. runc's `--console-socket` works this way:
 * the runtime opens the container's pty master and passes it to containerd's shim or conmon,
 * which then own the terminal. Node's `net` cannot attach fds, so the message is built here by
 * hand (x86-64 layouts of struct sockaddr_un, iovec, msghdr and cmsghdr).
 *
 * Try: `socat UNIX-LISTEN:/tmp/c.sock - & minibox-runc create --console-socket /tmp/c.sock
 * --bundle B c1` → `/dev/pts/0` (socat prints the terminal's name, the data that travels with the
 * fd; the fd itself it cannot show).
 */
import fs from 'node:fs';
import { koffi, libcFunction } from './libc.js';
import { invoke } from './call.js';

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;

const socketFn = libcFunction<(domain: number, type: number, protocol: number) => number>('int socket(int domain, int type, int protocol)');
const connectFn = libcFunction<(fd: number, address: Buffer, length: number) => number>(
  'int connect(int fd, const void *address, uint32_t length)');
const sendmsgFn = libcFunction<(fd: number, message: Buffer, flags: number) => number>('long sendmsg(int fd, const void *message, int flags)');

function addressOf(buffer: Buffer): bigint {
  return BigInt(koffi().address(buffer) as unknown as number | bigint);
}

/** Connects to the Unix socket at `socketPath` and sends `fd` with `text` as the message's data. */
export function sendFileDescriptor(socketPath: string, fd: number, text: string): void {
  const address = Buffer.alloc(110); // struct sockaddr_un: sun_family, then sun_path[108]
  if (Buffer.byteLength(socketPath) > 107) throw new Error(`socket path ${socketPath} is longer than 107 bytes`);
  address.writeUInt16LE(AF_UNIX, 0);
  address.write(socketPath, 2);
  const socket = invoke('socket', { domain: 'AF_UNIX', type: 'SOCK_STREAM' }, () => socketFn()(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  try {
    invoke('connect', { path: socketPath }, () => connectFn()(socket, address, address.length), { what: socketPath });
    const data = Buffer.from(text);
    const iovec = Buffer.alloc(16); // { void *iov_base; size_t iov_len; }
    iovec.writeBigUInt64LE(addressOf(data), 0);
    iovec.writeBigUInt64LE(BigInt(data.length), 8);
    const control = Buffer.alloc(24); // CMSG_SPACE(sizeof(int)): { size_t len; int level; int type; int fd; pad }
    control.writeBigUInt64LE(20n, 0); // CMSG_LEN(sizeof(int))
    control.writeInt32LE(SOL_SOCKET, 8);
    control.writeInt32LE(SCM_RIGHTS, 12);
    control.writeInt32LE(fd, 16);
    const message = Buffer.alloc(56); // struct msghdr, no name: iov at 16, control at 32
    message.writeBigUInt64LE(addressOf(iovec), 16);
    message.writeBigUInt64LE(1n, 24);
    message.writeBigUInt64LE(addressOf(control), 32);
    message.writeBigUInt64LE(BigInt(control.length), 40);
    invoke('sendmsg', { socket: socketPath, fd, data: text, control: 'SCM_RIGHTS' }, () => sendmsgFn()(socket, message, 0), { what: socketPath });
  } finally {
    fs.closeSync(socket);
  }
}
