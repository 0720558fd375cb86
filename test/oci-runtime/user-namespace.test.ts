/**
 * minibox-runc with a user namespace (config.json `user` namespace + uid/gid maps), against the
 * real kernel: the container's root is host uid 100000, which owns nothing of the host's. Shown
 * from inside (/proc/self/uid_map on the container's own /proc, `id`) and from outside (the
 * process's uid on the host, the owner of a file it makes in a bind-mounted host directory, its
 * user namespace differing from ours); a config device is the host's node bound in, as runc does
 * (no mknod in a user namespace); `exec` joins the same namespace; a namespace made
 * elsewhere is joined by `path`; bad input is refused as runc refuses it, leaving nothing.
 * Every case failed on main, where minibox-runc refused any user namespace ("Node cannot create
 * one") — checked by running this file against main's build.
 *
 * The scratch directory is 0711, not 0700: the container's root (host uid 100000) must be able to
 * reach its bundle, as with runc (a 0700 parent gives runc "permission denied" too).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeBundle, ociScratch, runc, runcDetached, until } from './helpers.js';

const HOST_ROOT = 100000;
const RANGE = [{ containerID: 0, hostID: HOST_ROOT, size: 65536 }];
const scratch = ociScratch('mb-oci-userns-');
fs.chmodSync(scratch.dir, 0o711);
afterAll(() => fs.rmSync(scratch.dir, { recursive: true, force: true }));

/** A busybox bundle whose rootfs belongs to `owner` (as `podman unshare chown` would leave it). */
function userBundle(name: string, owner: number, edit: (spec: Record<string, any>) => void): string {
  const bundle = makeBundle(scratch.dir, name, (spec) => {
    spec.linux.namespaces.push({ type: 'user' });
    spec.linux.uidMappings = RANGE;
    spec.linux.gidMappings = RANGE;
    edit(spec);
  });
  for (const dir of ['proc', 'dev', 'sys']) fs.mkdirSync(path.join(bundle, 'rootfs', dir));
  chownTree(path.join(bundle, 'rootfs'), owner);
  return bundle;
}

function chownTree(file: string, owner: number): void {
  fs.lchownSync(file, owner, owner);
  if (fs.lstatSync(file).isDirectory()) for (const entry of fs.readdirSync(file)) chownTree(path.join(file, entry), owner);
}

/** /proc/…/uid_map's columns, spaces squeezed. */
function mapLines(text: string): string[] {
  return text.split('\n').filter((line) => /^\s*\d+\s+\d+\s+\d+\s*$/.test(line)).map((line) => line.trim().split(/\s+/).join(' '));
}

function leftovers(): string[] {
  return fs.existsSync(scratch.state) ? fs.readdirSync(scratch.state) : [];
}

