/**
 * attach-client.ts — the engine's end of a container's attach socket (native/monitor-attach.c).
 *
 * A detached container's stdio belongs to its minibox-monitor: the pipes (or, with -t, the pty
 * master) and the json-file log. `attach` borrows them over a unix socket in the container's
 * directory, `attach.sock`, as podman borrows conmon's. The stream carries frames — a type byte,
 * a two-byte big-endian length, then the bytes:
 *   from the monitor  1 stdout, 2 stderr (with -t everything is 1: one pty carries both);
 *   to the monitor    0 stdin, 1 window size (rows, columns), 2 end of stdin.
 * Hanging up is detaching: the container runs on. End of file from the monitor means the
 * container has exited (the monitor wrote its exit status first).
 * A socket path is limited to 107 bytes and a state root may be deep, so the connection goes
 * through /proc/self/fd/D/attach.sock, D an fd of the container's directory.
 *
 * Try: `minibox run -d --name box busybox sleep 60 >/dev/null; cd ${MINIBOX_ROOT:-/var/lib/minibox};
 * ls -l containers/$(minibox inspect -f '{{.Id}}' box)/attach.sock` → `srw------- 1 root root 0`
 *
 * In a terminal: `minibox run -d --name box busybox sh -c 'trap "exit 130" INT; while sleep 1;
 * do date; done'`, then `minibox attach box` → a date every second; Ctrl-C reaches the container
 * (--sig-proxy), which exits: attach exits 130 too.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { MiniboxError, describeError } from '../errors.js';

const FrameType = { Stdin: 0, Resize: 1, CloseStdin: 2 } as const;
type FrameType = (typeof FrameType)[keyof typeof FrameType];
/** The monitor's output frames: 1 stdout, 2 stderr. */
export type OutputStream = 1 | 2;
const HEADER = 3;
const MAX_PAYLOAD = 4096;

export interface AttachConnection {
  /** Called with each piece of output, in order. */
  onOutput(listener: (stream: OutputStream, data: Buffer) => void): void;
  sendInput(data: Buffer): void;
  sendWindowSize(rows: number, columns: number): void;
  /** The program reads end of file (its stdin pipe closes; not for a pty). */
  closeInput(): void;
  /** Hangs up: detaches, the container runs on. */
  hangUp(): void;
  /** Resolves when the monitor closed the connection (the container exited) or we hung up. */
  closed: Promise<void>;
}

function frame(type: FrameType, payload: Buffer): Buffer {
  const header = Buffer.from([type, payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([header, payload]);
}

/** Splits a byte stream into frames; calls `onFrame` for each complete one. */
export function frameReader(onFrame: (type: number, payload: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= HEADER) {
      const length = pending.readUInt16BE(1);
      if (pending.length < HEADER + length) break;
      onFrame(pending[0]!, pending.subarray(HEADER, HEADER + length));
      pending = pending.subarray(HEADER + length);
    }
  };
}

/** Connects to a monitor's attach socket; fails when no monitor listens there. */
export async function connectAttachSocket(socketPath: string): Promise<AttachConnection> {
  const dirFd = fs.openSync(path.dirname(socketPath), fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  const socket = net.connect({ path: `/proc/self/fd/${dirFd}/${path.basename(socketPath)}` });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
  } catch (error) {
    socket.destroy();
    throw new MiniboxError(`cannot attach: no monitor listens on ${socketPath}: ${describeError(error)}`);
  } finally {
    fs.closeSync(dirFd);
  }
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined); // the monitor went away: 'close' follows
  const send = (type: FrameType, payload: Buffer): void => {
    if (!socket.destroyed) socket.write(frame(type, payload));
  };
  return {
    onOutput(listener) {
      socket.on('data', frameReader((type, payload) => listener(type as OutputStream, payload)));
    },
    sendInput(data) {
      for (let at = 0; at < data.length; at += MAX_PAYLOAD) send(FrameType.Stdin, data.subarray(at, at + MAX_PAYLOAD));
    },
    sendWindowSize(rows, columns) {
      const payload = Buffer.alloc(4);
      payload.writeUInt16BE(rows, 0);
      payload.writeUInt16BE(columns, 2);
      send(FrameType.Resize, payload);
    },
    closeInput() {
      send(FrameType.CloseStdin, Buffer.alloc(0));
    },
    hangUp() {
      socket.end();
      socket.destroy();
    },
    closed,
  };
}
