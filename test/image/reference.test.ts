import { describe, expect, it } from 'vitest';
import { MiniboxError } from '../../src/errors.js';
import { familiarName, parseReference } from '../../src/image/reference.js';
import { parsePlatform, selectManifest, formatPlatform } from '../../src/image/platform.js';
import type { ImageIndex } from '../../src/image/oci.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseReference normalises names like Docker', () => {
  const valid: [string, string, string, string][] = [
    // input, canonical, familiar, registryHost
    ['alpine', 'docker.io/library/alpine:latest', 'alpine:latest', 'registry-1.docker.io'],
    ['alpine:3.19', 'docker.io/library/alpine:3.19', 'alpine:3.19', 'registry-1.docker.io'],
    ['library/alpine', 'docker.io/library/alpine:latest', 'alpine:latest', 'registry-1.docker.io'],
    ['docker.io/library/alpine', 'docker.io/library/alpine:latest', 'alpine:latest', 'registry-1.docker.io'],
    ['index.docker.io/library/alpine:edge', 'docker.io/library/alpine:edge', 'alpine:edge', 'registry-1.docker.io'],
    ['docker.io/alpine', 'docker.io/library/alpine:latest', 'alpine:latest', 'registry-1.docker.io'],
    ['user/app:v1', 'docker.io/user/app:v1', 'user/app:v1', 'registry-1.docker.io'],
    ['user/deep/app', 'docker.io/user/deep/app:latest', 'user/deep/app:latest', 'registry-1.docker.io'],
    ['127.0.0.1:5000/x:1', '127.0.0.1:5000/x:1', '127.0.0.1:5000/x:1', '127.0.0.1:5000'],
    ['localhost/app', 'localhost/app:latest', 'localhost/app:latest', 'localhost'],
    ['localhost:5000/team/app:sha-abc', 'localhost:5000/team/app:sha-abc', 'localhost:5000/team/app:sha-abc', 'localhost:5000'],
    ['ghcr.io/o/x', 'ghcr.io/o/x:latest', 'ghcr.io/o/x:latest', 'ghcr.io'],
    [`alpine@${D}`, `docker.io/library/alpine@${D}`, `alpine@${D}`, 'registry-1.docker.io'],
    [`alpine:3@${D}`, `docker.io/library/alpine:3@${D}`, `alpine:3@${D}`, 'registry-1.docker.io'],
    [`host:5000/team/app@${D}`, `host:5000/team/app@${D}`, `host:5000/team/app@${D}`, 'host:5000'],
    ['my-registry.example.com/a_b/c.d__e--f:Tag_1.0-rc', 'my-registry.example.com/a_b/c.d__e--f:Tag_1.0-rc', 'my-registry.example.com/a_b/c.d__e--f:Tag_1.0-rc', 'my-registry.example.com'],
    ['[::1]:5000/app', '[::1]:5000/app:latest', '[::1]:5000/app:latest', '[::1]:5000'],
    ['foo_bar', 'docker.io/library/foo_bar:latest', 'foo_bar:latest', 'registry-1.docker.io'],
  ];
  it.each(valid)('%s → %s', (input, canonical, familiar, registryHost) => {
    const ref = parseReference(input);
    expect(ref.canonical).toBe(canonical);
    expect(ref.familiar).toBe(familiar);
    expect(ref.registryHost).toBe(registryHost);
    expect(ref.name).toBe(`${ref.domain}/${ref.repository}`);
  });

  it('splits fields: domain, repository, tag, digest', () => {
    expect(parseReference('alpine')).toMatchObject({ domain: 'docker.io', repository: 'library/alpine', tag: 'latest' });
    const pinned = parseReference(`127.0.0.1:5000/team/app@${D}`);
    expect(pinned).toMatchObject({ domain: '127.0.0.1:5000', repository: 'team/app', digest: D });
    expect(pinned.tag).toBeUndefined();
    expect(parseReference(`a:t@${D}`)).toMatchObject({ tag: 't', digest: D });
  });

  it('familiarName drops the docker.io/library prefix only where Docker does', () => {
    expect(familiarName(parseReference('alpine'))).toBe('alpine');
    expect(familiarName(parseReference('user/app'))).toBe('user/app');
    expect(familiarName(parseReference('docker.io/library/a/b'))).toBe('library/a/b');
    expect(familiarName(parseReference('127.0.0.1:5000/x'))).toBe('127.0.0.1:5000/x');
  });

  const invalid: [string, RegExp][] = [
    ['Alpine', /invalid reference format: "Alpine": repository name must be lowercase/],
    ['user/App', /must be lowercase/],
    ['ghcr.io/Team/app', /must be lowercase/],
    ['', /empty/],
    ['alpine:', /tag/],
    ['alpine:-bad', /tag/],
    [`alpine:${'t'.repeat(129)}`, /tag/],
    ['alpine@sha256:abc', /64 lowercase hexadecimal/],
    [`alpine@sha256:${'A'.repeat(64)}`, /64 lowercase hexadecimal/],
    [`alpine@sha512:${'a'.repeat(128)}`, /unsupported digest algorithm "sha512"/],
    ['alpine@', /digest/],
    ['a//b', /repository path components/],
    ['-abc', /repository path components/],
    ['abc-', /repository path components/],
    ['a b', /repository path components/],
    ['host:5000/', /empty/],
    ['ho_st.io/app', /not a valid registry host/],
    ['a'.repeat(64).replace(/a/g, 'f'), /image ID/],
    [`x/${'a'.repeat(260)}`, /longer than 255/],
  ];
  it.each(invalid)('rejects %j', (input, message) => {
    let error: unknown;
    try { parseReference(input); } catch (e) { error = e; }
    expect(error).toBeInstanceOf(MiniboxError);
    expect((error as MiniboxError).exitCode).toBe(125);
    expect((error as Error).message).toMatch(message);
  });
});

