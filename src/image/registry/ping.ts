/**
 * ping.ts — `GET /v2/`: does this host speak the registry API, over which scheme, and how does it
 * want us to authenticate?
 *
 * The distribution spec's base endpoint answers 200 (no auth needed) or 401 with a
 * `WWW-Authenticate` challenge (challenge.ts). Like Docker, minibox uses plain HTTP only for
 * loopback registries (localhost, 127.0.0.0/8, ::1); any other host must speak HTTPS unless the
 * user lists it with `--insecure-registry`, in which case HTTPS is tried first and HTTP is the
 * fallback.
 *
 * Try: `curl -si http://$REGISTRY/v2/ | head -1` → `HTTP/1.1 200 OK` (a local registry without
 * authentication).
 *
 * Docker Hub may be mirrored ("registry-mirrors" in /etc/minibox/config.json, as in Docker's
 * daemon.json): each mirror is pinged first, at the scheme its URL names, and the first that
 * answers serves the pull under the image's usual name (`alpine` → mirror/v2/library/alpine/…).
 */
import net from 'node:net';
import { MiniboxError } from '../../errors.js';
import { DOCKER_HUB_REGISTRY_HOST } from '../reference.js';
import { parseChallenge, type AuthChallenge } from './challenge.js';
import { isConnectionError } from './retry.js';
import type { Transport } from './transport.js';

export interface RegistryEndpoint {
  /** 'https://ghcr.io' or 'http://127.0.0.1:5000' — no trailing slash. */
  baseUrl: string;
  /** How the registry asked to be authenticated; undefined when /v2/ answered 200. */
  challenge?: AuthChallenge;
  /** A mirror standing in for Docker Hub: it never gets the user's Docker Hub credentials. */
  mirror?: boolean;
}

/** The network failure in words: what the kernel/resolver said, and what it usually means. */
export function describeConnectionFailure(host: string, code: string | undefined, fallback: string): string {
  const name = hostnameOf(host);
  switch (code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve the name ${name} (no DNS answer: is this machine offline, or without a DNS server?)`;
    case 'ECONNREFUSED':
      return `nothing listens at ${host} (connection refused): is the registry running?`;
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return `${host} did not answer in time (is a firewall in the way, or this machine offline?)`;
    case 'ENETUNREACH':
    case 'EHOSTUNREACH':
      return `no route to ${host} (is this machine offline?)`;
    case 'ERR_SSL_WRONG_VERSION_NUMBER': // OpenSSL read an HTTP answer where a TLS record belongs
    case 'ERR_SSL_PACKET_LENGTH_TOO_LONG':
      return `${host} answered plain HTTP, not HTTPS: minibox uses plain HTTP only for registries on this machine `
        + `(localhost, 127.0.0.0/8) and those you trust by name, as Docker does — --insecure-registry ${host} `
        + '(or "insecure-registries" in /etc/minibox/config.json)';
    default:
      return `cannot reach registry ${host}: ${fallback}`;
  }
}

const OFFLINE_HINT = 'without internet, run a local registry and name it in "registry-mirrors" in '
  + '/etc/minibox/config.json (see docs/registry-mirror.md), or pull from it by its address (minibox pull 127.0.0.1:5000/alpine)';

/** Splits 'host:port' / '[::1]:5000' into its host part. */
function hostnameOf(host: string): string {
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']'));
  const colon = host.lastIndexOf(':');
  return colon === -1 || host.indexOf(':') !== colon ? host : host.slice(0, colon);
}

export function isLoopbackHost(host: string): boolean {
  const name = hostnameOf(host).toLowerCase();
  if (name === 'localhost' || name === '::1') return true;
  return net.isIPv4(name) && name.startsWith('127.');
}

/** Pings a mirror at the scheme its URL names (`http://10.0.0.5:5000`). */
export async function pingMirror(transport: Transport, url: string): Promise<RegistryEndpoint> {
  const { protocol, host } = new URL(url);
  return { ...(await pingScheme(transport, protocol === 'http:' ? 'http' : 'https', host, true)), mirror: true };
}

async function pingScheme(transport: Transport, scheme: 'http' | 'https', host: string, probeOnly: boolean): Promise<RegistryEndpoint> {
  const baseUrl = `${scheme}://${host}`;
  const response = await transport.send(`${baseUrl}/v2/`, { noRetry: probeOnly });
  await response.body?.cancel();
  if (response.status === 200) return { baseUrl };
  if (response.status === 401) {
    const challenge = parseChallenge(response.headers.get('www-authenticate'));
    return challenge ? { baseUrl, challenge } : { baseUrl };
  }
  if (response.status === 404) {
    throw new MiniboxError(`${host} does not speak the registry v2 API (GET ${baseUrl}/v2/ answered 404); check the registry host`);
  }
  throw new MiniboxError(`registry ${host} is not healthy: GET ${baseUrl}/v2/ answered HTTP ${response.status}; try again later`);
}

export async function pingRegistry(transport: Transport, host: string, insecureRegistries: string[]): Promise<RegistryEndpoint> {
  try {
    if (isLoopbackHost(host)) return await pingScheme(transport, 'http', host, false);
    if (!insecureRegistries.includes(host)) return await pingScheme(transport, 'https', host, false);
    try {
      return await pingScheme(transport, 'https', host, true);
    } catch (error) {
      if (error instanceof MiniboxError) throw error;
      transport.debug(`${host}: HTTPS failed (${(error as Error).message}); insecure registry, trying plain HTTP`);
      return await pingScheme(transport, 'http', host, false);
    }
  } catch (error) {
    if (error instanceof MiniboxError) throw error;
    const detail = (error as { cause?: { code?: string; message?: string; cause?: { code?: string } } }).cause;
    const code = detail?.code ?? detail?.cause?.code;
    const why = describeConnectionFailure(host, code, detail?.message ?? (error as Error).message);
    const generic = why.startsWith('cannot reach registry') ? (isConnectionError(error) ? 'is it running and reachable?' : 'check the host name') : undefined;
    const hint = host === DOCKER_HUB_REGISTRY_HOST ? OFFLINE_HINT : generic;
    throw new MiniboxError(hint ? `${why}; ${hint}` : why, undefined, { cause: error });
  }
}
