/**
 * Unit test (no containers): which config.json fields minibox-runc refuses, and the one-line
 * reasons — every field either honoured or named, never silently skipped. Hostile cases were
 * checked to fail against a version of spec-support.ts with an empty REFUSED table.
 */
import { describe, expect, it } from 'vitest';
import { unsupportedField } from '../../src/oci/spec-support.js';
import type { RuntimeSpec } from '../../src/bundle/oci-bundle.js';

function spec(extra: Record<string, unknown> = {}, linux: Record<string, unknown> = {}): RuntimeSpec {
  return {
    ociVersion: '1.0.2', root: { path: 'rootfs' }, process: { args: ['sh'], cwd: '/', user: { uid: 0, gid: 0 } },
    linux: { namespaces: [{ type: 'mount' }, { type: 'pid' }], ...linux }, ...extra,
  } as RuntimeSpec;
}

describe('spec-support', () => {
  it('accepts a plain config, engines\' default "no limit" resources, and unknown properties (reported apart)', () => {
    expect(unsupportedField(spec(), 'hybrid')).toBeUndefined();
    expect(unsupportedField(spec({}, { resources: { devices: [{ allow: false, access: 'rwm' }], pids: { limit: 0 }, cpu: { shares: 1024 } } }), 'hybrid')).toBeUndefined();
    const unknown: string[] = [];
    expect(unsupportedField(spec({ futureField: 1 }), 'hybrid', unknown)).toBeUndefined();
    expect(unknown).toEqual(['futureField']);
  });

  it('names what it cannot honour', () => {
    expect(unsupportedField(spec({}, { uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }] }), 'unified'))
      .toMatch(/^config\.json linux\.uidMappings is set, but user namespaces aren't enabled in the config/);
    expect(unsupportedField(spec({}, { namespaces: [{ type: 'mount' }, { type: 'user' }] }), 'unified')).toMatch(/no uid mappings found/);
    expect(unsupportedField(spec({}, { namespaces: [{ type: 'mount' }, { type: 'time' }] }), 'unified')).toMatch(/time namespaces are not supported/);
    expect(unsupportedField(spec({}, { namespaces: [{ type: 'mount' }, { type: 'bogus' }] }), 'unified')).toMatch(/unknown namespace type "bogus"/);
    expect(unsupportedField(spec({}, { intelRdt: { closID: 'x' } }), 'unified')).toMatch(/linux\.intelRdt is not supported: Intel RDT/);
    expect(unsupportedField(spec({ ociVersion: 'invalid' }), 'unified')).toMatch(/ociVersion "invalid" is not a runtime-spec version/);
    expect(unsupportedField(spec({}, { resources: { memory: { limit: 1 << 26 } } }), 'hybrid'))
      .toMatch(/linux\.resources\.memory \(\{"limit":67108864\}\) needs cgroup v2, but this host's cgroups are hybrid/);
    expect(unsupportedField(spec({}, { resources: { memory: { limit: 1 << 26 } } }), 'unified')).toBeUndefined();
    expect(unsupportedField(spec({ process: { args: ['sh'], cwd: '/', user: { uid: 0, gid: 0 }, selinuxLabel: 'x' } }), 'unified'))
      .toMatch(/process\.selinuxLabel is not supported/);
  });
});
