/**
 * container-wait.ts — `POST /containers/{id}/wait`: the answer `docker run` blocks on.
 *
 * `docker run` sends `wait` *before* `start` (so it cannot miss a quick exit) and waits for the
 * answer's head before it starts the container: the head goes out at once, the body
 * `{"StatusCode": N, "Error": null}` when the condition holds. The conditions are the API's:
 * `not-running`, `next-exit` (`docker run`), `removed` (`docker run --rm`).
 *
 * With `--rm` the container is deleted the moment its exit is settled — its record, and the exit
 * code in it, are gone when a waiter looks again. `docker run --rm` has two waiters (its attach
 * and its wait), and whichever polls first settles the exit and sees the last record: every
 * waiter of this daemon keeps the exit code it sees here, for the others of that container.
 * (A settlement by another process — a `minibox ps` at that moment — is not seen: the wait then
 * answers the last code it saw.)
 *
 * Try: `docker -H unix:///tmp/mb.sock run --rm busybox sh -c 'exit 3'; echo $?` → `3`
 */
import { waitContainer, WAIT_CONDITIONS, type WaitCondition } from '../lifecycle/stop.js';
import type { StateRoot } from '../state-root.js';
import { ApiError } from './api-errors.js';

/** Exit codes the waiters of this daemon saw, by container id (the newest few hundred). */
const seenExits = new Map<string, number>();
const KEPT_EXITS = 512;

/** An exit code this daemon learnt (a waiter saw it, or it is the container's monitor itself). */
export function sawExit(id: string, code: number): void {
  seenExits.delete(id);
  seenExits.set(id, code);
  if (seenExits.size > KEPT_EXITS) seenExits.delete(seenExits.keys().next().value!);
}

export function parseWaitCondition(text: string | null): WaitCondition {
  const condition = WAIT_CONDITIONS.find((known) => known === (text || 'not-running'));
  if (!condition) throw new ApiError(400, `invalid condition: "${text}": use ${WAIT_CONDITIONS.join(', ')}`);
  return condition;
}

/**
 * Waits for `condition`; resolves to the exit code. `gone()` says the client left: the wait
 * stops polling then (a rejected promise the caller ignores).
 */
export async function waitForExit(root: StateRoot, id: string, condition: WaitCondition, gone: () => boolean): Promise<number> {
  const code = await waitContainer(root, id, condition, (record) => {
    if (!record.State.Running && record.State.Status === 'exited') sawExit(id, record.State.ExitCode);
    if (gone()) throw new ApiError(499, 'the client went away');
  });
  return condition === 'removed' ? seenExits.get(id) ?? code : code;
}
