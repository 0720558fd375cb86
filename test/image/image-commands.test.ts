/**
 * The image commands as a Docker user types them: images, history, image inspect, tag, rmi,
 * image prune, image mount/unmount — output shapes, exit codes, and nothing left mounted.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveImage } from '../helpers/derived-image.js';
import { minibox, tempRoot } from '../helpers/minibox.js';
import { busyboxImageLayout, pushLayout, startRegistry, type TestRegistry } from '../helpers/registry.js';

let registry: TestRegistry;
let root: string;
let busybox: string;
let derived: string;

function mountsUnder(dir: string): string[] {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((line) => line.split(' ')[4] ?? '').filter((target) => target.startsWith(dir));
}

beforeAll(async () => {
  registry = await startRegistry();
  const base = busyboxImageLayout();
  pushLayout(base, 'latest', `${registry.host}/lib/busybox:latest`);
  const layout = deriveImage(base, 'latest', (rootfs) => {
    fs.writeFileSync(path.join(rootfs, 'etc/motd'), 'derived\n');
    fs.rmSync(path.join(rootfs, 'var/www/index.html'));
  });
  pushLayout(layout, 'latest', `${registry.host}/lib/derived:1.0`);
  root = tempRoot();
  busybox = `${registry.host}/lib/busybox:latest`;
  derived = `${registry.host}/lib/derived:1.0`;
  expect(minibox(root, ['pull', '-q', busybox]).code).toBe(0);
  expect(minibox(root, ['pull', '-q', derived]).code).toBe(0);
});

afterAll(async () => {
  expect(mountsUnder(root)).toEqual([]);
  fs.rmSync(root, { recursive: true, force: true });
  await registry?.stop();
});

describe('images', () => {
  it('lists images in Docker\'s columns', () => {
    const result = minibox(root, ['images']);
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    expect(lines.slice(1).some((line) => new RegExp(`^${registry.host}/lib/busybox\\s+latest\\s+[a-f0-9]{12}\\s+.+ago\\s+[\\d.]+[kMG]?B$`).test(line))).toBe(true);
    expect(lines.slice(1).some((line) => line.startsWith(`${registry.host}/lib/derived`) && /\s1\.0\s/.test(line))).toBe(true);
  });

  it('-q prints ids, --digests adds a DIGEST column, --format json one object per line', () => {
    const quiet = minibox(root, ['images', '-q']).stdout.trim().split('\n');
    expect(quiet).toHaveLength(2);
    for (const id of quiet) expect(id).toMatch(/^[a-f0-9]{12}$/);
    expect(minibox(root, ['images', '--digests']).stdout).toMatch(/DIGEST[\s\S]*sha256:[a-f0-9]{64}/);
    const json = minibox(root, ['images', '--format', 'json']).stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, string>);
    expect(json.map((row) => row.Tag).sort()).toEqual(['1.0', 'latest']);
    expect(json[0]).toHaveProperty('ID');
    expect(json[0]).toHaveProperty('Size');
  });

  it('history lists layers newest first with their sizes', () => {
    const result = minibox(root, ['history', derived]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/);
    expect(lines[1]).toMatch(/^[a-f0-9]{12}\s/);
    expect(lines.slice(2).every((line) => line.startsWith('<missing>'))).toBe(true);
    expect(lines.some((line) => /umoci repack\s+[\d.]+[kM]?B/.test(line))).toBe(true);
  });

  it('image inspect prints Docker-shaped JSON', () => {
    const result = minibox(root, ['image', 'inspect', busybox]);
    expect(result.code).toBe(0);
    const [info] = JSON.parse(result.stdout) as Record<string, any>[];
    expect(info!.Id).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(info!.RepoTags).toEqual([busybox]);
    expect(info!.RepoDigests[0]).toMatch(new RegExp(`^${registry.host}/lib/busybox@sha256:`));
    expect(info!.Config.Cmd).toEqual(['/bin/sh']);
    expect(info!.Os).toBe('linux');
    expect(info!.Architecture).toBe('amd64');
    expect(info!.RootFS.Type).toBe('layers');
    expect(info!.RootFS.Layers).toHaveLength(1);
    expect(info!.Size).toBeGreaterThan(1000);
    const missing = minibox(root, ['image', 'inspect', 'nosuch:image']);
    expect(missing.code).toBe(125);
    expect(missing.stderr).toContain('No such image: nosuch:image');
  });

  it('image mount shows the stacked layers read-only; unmount leaves nothing mounted', () => {
    const mounted = minibox(root, ['image', 'mount', derived]);
    expect(mounted.code).toBe(0);
    const dir = mounted.stdout.trim();
    try {
      expect(fs.readFileSync(path.join(dir, 'etc/motd'), 'utf8')).toBe('derived\n');
      expect(fs.existsSync(path.join(dir, 'bin/busybox'))).toBe(true);
      expect(fs.existsSync(path.join(dir, 'var/www/index.html'))).toBe(false); // whiteout hides the lower file
      expect(() => fs.writeFileSync(path.join(dir, 'new-file'), 'x')).toThrow(/EROFS/);
      expect(minibox(root, ['rmi', derived]).code).not.toBe(0); // refused while mounted
    } finally {
      expect(minibox(root, ['image', 'unmount', derived]).code).toBe(0);
    }
    expect(mountsUnder(root)).toEqual([]);
  });

  // Seen to fail before the check: the missing dir (and its parent) were created, and mounted on.
  it('image mount IMAGE DIR mounts on an existing directory only; a missing DIR is refused, not created', () => {
    const missing = path.join(root, 'no-such-parent', 'mnt');
    const refused = minibox(root, ['image', 'mount', derived, missing]);
    expect(refused.code).toBe(125);
    expect(refused.stderr).toBe(`minibox: mount point ${missing} does not exist: create it first (mkdir ${missing}), `
      + 'or leave DIR out to mount under the state root\n');
    expect(fs.existsSync(path.dirname(missing))).toBe(false);
    const file = path.join(root, 'a-file');
    fs.writeFileSync(file, '');
    expect(minibox(root, ['image', 'mount', derived, file]).stderr).toBe(`minibox: mount point ${file} is not a directory\n`);
    fs.rmSync(file);
    const dir = fs.mkdtempSync(path.join(root, 'mnt-'));
    expect(minibox(root, ['image', 'mount', derived, dir])).toMatchObject({ code: 0, stdout: `${dir}\n` });
    expect(fs.readFileSync(path.join(dir, 'etc/motd'), 'utf8')).toBe('derived\n');
    expect(minibox(root, ['image', 'unmount', dir]).code).toBe(0);
    expect(fs.readdirSync(dir)).toEqual([]); // the user's directory stays, empty again
    fs.rmdirSync(dir);
    expect(mountsUnder(root)).toEqual([]);
  });

  it('tag adds a name; rmi removes names, then the image and its unshared layers', () => {
    expect(minibox(root, ['tag', busybox, 'example.com/copy:v1']).code).toBe(0);
    expect(minibox(root, ['images']).stdout).toContain('example.com/copy');
    const untag = minibox(root, ['rmi', 'example.com/copy:v1']);
    expect(untag.stdout).toBe('Untagged: example.com/copy:v1\n');
    const removed = minibox(root, ['rmi', derived]);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toMatch(/^Untagged: .*derived:1\.0\n/);
    expect(removed.stdout).toMatch(/Deleted: sha256:[a-f0-9]{64}\n/);
    // The busybox base layer is still used by the busybox image: exactly one layer went.
    expect(removed.stdout.match(/Deleted:/g)).toHaveLength(2);
    expect(fs.readdirSync(path.join(root, 'layers/sha256')).filter((name) => !name.endsWith('.json'))).toHaveLength(1);
    const again = minibox(root, ['rmi', derived]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('No such image');
  });

  it('image prune -a -f removes unused images and every blob and layer', () => {
    expect(minibox(root, ['pull', '-q', derived]).code).toBe(0);
    const result = minibox(root, ['image', 'prune', '-a', '-f']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Total reclaimed space: [\d.]+[kMG]?B/);
    expect(minibox(root, ['images', '-q']).stdout).toBe('');
    expect(fs.readdirSync(path.join(root, 'blobs/sha256'))).toEqual([]);
    expect(fs.readdirSync(path.join(root, 'layers/sha256'))).toEqual([]);
  });

  it('a bad reference is a one-line error with exit code 125', () => {
    const result = minibox(root, ['pull', 'UPPER/Case']);
    expect(result.code).toBe(125);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('invalid reference format');
  });
});
