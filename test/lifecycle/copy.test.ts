/**
 * `minibox cp` both ways, on running and stopped containers — the built CLI, real overlayfs,
 * real namespaces. Fails on main (checked): `cp` was not a minibox command. The hostile cases
 * were also checked against a naive `path.join(containerRoot, src)` in copy.ts: through
 * /proc/PID/root, `-L /shadowlink` then read the host's /etc/shadow, and this test failed.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoContainers, expectNoLeaks } from '../helpers/leaks.js';
import { withWorld, type LifecycleWorld } from './helpers.js';

let world: LifecycleWorld;
let host: string;

withWorld((started) => { world = started; });
beforeAll(() => { host = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-cp-')); });
afterAll(() => { fs.rmSync(host, { recursive: true, force: true }); });

/** A directory with a uid-1000 file, a hard link to it, a symlink and a subdirectory. */
function makeTree(dir: string): void {
  fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'a.txt'), 'alpha\n', { mode: 0o640 });
  fs.chownSync(path.join(dir, 'a.txt'), 1000, 1000);
  fs.linkSync(path.join(dir, 'a.txt'), path.join(dir, 'hard'));
  fs.symlinkSync('a.txt', path.join(dir, 'link'));
  fs.writeFileSync(path.join(dir, 'sub', 'b'), 'beta\n');
  fs.chownSync(path.join(dir, 'sub'), 1000, 1001);
}

/** What a round trip must keep: type, mode, owner, content or target, and the hard link. */
function describeTree(dir: string): string[] {
  const lines: string[] = [];
  const visit = (rel: string): void => {
    for (const name of fs.readdirSync(path.join(dir, rel)).sort()) {
      const relPath = path.join(rel, name);
      const full = path.join(dir, relPath);
      const stats = fs.lstatSync(full);
      const what = stats.isSymbolicLink() ? `-> ${fs.readlinkSync(full)}` : stats.isFile() ? fs.readFileSync(full, 'utf8').trim() : 'dir';
      lines.push(`${relPath} ${(stats.mode & 0o7777).toString(8)} ${stats.uid}:${stats.gid} ${what}`);
      if (stats.isDirectory()) visit(relPath);
    }
  };
  visit('');
  const a = fs.statSync(path.join(dir, 'a.txt'));
  lines.push(`a.txt and hard share an inode: ${a.ino === fs.statSync(path.join(dir, 'hard')).ino}, nlink ${a.nlink}`);
  return lines;
}

async function ok(args: string[], input?: string): Promise<string> {
  const result = await world.mb(args, input !== undefined ? { input } : {});
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return result.stdout;
}

describe.each(['running', 'stopped'])('cp round trip, %s container', (state) => {
  it('-a keeps the symlink, the hard link and uid 1000; without -a the copy belongs to root', async () => {
    const name = `rt-${state}`;
    if (state === 'running') await ok(['run', '-d', '--name', name, '--network', 'none', world.image, 'sleep', '1000']);
    else await ok(['create', '--name', name, '--network', 'none', world.image, 'sleep', '1000']);
    const source = path.join(host, `${name}-src`);
    makeTree(source);
    await ok(['cp', '-a', source, `${name}:/`]); // an existing directory receives it under its own name
    await ok(['cp', source, `${name}:/plain`]); // a missing destination becomes the copy
    const out = path.join(host, `${name}-out`);
    fs.mkdirSync(out);
    await ok(['cp', '-a', `${name}:/${path.basename(source)}`, out]);
    expect(describeTree(path.join(out, path.basename(source)))).toEqual(describeTree(source));
    expect(describeTree(source)).toContain('a.txt and hard share an inode: true, nlink 2');
    await ok(['cp', `${name}:/plain/.`, path.join(out, 'contents')]); // `/.`: the contents, owned by us
    expect(fs.readFileSync(path.join(out, 'contents', 'sub', 'b'), 'utf8')).toBe('beta\n');
    expect(fs.statSync(path.join(out, 'contents', 'a.txt')).uid).toBe(0);
    if (state === 'stopped') await ok(['start', name]);
    const inside = await ok(['exec', name, 'stat', '-c', '%u:%g %h %n', `/${path.basename(source)}/a.txt`, '/plain/a.txt']);
    expect(inside).toBe(`1000:1000 2 /${path.basename(source)}/a.txt\n0:0 2 /plain/a.txt\n`);
    await ok(['rm', '-f', name]);
  });
});

