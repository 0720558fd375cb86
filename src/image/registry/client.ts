/**
 * client.ts — a registry client speaking the OCI distribution spec's pull side.
 *
 * Every pull is a handful of HTTP requests under https://HOST/v2/NAME/:
 *   GET manifests/<tag or digest>   (with an Accept header listing the manifest formats we read)
 *   GET blobs/<digest>              (the config and each layer)
 * This class adds what real registries need around them: the scheme and auth challenge found by
 * pinging /v2/ (ping.ts), credentials from ~/.docker/config.json (credential-store.ts), Basic or Bearer
 * authorization (basic.ts, bearer.ts) with one retry after a fresh 401 challenge, and content
 * verification of manifests (digest.ts). Spec: opencontainers/distribution-spec, spec.md "Pull".
 *
 * Try: `curl -s http://$REGISTRY/v2/nosuch/manifests/latest` → `MANIFEST_UNKNOWN` (the error body
 * every registry speaks; the client turns it into one line).
 */
import { MiniboxError, NotFoundError } from '../../errors.js';
import { DOCKER_HUB_REGISTRY_HOST, validateDigest, type ImageReference } from '../reference.js';
import { basicAuthorization } from './basic.js';
import { fetchBearerToken } from './bearer.js';
import { parseChallenge } from './challenge.js';
import { findCredentials, defaultDockerConfigPath, type Credentials } from './credential-store.js';
import { DigestMismatchError, sha256Digest } from '../digest.js';
import { identifyManifest, MANIFEST_ACCEPT } from './manifest-format.js';
import { pingMirror, pingRegistry, type RegistryEndpoint } from './ping.js';
import { DEFAULT_RETRY } from './retry.js';
import { Transport, type SendInit } from './transport.js';

export interface RegistryClientOptions {
  insecureRegistries?: string[];
  /** Docker Hub mirrors, tried in order before Docker Hub (config.ts "registry-mirrors"). */
  registryMirrors?: string[];
  dockerConfigPath?: string;
  /** Credentials given with the request (the API's X-Registry-Auth), used instead of config.json's. */
  credentials?: Credentials;
  userAgent?: string;
  onDebug?: (line: string) => void;
  retry?: { attempts: number; baseDelayMs: number };
}

/** Manifests are small JSON documents; refuse absurd ones rather than buffer them (containerd: 4 MiB). */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** What a request needs the token to allow, and (for uploads) the exact URL the registry named. */
export interface RequestAccess {
  /** `pull` (default) or `pull,push`. */
  actions?: 'pull' | 'pull,push';
  url?: string;
  /** A cross-repository mount's source: the token must also allow pulling from it. */
  mountFrom?: string;
}

export class RegistryClient {
  readonly transport: Transport;
  private readonly insecureRegistries: string[];
  private readonly registryMirrors: string[];
  private readonly dockerConfigPath: string;
  private readonly givenCredentials: Credentials | undefined;
  private readonly endpoints = new Map<string, Promise<RegistryEndpoint>>();
  private readonly tokens = new Map<string, string>();

  constructor(options: RegistryClientOptions = {}) {
    this.transport = new Transport({
      userAgent: options.userAgent ?? 'minibox/0.1',
      retry: options.retry ?? DEFAULT_RETRY,
      onDebug: options.onDebug,
    });
    this.insecureRegistries = options.insecureRegistries ?? [];
    this.registryMirrors = options.registryMirrors ?? [];
    this.dockerConfigPath = options.dockerConfigPath ?? defaultDockerConfigPath();
    this.givenCredentials = options.credentials;
  }

  /** Pings a host once per client and remembers its scheme and challenge. */
  endpoint(host: string): Promise<RegistryEndpoint> {
    let endpoint = this.endpoints.get(host);
    if (!endpoint) {
      endpoint = host === DOCKER_HUB_REGISTRY_HOST && this.registryMirrors.length > 0
        ? this.mirrorOrHub()
        : pingRegistry(this.transport, host, this.insecureRegistries);
      this.endpoints.set(host, endpoint);
      endpoint.catch(() => this.endpoints.delete(host));
    }
    return endpoint;
  }

  /** The first mirror that answers /v2/, else Docker Hub itself (as Docker's daemon does). */
  private async mirrorOrHub(): Promise<RegistryEndpoint> {
    for (const mirror of this.registryMirrors) {
      try {
        return await pingMirror(this.transport, mirror);
      } catch (error) {
        this.transport.debug(`mirror ${mirror} did not answer (${(error as Error).message}); trying the next`);
      }
    }
    return await pingRegistry(this.transport, DOCKER_HUB_REGISTRY_HOST, this.insecureRegistries);
  }

  credentialsFor(ref: Pick<ImageReference, 'domain'>): Credentials | undefined {
    return this.givenCredentials ?? findCredentials(ref.domain, this.dockerConfigPath);
  }

  private async authorization(ref: ImageReference, endpoint: RegistryEndpoint, scope: string, fresh: boolean): Promise<string | undefined> {
    const challenge = endpoint.challenge;
    if (!challenge) return undefined;
    const credentials = endpoint.mirror ? undefined : this.credentialsFor(ref);
    if (challenge.scheme === 'basic') return credentials ? basicAuthorization(credentials) : undefined;
    if (challenge.scheme !== 'bearer') {
      throw new MiniboxError(`registry ${ref.domain} asks for "${challenge.scheme}" authentication, which minibox does not support (only Basic and Bearer)`);
    }
    const key = `${ref.registryHost} ${scope}`;
    const cached = this.tokens.get(key);
    if (cached && !fresh) return `Bearer ${cached}`;
    const token = await fetchBearerToken(this.transport, { challenge, scope, credentials, registry: ref.domain });
    this.tokens.set(key, token);
    return `Bearer ${token}`;
  }

