import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LayerStack } from '../../src/bundle/layer-view.js';
import { resolveUser } from '../../src/bundle/user.js';
import { lsetxattr, mknod } from '../../src/sys/fs.js';

// Three layers, bottom to top, built the way an unpacked image stores them.
let dir: string;
let outside: string;
let stack: LayerStack;

function write(layer: string, file: string, text: string): void {
  const target = path.join(dir, layer, file);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.writeFileSync(target, text);
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-layers-'));
  outside = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-outside-'));
  fs.writeFileSync(path.join(outside, 'passwd'), 'evil:x:0:0::/:/bin/sh\n');
  // bottom: root + bob, groups; a motd; a data dir with two files
  write('bottom', 'etc/passwd', 'root:x:0:0:root:/root:/bin/sh\nbob:x:1001:1001::/home/bob:/bin/sh\n');
  write('bottom', 'etc/group', 'root:x:0:\nbob:x:1001:\n');
  write('bottom', 'etc/motd', 'hello\n');
  write('bottom', 'data/a', 'a');
  write('bottom', 'data/b', 'b');
  // middle: replaces passwd (bob is gone, app arrives), adds group membership
  write('middle', 'etc/passwd', 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n');
  write('middle', 'etc/group', 'root:x:0:\nwheel:x:10:app,other\nusers:x:100:app\napp:x:1000:\nstaff:x:50:\n');
  // top: whiteout of motd (0/0 char device), opaque data dir, a symlink leaving the image
  fs.mkdirSync(path.join(dir, 'top', 'etc'), { recursive: true });
  mknod(path.join(dir, 'top', 'etc', 'motd'), 'char', 0o000, 0, 0);
  fs.mkdirSync(path.join(dir, 'top', 'data'));
  lsetxattr(path.join(dir, 'top', 'data'), 'trusted.overlay.opaque', Buffer.from('y'));
  fs.writeFileSync(path.join(dir, 'top', 'data', 'c'), 'c');
  fs.symlinkSync(outside, path.join(dir, 'top', 'escape'));
  fs.symlinkSync('../etc/passwd', path.join(dir, 'top', 'relative-link'));
  // a tar-style whiteout file in the middle layer hides bottom's /data/b as well
  write('middle', '.wh.gone', '');
  write('bottom', 'gone', 'x');
  stack = new LayerStack(['top', 'middle', 'bottom'].map((l) => path.join(dir, l)));
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(outside, { recursive: true, force: true });
});

describe('reading files through a layer stack', () => {
  it('takes the topmost copy of a file', () => {
    expect(stack.readFile('/etc/passwd')).toContain('app:x:1000');
  });

  it('honours a 0/0 character-device whiteout and a .wh. file', () => {
    expect(stack.readFile('/etc/motd')).toBeUndefined();
    expect(stack.readFile('/gone')).toBeUndefined();
  });

  it('an opaque directory hides what lower layers had in it', () => {
    expect(stack.readFile('/data/c')).toBe('c');
    expect(stack.readFile('/data/a')).toBeUndefined();
  });

  it('resolves symlinks inside the image, never on the host', () => {
    expect(stack.readFile('/relative-link')).toContain('app:x:1000');
    expect(stack.readFile('/escape/passwd')).toBeUndefined(); // image has no such dir: not the host's file
  });
});

describe('resolving -u against the image', () => {
  it('root by default, with HOME from passwd', () => {
    expect(resolveUser(undefined, stack)).toEqual({ uid: 0, gid: 0, additionalGids: [], home: '/root', name: 'root' });
  });

  it('a name gives its uid, primary gid and /etc/group memberships', () => {
    expect(resolveUser('app', stack)).toEqual({ uid: 1000, gid: 1000, additionalGids: [10, 100], home: '/home/app', name: 'app' });
  });

  it('an explicit group replaces the primary gid and drops supplementary groups', () => {
    expect(resolveUser('app:staff', stack)).toMatchObject({ uid: 1000, gid: 50, additionalGids: [] });
    expect(resolveUser('app:4242', stack)).toMatchObject({ gid: 4242 });
  });

  it('a uid from passwd is the same as its name; an unknown uid is allowed with gid 0', () => {
    expect(resolveUser('1000', stack)).toMatchObject({ uid: 1000, gid: 1000, name: 'app' });
    expect(resolveUser('4242', stack)).toEqual({ uid: 4242, gid: 0, additionalGids: [], home: '/' });
    expect(resolveUser('4242:4343', stack)).toMatchObject({ uid: 4242, gid: 4343 });
  });

  it('an unknown name is a 125 error, and a user deleted by an upper layer is unknown', () => {
    expect(() => resolveUser('bob', stack)).toThrow(expect.objectContaining({
      message: 'unable to find user bob: no matching entries in passwd file', exitCode: 125 }));
    expect(() => resolveUser('app:nogroup', stack)).toThrow('unable to find group nogroup: no matching entries in group file');
    expect(() => resolveUser('a:b:c', stack)).toThrow(/invalid user/);
  });
});
