/**
 * api-errors.ts — how the Engine API fails: an HTTP status and `{"message": "…"}`.
 *
 * dockerd answers every refused request with a JSON body holding one `message`, and a status
 * code that tells the client *what kind* of failure it was (moby's errdefs → httpstatus):
 *   400 bad request   a malformed body, a bad parameter (minibox's UsageError)
 *   404 not found     no such container, image, network, volume (NotFoundError)
 *   409 conflict      the object is in the wrong state: running, not running, name in use
 *   500 server error  anything else (a kernel call refused, a registry down)
 *   501 not impl.     a part of the API minibox does not have (swarm, plugins…)
 * The docker CLI prints `Error response from daemon: <message>`, and decides some exit codes
 * from the status alone (404 on `docker run` → pull, then create again), so the status matters
 * as much as the words.
 *
 * Try: `curl -s --unix-socket /run/minibox.sock localhost/containers/nope/json`
 * → `{"message":"No such container: nope"}`
 */
import { MiniboxError, NotFoundError, UsageError, VerbError, describeError } from '../errors.js';

/** A refusal with its HTTP status, thrown by a route handler. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

/** A request the API does not know, or a feature minibox does not have. */
export function notImplemented(feature: string): ApiError {
  return new ApiError(501, `${feature} is not supported by minibox`);
}

/** Words of the engine's messages that mean "the object is in the wrong state" (409). */
const CONFLICT = /is (not )?running|already in use|is marked for removal|is in use|conflict|cannot remove|being used/i;

/** The status dockerd would answer with for an error the engine library threw. */
export function statusOf(error: unknown): number {
  if (error instanceof ApiError) return error.status;
  if (error instanceof NotFoundError) return 404;
  if (error instanceof UsageError) return 400;
  if (error instanceof VerbError) return 409; // the container is in the wrong state for the verb
  if (error instanceof MiniboxError && CONFLICT.test(error.message)) return 409;
  return 500;
}

/** Docker's error body. */
export function errorBody(error: unknown): string {
  return `${JSON.stringify({ message: describeError(error).replace(/^minibox: /, '') })}\n`;
}
