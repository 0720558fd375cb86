/**
 * seccomp-profile.ts — Docker's seccomp profile format, turned into config.json's `linux.seccomp`.
 *
 * A Docker profile (`--security-opt seccomp=PROFILE.json`, and the default one shipped in
 * `docker-seccomp.json`) is an OCI seccomp section with two additions the runtime never sees:
 *   archMap    per native architecture, the ABIs to filter too (x86_64 → x86, x32): a 32-bit
 *              `int 0x80` call must not slip past a filter written for 64-bit numbers;
 *   includes / excludes on each rule: `caps` (the rule counts only if the container has — or
 *              lacks — these capabilities in its bounding set), `arches`, `minKernel`.
 * The engine resolves both, as moby's profiles/seccomp/seccomp_linux.go does, against this
 * container's capabilities: with `--cap-add SYS_ADMIN`, mount/unshare/setns are allowed and the
 * clone namespace-flag test disappears; with the default 14 capabilities, they are refused.
 *
 * docker-seccomp.json is moby's default profile, byte for byte: github.com/moby/profiles
 * seccomp/default.json at commit 02e898b137aed1024e232d59bcb05e6179b72177 (the module moby/moby
 * split its profiles/seccomp/ into in 2025; Docker Engine uses it). Compare it with `diff`.
 *
 * Try: `minibox create --name s1 busybox true >/dev/null && minibox create --name s2 --cap-add
 * SYS_ADMIN busybox true >/dev/null && for c in s1 s2; do jq '[.linux.seccomp.syscalls[] |
 * select(.action == "SCMP_ACT_ALLOW") | .names[]] | length' $MINIBOX_ROOT/containers/$(minibox
 * inspect --format '{{.Id}}' $c)/config.json; done` → `399 424` (on amd64: SYS_ADMIN allows 25
 * more system calls; everything not allowed fails with EPERM, the profile's defaultAction).
 */
import fs from 'node:fs';
import os from 'node:os';
import { UsageError } from '../errors.js';
import type { SpecSeccomp, SpecSyscall } from './oci-bundle.js';

interface ProfileFilter { caps?: string[]; arches?: string[]; minKernel?: string }

interface ProfileSyscall extends Partial<SpecSyscall> {
  name?: string;
  comment?: string;
  includes?: ProfileFilter;
  excludes?: ProfileFilter;
}

/** Docker's profile format (moby profiles/seccomp/seccomp.go). */
export interface DockerSeccompProfile {
  defaultAction?: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: { architecture: string; subArchitectures: string[] | null }[];
  flags?: string[];
  listenerPath?: string;
  syscalls?: ProfileSyscall[];
}

/** What the profile is evaluated against. */
export interface ProfileTarget {
  /** The container's bounding set, e.g. ['CAP_CHOWN', …]. */
  capabilities: string[];
  /** Go's name for the machine (`amd64`, `arm64`…), as moby's includes.arches use. */
  arch?: string;
  /** `uname -r`. */
  kernel?: string;
}

/** Node's process.arch → Go's GOARCH → the native name moby compares with. */
const NATIVE_ARCH: Record<string, { native: string; seccomp: string }> = {
  x64: { native: 'amd64', seccomp: 'SCMP_ARCH_X86_64' },
  arm64: { native: 'arm64', seccomp: 'SCMP_ARCH_AARCH64' },
  ia32: { native: 'x86', seccomp: 'SCMP_ARCH_X86' },
  arm: { native: 'arm', seccomp: 'SCMP_ARCH_ARM' },
  s390x: { native: 's390x', seccomp: 'SCMP_ARCH_S390X' },
  ppc64: { native: 'ppc64le', seccomp: 'SCMP_ARCH_PPC64LE' },
  riscv64: { native: 'riscv64', seccomp: 'SCMP_ARCH_RISCV64' },
  loong64: { native: 'loongarch64', seccomp: 'SCMP_ARCH_LOONGARCH64' },
};

