/**
 * run.ts — `minibox-runc run`: create, start, wait for the program, delete — runc's shortcut for
 * a person at a shell (engines use the separate steps).
 *
 * Here this process stays: the init stage is its child, so it can wait for it and return its
 * exit status (or 128+n for a signal, as a shell reports it), forwarding SIGINT, SIGTERM and the
 * rest to the container meanwhile (runtime/signal-relay.ts). `--detach` returns after `start`
 * (the container runs on, re-parented as after `create`); `--keep` skips the final delete. With
 * `process.terminal` and no --console-socket, this process relays your terminal to the
 * container's pty (runtime/terminal-relay.ts, as `minibox run -t`), so `minibox-runc spec &&
 * minibox-runc run c1` gives a shell, as with runc.
 *
 * Try: `cp -a $BUNDLE b && jq '.process.args=["sh","-c","exit 3"]' $BUNDLE/config.json > b/config.json &&
 * minibox-runc run --bundle b c1; echo $?` → `3`.
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
  const { child, relay } = await createContainer(states, id, { ...options, relayTerminal: !options.detach, waitForExit: !options.detach });
  const exited = new Promise<number>((resolve) => child.once('exit', (code, signal) => resolve(signal ? signalExitCode(signal) : code ?? 0)));
  const stopSignals = relaySignals(child, { terminal: relay !== undefined, onHangup: () => relay?.stop() });
  try {
    await startContainer(states, id);
    if (options.detach) process.exit(0); // the container runs on without us (see the header)
    relay?.start();
    const exitCode = await exited;
    await relay?.finished;
    if (!options.keep) await deleteContainer(states, id, true);
    return exitCode;
  } finally {
    stopSignals();
    relay?.stop();
  }
}
