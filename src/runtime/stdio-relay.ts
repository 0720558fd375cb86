/**
 * stdio-relay.ts — a foreground container's stdin, stdout and stderr are pipes; minibox copies them.
 *
 * The short way to show a container's output is to hand it minibox's own fd 1 (spawn's
 * 'inherit'). But an fd is an open *file*: after `minibox run … >> /tmp/out`, the container would
 * hold /tmp/out itself, and /proc/self/fd/1 is a "magic link" — opening it opens that host file
 * again, for reading, or with O_TRUNC, and a process may keep it after minibox exits (and `exec`
 * would hand over your terminal). Docker never does this: containerd's shim gives the container
 * pipes (or a pty with -t) and copies between them and the client. minibox does the same:
 *   - stdout/stderr: the stage gets the write end of a pipe(2) each; minibox reads the other end
 *     and writes every chunk to its own fd 1/2. If that write fails (`minibox run … | head -1`
 *     closed its end), the copy stops and the pipe closes: the program gets EPIPE/SIGPIPE, as it
 *     would have writing there itself.
 *   - stdin (`-i`): minibox reads its fd 0 and writes to the container's pipe; at end of file it
 *     closes the pipe, so the program reads end of file too. Without -i the program gets /dev/null.
 * Real pipes (sys/fs.ts pipe2), not the socket pairs Node's spawn makes: a program may reopen
 * /dev/stdout (→ /proc/self/fd/1), which works for a pipe and fails (ENXIO) for a socket.
 * The container's /proc/self/fd/1 then names `pipe:[N]`: nothing on the host's disk.
 * A `run` also hands the relay its container's log (json-file-log.ts): every chunk copied is
 * written there too, as Docker's json-file driver does, so `logs` shows a foreground container's
 * output after it exited, as it does a detached one's. (`exec` output goes to no log, as in
 * Docker.) The relay ends when the pipes close — at the program's exit, or later if a process it started in the
 * background keeps them open (as with `docker exec`).
 *
 * Try: `minibox run --rm busybox ls -l /proc/self/fd/ > /tmp/x; cat /tmp/x` → `1 -> pipe:[…]`.
 */
import fs from 'node:fs';
import net from 'node:net';
import { pipe } from '../sys/fs.js';
import type { JsonFileLog, LogStream } from './json-file-log.js';

export interface StdioRelay {
  /** Resolves when stdout and stderr have reached end of file and everything was written on. */
  finished: Promise<void>;
  /** Stops reading minibox's stdin and closes every end still open (safe to call more than once). */
  stop(): void;
}

/**
 * Where the copies go: minibox's own stdin/stdout/stderr for the CLI; the API daemon
 * (src/api/) gives the streams of a client's connection instead.
 */
export interface StdioStreams {
  input: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export interface StdioPipes {
  /** fds 0–2 for spawn(): the stage's ends ('ignore' = /dev/null for stdin without -i). */
  stdio: ['ignore' | number, number, number];
  /** After spawn: closes the stage's ends here and starts copying (and writing `log`, if given). */
  start(log?: JsonFileLog): StdioRelay;
  /** spawn failed: closes everything. */
  close(): void;
}

/**
 * Copies one pipe to one of minibox's own streams, or a daemon client's (and the log); resolves at
 * end of file (or a failed write). The destination is looked up at the first chunk, not before:
 * minibox's own stdout is made on first use (Node loads a stream module for it, ~3 ms), which
 * would otherwise happen before the stage is spawned, on the critical path, for a program that
 * may print nothing. That first chunk is put back (`unshift`), and `pipe` sends it, then the rest.
 */
function copyOutput(from: net.Socket, destination: () => NodeJS.WritableStream, log?: { file: JsonFileLog; stream: LogStream }): Promise<void> {
  return new Promise((resolve) => {
    let to: NodeJS.WritableStream | undefined;
    const onError = (): void => {
      if (to) from.unpipe(to);
      from.destroy(); // the program's next write fails with EPIPE
    };
    from.once('data', (first: Buffer) => {
      from.pause();
      from.unshift(first);
      to = destination();
      to.on('error', onError);
      if (log) from.on('data', (chunk: Buffer) => log.file.write(log.stream, chunk));
      from.pipe(to, { end: false });
    });
    from.once('close', () => {
      to?.off('error', onError);
      log?.file.end(log.stream);
      resolve();
    });
  });
}

/**
 * minibox's own stdin, stdout and stderr, each looked up when first used. They are getters of
 * `process` that make a stream for whatever the fd is (a terminal, a pipe, a file), loading its
 * modules: ~3–5 ms each. Without -i nothing reads stdin; a program that prints nothing needs no
 * stdout; and what is needed is made after the stage was spawned, while it starts.
 */
function processStreams(): StdioStreams {
  return {
    get input() { return process.stdin; },
    get stdout() { return process.stdout; },
    get stderr() { return process.stderr; },
  };
}

/** Opens the pipes: stdout and stderr always, stdin with `-i`. */
export function openStdioPipes(options: { stdin: boolean; streams?: StdioStreams }): StdioPipes {
  const io: StdioStreams = options.streams ?? processStreams();
  const input = options.stdin ? pipe() : undefined; // [stage reads, minibox writes]
  const output = pipe(); // [minibox reads, stage writes]
  const errors = pipe();
  const stageEnds = [input?.[0], output[1], errors[1]].filter((fd): fd is number => fd !== undefined);
  const ours = [input?.[1], output[0], errors[0]].filter((fd): fd is number => fd !== undefined);
  const closeAll = (fds: number[]): void => {
    for (const fd of fds) {
      try { fs.closeSync(fd); } catch { /* already closed */ }
    }
  };
  return {
    stdio: [input ? input[0] : 'ignore', output[1], errors[1]],
    close: () => closeAll([...stageEnds, ...ours]),
    start(log) {
      closeAll(stageEnds); // only the stage holds them now: its exit is our end of file
      const toStage = input ? new net.Socket({ fd: input[1], readable: false, writable: true }) : undefined;
      toStage?.on('error', () => undefined); // the program exited without reading: nothing to do
      if (toStage) io.input.pipe(toStage); // ends the pipe at our end of file: the program reads EOF
      const finished = Promise.all([
        copyOutput(new net.Socket({ fd: output[0], readable: true, writable: false }), () => io.stdout, log && { file: log, stream: 'stdout' }),
        copyOutput(new net.Socket({ fd: errors[0], readable: true, writable: false }), () => io.stderr, log && { file: log, stream: 'stderr' }),
      ]).then(() => undefined);
      let stopped = false;
      return {
        finished,
        stop() {
          if (stopped || !toStage) return;
          stopped = true;
          io.input.unpipe(toStage);
          if (io.input === process.stdin) process.stdin.pause(); // no longer keeps minibox alive
          toStage.destroy();
        },
      };
    },
  };
}
