/**
 * id-mappings.ts — config.json's `linux.uidMappings` / `gidMappings`, checked against the kernel's
 * rules before anything is created, and written as the kernel reads them.
 *
 * A user namespace translates ids through a map of up to 340 ranges, each "containerID hostID
 * size": ids containerID…containerID+size-1 inside are hostID… outside. /proc/PID/uid_map shows
 * it in exactly that form (three columns). The kernel refuses a map whose ranges overlap — inside
 * *or* outside: one id cannot mean two things — and a range of size 0, and it can be written only
 * once (EINVAL or EPERM, with no word on which line was wrong). So the checks here name the
 * range at fault. An id the map does not cover shows as 65534 ("nobody") inside, and no process
 * inside can become it: so the container's root (minibox-launch becomes uid 0 in the namespace)
 * and process.user's uid, gid and additionalGids must all be mapped.
 *
 * Try: `cp -a $BUNDLE b && jq '.linux.namespaces+=[{"type":"user"}] |
 * .linux.uidMappings=[{"containerID":0,"hostID":100000,"size":1000},{"containerID":500,"hostID":200000,"size":10}]
 * | .linux.gidMappings=[{"containerID":0,"hostID":100000,"size":1000}]' $BUNDLE/config.json >
 * b/config.json && minibox-runc create --bundle b c1` → `overlap on the container side`
 */
import fs from 'node:fs';
import type { RuntimeSpec, SpecIdMapping } from '../bundle/oci-bundle.js';

/** The kernel's limit on lines in uid_map/gid_map (Linux ≥ 4.15). */
const MAX_RANGES = 340;
/** Ids are 32-bit; (uid_t)-1 means "no change" to setresuid and is never a valid id. */
const ID_LIMIT = 2 ** 32 - 1;

export type IdKind = 'uid' | 'gid';

/** uid_map/gid_map text: one "inside outside count" line per range. */
export function formatIdMap(mappings: SpecIdMapping[]): string {
  return mappings.map((range) => `${range.containerID} ${range.hostID} ${range.size}\n`).join('');
}

/** The host id of a container id, or undefined when the map does not cover it. */
export function hostIdOf(mappings: SpecIdMapping[], containerId: number): number | undefined {
  const range = mappings.find((one) => containerId >= one.containerID && containerId < one.containerID + one.size);
  return range ? range.hostID + (containerId - range.containerID) : undefined;
}

/** True inside a user namespace other than the host's: its uid_map is not the whole 32-bit range. */
export function inUserNamespace(): boolean {
  return fs.readFileSync('/proc/self/uid_map', 'utf8').trim().split(/\s+/).join(' ') !== '0 0 4294967295';
}

/** The user namespace entry of linux.namespaces, if any (new, or joined by `path`). */
export function userNamespaceOf(spec: RuntimeSpec): { path?: string } | undefined {
  return spec.linux?.namespaces?.find((ns) => ns.type === 'user');
}

/** The first problem with config.json's user namespace and its maps, as one line; undefined if none. */
export function idMappingProblem(spec: RuntimeSpec): string | undefined {
  const userns = userNamespaceOf(spec);
  const uidMappings = spec.linux?.uidMappings ?? [];
  const gidMappings = spec.linux?.gidMappings ?? [];
  if (!userns) {
    const given = uidMappings.length > 0 ? 'uidMappings' : gidMappings.length > 0 ? 'gidMappings' : undefined;
    return given && `config.json linux.${given} is set, but user namespaces aren't enabled in the config: `
      + 'add {"type": "user"} to linux.namespaces, or remove the mappings';
  }
  if (userns.path) return undefined; // a joined namespace has its map already (user-namespace.ts compares)
  for (const [kind, mappings] of [['uid', uidMappings], ['gid', gidMappings]] as const) {
    if (mappings.length === 0) {
      return `config.json asks for a user namespace, but no ${kind} mappings found: add linux.${kind}Mappings `
        + `(e.g. [{"containerID": 0, "hostID": 100000, "size": 65536}])`;
    }
    const problem = rangeProblem(kind, mappings) ?? unmappedProblem(kind, mappings, spec);
    if (problem) return problem;
  }
  return undefined;
}

function describe(range: SpecIdMapping): string {
  return `{containerID ${range.containerID}, hostID ${range.hostID}, size ${range.size}}`;
}

/** The kernel's rules for one map: whole numbers, size ≥ 1, within 32 bits, no overlap, ≤ 340 ranges. */
function rangeProblem(kind: IdKind, mappings: SpecIdMapping[]): string | undefined {
  const field = `config.json linux.${kind}Mappings`;
  if (mappings.length > MAX_RANGES) return `${field} has ${mappings.length} ranges: the kernel takes at most ${MAX_RANGES}`;
  for (const range of mappings) {
    const numbers = [range.containerID, range.hostID, range.size];
    if (!numbers.every((n) => Number.isInteger(n) && n >= 0)) return `${field}: ${JSON.stringify(range)} needs whole numbers containerID, hostID and size`;
    if (range.size < 1) return `${field}: ${describe(range)} maps no ids: size must be at least 1`;
    if (range.containerID + range.size > ID_LIMIT || range.hostID + range.size > ID_LIMIT) {
      return `${field}: ${describe(range)} goes past the largest ${kind} (${ID_LIMIT - 1})`;
    }
  }
  for (const [i, a] of mappings.entries()) {
    for (const b of mappings.slice(i + 1)) {
      const side = overlaps(a.containerID, b.containerID, a, b) ? 'container' : overlaps(a.hostID, b.hostID, a, b) ? 'host' : undefined;
      if (side) return `${field}: ${describe(a)} and ${describe(b)} overlap on the ${side} side: each id may be mapped once`;
    }
  }
  return undefined;
}

function overlaps(startA: number, startB: number, a: SpecIdMapping, b: SpecIdMapping): boolean {
  return startA < startB + b.size && startB < startA + a.size;
}

/** Root must be mapped (the stage becomes it), and so must the ids the program runs as. */
function unmappedProblem(kind: IdKind, mappings: SpecIdMapping[], spec: RuntimeSpec): string | undefined {
  const user = spec.process.user;
  const wanted: [number, string][] = kind === 'uid'
    ? [[0, 'the container\'s root'], [user.uid, 'process.user.uid']]
    : [[0, 'the container\'s root group'], [user.gid, 'process.user.gid'], ...(user.additionalGids ?? []).map((gid): [number, string] => [gid, 'process.user.additionalGids'])];
  for (const [id, who] of wanted) {
    if (hostIdOf(mappings, id) === undefined) {
      return `config.json linux.${kind}Mappings does not map ${kind} ${id} (${who}): add a range that covers it`;
    }
  }
  return undefined;
}
