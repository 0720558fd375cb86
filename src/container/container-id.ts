/**
 * container-id.ts — how a container is named: a random id, and an optional human name.
 *
 * Docker gives every container 256 random bits written as 64 hex characters, and shows the first
 * 12 (like a short git commit hash). People refer to containers by that prefix or by a *name*:
 * either `--name web` or a generated one like `eager_turing`, built from an adjective and the
 * surname of a scientist. Names are unique per engine; container-store.ts checks and claims a
 * name under one lock so that two `minibox run --name web` started together cannot both win.
 *
 * Try: `minibox run --name web busybox true; minibox run --name web busybox true` → `Conflict. The
 * container name "/web" is already in use`
 */
import { randomBytes, randomInt } from 'node:crypto';
import { UsageError } from '../errors.js';

export const SHORT_ID_LENGTH = 12;

/** 64 random hex characters. */
export function newContainerId(): string {
  return randomBytes(32).toString('hex');
}

/** The 12-character prefix Docker prints. */
export function shortId(id: string): string {
  return id.slice(0, SHORT_ID_LENGTH);
}

// Docker's rule (daemon/names): one alphanumeric, then at least one of alphanumeric, `_`, `.`, `-`.
const namePattern = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Checks a `--name` value; accepts Docker's leading `/` form (`/web`) and returns it without. */
export function validateContainerName(name: string): string {
  const bare = name.startsWith('/') ? name.slice(1) : name;
  if (!namePattern.test(bare)) {
    throw new UsageError(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
  return bare;
}

const adjectives = [
  'admiring', 'amazing', 'bold', 'brave', 'busy', 'clever', 'compassionate', 'dazzling', 'eager',
  'elegant', 'focused', 'gallant', 'gifted', 'happy', 'hopeful', 'jolly', 'keen', 'kind', 'loving',
  'modest', 'nifty', 'optimistic', 'peaceful', 'quirky', 'relaxed', 'serene', 'sharp', 'stoic',
  'tender', 'trusting', 'vibrant', 'wizardly', 'youthful', 'zealous',
];

const surnames = [
  'babbage', 'bardeen', 'bell', 'curie', 'darwin', 'dijkstra', 'einstein', 'euler', 'faraday',
  'feynman', 'galileo', 'goldberg', 'hamilton', 'hopper', 'hypatia', 'johnson', 'kepler', 'knuth',
  'lamport', 'lovelace', 'maxwell', 'meitner', 'newton', 'noether', 'pascal', 'ritchie', 'shannon',
  'thompson', 'turing', 'wozniak', 'yalow',
];

/** A Docker-style `adjective_surname` name; `taken` lets the caller avoid names in use. */
export function generateContainerName(taken: (name: string) => boolean = () => false): string {
  for (let attempt = 0; attempt < 100; attempt++) {
    const name = `${adjectives[randomInt(adjectives.length)]}_${surnames[randomInt(surnames.length)]}`;
    // Like Docker, add a digit once the plain combination keeps colliding.
    const candidate = attempt < 10 ? name : `${name}${randomInt(10)}`;
    if (!taken(candidate)) return candidate;
  }
  return `container_${randomBytes(4).toString('hex')}`;
}
