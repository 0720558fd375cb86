/**
 * registry/ — talking to an OCI distribution registry (Docker Hub, ghcr.io, a local registry:2).
 *
 * Reading order: challenge.ts (WWW-Authenticate) → ping.ts (/v2/, scheme) → basic.ts, bearer.ts
 * (the two auth schemes) → credential-store.ts (~/.docker/config.json) → retry.ts, transport.ts (HTTP
 * hygiene) → client.ts (authorised requests, manifests) → manifest-format.ts → resolve.ts
 * (index → platform manifest) → digest.ts, blob.ts (verified, resumable downloads) → login.ts.
 *
 * Try: `curl -s http://$REGISTRY/v2/busybox/tags/list` → `{"name":"busybox","tags":["latest"]}`
 */
export { RegistryClient, type RegistryClientOptions } from './client.js';
export { resolveManifest, type ResolvedManifest } from './resolve.js';
export { downloadBlob, type DownloadOptions } from './blob.js';
export { DigestMismatchError, sha256Digest } from '../digest.js';
export { login, logout } from './login.js';
export { findCredentials, defaultDockerConfigPath, normalizeRegistryHost, type Credentials } from './credential-store.js';
export { MANIFEST_ACCEPT, isIndexMediaType, isImageManifestMediaType } from './manifest-format.js';
export { isLoopbackHost } from './ping.js';
