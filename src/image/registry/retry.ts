/**
 * retry.ts — surviving the network: retry with exponential backoff.
 *
 * Registries and the CDNs in front of them fail transiently: 503 during a deploy, 429 when you
 * hit a rate limit, a connection reset by a load balancer. The usual cure (go-containerregistry's
 * transport/retry.go, Docker's pull loop) is to try again a few times, waiting longer each time
 * (base, 2×base, 4×base… plus jitter so many clients don't retry in lockstep). A server may say
 * how long to wait with `Retry-After`; we honour it when it is short, and give up with a clear
 * message when it asks for longer than a person would want to sit through.
 * Errors that retrying cannot fix (401, 404, a bad digest) are returned or thrown at once.
 *
 * Try: `minibox pull 127.0.0.1:1/nothing` → `127.0.0.1:1` (a refused connection is retried with
 * backoff, then named in one line).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { MiniboxError } from '../../errors.js';

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 250 };
/** Longest Retry-After we are willing to wait for, in seconds. */
const MAX_RETRY_AFTER_SECONDS = 10;

export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 408 || (status >= 500 && status <= 599 && status !== 501);
}

/** True for errors that mean "the connection broke", not "the request was wrong". */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error) || error.name === 'AbortError') return false;
  const text = `${error.message} ${(error as { code?: string }).code ?? ''} ${describeCause(error)}`;
  return /fetch failed|socket hang up|other side closed|terminated|ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|UND_ERR_SOCKET|UND_ERR_CLOSED|premature close/i.test(text);
}

function describeCause(error: Error): string {
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof Error) return `${cause.message} ${(cause as { code?: string }).code ?? ''}`;
  return '';
}

export function backoffDelay(policy: RetryPolicy, attempt: number): number {
  const exponential = policy.baseDelayMs * 2 ** attempt;
  return exponential + Math.random() * policy.baseDelayMs;
}

/** Seconds from a Retry-After header (delta-seconds or an HTTP date); undefined if absent/garbled. */
export function parseRetryAfter(header: string | null): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim());
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000);
}

/**
 * Runs `attempt` until it returns a response that is not worth retrying, retrying on retryable
 * statuses and connection errors. The last response (even a 503) is returned for the caller to
 * turn into an error; the last connection error is rethrown.
 */
export async function withRetry(
  policy: RetryPolicy,
  attempt: () => Promise<Response>,
  onRetry?: (why: string, delayMs: number) => void,
  signal?: AbortSignal,
): Promise<Response> {
  for (let i = 0; ; i++) {
    const last = i >= policy.attempts - 1;
    let response: Response;
    try {
      response = await attempt();
    } catch (error) {
      if (last || !isConnectionError(error) || signal?.aborted) throw error;
      const delay = backoffDelay(policy, i);
      onRetry?.(`connection error (${(error as Error).message})`, delay);
      await sleep(delay, undefined, signal ? { signal } : undefined);
      continue;
    }
    if (last || !isRetryableStatus(response.status)) return response;
    const retryAfter = parseRetryAfter(response.headers.get('retry-after'));
    if (retryAfter !== undefined && retryAfter > MAX_RETRY_AFTER_SECONDS) {
      await response.body?.cancel();
      throw new MiniboxError(`the registry is rate limiting (HTTP ${response.status}) and asks to retry after ${Math.ceil(retryAfter)} s; try again later`);
    }
    await response.body?.cancel();
    const delay = retryAfter !== undefined ? retryAfter * 1000 : backoffDelay(policy, i);
    onRetry?.(`HTTP ${response.status}`, delay);
    await sleep(delay, undefined, signal ? { signal } : undefined);
  }
}
