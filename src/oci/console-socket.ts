/**
 * console-socket.ts — `create --console-socket SOCK` for a container with `process.terminal`.
 *
 * With a terminal, the container's stdio is a pty that must live *inside* the container (its
 * own devpts, runtime/terminal-relay.ts explains why). minibox-runc opens the master side from
 * the container's /dev/pts/ptmx (through /proc/PID/root, while the init stage waits for the pty
 * number), tells the init stage which slave to take, and hands the master to whoever listens on
 * SOCK with SCM_RIGHTS (sys/scm-rights.ts) — containerd's shim, conmon, or `recvtty` — together
 * with the terminal's name, as runc does. This process then closes its copy: the listener owns
 * the terminal. consoleSize, when config.json gives one, is the pty's first window size.
 *
 * Try: `recvtty /tmp/c.sock & minibox-runc run --console-socket /tmp/c.sock --bundle B c1` →
 * `/ #` (runc's `recvtty`, from runc's source tree contrib/cmd/recvtty, receives the pty and
 * attaches your terminal to the container's shell).
 */
import fs from 'node:fs';
import { ptyNumber, setWindowSize, unlockPty } from '../sys/pty.js';
import { sendFileDescriptor } from '../sys/scm-rights.js';

/** Opens a new pty in the container's devpts, sends its master to `socketPath`; returns N of /dev/pts/N. */
export function sendConsole(socketPath: string, ptmxPath: string, size?: { height: number; width: number }): number {
  const master = fs.openSync(ptmxPath, fs.constants.O_RDWR | fs.constants.O_NOCTTY);
  try {
    unlockPty(master);
    const number = ptyNumber(master);
    if (size) setWindowSize(master, size.height, size.width);
    sendFileDescriptor(socketPath, master, `/dev/pts/${number}`);
    return number;
  } finally {
    fs.closeSync(master);
  }
}