describe('platforms', () => {
  it.each([
    [undefined, 'linux/amd64'],
    ['linux/amd64', 'linux/amd64'],
    ['linux/x86_64', 'linux/amd64'],
    ['linux/aarch64', 'linux/arm64/v8'],
    ['linux/arm64', 'linux/arm64/v8'],
    ['linux/armhf', 'linux/arm/v7'],
    ['linux/arm', 'linux/arm/v7'],
    ['linux/arm/v6', 'linux/arm/v6'],
    ['Linux/AMD64', 'linux/amd64'],
  ])('parsePlatform(%s) → %s', (spec, expected) => {
    expect(formatPlatform(parsePlatform(spec))).toBe(expected);
  });

  it.each(['linux', 'linux/', 'a/b/c/d', 'linux/amd 64'])('rejects platform %j', (spec) => {
    expect(() => parsePlatform(spec)).toThrow(/invalid platform/);
  });

  const index: ImageIndex = {
    schemaVersion: 2,
    manifests: [
      { mediaType: 'm', digest: 'sha256:1', size: 1, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: 'm', digest: 'sha256:2', size: 1, platform: { os: 'linux', architecture: 'arm64' } },
      { mediaType: 'm', digest: 'sha256:3', size: 1, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
      { mediaType: 'm', digest: 'sha256:4', size: 1, platform: { os: 'unknown', architecture: 'unknown' } },
    ],
  };
  it('selects by normalised platform (arm64 without variant matches v8)', () => {
    expect(selectManifest(index, parsePlatform('linux/amd64')).digest).toBe('sha256:1');
    expect(selectManifest(index, parsePlatform('linux/arm64/v8')).digest).toBe('sha256:2');
    expect(selectManifest(index, parsePlatform('linux/aarch64')).digest).toBe('sha256:2');
    expect(selectManifest(index, parsePlatform('linux/armhf')).digest).toBe('sha256:3');
  });
  it('lists the available platforms when none matches', () => {
    expect(() => selectManifest(index, parsePlatform('linux/s390x'), 'img')).toThrow(
      'no manifest for platform linux/s390x in img (available: linux/amd64, linux/arm64/v8, linux/arm/v7); choose one with --platform');
    expect(() => selectManifest(index, parsePlatform('linux/arm/v6'))).toThrow(/linux\/arm\/v6/);
  });
});
