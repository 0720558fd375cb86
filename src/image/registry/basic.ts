/**
 * basic.ts — HTTP Basic authentication (RFC 7617), what htpasswd-protected registries use.
 *
 * The client sends `Authorization: Basic base64(user:password)` with every request. It is only an
 * encoding, so it is safe only over HTTPS (or loopback); the registry checks it against its
 * bcrypt htpasswd file.
 *
 * Try: `htpasswd -Bbn user pass` → `user:$2y$` (a bcrypt htpasswd entry, as the test registry
 * uses).
 */
import type { Credentials } from './credential-store.js';

export function basicAuthorization(credentials: Credentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
}