describe('minibox-runc user namespaces', () => {
  it('root is host uid 100000: the map inside, `id`, a file made in a bind-mounted host dir, the exit status', () => {
    const shared = path.join(scratch.dir, 'shared');
    fs.mkdirSync(shared, { mode: 0o755 });
    fs.chownSync(shared, HOST_ROOT, HOST_ROOT);
    const bundle = userBundle('mapped', HOST_ROOT, (spec) => {
      spec.mounts.push({ destination: '/shared', type: 'bind', source: shared, options: ['rbind', 'rw'] });
      // No mknod in a user namespace: the host's node is bound in, as runc does
      spec.linux.devices = [{ path: '/dev/kmsg', type: 'c', major: 1, minor: 11, fileMode: 0o644 }];
      spec.linux.resources = { devices: [{ allow: true, type: 'c', major: 1, minor: 11, access: 'r' }] };
      spec.process.args = ['sh', '-c', 'id; cat /proc/self/uid_map /proc/self/gid_map; touch /shared/made-inside; ls -l /dev/kmsg; exit 7'];
    });
    const result = runc(scratch.state, ['run', '--bundle', bundle, 'u1']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(7); // the launcher that waits for PID 1 mirrors its status
    expect(result.stdout).toMatch(/^uid=0 gid=0/);
    expect(mapLines(result.stdout)).toEqual(['0 100000 65536', '0 100000 65536']); // read from the container's own /proc
    expect(result.stdout).toMatch(/^c.* 65534 +65534 +1, +11 .*\/dev\/kmsg$/m); // the host's node: root there is nobody here
    const made = fs.statSync(path.join(shared, 'made-inside'));
    expect({ uid: made.uid, gid: made.gid }).toEqual({ uid: HOST_ROOT, gid: HOST_ROOT });
    expect(leftovers()).toEqual([]);
  });

  it('run -d: the process is uid 100000 on the host, in a user namespace of its own; exec joins it', async () => {
    const bundle = userBundle('detached', HOST_ROOT, (spec) => { spec.process.args = ['sleep', '60']; });
    expect(runcDetached(scratch.state, ['run', '-d', '--bundle', bundle, 'u2'], scratch.dir, 'u2').code).toBe(0);
    try {
      const pid = (JSON.parse(runc(scratch.state, ['state', 'u2']).stdout) as { pid: number }).pid;
      expect(fs.readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/^Uid:\t100000\t100000\t100000\t100000$/m);
      expect(fs.readlinkSync(`/proc/${pid}/ns/user`)).not.toBe(fs.readlinkSync('/proc/self/ns/user'));
      const inside = runc(scratch.state, ['exec', 'u2', 'sh', '-c', 'id -u; cat /proc/self/uid_map; readlink /proc/self/ns/user']);
      expect(inside.code).toBe(0);
      expect(inside.stdout.split('\n')[0]).toBe('0'); // root in there, not the host's root (which would show as 65534)
      expect(mapLines(inside.stdout)).toEqual(['0 100000 65536']);
      expect(inside.stdout.trim().split('\n').at(-1)).toBe(fs.readlinkSync(`/proc/${pid}/ns/user`));
    } finally {
      expect(runc(scratch.state, ['delete', '--force', 'u2']).code).toBe(0);
    }
    await until(() => leftovers().length === 0, 'u2 is deleted');
  });

  it('joins a user namespace made elsewhere by path, and refuses maps that differ from its own', async () => {
    const holder = spawn('unshare', ['--user', 'sleep', '60'], { stdio: 'ignore' });
    try {
      const file = `/proc/${holder.pid}/ns/user`;
      await until(() => fs.readlinkSync(file) !== fs.readlinkSync('/proc/self/ns/user'), 'unshare made its user namespace');
      fs.writeFileSync(`/proc/${holder.pid}/uid_map`, '0 200000 65536');
      fs.writeFileSync(`/proc/${holder.pid}/gid_map`, '0 200000 65536');
      const bundle = userBundle('joined', 200000, (spec) => {
        spec.linux.namespaces = spec.linux.namespaces.map((ns: { type: string }) => (ns.type === 'user' ? { type: 'user', path: file } : ns));
        delete spec.linux.uidMappings;
        delete spec.linux.gidMappings;
        spec.process.args = ['sh', '-c', 'id -u; cat /proc/self/uid_map; readlink /proc/self/ns/user'];
      });
      const joined = runc(scratch.state, ['run', '--bundle', bundle, 'u3']);
      expect(joined.stderr).toBe('');
      expect(joined.stdout.split('\n')[0]).toBe('0');
      expect(mapLines(joined.stdout)).toEqual(['0 200000 65536']);
      expect(joined.stdout.trim().split('\n').at(-1)).toBe(fs.readlinkSync(file));

      const config = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8')) as Record<string, any>;
      config.linux.uidMappings = RANGE;
      fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(config));
      const differs = runc(scratch.state, ['run', '--bundle', bundle, 'u4']);
      expect(differs.code).toBe(1);
      expect(differs.stderr).toMatch(/msg="config\.json linux\.uidMappings differ from the map of the user namespace \/proc\/\d+\/ns\/user \(0 200000 65536\): drop them, or make them match"\n$/);
    } finally {
      holder.kill('SIGKILL');
    }
    expect(leftovers()).toEqual([]);
  });

  it('refuses bad input as runc does: one line, exit 1, nothing left (every message: id-mappings.test.ts)', () => {
    const cases: [string, (spec: Record<string, any>) => void, RegExp][] = [
      ['maps-no-userns', (spec) => { spec.linux.namespaces = spec.linux.namespaces.filter((ns: { type: string }) => ns.type !== 'user'); },
        /msg="config\.json linux\.uidMappings is set, but user namespaces aren't enabled in the config: add \{\\"type\\": \\"user\\"\} to linux\.namespaces, or remove the mappings"/],
      ['userns-no-maps', (spec) => { delete spec.linux.uidMappings; }, /msg="config\.json asks for a user namespace, but no uid mappings found: add linux\.uidMappings/],
      ['denied-device', (spec) => { spec.linux.devices = [{ path: '/dev/kmsg', type: 'c', major: 1, minor: 11 }]; },
        /msg="linux\.devices \/dev\/kmsg: denied by linux\.resources\.devices, and in a user namespace a device node can only be the host's/],
      ['overlap', (spec) => { spec.linux.gidMappings = [...RANGE, { containerID: 70000, hostID: HOST_ROOT + 10, size: 5 }]; }, /gidMappings: .* overlap on the host side/],
      ['wrong-path', (spec) => { spec.linux.namespaces = [...spec.linux.namespaces.filter((ns: { type: string }) => ns.type !== 'user'), { type: 'user', path: '/proc/self/ns/uts' }]; delete spec.linux.uidMappings; delete spec.linux.gidMappings; },
        /msg="cannot set up the container's user namespace: setns\(CLONE_NEWUSER\) \/proc\/self\/ns\/uts: Invalid argument/],
    ];
    for (const [name, edit, message] of cases) {
      const bundle = userBundle(name, HOST_ROOT, edit);
      const result = runcDetached(scratch.state, ['create', '--bundle', bundle, name], scratch.dir, name);
      expect(result.code, name).toBe(1);
      expect(result.stderr, name).toMatch(/^time="[^"]+" level=error msg="[^\n]*"\n$/);
      expect(result.stderr, name).toMatch(message);
    }
    expect(leftovers()).toEqual([]);
  });
});
