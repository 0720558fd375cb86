/**
 * container-wait.ts — `POST /containers/{id}/wait`: the answer `docker run` blocks on.
 *
 * `docker run` sends `wait` *before* `start` (so it cannot miss a quick exit) and waits for the
 * answer's head before it starts the container: the head goes out at once, the body
 * `{"StatusCode": N, "Error": null}` when the condition holds. The conditions are the API's:
 * `not-running`, `next-exit` (`docker run`), `removed` (`docker run --rm`).
 *
 * With `--rm` the container is deleted the moment its exit is settled — its record, and the exit
 * code in it, are gone when a waiter looks again. Whoever reconciles first settles it: one of
 * this daemon's waiters (`docker run --rm` has two, its attach and its wait), or another process
 * (a `minibox ps` at that moment). So a waiter whose last look found the container created or
 * running does not answer that record's code when the record vanishes; it asks the journal
 * (events/event-log.ts): the container's monitor appends a "die" event with the exit code after
 * it writes the exit status, and it exits only after that — so once the monitor seen in the run's
 * pids file is gone, the journal's last "die" of this container is that run's end. (Codes this
 * daemon's waiters saw are kept too, for a journal that lost the line.)
 *
 * Try: `docker -H unix:///tmp/mb.sock run --rm busybox sh -c 'exit 3'; echo $?` → `3`
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { NotFoundError } from '../errors.js';
import { ContainerStore } from '../container/container-store.js';
import { isRunning, type ProcessHandle } from '../container/process-handle.js';
import { readRunPids } from '../container/run-files.js';
import { readJournal } from '../events/event-log.js';
import { waitContainer, WAIT_CONDITIONS, type WaitCondition } from '../lifecycle/stop.js';
import type { StateRoot } from '../state-root.js';
import { ApiError } from './api-errors.js';

/** Exit codes the waiters of this daemon saw, by container id (the newest few hundred). */
const seenExits = new Map<string, number>();
const KEPT_EXITS = 512;

/** An exit code one of this daemon's waiters saw. */
function sawExit(id: string, code: number): void {
  seenExits.delete(id);
  seenExits.set(id, code);
  if (seenExits.size > KEPT_EXITS) seenExits.delete(seenExits.keys().next().value!);
}

export function parseWaitCondition(text: string | null): WaitCondition {
  const condition = WAIT_CONDITIONS.find((known) => known === (text || 'not-running'));
  if (!condition) throw new ApiError(400, `invalid condition: "${text}": use ${WAIT_CONDITIONS.join(', ')}`);
  return condition;
}

/** The exit code in the journal's last "die" event of `id`, once `monitor` (the run's) has exited. */
async function exitFromJournal(root: StateRoot, id: string, monitor: ProcessHandle | undefined): Promise<number | undefined> {
  while (isRunning(monitor)) await sleep(20); // it appends "die", then exits: bounded by its life
  const die = readJournal(root).events.filter((event) => event.message.Action === 'die' && event.message.Actor.ID === id).at(-1);
  const code = die ? Number(die.message.Actor.Attributes.exitCode) : NaN;
  return Number.isInteger(code) ? code : undefined;
}

/**
 * Waits for `condition`; resolves to the exit code. `gone()` says the client left: the wait
 * stops polling then (a rejected promise the caller ignores).
 */
export async function waitForExit(root: StateRoot, id: string, condition: WaitCondition, gone: () => boolean): Promise<number> {
  const paths = new ContainerStore(root).paths(id);
  let lastLookExited = false; // the last look found the run's end itself: its code is the answer
  let monitor: ProcessHandle | undefined;
  let code: number;
  try {
    code = await waitContainer(root, id, condition, (record) => {
      lastLookExited = !record.State.Running && record.State.Status === 'exited';
      monitor = readRunPids(paths)?.monitor ?? monitor;
      if (lastLookExited) sawExit(id, record.State.ExitCode);
      if (gone()) throw new ApiError(499, 'the client went away');
    });
  } catch (error) {
    if (!(error instanceof NotFoundError) || condition !== 'removed') throw error;
    // Removed (by another process) before this waiter's first look: only the journal can tell.
    const logged = (await exitFromJournal(root, id, undefined)) ?? seenExits.get(id);
    if (logged === undefined) throw error;
    return logged;
  }
  if (condition !== 'removed' || lastLookExited) return code;
  // Removed while it was created or running at the last look: someone else saw the end.
  return (await exitFromJournal(root, id, monitor)) ?? seenExits.get(id) ?? code;
}
