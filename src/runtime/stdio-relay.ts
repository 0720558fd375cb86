/**
 * stdio-relay.ts — a foreground container's stdin, stdout and stderr are pipes; minibox copies them.
 *
 * The short way to show a container's output is to hand it minibox's own fd 1 (spawn's
 * 'inherit'). But an fd is an open *file*: after `minibox run … >> /tmp/out`, the container would
 * hold /tmp/out itself, and /proc/self/fd/1 is a "magic link" — opening it opens that host file
 * again, for reading, or with O_TRUNC, and a process may keep it after minibox exits (and `exec`
 * would hand over your terminal). Docker never does this: containerd's shim gives the container
 * pipes (or a pty with -t) and copies between them and the client. minibox does the same:
 *   - stdout/stderr: the stage gets a pipe each; every chunk is written to minibox's own fd 1/2.
 *     If that write fails (`minibox run … | head -1` closed its end), the copy stops and the pipe
 *     closes: the program gets EPIPE/SIGPIPE, as it would have writing there itself.
 *   - stdin (`-i`): minibox reads its fd 0 and writes to the container's pipe; at end of file it
 *     closes the pipe, so the program reads end of file too. Without -i the program gets /dev/null.
 * The container's /proc/self/fd/1 then names `pipe:[N]`: nothing on the host's disk.
 * (Ownership: the relay ends when the program's pipes close — at its exit, or later if a
 * process it started in the background keeps them open, as with `docker exec`.)
 *
 * Try: `minibox run --rm busybox ls -l /proc/self/fd/ > /tmp/x; cat /tmp/x` → `1 -> pipe:[…]`.
 */
import type { ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

export interface StdioRelay {
  /** Resolves when stdout and stderr have reached end of file and everything was written on. */
  finished: Promise<void>;
  /** Stops reading minibox's stdin (safe to call more than once). */
  stop(): void;
}

/** Copies one output pipe of the stage to one of minibox's own streams. */
function copyOutput(from: Readable | null, to: NodeJS.WriteStream): Promise<void> {
  if (!from) return Promise.resolve();
  return new Promise((resolve) => {
    const onError = (): void => {
      from.unpipe(to);
      from.destroy(); // the program's next write fails with EPIPE
      resolve();
    };
    to.on('error', onError);
    from.pipe(to, { end: false });
    const done = (): void => {
      to.off('error', onError);
      resolve();
    };
    from.once('end', done);
    from.once('close', done);
  });
}

/** Starts copying between the stage's stdio pipes and minibox's fds 0, 1 and 2. */
export function relayStdio(child: ChildProcess): StdioRelay {
  const input = child.stdin as Writable | null;
  let stopped = false;
  if (input) {
    input.on('error', () => undefined); // the program exited without reading: nothing to do
    process.stdin.pipe(input); // ends the pipe at our end of file: the program reads EOF
  }
  const finished = Promise.all([
    copyOutput(child.stdout, process.stdout),
    copyOutput(child.stderr, process.stderr),
  ]).then(() => undefined);
  return {
    finished,
    stop() {
      if (stopped || !input) return;
      stopped = true;
      process.stdin.unpipe(input);
      process.stdin.pause(); // no longer keeps minibox alive
      input.destroy();
    },
  };
}
