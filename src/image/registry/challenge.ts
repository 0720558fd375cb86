/**
 * challenge.ts — reading a registry's `WWW-Authenticate` header (RFC 7235).
 *
 * A registry that wants credentials answers 401 with a *challenge* naming an auth scheme:
 *   WWW-Authenticate: Basic realm="Registry Realm"
 *     → send `Authorization: Basic base64(user:pass)` on every request (htpasswd registries).
 *   WWW-Authenticate: Bearer realm="https://auth.docker.io/token",service="registry.docker.io",
 *                            scope="repository:library/alpine:pull"
 *     → ask the token server at `realm` for a short-lived token for that service and scope, then
 *       send `Authorization: Bearer TOKEN` (Docker Hub, ghcr.io, most cloud registries).
 *
 * Try: `curl -si https://registry-1.docker.io/v2/ | grep -i www-authenticate` → `Bearer
 * realm="https://auth.docker.io/token"`
 */

export interface AuthChallenge {
  /** Lowercased scheme: 'bearer', 'basic', or whatever the registry named. */
  scheme: string;
  /** Parameters with lowercased keys: realm, service, scope, error… */
  params: Record<string, string>;
}

/** Parses the first challenge of a WWW-Authenticate header; undefined when there is none. */
export function parseChallenge(header: string | null | undefined): AuthChallenge | undefined {
  if (!header) return undefined;
  const schemeMatch = /^\s*([A-Za-z][A-Za-z0-9._-]*)\s*/.exec(header);
  if (!schemeMatch?.[1]) return undefined;
  const params: Record<string, string> = {};
  // key=value or key="quoted, with \"escapes\"", separated by commas.
  const paramPattern = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?\s*/gy;
  paramPattern.lastIndex = schemeMatch[0].length;
  for (let match = paramPattern.exec(header); match; match = paramPattern.exec(header)) {
    const key = (match[1] ?? '').toLowerCase();
    params[key] = match[2] !== undefined ? match[2].replace(/\\(.)/g, '$1') : (match[3] ?? '');
    if (paramPattern.lastIndex >= header.length) break;
  }
  return { scheme: schemeMatch[1].toLowerCase(), params };
}
