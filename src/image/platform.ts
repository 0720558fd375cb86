/**
 * platform.ts — which CPU and OS an image is built for, and picking the right one from an index.
 *
 * A multi-platform image is an *index* (Docker: "manifest list") whose entries each carry a
 * `platform` {os, architecture, variant}. The same CPU goes by many names — `uname -m` says
 * x86_64 and aarch64, Debian says amd64/arm64/armhf, Go (and so OCI) says amd64/arm64/arm+v7 —
 * so, like containerd's `platforms` package, we normalise both sides before comparing:
 *   x86_64, x86-64 → amd64        aarch64 → arm64 (variant v8, the only arm64 variant in use)
 *   armhf → arm/v7    armel → arm/v6    arm with no variant → arm/v7    i386, i686 → 386
 * Running an image made for another platform is allowed, with Docker's WARNING
 * (foreignPlatformWarning): its program will most likely fail with "exec format error".
 *
 * Try: `minibox pull --platform linux $IMAGE` → `invalid platform "linux": expected
 * os/arch[/variant]` (and on a multi-platform image, `--platform linux/arm64` picks that manifest
 * out of the index).
 */
import { UsageError, NotFoundError } from '../errors.js';
import type { Descriptor, ImageIndex, Platform } from './oci.js';

export type { Platform } from './oci.js';

function normalizeArchitecture(architecture: string, variant: string | undefined): { architecture: string; variant?: string } {
  const arch = architecture.toLowerCase();
  const v = variant?.toLowerCase() || undefined;
  switch (arch) {
    case 'x86_64': case 'x86-64': case 'amd64':
      // amd64 "v1" is the baseline every amd64 CPU has: the same as saying nothing.
      return v === undefined || v === 'v1' ? { architecture: 'amd64' } : { architecture: 'amd64', variant: v };
    case 'aarch64': case 'arm64':
      return { architecture: 'arm64', variant: v === undefined || v === '8' || v === 'v8.0' ? 'v8' : v };
    case 'armhf':
      return { architecture: 'arm', variant: 'v7' };
    case 'armel':
      return { architecture: 'arm', variant: 'v6' };
    case 'arm': case 'aarch32':
      return { architecture: 'arm', variant: v === undefined ? 'v7' : v.startsWith('v') ? v : `v${v}` };
    case 'i386': case 'i686': case '386':
      return { architecture: '386' };
    default:
      return v === undefined ? { architecture: arch } : { architecture: arch, variant: v };
  }
}

export function normalizePlatform(platform: Platform): Platform {
  const arch = normalizeArchitecture(platform.architecture, platform.variant);
  const normalized: Platform = { os: platform.os.toLowerCase(), architecture: arch.architecture };
  if (arch.variant !== undefined) normalized.variant = arch.variant;
  return normalized;
}

/** Parses `--platform os/arch[/variant]` (e.g. linux/arm64, linux/arm/v7); undefined → this machine's. */
export function parsePlatform(spec?: string): Platform {
  if (spec === undefined || spec === '') return { ...DEFAULT_PLATFORM };
  const parts = spec.split('/');
  const [os, architecture, variant] = parts;
  if (parts.length < 2 || parts.length > 3 || !os || !architecture || (parts.length === 3 && !variant)) {
    throw new UsageError(`invalid platform "${spec}": expected os/arch[/variant], e.g. linux/amd64 or linux/arm/v7`);
  }
  if (!/^[a-z0-9_.-]+$/i.test(spec.replaceAll('/', ''))) {
    throw new UsageError(`invalid platform "${spec}": only letters, digits, ".", "_" and "-" are allowed`);
  }
  return normalizePlatform(variant === undefined ? { os, architecture } : { os, architecture, variant });
}

export function formatPlatform(platform: Platform): string {
  return [platform.os, platform.architecture, platform.variant].filter((part) => part).join('/');
}

export function platformMatches(wanted: Platform, candidate: Platform): boolean {
  const a = normalizePlatform(wanted);
  const b = normalizePlatform(candidate);
  return a.os === b.os && a.architecture === b.architecture && a.variant === b.variant;
}

/** Node's process.arch → OCI's architecture names. */
const NODE_ARCHITECTURES: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

/** The platform of this machine, as an image's config names it (linux/amd64 on a PC). */
export function hostPlatform(): Platform {
  return normalizePlatform({ os: process.platform, architecture: NODE_ARCHITECTURES[process.arch] ?? process.arch });
}

/**
 * What pull, load, import and `FROM scratch` pick when no `--platform` is given: this machine's
 * own platform, as Docker does (linux/amd64 on a PC, linux/arm64 on a Raspberry Pi 4).
 */
export const DEFAULT_PLATFORM: Platform = hostPlatform();

/**
 * Docker's warning when a container is made from an image for another platform and no
 * `--platform` asked for it: the container is still created, and its program will most likely
 * fail with "exec format error" (lesson 12). OS and architecture are compared, not the variant
 * (an arm/v6 image runs on an arm/v7 host).
 */
export function foreignPlatformWarning(image: Platform, host: Platform = hostPlatform()): string | undefined {
  const a = normalizePlatform(image);
  const b = normalizePlatform(host);
  if (a.os === b.os && a.architecture === b.architecture) return undefined;
  return `WARNING: The requested image's platform (${formatPlatform(a)}) does not match the detected host platform `
    + `(${formatPlatform(b)}) and no specific platform was requested`;
}

/** Picks the manifest for `wanted` from an index, or explains which platforms the image has. */
export function selectManifest(index: ImageIndex, wanted: Platform, imageName = 'image'): Descriptor {
  const match = index.manifests.find((entry) => entry.platform && platformMatches(wanted, entry.platform));
  if (match) return match;
  const available = index.manifests
    .filter((entry) => entry.platform && entry.platform.os !== 'unknown') // skip attestation entries
    .map((entry) => formatPlatform(normalizePlatform(entry.platform as Platform)));
  const list = available.length > 0 ? available.join(', ') : 'none listed';
  throw new NotFoundError(
    `no manifest for platform ${formatPlatform(normalizePlatform(wanted))} in ${imageName} (available: ${list}); choose one with --platform`);
}
