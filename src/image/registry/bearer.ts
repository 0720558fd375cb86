/**
 * bearer.ts — the token flow Docker Hub and most registries use (distribution's token spec).
 *
 *   1. GET /v2/…            → 401, WWW-Authenticate: Bearer realm=R,service=S,scope=repository:NAME:pull
 *   2. GET R?service=S&scope=repository:NAME:pull   (anonymous, or with Basic user:password)
 *                           → {"token": "<JWT>"} (older servers: "access_token")
 *   3. GET /v2/… with `Authorization: Bearer <JWT>` → 200
 * The token is a JWT signed by the token server and says which actions on which repositories it
 * grants; the registry checks the signature against a certificate it trusts. Tokens are short-lived
 * and scoped, so we cache one per (registry, scope). A token is a credential: it is never printed.
 *
 * Try: `curl -s
 * 'https://auth.docker.io/token?service=registry.docker.io&scope=repository:library/alpine:pull' |
 * cut -c1-10` → `{"token":"` (decode its middle part with `base64 -d`).
 */
import { MiniboxError } from '../../errors.js';
import { basicAuthorization } from './basic.js';
import type { AuthChallenge } from './challenge.js';
import type { Credentials } from './credential-store.js';
import { isLoopbackHost } from './ping.js';
import type { Transport } from './transport.js';

export interface TokenRequest {
  challenge: AuthChallenge;
  /**
   * e.g. 'repository:library/alpine:pull'; several separated by spaces (a cross-repository mount
   * needs push on the target and pull on the source), each sent as its own `scope=` parameter,
   * as Docker does; omitted for a login check.
   */
  scope?: string;
  credentials?: Credentials | undefined;
  /** For messages: the registry host the user knows ('docker.io', '127.0.0.1:5000'). */
  registry: string;
}

export async function fetchBearerToken(transport: Transport, request: TokenRequest): Promise<string> {
  const realm = request.challenge.params.realm;
  if (!realm) throw new MiniboxError(`registry ${request.registry} asked for a Bearer token without saying where to get one (no realm)`);
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw new MiniboxError(`registry ${request.registry} gave an invalid token realm URL`);
  }
  // The realm is named by the registry and may be any host: a password goes there only over
  // HTTPS, or to a token server on this machine.
  if (request.credentials && url.protocol !== 'https:' && !isLoopbackHost(url.host)) {
    throw new MiniboxError(`the token server ${url.host} named by ${request.registry} uses plain ${url.protocol.replace(':', '').toUpperCase()}; minibox will not send your password to it (the registry must name an https:// token realm)`);
  }
  if (request.challenge.params.service) url.searchParams.set('service', request.challenge.params.service);
  for (const scope of request.scope?.split(' ').filter(Boolean) ?? []) url.searchParams.append('scope', scope);
  if (request.credentials) url.searchParams.set('account', request.credentials.username);
  const headers: Record<string, string> = {};
  if (request.credentials) headers.Authorization = basicAuthorization(request.credentials);
  const response = await transport.send(url.toString(), { headers });
  if (response.status === 401) {
    await response.body?.cancel();
    throw request.credentials
      ? new MiniboxError(`the token server for ${request.registry} rejected the username or password for "${request.credentials.username}"; run \`minibox login ${request.registry}\` again`)
      : new MiniboxError(`authentication required by ${request.registry}: run \`minibox login ${request.registry}\` first`);
  }
  if (response.status === 403) {
    await response.body?.cancel();
    throw new MiniboxError(`the token server for ${request.registry} denied access${request.scope ? ` to ${request.scope}` : ''}; check the repository name and your permissions`);
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new MiniboxError(`the token server for ${request.registry} answered HTTP ${response.status}; try again later`);
  }
  let body: { token?: unknown; access_token?: unknown };
  try {
    body = await response.json() as typeof body;
  } catch {
    throw new MiniboxError(`the token server for ${request.registry} did not answer with JSON`);
  }
  const token = typeof body.token === 'string' && body.token !== '' ? body.token : body.access_token;
  if (typeof token !== 'string' || token === '') {
    throw new MiniboxError(`the token server for ${request.registry} answered without a token`);
  }
  return token;
}
