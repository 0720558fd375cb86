/**
 * spec-support.ts — which parts of config.json minibox-runc honours, checked before `create`
 * touches anything.
 *
 * A runtime that silently skips a field it does not understand runs a container that is not
 * the one asked for: less isolated (a missing seccomp profile), or broken in ways that show up
 * much later. So every field of config.json is either honoured or refused here, with its path
 * (`linux.uidMappings`) and the reason. A property the spec does not define at all is another
 * case: the spec says a runtime MUST NOT fail on it (forward compatibility: a newer engine may
 * add fields), so it is ignored — but never silently: one warning line names it. What is
 * honoured, and where:
 *   process   args env cwd user(uid gid umask additionalGids) terminal consoleSize capabilities
 *             noNewPrivileges rlimits oomScoreAdj (process-limits.ts); an empty apparmorProfile
 *             or selinuxLabel (this kernel runs neither LSM for containers)
 *   root      path readonly           hostname, mounts, annotations, hooks (spec-hooks.ts)
 *   linux     namespaces (new, or joined by `path`; no time) uidMappings gidMappings (checked by
 *             runtime/id-mappings.ts; made by runtime/user-namespace.ts) devices maskedPaths
 *             readonlyPaths sysctl seccomp rootfsPropagation; resources and cgroupsPath on cgroup v2
 *             only (oci-cgroup.ts says which limits, and where the cgroup goes; devices: see below)
 *
 * Try: `cp -a $BUNDLE b && jq '.linux.uidMappings=[{"containerID":0,"hostID":1000,"size":1}]'
 * $BUNDLE/config.json > b/config.json && minibox-runc create --bundle b c1` → `uidMappings`
 * (refused, by name: a map without a user namespace).
 */
import { MiniboxError } from '../errors.js';
import { cgroupMode, describeCgroupMode, type CgroupMode } from '../cgroups/index.js';
import type { RuntimeSpec } from '../bundle/oci-bundle.js';
import { idMappingProblem } from '../runtime/id-mappings.js';
import { unhonouredResource } from './oci-cgroup.js';

const KNOWN: Record<string, readonly string[]> = {
  '': ['ociVersion', 'root', 'process', 'hostname', 'domainname', 'mounts', 'hooks', 'annotations', 'linux'],
  process: ['terminal', 'consoleSize', 'user', 'args', 'commandLine', 'env', 'cwd', 'capabilities', 'rlimits',
    'noNewPrivileges', 'apparmorProfile', 'oomScoreAdj', 'selinuxLabel'],
  'process.user': ['uid', 'gid', 'umask', 'additionalGids', 'username'],
  root: ['path', 'readonly'],
  linux: ['namespaces', 'uidMappings', 'gidMappings', 'devices', 'cgroupsPath', 'resources', 'rootfsPropagation',
    'seccomp', 'sysctl', 'maskedPaths', 'readonlyPaths', 'mountLabel', 'intelRdt', 'personality', 'timeOffsets'],
};

/** Fields that are valid OCI but that minibox cannot honour, and why. */
const REFUSED: Record<string, string> = {
  'process.commandLine': 'it is for Windows; use process.args',
  'process.user.username': 'it is for Windows; use uid and gid',
  domainname: 'minibox does not set the NIS domain name yet',
  'linux.intelRdt': 'Intel RDT (resctrl) is not supported',
  'linux.personality': 'personality(2) is not supported yet',
  'linux.timeOffsets': 'time namespaces are not supported yet',
  'linux.mountLabel': 'SELinux labels are not supported (no SELinux here)',
  'process.selinuxLabel': 'SELinux labels are not supported (no SELinux here)',
  'process.apparmorProfile': 'AppArmor profiles are not supported (no AppArmor here)',
};

function present(value: unknown): boolean {
  if (value === undefined || value === null || value === '') return false;
  return !(Array.isArray(value) && value.length === 0);
}

