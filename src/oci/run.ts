/**
 * run.ts — `minibox-runc run`: create, start, wait for the program, delete — runc's shortcut for
 * a person at a shell (engines use the separate steps).
 *
 * Here this process stays: the init stage is its child, so it can wait for it and return its
 * exit status (or 128+n for a signal, as a shell reports it), forwarding SIGINT, SIGTERM and the
 * rest to the container meanwhile (runtime/signal-relay.ts). `--detach` returns after `start`
 * (the container runs on, re-parented as after `create`); `--keep` skips the final delete.
 *
 * Try: `minibox-runc run --bundle B c1; echo $?` with `"args": ["sh","-c","exit 3"]` → `3`.
 */
import { signalExitCode } from '../errors.js';
import { relaySignals } from '../runtime/signal-relay.js';
import { createContainer, type CreateOptions } from './create.js';
import { deleteContainer, startContainer } from './lifecycle.js';
import type { OciStateDir } from './oci-state.js';

export interface RunOptions extends CreateOptions {
  detach: boolean;
  keep: boolean;
}

export async function runContainerToEnd(states: OciStateDir, id: string, options: RunOptions): Promise<number> {
  const { child } = await createContainer(states, id, options);
  const exited = new Promise<number>((resolve) => child.once('exit', (code, signal) => resolve(signal ? signalExitCode(signal) : code ?? 0)));
  const stopRelay = relaySignals(child, { terminal: false });
  try {
    await startContainer(states, id);
    if (options.detach) process.exit(0); // the container runs on without us (see the header)
    const exitCode = await exited;
    if (!options.keep) await deleteContainer(states, id, true);
    return exitCode;
  } finally {
    stopRelay();
  }
}
