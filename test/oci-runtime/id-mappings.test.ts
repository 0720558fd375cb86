/**
 * Unit test (no containers): config.json's user namespace and uid/gid maps are checked before
 * anything is made, each refusal one line naming the field and the range at fault — where the
 * kernel would only say EINVAL once the namespace exists (runc: "failed to update
 * /proc/N/uid_map: Invalid argument"). Each refusal failed on main, where every user namespace
 * was refused with one fixed message ("not supported yet").
 */
import { describe, expect, it } from 'vitest';
import { unsupportedField } from '../../src/oci/spec-support.js';
import { formatIdMap, hostIdOf, idMappingProblem } from '../../src/runtime/id-mappings.js';
import type { RuntimeSpec, SpecIdMapping } from '../../src/bundle/oci-bundle.js';

const ROOT_RANGE: SpecIdMapping[] = [{ containerID: 0, hostID: 100000, size: 65536 }];

function spec(linux: Record<string, unknown>, user: Record<string, unknown> = {}): RuntimeSpec {
  return {
    ociVersion: '1.0.2', root: { path: 'rootfs' }, process: { args: ['sh'], cwd: '/', user: { uid: 0, gid: 0, ...user } },
    linux: { namespaces: [{ type: 'mount' }, { type: 'pid' }, { type: 'user' }], uidMappings: ROOT_RANGE, gidMappings: ROOT_RANGE, ...linux },
  } as RuntimeSpec;
}

describe('uid/gid mappings', () => {
  it('accepts a user namespace with maps, or one joined by path without them', () => {
    expect(idMappingProblem(spec({}))).toBeUndefined();
    expect(unsupportedField(spec({}), 'hybrid')).toBeUndefined();
    const joined = spec({ namespaces: [{ type: 'mount' }, { type: 'user', path: '/proc/1/ns/user' }], uidMappings: undefined, gidMappings: undefined });
    expect(idMappingProblem(joined)).toBeUndefined();
    expect(idMappingProblem(spec({ uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }, { containerID: 1, hostID: 100000, size: 10 }] }))).toBeUndefined();
  });

  it('refuses mappings without a user namespace, and a user namespace without mappings (runc\'s words)', () => {
    expect(idMappingProblem(spec({ namespaces: [{ type: 'mount' }] })))
      .toBe('config.json linux.uidMappings is set, but user namespaces aren\'t enabled in the config: add {"type": "user"} to linux.namespaces, or remove the mappings');
    expect(idMappingProblem(spec({ namespaces: [{ type: 'mount' }], uidMappings: [] }))).toMatch(/^config\.json linux\.gidMappings is set/);
    expect(idMappingProblem(spec({ uidMappings: [] }))).toMatch(/^config\.json asks for a user namespace, but no uid mappings found: add linux\.uidMappings/);
    expect(idMappingProblem(spec({ gidMappings: undefined }))).toMatch(/no gid mappings found: add linux\.gidMappings/);
  });

  it('refuses ranges the kernel would refuse, naming them', () => {
    const overlapInside = [{ containerID: 0, hostID: 100000, size: 1000 }, { containerID: 500, hostID: 200000, size: 10 }];
    expect(idMappingProblem(spec({ uidMappings: overlapInside }))).toBe('config.json linux.uidMappings: {containerID 0, hostID 100000, size 1000} and '
      + '{containerID 500, hostID 200000, size 10} overlap on the container side: each id may be mapped once');
    const overlapOutside = [{ containerID: 0, hostID: 100000, size: 1000 }, { containerID: 5000, hostID: 100999, size: 10 }];
    expect(idMappingProblem(spec({ gidMappings: overlapOutside }))).toMatch(/^config\.json linux\.gidMappings: .* overlap on the host side/);
    expect(idMappingProblem(spec({ uidMappings: [{ containerID: 0, hostID: 100000, size: 0 }] }))).toMatch(/maps no ids: size must be at least 1/);
    expect(idMappingProblem(spec({ uidMappings: [{ containerID: 0, hostID: -1, size: 1 }] }))).toMatch(/needs whole numbers containerID, hostID and size/);
    expect(idMappingProblem(spec({ uidMappings: [{ containerID: 0, hostID: 4294967295, size: 1 }] }))).toMatch(/goes past the largest uid \(4294967294\)/);
    const many = Array.from({ length: 341 }, (_, i) => ({ containerID: i, hostID: 100000 + i, size: 1 }));
    expect(idMappingProblem(spec({ uidMappings: many }))).toMatch(/has 341 ranges: the kernel takes at most 340/);
  });

  it('refuses maps that leave out root or the ids the program runs as', () => {
    expect(idMappingProblem(spec({ uidMappings: [{ containerID: 1, hostID: 100000, size: 10 }] })))
      .toBe('config.json linux.uidMappings does not map uid 0 (the container\'s root): add a range that covers it');
    expect(idMappingProblem(spec({}, { uid: 70000 }))).toMatch(/does not map uid 70000 \(process\.user\.uid\)/);
    expect(idMappingProblem(spec({}, { additionalGids: [5, 99999] }))).toMatch(/gidMappings does not map gid 99999 \(process\.user\.additionalGids\)/);
  });

  it('writes the map as the kernel reads it, and translates ids', () => {
    expect(formatIdMap([{ containerID: 0, hostID: 100000, size: 1 }, { containerID: 1, hostID: 200001, size: 9 }])).toBe('0 100000 1\n1 200001 9\n');
    expect(hostIdOf(ROOT_RANGE, 0)).toBe(100000);
    expect(hostIdOf(ROOT_RANGE, 65535)).toBe(165535);
    expect(hostIdOf(ROOT_RANGE, 65536)).toBeUndefined();
  });
});
