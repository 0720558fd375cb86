/**
 * terminal-relay.ts — the engine's half of `-t`: your terminal, relayed to the container's pty.
 *
 * The master side is opened from the container's own devpts instance (through
 * /proc/<init pid>/root/…/dev/pts/ptmx, the init stage's view of its mounts), so the pty exists
 * only inside the container: `ls /dev/pts` there shows it, the host's /dev/pts does not.
 * (pidfd_getfd(2) could instead copy an fd the init stage opened itself; going through
 * /proc/PID/root needs nothing newer than Linux 2.6 and keeps the init stage simpler.)
 *
 * While the program runs, your terminal is put in raw mode: every key, Ctrl-C included, is a byte
 * sent to the container, whose own pty turns Ctrl-C into SIGINT for *its* foreground process.
 * Window changes (SIGWINCH, Node's 'resize') are passed on with TIOCSWINSZ. Raw mode is undone
 * on every way out, or your shell would be left without echo.
 *
 * Try in a terminal: `minibox run --rm -it busybox stty size` → `24 80` in an 80×24 terminal (the
 * same as `stty size` outside: the window size is relayed).
 */
import fs from 'node:fs';
import tty from 'node:tty';
import { ptyNumber, setWindowSize, unlockPty } from '../sys/pty.js';
import type { JsonFileLog } from './json-file-log.js';

export interface TerminalRelay {
  /** N of /dev/pts/N, to tell the init stage. */
  number: number;
  /** The client's window changed (the API's `resize`): TIOCSWINSZ on the master. */
  resize(rows: number, columns: number): void;
  /** Starts copying: host stdin → master, master → host stdout (and the container's log, if given). */
  start(log?: JsonFileLog): void;
  /** Resolves when the container side of the pty is closed (its program has exited). */
  finished: Promise<void>;
  /** Restores the host terminal and closes the master. Safe to call more than once. */
  stop(): void;
}

/**
 * Another terminal than minibox's own: the API daemon relays a client's connection (the docker
 * CLI puts *its* terminal in raw mode and sends window sizes with `resize`).
 */
export interface TerminalStreams {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** The client's window, if it said. */
  size?: { rows: number; columns: number };
  /** Called once the pty exists, with the relay (so later `resize` requests reach it). */
  onOpen?: (relay: TerminalRelay) => void;
}

export function openTerminal(initPid: number, ptmxPath: string, streams?: TerminalStreams): TerminalRelay {
  const masterFd = fs.openSync(`/proc/${initPid}/root${ptmxPath}`, fs.constants.O_RDWR | fs.constants.O_NOCTTY);
  unlockPty(masterFd);
  const number = ptyNumber(masterFd);
  const stdout = streams?.output ?? process.stdout;
  if (streams?.size) setWindowSize(masterFd, streams.size.rows, streams.size.columns);
  else if (!streams && process.stdout.isTTY) setWindowSize(masterFd, process.stdout.rows, process.stdout.columns);

  const master = new tty.ReadStream(masterFd);
  const stdin = streams?.input ?? process.stdin;
  const ownTerminal = streams === undefined ? process.stdin : undefined;
  let wasRaw = false;
  let stopped = false;
  let resolveFinished: () => void = () => {};
  const finished = new Promise<void>((resolve) => { resolveFinished = resolve; });

  const onResize = (): void => {
    if (!stopped && !streams) setWindowSize(masterFd, process.stdout.rows, process.stdout.columns);
  };
  const onInput = (chunk: Buffer): void => {
    if (!stopped) master.write(chunk);
  };

  // The master reads EIO once every slave fd is closed: that is the end of the session.
  master.on('error', () => resolveFinished());
  master.on('end', () => resolveFinished());
  master.on('close', () => resolveFinished());

  const relay: TerminalRelay = {
    number,
    finished,
    resize(rows, columns) {
      if (!stopped && rows > 0 && columns > 0) setWindowSize(masterFd, rows, columns);
    },
    start(log) {
      master.on('data', (chunk: Buffer) => {
        stdout.write(chunk);
        log?.write('stdout', chunk); // a terminal has one stream: Docker logs it all as stdout
      });
      if (ownTerminal?.isTTY) {
        wasRaw = ownTerminal.isRaw;
        ownTerminal.setRawMode(true);
      }
      stdin.on('data', onInput);
      stdin.resume();
      if (!streams) process.stdout.on('resize', onResize);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      process.stdout.off('resize', onResize);
      stdin.off('data', onInput);
      if (ownTerminal?.isTTY) ownTerminal.setRawMode(wasRaw);
      stdin.pause();
      master.destroy(); // closes masterFd
    },
  };
  streams?.onOpen?.(relay);
  return relay;
}
