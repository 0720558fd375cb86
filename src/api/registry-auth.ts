/**
 * registry-auth.ts — whose registry credentials a pull through the API uses: the client's.
 *
 * With dockerd, credentials live on the *client's* side (`docker login` writes the CLI's
 * ~/.docker/config.json). The daemon only checks them (`POST /auth`) and, for each pull, gets
 * them in the `X-Registry-Auth` header: base64url of a JSON AuthConfig
 * (`{"username": …, "password": …, "serveraddress": …}`, or `auth` = base64 "user:pass").
 * A request without the header pulls with whatever the daemon's own user stored.
 *
 * Try: `docker -H unix:///tmp/mb.sock login -u alice --password-stdin 127.0.0.1:5000 <<< secret`
 * → `Login Succeeded`
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describeError } from '../errors.js';
import type { Credentials } from '../image/registry/credential-store.js';
import { verifyCredentials } from '../image/registry/login.js';
import { ApiError } from './api-errors.js';
import { sendJson, type ApiRequest } from './request.js';

interface AuthConfig { username?: string; password?: string; auth?: string; serveraddress?: string }

function credentialsOf(config: AuthConfig): Credentials | undefined {
  if (config.username && config.password) return { username: config.username, password: config.password };
  if (config.auth) {
    const text = Buffer.from(config.auth, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    if (colon > 0) return { username: text.slice(0, colon), password: text.slice(colon + 1) };
  }
  return undefined;
}

/** The credentials in `X-Registry-Auth`, if the client sent any. */
export function requestCredentials(req: IncomingMessage): Credentials | undefined {
  const header = req.headers['x-registry-auth'];
  if (typeof header !== 'string' || header === '') return undefined;
  try {
    return credentialsOf(JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as AuthConfig); // Node's base64 reads base64url too
  } catch {
    throw new ApiError(400, 'invalid X-Registry-Auth header: expected base64url-encoded JSON');
  }
}

/** `POST /auth` (`docker login`): checks the credentials against the registry; stores nothing. */
export async function authRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const config = await api.json<AuthConfig>();
  const credentials = credentialsOf(config);
  if (!credentials) throw new ApiError(400, 'login needs a username and a password');
  try {
    await verifyCredentials(config.serveraddress || 'docker.io', credentials.username, credentials.password, {
      insecureRegistries: api.daemon.insecureRegistries,
    });
  } catch (error) {
    throw new ApiError(401, describeError(error));
  }
  sendJson(res, 200, { Status: 'Login Succeeded', IdentityToken: '' });
}
