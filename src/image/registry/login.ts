/**
 * login.ts — `docker login`: check a username and password against a registry, then remember them.
 *
 * Docker verifies before it stores: it pings /v2/ to learn the auth scheme, then either sends
 * Basic credentials to /v2/ or asks the token server for a token with them (no scope: "may this
 * account log in at all?"). Only a success is written to config.json (credential-store.ts).
 * Logout just deletes the entry — tokens already issued simply expire.
 *
 * Try: `echo pw | DOCKER_CONFIG=$PWD minibox login -u u --password-stdin $REGISTRY` → `Login
 * Succeeded`
 */
import { MiniboxError } from '../../errors.js';
import { DOCKER_HUB_DOMAIN, DOCKER_HUB_REGISTRY_HOST } from '../reference.js';
import { basicAuthorization } from './basic.js';
import { fetchBearerToken } from './bearer.js';
import { RegistryClient, type RegistryClientOptions } from './client.js';
import { defaultDockerConfigPath, normalizeRegistryHost, removeCredentials, storeCredentials, type Credentials } from './credential-store.js';

/** The host to contact for a login server name ('docker.io' → registry-1.docker.io). */
function apiHost(server: string): string {
  const normalized = normalizeRegistryHost(server);
  return normalized === DOCKER_HUB_DOMAIN ? DOCKER_HUB_REGISTRY_HOST : normalized;
}

/** Verifies credentials against the registry and stores them in the Docker config file. Returns the normalised host. */
export async function login(server: string, username: string, password: string, options: RegistryClientOptions = {}): Promise<string> {
  const host = await verifyCredentials(server, username, password, options);
  storeCredentials(host, { username, password }, options.dockerConfigPath ?? defaultDockerConfigPath());
  return host;
}

/**
 * Only the check, storing nothing: what a daemon does for `docker login` (`POST /auth`) — the
 * client keeps the credentials, in its own config file. Returns the normalised host.
 */
export async function verifyCredentials(server: string, username: string, password: string, options: RegistryClientOptions = {}): Promise<string> {
  const host = normalizeRegistryHost(server);
  if (username === '') throw new MiniboxError('login needs a username (-u USER)');
  if (password === '') throw new MiniboxError('login needs a password (--password-stdin or -p)');
  const credentials: Credentials = { username, password };
  const client = new RegistryClient(options);
  const endpoint = await client.endpoint(apiHost(host));
  const challenge = endpoint.challenge;
  if (challenge?.scheme === 'bearer') {
    await fetchBearerToken(client.transport, { challenge, credentials, registry: host });
  } else if (challenge?.scheme === 'basic') {
    const response = await client.transport.send(`${endpoint.baseUrl}/v2/`, { headers: { Authorization: basicAuthorization(credentials) } });
    await response.body?.cancel();
    if (response.status === 401) throw new MiniboxError(`login to ${host} failed: the registry rejected the username or password for "${username}"`);
    if (!response.ok) throw new MiniboxError(`login to ${host} failed: the registry answered HTTP ${response.status}`);
  } else if (challenge) {
    throw new MiniboxError(`registry ${host} asks for "${challenge.scheme}" authentication, which minibox does not support`);
  }
  return host;
}

/** Removes stored credentials; returns whether there were any. */
export function logout(server: string, options: Pick<RegistryClientOptions, 'dockerConfigPath'> = {}): boolean {
  return removeCredentials(server, options.dockerConfigPath ?? defaultDockerConfigPath());
}
