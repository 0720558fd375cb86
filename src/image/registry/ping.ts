/**
 * ping.ts — `GET /v2/`: does this host speak the registry API, over which scheme, and how does it
 * want us to authenticate?
 *
 * The distribution spec's base endpoint answers 200 (no auth needed) or 401 with a
 * `WWW-Authenticate` challenge (challenge.ts). Like Docker, minibox uses plain HTTP only for
 * loopback registries (localhost, 127.0.0.0/8, ::1); any other host must speak HTTPS unless the
 * user lists it with `--insecure-registry`, in which case HTTPS is tried first and HTTP is the
 * fallback. Try: `curl -i http://127.0.0.1:5000/v2/` against a local registry.
 */
import net from 'node:net';
import { MiniboxError } from '../../errors.js';
import { parseChallenge, type AuthChallenge } from './challenge.js';
import { isConnectionError } from './retry.js';
import type { Transport } from './transport.js';

export interface RegistryEndpoint {
  /** 'https://ghcr.io' or 'http://127.0.0.1:5000' — no trailing slash. */
  baseUrl: string;
  /** How the registry asked to be authenticated; undefined when /v2/ answered 200. */
  challenge?: AuthChallenge;
}

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
    const detail = (error as { cause?: { code?: string; message?: string } }).cause;
    const why = detail?.code ?? detail?.message ?? (error as Error).message;
    const hint = isConnectionError(error) ? 'is it running and reachable?' : 'check the host name';
    throw new MiniboxError(`cannot reach registry ${host}: ${why}; ${hint}`, undefined, { cause: error });
  }
}
