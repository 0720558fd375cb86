/**
 * minibox-runc refuses bad input as runc does: exit 1, one logrus-style line on stderr
 * (`time="…" level=error msg="…"`), or with `--log F --log-format json` a JSON line in F (which
 * containerd reads back) and the bare message on stderr — and leaves nothing behind: no state
 * directory, no process. Each case failed on main (no minibox-runc there).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeBundle, ociScratch, runc, runcDetached } from './helpers.js';

const scratch = ociScratch('mb-oci-bad-');
afterAll(() => fs.rmSync(scratch.dir, { recursive: true, force: true }));

function expectRefused(result: { code: number; stderr: string }, message: RegExp): void {
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(/^time="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ" level=error msg="[^\n]*"\n$/);
  expect(result.stderr).toMatch(message);
}

function leftovers(): string[] {
  return fs.existsSync(scratch.state) ? fs.readdirSync(scratch.state) : [];
}

describe('minibox-runc bad input', () => {
  it('a bundle without config.json, invalid JSON, an unknown namespace type: create refuses, nothing is left', () => {
    const empty = path.join(scratch.dir, 'empty');
    fs.mkdirSync(empty);
    expectRefused(runcDetached(scratch.state, ['create', '--bundle', empty, 'x1'], scratch.dir, 'x1'), /cannot read bundle config .*config\.json: ENOENT/);

    const broken = makeBundle(scratch.dir, 'broken');
    fs.writeFileSync(path.join(broken, 'config.json'), '{"ociVersion": ');
    expectRefused(runcDetached(scratch.state, ['create', '--bundle', broken, 'x2'], scratch.dir, 'x2'), /cannot read bundle config .*config\.json: .*JSON/);

    const oddNamespace = makeBundle(scratch.dir, 'odd', (spec) => { spec.linux.namespaces.push({ type: 'bogus' }); });
    expectRefused(runcDetached(scratch.state, ['create', '--bundle', oddNamespace, 'x3'], scratch.dir, 'x3'), /unknown namespace type \\"bogus\\"/);

    const userNamespace = makeBundle(scratch.dir, 'userns', (spec) => { spec.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }]; });
    expectRefused(runcDetached(scratch.state, ['create', '--bundle', userNamespace, 'x4'], scratch.dir, 'x4'), /linux\.uidMappings is set, but user namespaces aren't enabled/);
    expect(leftovers()).toEqual([]);
  });

  it('start of a container that is not created, delete of a running one, unknown ids and signals', () => {
    const bundle = makeBundle(scratch.dir, 'ok', (spec) => { spec.process.args = ['sleep', '60']; });
    expect(runcDetached(scratch.state, ['run', '-d', '--bundle', bundle, 'y1'], scratch.dir, 'y1').code).toBe(0);
    try {
      expectRefused(runc(scratch.state, ['start', 'y1']), /cannot start an already running container/);
      expectRefused(runc(scratch.state, ['delete', 'y1']), /cannot delete container y1 that is not stopped: running/);
      expectRefused(runc(scratch.state, ['kill', 'y1', 'SIGNOPE']), /unknown signal \\"SIGNOPE\\"/);
      expectRefused(runc(scratch.state, ['create', '--bundle', bundle, 'y1']), /container with id exists: y1/);
      expectRefused(runc(scratch.state, ['state', '../etc']), /invalid container id/);
      expectRefused(runc(scratch.state, ['start', 'nope']), /msg="container does not exist"/);
    } finally {
      expect(runc(scratch.state, ['delete', '--force', 'y1']).code).toBe(0);
    }
    expect(runc(scratch.state, ['delete', '--force', 'y1']).code).toBe(0); // --force: a missing one is fine, as runc
    expect(leftovers()).toEqual([]);
  });

  it('--log FILE --log-format json: the error goes to FILE as JSON, the bare message to stderr', () => {
    const log = path.join(scratch.dir, 'log.json');
    const result = runc(scratch.state, ['--log', log, '--log-format', 'json', 'state', 'nope']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('container does not exist\n');
    expect(JSON.parse(fs.readFileSync(log, 'utf8'))).toMatchObject({ level: 'error', msg: 'container does not exist' });
  });
});
