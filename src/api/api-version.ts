/**
 * api-version.ts — version negotiation, as dockerd does it, and the two "who are you?" endpoints.
 *
 * A docker CLI first sends `HEAD /_ping` (or GET). The answer's headers say which API this
 * daemon speaks (`Api-Version: 1.50`), its OS (`Ostype: linux`), whether experimental features
 * are on and which builder it has (`Builder-Version: 1`, the classic one). The client then talks
 * the lower of its own version and the daemon's, and names it in every path: `/v1.41/containers/json`
 * from a 20.10 CLI, `/v1.50/…` from a 28.x. Unversioned paths mean the current version. A version
 * below MIN_API_VERSION or above API_VERSION is refused with 400, in dockerd's words.
 *
 * `GET /version` is what `docker version` prints under "Server:"; `GET /info` what `docker info`
 * prints — both from the same facts `minibox version`/`info` show.
 *
 * Try: `curl -si --unix-socket /run/minibox.sock localhost/_ping | grep Api-Version`
 * → `Api-Version: 1.50`
 */
import os from 'node:os';
import { ApiError } from './api-errors.js';
import { hostPlatform } from '../image/platform.js';

/** The API version CLI 28 speaks (moby 28.x). */
export const API_VERSION = '1.50';
/** The oldest dockerd 28 still accepts. */
export const MIN_API_VERSION = '1.24';
/** What `docker version` shows as the server's version. */
export const ENGINE_VERSION = '0.1.0-minibox';

/** 1.9 < 1.24 < 1.50: compare the numbers, not the text. */
export function compareVersions(a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split('.').map(Number);
  const [bMajor = 0, bMinor = 0] = b.split('.').map(Number);
  return aMajor - bMajor || aMinor - bMinor;
}

/** Splits `/v1.41/containers/json` into the version and `/containers/json`; checks the version. */
export function splitVersion(pathname: string): { version: string; path: string } {
  const match = /^\/v(\d+\.\d+)(\/.*)$/.exec(pathname);
  if (!match) return { version: API_VERSION, path: pathname };
  const version = match[1]!;
  if (compareVersions(version, MIN_API_VERSION) < 0) {
    throw new ApiError(400, `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`);
  }
  if (compareVersions(version, API_VERSION) > 0) {
    throw new ApiError(400, `client version ${version} is too new. Maximum supported API version is ${API_VERSION}`);
  }
  return { version, path: match[2]! };
}

/** The headers dockerd puts on `/_ping` (and, Api-Version and Ostype, on every answer). */
export function pingHeaders(): Record<string, string> {
  return {
    'Api-Version': API_VERSION,
    'Ostype': 'linux',
    'Docker-Experimental': 'false',
    'Builder-Version': '1',
    'Swarm': 'inactive',
    'Cache-Control': 'no-cache, no-store, must-revalidate',
    'Pragma': 'no-cache',
  };
}

/** `GET /version`: the fields `docker version` prints under "Server:". */
export function versionBody(): Record<string, unknown> {
  const details = {
    ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, Os: 'linux', Arch: hostPlatform().architecture,
    KernelVersion: os.release(), GitCommit: 'minibox', GoVersion: `node ${process.version}`,
    BuildTime: '', Experimental: 'false',
  };
  return {
    Platform: { Name: 'minibox (an educational container engine)' },
    Components: [{ Name: 'Engine', Version: ENGINE_VERSION, Details: details }],
    Version: ENGINE_VERSION,
    ...details,
    Experimental: false, // a bool here, a string in Details (moby's types.Version)
  };
}