/** `6.18.44-fc` >= `4.8`? (moby's kernelGreaterEqualThan: major, then minor). */
export function kernelAtLeast(kernel: string, minimum: string): boolean {
  const [major = 0, minor = 0] = kernel.split(/[.-]/).map((part) => Number.parseInt(part, 10) || 0);
  const [wantMajor = 0, wantMinor = 0] = minimum.split('.').map((part) => Number.parseInt(part, 10) || 0);
  return major > wantMajor || (major === wantMajor && minor >= wantMinor);
}

function ruleApplies(rule: ProfileSyscall, target: Required<ProfileTarget>): boolean {
  const has = (cap: string): boolean => target.capabilities.includes(cap);
  const { excludes, includes } = rule;
  if (excludes?.arches?.includes(target.arch)) return false;
  if (excludes?.caps?.some(has)) return false;
  if (excludes?.minKernel && kernelAtLeast(target.kernel, excludes.minKernel)) return false;
  if (includes?.arches?.length && !includes.arches.includes(target.arch)) return false;
  if (includes?.caps?.length && !includes.caps.every(has)) return false;
  if (includes?.minKernel && !kernelAtLeast(target.kernel, includes.minKernel)) return false;
  return true;
}

/**
 * moby's setupSeccomp: the profile's architectures (or archMap's native entry and its
 * sub-architectures), then every rule whose includes/excludes hold for this container.
 * Returns undefined for a profile with neither a default action nor rules (seccomp disabled).
 */
export function specSeccompFromProfile(profile: DockerSeccompProfile, target: ProfileTarget): SpecSeccomp | undefined {
  if (!profile.defaultAction && !profile.syscalls?.length) return undefined;
  if (!profile.defaultAction) throw new UsageError('the seccomp profile has rules but no defaultAction');
  if (profile.architectures?.length && profile.archMap?.length) {
    throw new UsageError('both \'architectures\' and \'archMap\' are specified in the seccomp profile, use either \'architectures\' or \'archMap\'');
  }
  const machine = NATIVE_ARCH[process.arch];
  const resolved = { capabilities: target.capabilities, arch: target.arch ?? machine?.native ?? process.arch, kernel: target.kernel ?? os.release() };
  const architectures = [...(profile.architectures ?? [])];
  const native = profile.archMap?.find((entry) => entry.architecture === machine?.seccomp);
  if (native) architectures.push(native.architecture, ...(native.subArchitectures ?? []));

  const syscalls: SpecSyscall[] = [];
  for (const rule of profile.syscalls ?? []) {
    if (rule.name && rule.names?.length) {
      throw new UsageError('both \'name\' and \'names\' are specified in the seccomp profile, use either \'name\' or \'names\'');
    }
    const names = rule.name ? [rule.name] : rule.names ?? [];
    if (!rule.action) throw new UsageError(`a rule of the seccomp profile (${names.join(', ')}) has no action`);
    if (!ruleApplies(rule, resolved)) continue;
    syscalls.push({
      names, action: rule.action,
      ...(rule.errnoRet !== undefined ? { errnoRet: rule.errnoRet } : {}),
      ...(rule.args?.length ? { args: rule.args } : {}),
    });
  }
  return {
    defaultAction: profile.defaultAction,
    ...(profile.defaultErrnoRet !== undefined ? { defaultErrnoRet: profile.defaultErrnoRet } : {}),
    ...(architectures.length ? { architectures } : {}),
    ...(profile.flags?.length ? { flags: profile.flags } : {}),
    syscalls,
  };
}

/** Docker's default profile (docker-seccomp.json, next to this file in src/ and dist/). */
export function dockerDefaultProfile(): DockerSeccompProfile {
  return JSON.parse(fs.readFileSync(new URL('./docker-seccomp.json', import.meta.url), 'utf8')) as DockerSeccompProfile;
}

/** `--security-opt seccomp=FILE`: read and parse it, with Docker's error wording. */
export function readProfileFile(file: string): DockerSeccompProfile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`opening seccomp profile (${file}) failed: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  try {
    const profile = JSON.parse(text) as unknown;
    if (typeof profile !== 'object' || profile === null || Array.isArray(profile)) throw new Error('not a JSON object');
    return profile as DockerSeccompProfile;
  } catch (error) {
    throw new UsageError(`decoding seccomp profile ${file} failed: ${(error as Error).message}`);
  }
}
