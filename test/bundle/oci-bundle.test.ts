/**
 * One reader and writer of a bundle's config.json (src/bundle/oci-bundle.ts), and the image store
 * kept ignorant of how containers are stored.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sourceFiles, srcDir } from '../helpers/source-files.js';
import { readSpec, specFile, writeSpec, type RuntimeSpec } from '../../src/bundle/oci-bundle.js';
import { MiniboxError } from '../../src/errors.js';

const src = srcDir;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-bundle-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));


/** Source text without comments, so a lesson may still name the files. */
function code(file: string): string {
  return fs.readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
}

describe('oci-bundle.ts reads and writes config.json', () => {
  it('round-trips a spec, atomically (no temp file left)', () => {
    const spec: RuntimeSpec = { ociVersion: '1.2.0', root: { path: 'rootfs' }, process: { user: { uid: 0, gid: 0 }, args: ['sh'], cwd: '/' } };
    writeSpec(dir, spec);
    expect(readSpec(dir)).toEqual(spec);
    expect(fs.readdirSync(dir)).toEqual(['config.json']);
  });

  it('a missing config.json is a one-line error naming the file', () => {
    const missing = path.join(dir, 'none');
    expect(() => readSpec(missing)).toThrow(MiniboxError);
    expect(() => readSpec(missing)).toThrow(`cannot read bundle config ${specFile(missing)}: ENOENT`);
  });

  // On main, exec.ts, diff.ts, inspect.ts, resources.ts and cgroup-hooks.ts parsed config.json
  // themselves and create.ts and resources.ts wrote it: this test failed there.
  it('no other module of src/ opens a file called config.json but the ones for other configs', () => {
    const allowed = new Set(['bundle/oci-bundle.ts', 'network/networks.ts' /* a network's record */, 'image/registry/credential-store.ts' /* ~/.docker */,
      'explain/story-steps.ts' /* names the file in a story line; reads nothing */]);
    const offenders = sourceFiles(src).map((file) => path.relative(src, file))
      .filter((file) => !allowed.has(file) && /['"`]config\.json['"`]/.test(code(path.join(src, file))));
    expect(offenders).toEqual([]);
  });

  it('the image store does not read container records (it is told which images are in use)', () => {
    const imageFiles = sourceFiles(path.join(src, 'image')).filter((file) => /container\.json|\.containers\b/.test(code(file)));
    expect(imageFiles.map((file) => path.relative(src, file))).toEqual([]);
  });
});
