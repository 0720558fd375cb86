/**
 * A state root another user could write is refused (issue 10, item 7), and no record's path is
 * trusted outside the root: a planted volume record naming `/` never becomes a bind mount.
 *
 * The attack on main (18d62ab): as a non-root user, `mkdir /tmp/y/volumes/v` and write a
 * volume.json whose Mountpoint is "/"; the next root `minibox --root /tmp/y run -v v:/data …`
 * bound the host's `/` at /data. Checked to fail on main: "refuses a root owned by another user"
 * got exit 0 and the planted Mountpoint back from `volume inspect`, and "never binds a planted
 * volume record" listed the host's / (etc, usr, proc…) inside the container.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StateRoot } from '../../src/state-root.js';
import { withWorld, type LifecycleWorld } from '../lifecycle/helpers.js';
import { expectNoLeaks } from '../helpers/leaks.js';
import { minibox } from '../helpers/minibox.js';

const NOBODY = 65534;
const scratch: string[] = [];

function scratchDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-hostile-root-'));
  scratch.push(dir);
  return dir;
}

/** What a non-root user can prepare in /tmp: their own root with a volume whose data is `/`. */
function plantedRoot(owner: number): string {
  const root = path.join(scratchDir(), 'y');
  fs.mkdirSync(path.join(root, 'volumes/v/_data'), { recursive: true });
  fs.writeFileSync(path.join(root, 'volumes/v/volume.json'), JSON.stringify({
    Name: 'v', Driver: 'local', Mountpoint: '/', CreatedAt: '2026-01-01T00:00:00Z', Labels: {}, Scope: 'local', Options: {},
  }));
  for (const dir of [root, path.join(root, 'volumes'), path.join(root, 'volumes/v'), path.join(root, 'volumes/v/_data')]) {
    fs.chownSync(dir, owner, owner);
  }
  return root;
}

afterAll(() => {
  for (const dir of scratch) fs.rmSync(dir, { recursive: true, force: true });
});

describe('a state root another user could write', () => {
  it('refuses a root owned by another user: one line, exit 125, nothing read or made', () => {
    const root = plantedRoot(NOBODY);
    const result = minibox(root, ['volume', 'inspect', 'v']);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`minibox: state root: ${root} is owned by uid ${NOBODY}, not root: another user could have prepared `
      + 'what minibox would run as root; use a directory only root can write (e.g. the default /var/lib/minibox), or remove this one\n');
    expect(result.code).toBe(125);
    expect(fs.readdirSync(root).sort()).toEqual(['volumes']); // no blobs/, containers/… made in it
  });

  it.each([
    ['writable by others', (root: string) => fs.chmodSync(root, 0o757), /is writable by others \(mode 757\)/],
    ['writable by its group', (root: string) => fs.chmodSync(root, 0o775), /is writable by its group \(mode 775\)/],
    ['with a subdirectory of another user', (root: string) => {
      fs.mkdirSync(path.join(root, 'containers'));
      fs.chownSync(path.join(root, 'containers'), NOBODY, NOBODY);
    }, /containers is owned by uid 65534, not root/],
    ['with a subdirectory that is a symlink', (root: string) => {
      fs.symlinkSync(scratchDir(), path.join(root, 'volumes'));
    }, /volumes is a symbolic link/],
    ['under a directory another user can write', (root: string) => {
      fs.chmodSync(path.dirname(root), 0o777); // not sticky: that user could swap the root
    }, /mb-hostile-root-\w+ is writable by its group and others \(mode 777\)/],
  ])('refuses a root-owned root %s', (_what, spoil, message) => {
    const root = path.join(scratchDir(), 'r');
    fs.mkdirSync(root, { mode: 0o711 });
    spoil(root);
    const result = minibox(root, ['ps', '-a']);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.code).toBe(125);
  });

  it('refuses a root reached through a symlink another user owns', () => {
    const real = path.join(scratchDir(), 'real');
    fs.mkdirSync(real, { mode: 0o711 });
    const link = path.join(scratchDir(), 'link');
    fs.symlinkSync(real, link);
    fs.lchownSync(link, NOBODY, NOBODY);
    const result = minibox(link, ['ps', '-a']);
    expect(result.stderr).toMatch(new RegExp(`state root: ${link} is a symbolic link owned by uid ${NOBODY}`));
    expect(result.code).toBe(125);
  });

  it('accepts a fresh root under /tmp (sticky) and makes it 0711 with 0700 parts', () => {
    const root = path.join(scratchDir(), 'fresh');
    const result = minibox(root, ['ps', '-a']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(fs.statSync(root).mode & 0o777).toBe(0o711);
    expect(fs.statSync(path.join(root, 'containers')).mode & 0o777).toBe(0o700);
  });
});

describe('records are never trusted to name paths outside the root', () => {
  let world: LifecycleWorld;
  withWorld((started) => { world = started; });

  it('never binds a planted volume record that names the host\'s /', async () => {
    const dir = path.join(new StateRoot(world.root).volumes, 'planted');
    fs.mkdirSync(path.join(dir, '_data'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'volume.json'), JSON.stringify({
      Name: 'planted', Driver: 'local', Mountpoint: '/', CreatedAt: '2026-01-01T00:00:00Z', Labels: {}, Scope: 'local', Options: {},
    }));
    const run = await world.mb(['run', '--rm', '--network', 'none', '-v', 'planted:/host', world.image, 'ls', '/host']);
    expect(run.stdout, 'the host\'s / was bound into the container').not.toMatch(/\b(etc|usr|proc)\b/);
    expect(run.stderr).toMatch(/^minibox: volume planted: its record names "\/" as its data instead of .*\/volumes\/planted\/_data; refusing to use it/);
    expect(run.code).toBe(125);
    // It is not listed, and `volume rm` still deletes it.
    expect((await world.mb(['volume', 'ls', '-q'])).stdout).not.toContain('planted');
    expect((await world.mb(['volume', 'rm', 'planted'])).code).toBe(0);
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('never starts a container whose config.json names a root or layers outside the state root', async () => {
    expect((await world.mb(['run', '--network', 'none', '--name', 'tampered', world.image, 'true'])).code).toBe(0);
    const record = world.record('tampered')!;
    const specFile = path.join(world.root, 'containers', record.Id, 'config.json');
    const spec = JSON.parse(fs.readFileSync(specFile, 'utf8')) as { annotations: Record<string, string> };
    spec.annotations['org.minibox.overlay.lowerdir'] = '/';
    fs.writeFileSync(specFile, JSON.stringify(spec));
    const start = await world.mb(['start', 'tampered']);
    expect(start.stderr).toBe(`minibox: container ${record.Id}: its config.json names / outside the container's own files; `
      + 'refusing to start it (minibox did not write that bundle: remove the container)\n');
    expect(start.code).toBe(1); // a lifecycle verb's failure, as in Docker's CLI
    expect((await world.mb(['rm', 'tampered'])).code).toBe(0);
  });
});
