/**
 * controlling-terminal.ts — the init stage's half of `-t`: the pty slave becomes the program's terminal.
 *
 * The engine opened the master side from *this container's* devpts instance and told us its
 * number N. We open /dev/pts/N, start a new session (setsid: no controlling terminal yet), make
 * the pty our controlling terminal (TIOCSCTTY, so Ctrl-C on it sends SIGINT to our foreground
 * process group), and put it on fds 0, 1 and 2 for the program to inherit.
 *
 * Try: `minibox run --rm -t busybox tty` → `/dev/pts/0`
 */
import fs from 'node:fs';
import { SysError } from '../../sys/errno.js';
import { dup2, setsid } from '../../sys/process.js';
import { setControllingTerminal } from '../../sys/pty.js';
import { openInRoot, openRootDir } from '../../resolve-in-root.js';
import { O } from '../../sys/openat2.js';

export function attachTerminal(rootfs: string, ptyNumber: number): void {
  const root = openRootDir(rootfs);
  let slave: number;
  try {
    slave = openInRoot(root, `/dev/pts/${ptyNumber}`, O.RDWR | O.NOCTTY);
  } finally {
    fs.closeSync(root.fd);
  }
  try {
    setsid();
  } catch (error) {
    // Already a session leader (the engine started us detached): that is what setsid wanted.
    if (!(error instanceof SysError && error.code === 'EPERM')) throw error;
  }
  setControllingTerminal(slave);
  for (const fd of [0, 1, 2]) dup2(slave, fd);
  fs.closeSync(slave);
}
