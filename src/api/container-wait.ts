/**
 * container-wait.ts — `POST /containers/{id}/wait`: the answer `docker run` blocks on.
 *
 * `docker run` sends `wait` *before* `start` (so it cannot miss a quick exit) and waits for the
 * answer's head before it starts the container: the head goes out at once, the body
 * `{"StatusCode": N, "Error": null}` when the condition holds. The conditions are the API's:
 * `not-running`, `next-exit` (`docker run`), `removed` (`docker run --rm`).
 *
 * With `--rm` the container is deleted the moment its exit is settled — its record, and the exit
 * code in it, are gone when a waiter looks again. So this module listens to the engine's
 * exit hook (lifecycle/hooks/hooks.ts): whichever request of this daemon settles the exit, the
 * code is kept here for the waiters of that container.
 *
 * Try: `docker -H unix:///tmp/mb.sock run --rm busybox sh -c 'exit 3'; echo $?` → `3`
 */
import { onContainerExited } from '../lifecycle/hooks/hooks.js';
import { waitContainer, WAIT_CONDITIONS, type WaitCondition } from '../lifecycle/stop.js';
import type { StateRoot } from '../state-root.js';
import { ApiError } from './api-errors.js';

/** Exit codes settled in this process, by container id (the newest few hundred). */
const settledExits = new Map<string, number>();
const KEPT_EXITS = 512;

onContainerExited.push((_root, record) => {
  settledExits.delete(record.Id);
  settledExits.set(record.Id, record.State.ExitCode);
  if (settledExits.size > KEPT_EXITS) settledExits.delete(settledExits.keys().next().value!);
});

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
  const code = await waitContainer(root, id, condition, () => {
    if (gone()) throw new ApiError(499, 'the client went away');
  });
  return condition === 'removed' ? settledExits.get(id) ?? code : code;
}
