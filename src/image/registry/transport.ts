/**
 * transport.ts — one HTTP exchange with a registry: redirects, retries and a debug trace.
 *
 * Registries often answer a blob request with a redirect to object storage (S3, a CDN) whose URL
 * carries its own signature in the query string. Two rules follow:
 *   - never forward our `Authorization` header to another host: that would hand our registry
 *     token or password to the storage provider (fetch's own redirect handling is not relied on:
 *     we follow redirects by hand so the rule is visible here);
 *   - never print a query string: a pre-signed URL's query *is* a credential.
 * Every exchange is retried on transient failures (retry.ts).
 *
 * Try: `minibox pull -q $IMAGE` → `$IMAGE` (plain HTTP, allowed because the registry is on
 * 127.0.0.1).
 */
import { withRetry, DEFAULT_RETRY, type RetryPolicy } from './retry.js';

export interface TransportOptions {
  userAgent: string;
  retry: RetryPolicy;
  onDebug?: ((line: string) => void) | undefined;
}

export interface SendInit {
  method?: string;
  headers?: Record<string, string | undefined>;
  body?: Buffer | string;
  signal?: AbortSignal | undefined;
  /** Try once, no retry (used when probing whether a host speaks HTTPS). */
  noRetry?: boolean;
}

const MAX_REDIRECTS = 10;

/** URL without query or fragment: safe to show. */
export function displayUrl(url: URL | string): string {
  const parsed = typeof url === 'string' ? new URL(url) : url;
  return `${parsed.origin}${parsed.pathname}`;
}

export class Transport {
  readonly options: TransportOptions;

  constructor(options: Partial<TransportOptions> = {}) {
    this.options = {
      userAgent: options.userAgent ?? 'minibox/0.1',
      retry: options.retry ?? DEFAULT_RETRY,
      onDebug: options.onDebug,
    };
  }

  debug(line: string): void {
    this.options.onDebug?.(line);
  }

  async send(url: string, init: SendInit = {}): Promise<Response> {
    const policy = init.noRetry ? { ...this.options.retry, attempts: 1 } : this.options.retry;
    return await withRetry(policy, () => this.followRedirects(url, init),
      (why, delayMs) => this.debug(`retrying ${init.method ?? 'GET'} ${displayUrl(url)} in ${Math.round(delayMs)} ms: ${why}`),
      init.signal);
  }

  private async followRedirects(startUrl: string, init: SendInit): Promise<Response> {
    const method = init.method ?? 'GET';
    let url = new URL(startUrl);
    const headers: Record<string, string> = { 'User-Agent': this.options.userAgent };
    for (const [key, value] of Object.entries(init.headers ?? {})) if (value !== undefined) headers[key] = value;
    for (let hop = 0; ; hop++) {
      let response: Response;
      try {
        response = await fetch(url, { method, headers, body: init.body, redirect: 'manual', signal: init.signal });
      } catch (error) {
        this.debug(`${method} ${displayUrl(url)} → ${(error as Error).message}`);
        throw error;
      }
      this.debug(`${method} ${displayUrl(url)} → ${response.status}`);
      const location = response.headers.get('location');
      if (![301, 302, 303, 307, 308].includes(response.status) || !location) return response;
      if (hop >= MAX_REDIRECTS) throw new Error(`too many redirects from ${displayUrl(startUrl)}`);
      await response.body?.cancel();
      const next = new URL(location, url);
      if (next.host !== url.host || next.protocol !== url.protocol) {
        // Another server: our credentials are for the registry, not for it.
        delete headers.Authorization;
      }
      url = next;
    }
  }
}