describe('cp follows container symlinks inside the container, never to the host', () => {
  it('a symlink to /etc/shadow, a link to /, a ../ climb: always the container\'s files', async () => {
    await ok(['run', '-d', '--name', 'sh1', '--network', 'none', world.image, 'sleep', '1000']);
    const shadow = path.join(host, 'shadow');
    fs.writeFileSync(shadow, 'container-shadow\n');
    await ok(['cp', shadow, 'sh1:/etc/shadow']);
    const links = path.join(host, 'links');
    fs.mkdirSync(links);
    fs.symlinkSync('/etc/shadow', path.join(links, 'shadowlink'));
    fs.symlinkSync('/', path.join(links, 'escape'));
    fs.symlinkSync('../../../../../../etc', path.join(links, 'up'));
    await ok(['cp', `${links}/.`, 'sh1:/']);
    for (const state of ['running', 'stopped']) {
      const out = path.join(host, `out-${state}`);
      fs.mkdirSync(out);
      await ok(['cp', '-L', 'sh1:/shadowlink', path.join(out, 'followed')]);
      await ok(['cp', 'sh1:/escape/etc/shadow', path.join(out, 'escaped')]);
      await ok(['cp', 'sh1:/up/shadow', path.join(out, 'climbed')]);
      await ok(['cp', 'sh1:/shadowlink', path.join(out, 'kept')]); // without -L: the link itself
      for (const file of ['followed', 'escaped', 'climbed']) expect(fs.readFileSync(path.join(out, file), 'utf8')).toBe('container-shadow\n');
      expect(fs.readlinkSync(path.join(out, 'kept'))).toBe('/etc/shadow');
      if (state === 'running') await ok(['stop', '-t', '0', 'sh1']);
    }
    // Writing through the links lands in the container too: the host's /tmp never sees it.
    const marker = `mb-cp-${process.pid}-marker`;
    fs.writeFileSync(path.join(host, marker), 'in\n');
    fs.mkdirSync(path.join(host, 'tmpdir'));
    await ok(['cp', path.join(host, marker), 'sh1:/escape/tmp/']);
    expect(fs.existsSync(path.join('/tmp', marker))).toBe(false);
    await ok(['cp', `sh1:/tmp/${marker}`, path.join(host, 'tmpdir')]);
    expect(fs.readFileSync(path.join(host, 'tmpdir', marker), 'utf8')).toBe('in\n');
    await ok(['rm', '-f', 'sh1']);
  });
});

describe('cp with tar streams and Docker\'s rules', () => {
  it('- writes and reads a tar; a deleted image file is gone; bad input is one line', async () => {
    await ok(['run', '--name', 'gone', '--network', 'none', world.image, 'rm', '/etc/passwd']);
    const missing = await world.mb(['cp', 'gone:/etc/passwd', host]);
    expect(missing).toMatchObject({ code: 1, stderr: 'minibox: Could not find the file /etc/passwd in container gone\n' });
    const tar = await world.mb(['cp', 'gone:/etc/group', '-']);
    expect(tar.code).toBe(0);
    expect(tar.stdout.startsWith('group\0')).toBe(true);
    const dir = path.join(host, 'tarin');
    fs.mkdirSync(path.join(dir, 'd'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'd', 'f'), 'from tar\n');
    const input = execFileSync('tar', ['-C', dir, '-c', 'd']).toString('latin1');
    await ok(['cp', '-', 'gone:/etc'], input);
    await ok(['cp', 'gone:/etc/d/f', path.join(host, 'f-from-tar')]);
    expect(fs.readFileSync(path.join(host, 'f-from-tar'), 'utf8')).toBe('from tar\n');
    const toFile = await world.mb(['cp', 'gone:/etc', path.join(host, 'f-from-tar')]);
    expect(toFile.code).toBe(1);
    expect(toFile.stderr).toMatch(/^minibox: cannot copy a directory to a file: .*\n$/);
    expect((await world.mb(['cp', 'a', 'b'])).stderr).toMatch(/^minibox: must specify at least one container source/);
    expect((await world.mb(['cp', 'nope:/x', host])).code).toBe(1);
    expect((await world.mb(['cp', path.join(host, 'nothing'), 'gone:/'])).code).toBe(1);
    await ok(['rm', 'gone']);
  });
});