function fieldsOf(spec: RuntimeSpec, at: string): Record<string, unknown> | undefined {
  let node: unknown = spec;
  for (const key of at ? at.split('.') : []) node = (node as Record<string, unknown> | undefined)?.[key];
  return node && typeof node === 'object' ? node as Record<string, unknown> : undefined;
}

/** The first problem with `spec` for this runtime, as one line; undefined when it can run. */
export function unsupportedField(spec: RuntimeSpec, mode: CgroupMode = cgroupMode(), unknown: string[] = []): string | undefined {
  if (!/^1\.\d+\.\d+/.test(String(spec.ociVersion))) {
    return `config.json ociVersion ${JSON.stringify(spec.ociVersion)} is not a runtime-spec version: use 1.0.2 (1.x.y is accepted)`;
  }
  for (const [at, known] of Object.entries(KNOWN)) {
    const fields = fieldsOf(spec, at) ?? {};
    for (const [key, value] of Object.entries(fields)) {
      const name = at ? `${at}.${key}` : key;
      if (!known.includes(key)) {
        unknown.push(name);
        continue;
      }
      if (REFUSED[name] && present(value)) return `config.json field ${name} is not supported: ${REFUSED[name]}`;
    }
  }
  for (const ns of spec.linux?.namespaces ?? []) {
    if (!['pid', 'network', 'mount', 'ipc', 'uts', 'cgroup', 'user', 'time'].includes(ns.type)) {
      return `config.json linux.namespaces: unknown namespace type ${JSON.stringify(ns.type)}`;
    }
    if (ns.type === 'time') return `config.json linux.namespaces: ${ns.type} namespaces are not supported yet`;
  }
  return idMappingProblem(spec) ?? unsupportedResources(spec, mode);
}

/**
 * linux.resources: cgroup v2 only. `devices` rules are accepted everywhere: minibox has no device
 * cgroup and instead mounts everything writable nodev (runtime/rootfs/devices.ts), so no device
 * node the container makes can be opened — what runc's default deny-all rule is for.
 */
function unsupportedResources(spec: RuntimeSpec, mode: CgroupMode): string | undefined {
  const resources = (spec.linux?.resources ?? {}) as Record<string, unknown>;
  const limits = Object.keys(resources).filter((key) => key !== 'devices' && asksForLimit(key, resources[key]));
  if (mode === 'unified') return unhonouredResource(resources);
  if (limits.length === 0) return undefined;
  return `config.json linux.resources.${limits[0]} (${JSON.stringify(resources[limits[0]!])}) needs cgroup v2, but this host's cgroups are ${describeCgroupMode(mode)}: `
    + 'remove the limits or run on a cgroup v2 host (see docs/vm.md)';
}

/**
 * True when a resource entry limits something. Two defaults engines always send are no limit:
 * `pids: {limit: 0}` (podman; 0 means unset in runc) and `cpu: {shares: 1024}` (containerd: the
 * kernel's default weight, the same as every other cgroup's).
 */
function asksForLimit(key: string, value: unknown): boolean {
  if (key === 'pids') return ((value as { limit?: number } | undefined)?.limit ?? 0) > 0;
  if (key === 'cpu' && value && typeof value === 'object') {
    return Object.entries(value).some(([name, leaf]) => present(leaf) && !(name === 'shares' && leaf === 1024));
  }
  if (value && typeof value === 'object' && !Array.isArray(value)) return Object.values(value).some((leaf) => present(leaf));
  return present(value);
}

/** Refuses what cannot be honoured; warns (on stderr, once per field) about properties the spec does not define. */
export function assertSupported(spec: RuntimeSpec): void {
  const unknown: string[] = [];
  const problem = unsupportedField(spec, cgroupMode(), unknown);
  if (problem) throw new MiniboxError(problem);
  for (const name of unknown) process.stderr.write(`minibox-runc: warning: config.json field ${name} is not part of the runtime spec; ignored\n`);
}