  /**
   * Sends a request to `/v2/<repository><path>` (path like '/manifests/latest'), authorised for
   * pulling the repository. A 401 with a new challenge is answered once with fresh credentials;
   * a 401 after that becomes an error telling the user to log in.
   */
  async request(ref: ImageReference, path: string, init: SendInit = {}, access: RequestAccess = {}): Promise<Response> {
    const endpoint = await this.endpoint(ref.registryHost);
    // An upload's next URL comes from the registry's Location header (relative or absolute).
    const url = access.url !== undefined ? new URL(access.url, `${endpoint.baseUrl}/`).toString() : `${endpoint.baseUrl}/v2/${ref.repository}${path}`;
    const scope = `repository:${ref.repository}:${access.actions ?? 'pull'}`
      + (access.mountFrom ? ` repository:${access.mountFrom}:pull` : '');
    const send = async (authorization: string | undefined): Promise<Response> =>
      await this.transport.send(url, { ...init, headers: { ...init.headers, Authorization: authorization } });
    let response = await send(await this.authorization(ref, endpoint, scope, false));
    if (response.status === 401) {
      await response.body?.cancel();
      const challenge = parseChallenge(response.headers.get('www-authenticate'));
      if (challenge) endpoint.challenge = challenge;
      const retryScope = challenge?.params.scope ?? scope;
      const authorization = await this.authorization(ref, endpoint, retryScope, true);
      if (authorization !== undefined) response = await send(authorization);
      if (response.status === 401) {
        await response.body?.cancel();
        throw this.unauthorizedError(ref, access.actions === 'pull,push' ? 'push to' : 'pull');
      }
    }
    if (response.status === 403) {
      const why = await registryErrorMessage(response);
      throw new MiniboxError(`access to ${ref.name} on ${ref.domain} is denied${why ? ` (${why})` : ''}; check the name and your permissions`);
    }
    return response;
  }

  private unauthorizedError(ref: ImageReference, verb: 'pull' | 'push to'): MiniboxError {
    const credentials = this.credentialsFor(ref);
    return credentials
      ? new MiniboxError(`registry ${ref.domain} rejected the stored credentials for "${credentials.username}" (${verb === 'pull' ? 'pulling' : 'pushing to'} ${ref.repository}); run \`minibox login ${ref.domain}\` again`)
      : new MiniboxError(`authentication required to ${verb} ${ref.repository} ${verb === 'pull' ? 'from' : 'on'} ${ref.domain}: run \`minibox login ${ref.domain}\` first`);
  }

  /** Fetch and verify a manifest or index by tag or digest. */
  async fetchManifest(ref: ImageReference, tagOrDigest: string): Promise<{ bytes: Buffer; mediaType: string; digest: string }> {
    const byDigest = tagOrDigest.includes(':');
    if (byDigest) validateDigest(tagOrDigest);
    const response = await this.request(ref, `/manifests/${tagOrDigest}`, { headers: { Accept: MANIFEST_ACCEPT } });
    const what = `${ref.name}${byDigest ? '@' : ':'}${tagOrDigest}`;
    if (response.status === 404) {
      const why = await registryErrorMessage(response);
      throw new NotFoundError(`manifest for ${what} not found${why ? ` (${why})` : ''}: check the name and tag`);
    }
    if (!response.ok) {
      const why = await registryErrorMessage(response);
      throw new MiniboxError(`fetching manifest ${what} failed: HTTP ${response.status}${why ? ` (${why})` : ''}`);
    }
    const length = Number(response.headers.get('content-length') ?? '0');
    if (length > MAX_MANIFEST_BYTES) {
      await response.body?.cancel();
      throw new MiniboxError(`manifest ${what} is ${length} bytes, more than the ${MAX_MANIFEST_BYTES} a manifest may have`);
    }
    const bytes = Buffer.from(await response.arrayBuffer());
    if (bytes.length > MAX_MANIFEST_BYTES) throw new MiniboxError(`manifest ${what} is larger than ${MAX_MANIFEST_BYTES} bytes`);
    const digest = sha256Digest(bytes);
    // A manifest fetched by digest must hash to it; one fetched by tag must hash to what the
    // registry says it is. Either way we trust our own hash, not the header.
    if (byDigest && digest !== tagOrDigest) throw new DigestMismatchError(`manifest ${what}`, tagOrDigest, digest);
    const announced = response.headers.get('docker-content-digest');
    if (!byDigest && announced?.startsWith('sha256:') && announced !== digest) {
      throw new DigestMismatchError(`manifest ${what}`, announced, digest);
    }
    const mediaType = identifyManifest(bytes, response.headers.get('content-type'), what);
    return { bytes, mediaType, digest };
  }
}

/** The first message of a distribution-spec error body ({"errors":[{"code","message"}]}), if any. */
export async function registryErrorMessage(response: Response): Promise<string | undefined> {
  try {
    const body = await response.json() as { errors?: { code?: string; message?: string }[] };
    const first = body.errors?.[0];
    return first ? (first.message ?? first.code) : undefined;
  } catch {
    return undefined;
  }
}
