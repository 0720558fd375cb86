/**
 * reference.ts — what an image name like `alpine` really means.
 *
 * Docker lets you type short names and fills in the rest (distribution/reference, the Go package
 * every Docker tool uses):
 *   alpine                      → docker.io/library/alpine:latest
 *   user/app:v1                 → docker.io/user/app:v1
 *   127.0.0.1:5000/team/app     → 127.0.0.1:5000/team/app:latest
 *   ghcr.io/o/x@sha256:…        → pinned by digest: the bytes can never change under you
 * The first path component is a registry *domain* only if it looks like a host: it contains a `.`
 * or a `:` (a port), or it is `localhost`. Otherwise the image lives on Docker Hub, and one-word
 * names live in the `library/` namespace of "official images".
 *
 * Grammar (distribution/reference/regexp.go): repository path components are lowercase
 * alphanumerics joined by `.`, `_`, `__` or dashes; a tag is `[\w][\w.-]{0,127}`; a digest is
 * `algorithm:hex`.
 *
 * Try: `minibox pull Alpine` → `invalid reference format: "Alpine": repository name must be
 * lowercase`
 */
import { UsageError } from '../errors.js';

export interface ImageReference {
  /** Registry as written or defaulted: 'docker.io', '127.0.0.1:5000', 'ghcr.io'. */
  domain: string;
  /** Path inside the registry: 'library/alpine', 'team/app'. */
  repository: string;
  /** 'latest' when neither tag nor digest was given; kept when both were. */
  tag?: string;
  /** 'sha256:<64 hex>'. */
  digest?: string;
  /** domain/repository: 'docker.io/library/alpine'. */
  name: string;
  /** Fully spelled out: 'docker.io/library/alpine:latest', '…@sha256:…', 'name:tag@sha256:…'. */
  canonical: string;
  /** How Docker prints it: 'alpine:latest', 'user/app:v1', '127.0.0.1:5000/x:1'. */
  familiar: string;
  /** The host to contact: 'registry-1.docker.io' for docker.io, else the domain. */
  registryHost: string;
}

export const DOCKER_HUB_DOMAIN = 'docker.io';
/** Docker Hub's API does not answer on docker.io itself. */
export const DOCKER_HUB_REGISTRY_HOST = 'registry-1.docker.io';
const LEGACY_HUB_DOMAIN = 'index.docker.io';
const OFFICIAL_NAMESPACE = 'library/';

const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const domainPattern = new RegExp(`^(?:${domainComponent}(?:\\.${domainComponent})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`);
const pathComponent = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*';
const repositoryPattern = new RegExp(`^${pathComponent}(?:/${pathComponent})*$`);
const tagPattern = /^[\w][\w.-]{0,127}$/;
const digestShape = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-zA-Z=_-]+$/;
const sha256Digest = /^sha256:[0-9a-f]{64}$/;
const MAX_NAME_LENGTH = 255;

function invalid(input: string, why: string): UsageError {
  return new UsageError(`invalid reference format: "${input}": ${why}`);
}

/** Checks a digest string; only sha256 is accepted (what every registry and the OCI spec use). */
export function validateDigest(digest: string, input = digest): string {
  if (!digestShape.test(digest)) throw invalid(input, 'digest must look like sha256:<64 hex characters>');
  if (!digest.startsWith('sha256:')) {
    throw invalid(input, `unsupported digest algorithm "${digest.split(':')[0]}" (only sha256 is supported)`);
  }
  if (!sha256Digest.test(digest)) throw invalid(input, 'a sha256 digest is 64 lowercase hexadecimal characters');
  return digest;
}

/** Splits a leading registry domain off, the way Docker decides what is a host. */
function splitDomain(name: string): { domain: string; remainder: string } {
  const slash = name.indexOf('/');
  const first = slash === -1 ? '' : name.slice(0, slash);
  const looksLikeHost = slash !== -1 && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!looksLikeHost) return { domain: DOCKER_HUB_DOMAIN, remainder: name };
  return { domain: first, remainder: name.slice(slash + 1) };
}

export function parseReference(input: string): ImageReference {
  if (input === '') throw invalid(input, 'the image name is empty');
  if (/^[0-9a-f]{64}$/.test(input)) {
    throw invalid(input, 'a 64-character hexadecimal string is an image ID, not a name (use NAME@sha256:ID to pin a digest)');
  }
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = validateDigest(rest.slice(at + 1), input);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!tagPattern.test(tag)) {
      throw invalid(input, 'a tag is up to 128 letters, digits, "_", "." or "-", not starting with "." or "-"');
    }
  }
  let { domain, remainder } = splitDomain(rest);
  if (!domainPattern.test(domain)) throw invalid(input, `"${domain}" is not a valid registry host`);
  if (domain === LEGACY_HUB_DOMAIN) domain = DOCKER_HUB_DOMAIN;
  if (remainder === '') throw invalid(input, 'the repository name is empty');
  if (remainder !== remainder.toLowerCase()) throw invalid(input, 'repository name must be lowercase');
  if (!repositoryPattern.test(remainder)) {
    throw invalid(input, 'repository path components are lowercase letters and digits separated by ".", "_", "__" or "-", joined by "/"');
  }
  const repository = domain === DOCKER_HUB_DOMAIN && !remainder.includes('/') ? OFFICIAL_NAMESPACE + remainder : remainder;
  const name = `${domain}/${repository}`;
  if (name.length > MAX_NAME_LENGTH) throw invalid(input, `repository name is longer than ${MAX_NAME_LENGTH} characters`);
  if (tag === undefined && digest === undefined) tag = 'latest';
  return buildReference(domain, repository, tag, digest);
}

/** Assembles the derived fields; use it to make a reference to another tag/digest of a repository. */
export function buildReference(domain: string, repository: string, tag?: string, digest?: string): ImageReference {
  const name = `${domain}/${repository}`;
  const suffix = (tag !== undefined ? `:${tag}` : '') + (digest !== undefined ? `@${digest}` : '');
  const reference: ImageReference = {
    domain, repository, name,
    canonical: name + suffix,
    familiar: '',
    registryHost: domain === DOCKER_HUB_DOMAIN ? DOCKER_HUB_REGISTRY_HOST : domain,
  };
  if (tag !== undefined) reference.tag = tag;
  if (digest !== undefined) reference.digest = digest;
  reference.familiar = familiarName(reference) + suffix;
  return reference;
}

/** The short name Docker shows: 'alpine', 'user/app', '127.0.0.1:5000/team/app' (no tag/digest). */
export function familiarName(reference: Pick<ImageReference, 'domain' | 'repository'>): string {
  if (reference.domain !== DOCKER_HUB_DOMAIN) return `${reference.domain}/${reference.repository}`;
  const official = reference.repository.startsWith(OFFICIAL_NAMESPACE)
    && !reference.repository.slice(OFFICIAL_NAMESPACE.length).includes('/');
  return official ? reference.repository.slice(OFFICIAL_NAMESPACE.length) : reference.repository;
}
