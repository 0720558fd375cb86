/**
 * User networks: containers find each other by name through hosts files kept up to date;
 * `network create/ls/inspect/rm` from the library and the CLI, with clear errors.
 */
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  attachContainer, createUserNetwork, detachContainer, inspectNetwork, listAllNetworks, removeUserNetwork,
} from '../../src/network/index.js';
import { minibox } from '../helpers/minibox.js';
import {
  fetchFrom, inNetns, startFakeContainer, tempStateRoot, webRoot, networkTestFrame,
} from './netns-helpers.js';

const { root, dirs } = networkTestFrame();

describe('containers on a user network', () => {
  it('reach each other by name, and the hosts files follow joins and leaves in place', async () => {
    const network = await createUserNetwork(root, 'appnet', { subnet: '172.30.77.0/24' });
    expect(network).toMatchObject({ Name: 'appnet', Subnet: '172.30.77.0/24', Gateway: '172.30.77.1', Driver: 'bridge' });
    expect(network.Bridge).toBe(`mbr-${network.Id.slice(0, 8)}`);

    const site = (name: string): string[] => {
      const dir = webRoot(`I am ${name}`);
      dirs.push(dir);
      return ['busybox', 'httpd', '-f', '-p', '8080', '-h', dir];
    };
    const api = await startFakeContainer(root, 'api', site('api'));
    const db = await startFakeContainer(root, 'db', site('db'));
    const inode = fs.statSync(api.hostsFile).ino;
    try {
      const apiEndpoint = await attachContainer(root, { id: api.id, name: 'api', pid: api.pid, network: 'appnet' });
      const dbEndpoint = await attachContainer(root, { id: db.id, name: 'db', pid: db.pid, network: 'appnet' });
      expect(apiEndpoint!.IPAddress).toBe('172.30.77.2');
      expect(dbEndpoint!.IPAddress).toBe('172.30.77.3');

      // Each resolves the other's name through its own hosts file bound over /etc/hosts.
      expect(fetchFrom(api.pid, 'http://db:8080/', api.hostsFile).stdout).toBe('I am db\n');
      expect(fetchFrom(db.pid, 'http://api:8080/', db.hostsFile).stdout).toBe('I am api\n');
      // Rewritten in place: a bind mount of the file keeps seeing it.
      expect(fs.statSync(api.hostsFile).ino).toBe(inode);
      const text = fs.readFileSync(api.hostsFile, 'utf8');
      expect(text).toContain('127.0.0.1\tlocalhost');
      expect(text).toContain(`172.30.77.2\t${api.id.slice(0, 12)}`);
      expect(text).toContain(`172.30.77.3\tdb ${db.id.slice(0, 12)}`);

      const inspected = await inspectNetwork(root, 'appnet');
      expect(inspected.Containers).toEqual({
        [api.id]: expect.objectContaining({ Name: 'api', IPv4Address: '172.30.77.2/24' }),
        [db.id]: expect.objectContaining({ Name: 'db', IPv4Address: '172.30.77.3/24' }),
      });
      await expect(removeUserNetwork(root, 'appnet')).rejects.toThrow(/network appnet has active endpoints .*: remove those containers first/);

      // db leaves: api's hosts file forgets it.
      await detachContainer(root, db.id);
      expect(fs.readFileSync(api.hostsFile, 'utf8')).not.toContain('\tdb ');
      expect(fetchFrom(api.pid, 'http://db:8080/', api.hostsFile).code).not.toBe(0);
    } finally {
      await detachContainer(root, api.id);
      await detachContainer(root, db.id);
      await api.stop();
      await db.stop();
    }
    // The record stays (and its bridge is gone) until `network rm`.
    expect((await listAllNetworks(root)).map((n) => n.Name)).toEqual(['appnet', 'bridge']);
    expect(spawnSync('ip', ['link', 'show', network.Bridge]).status).not.toBe(0);
    await removeUserNetwork(root, 'appnet');
    expect((await listAllNetworks(root)).map((n) => n.Name)).toEqual(['bridge']);
  });

  it('never read a hosts file a container bloated, and keep the others\' up to date', async () => {
    // Checked to fail on main (18d62ab): the 2 MB file was read and rewritten whole.
    await createUserNetwork(root, 'bignet', { subnet: '172.30.80.0/24' });
    const a = await startFakeContainer(root, 'a');
    const b = await startFakeContainer(root, 'b');
    try {
      await attachContainer(root, { id: a.id, name: 'a', pid: a.pid, network: 'bignet' });
      const bloated = `${fs.readFileSync(a.hostsFile, 'utf8')}${'#'.repeat(2 * 1024 * 1024)}\n`;
      fs.writeFileSync(a.hostsFile, bloated); // what root in container a can do to its /etc/hosts
      const changedAt = fs.statSync(a.hostsFile).mtimeMs;
      await attachContainer(root, { id: b.id, name: 'b', pid: b.pid, network: 'bignet' });
      expect(fs.readFileSync(b.hostsFile, 'utf8')).toMatch(/\ta\b/);
      expect(fs.statSync(a.hostsFile).mtimeMs, 'the engine rewrote the bloated file').toBe(changedAt);
      expect(fs.statSync(a.hostsFile).size).toBe(Buffer.byteLength(bloated));
    } finally {
      await detachContainer(root, a.id);
      await detachContainer(root, b.id);
      await a.stop();
      await b.stop();
      await removeUserNetwork(root, 'bignet');
    }
  });

  it('neither resolve nor reach containers on another network', async () => {
    await createUserNetwork(root, 'left', { subnet: '172.30.78.0/24' });
    await createUserNetwork(root, 'right', { subnet: '172.30.79.0/24' });
    const dir = webRoot('left side');
    dirs.push(dir);
    const a = await startFakeContainer(root, 'a', ['busybox', 'httpd', '-f', '-p', '8080', '-h', dir]);
    const b = await startFakeContainer(root, 'b');
    try {
      const left = await attachContainer(root, { id: a.id, name: 'a', pid: a.pid, network: 'left' });
      await attachContainer(root, { id: b.id, name: 'b', pid: b.pid, network: 'right' });
      // Both gateways answer (the host is on both networks) …
      expect(inNetns(b.pid, ['busybox', 'ping', '-c', '1', '-W', '2', '172.30.79.1']).code).toBe(0);
      expect(inNetns(b.pid, ['busybox', 'ping', '-c', '1', '-W', '2', '172.30.78.1']).code).toBe(0);
      // … but the host does not route between them.
      expect(inNetns(b.pid, ['busybox', 'ping', '-c', '1', '-W', '1', left!.IPAddress]).code).not.toBe(0);
      const dropped = spawnSync('iptables', ['-w', '-L', 'MINIBOX-ISOLATION-2', '-n', '-v', '-x'], { encoding: 'utf8' }).stdout
        .split('\n').slice(2).reduce((sum, line) => sum + (Number(line.trim().split(/\s+/)[0]) || 0), 0);
      expect(dropped, 'packets dropped by the isolation rules').toBeGreaterThan(0);
      expect(fs.readFileSync(b.hostsFile, 'utf8')).not.toMatch(/\ta\b/);
      expect(fetchFrom(b.pid, 'http://a:8080/', b.hostsFile).code).not.toBe(0);
    } finally {
      await detachContainer(root, a.id);
      await detachContainer(root, b.id);
      await a.stop();
      await b.stop();
      await removeUserNetwork(root, 'left');
      await removeUserNetwork(root, 'right');
    }
  });
});

describe('minibox network (CLI)', () => {
  beforeAll(() => {
    // The CLI runs from dist/: build it when the network sources are newer (npm test builds first anyway).
    const built = 'dist/cli/commands/network-command.js';
    const newest = Math.max(...fs.readdirSync('src/network').map((f) => fs.statSync(`src/network/${f}`).mtimeMs), fs.statSync('src/cli/commands/network-command.ts').mtimeMs);
    // The whole build, not a bare tsc: dist/startup must stay as new as dist/ (startup-build.test.ts).
    if (!fs.existsSync(built) || fs.statSync(built).mtimeMs < newest) spawnSync('npm', ['run', 'build', '--silent'], { stdio: 'ignore' });
  }, 120_000);

  it('creates, lists, inspects and removes a network', () => {
    const cliRoot = tempStateRoot();
    dirs.push(cliRoot.dir);
    const created = minibox(cliRoot.dir, ['network', 'create', 'front']);
    expect(created.stderr).toBe('');
    expect(created.stdout.trim()).toMatch(/^[0-9a-f]{64}$/);
    const listed = minibox(cliRoot.dir, ['network', 'ls']).stdout.split('\n');
    expect(listed[0]).toMatch(/^NETWORK ID\s+NAME\s+DRIVER\s+SCOPE$/);
    expect(listed.map((line) => line.split(/\s+/)[1])).toEqual(expect.arrayContaining(['bridge', 'front', 'host', 'none']));
    const [inspected] = JSON.parse(minibox(cliRoot.dir, ['network', 'inspect', 'front']).stdout) as { Name: string; IPAM: { Config: { Subnet: string }[] }; Options: Record<string, string> }[];
    expect(inspected!.Name).toBe('front');
    expect(inspected!.IPAM.Config[0]!.Subnet).toMatch(/^172\.30\.\d+\.0\/24$/);
    expect(inspected!.Options['com.docker.network.bridge.name']).toMatch(/^mbr-[0-9a-f]{8}$/);
    expect(minibox(cliRoot.dir, ['network', 'rm', 'front'])).toMatchObject({ code: 0, stdout: 'front\n' });
    expect(minibox(cliRoot.dir, ['network', 'inspect', 'front'])).toMatchObject({ code: 125, stderr: 'minibox: network front not found\n' });
  });

  it('refuses bad input with one line and exit code 125', () => {
    const cliRoot = tempStateRoot();
    dirs.push(cliRoot.dir);
    const hostSubnet = spawnSync('ip', ['-4', '-o', 'route', 'show', 'scope', 'link'], { encoding: 'utf8' }).stdout.split(/\s+/)[0]!;
    const cases: [string[], RegExp][] = [
      [['network', 'create', '--subnet', hostSubnet, 'clash'], new RegExp(`^minibox: subnet ${hostSubnet.replace(/\./g, '\\.')} overlaps .* on host interface \\S+: choose another one`)],
      [['network', 'create', '--subnet', '10.1.2.3/24', 'x'], /^minibox: invalid subnet "10\.1\.2\.3\/24": host bits are set; did you mean 10\.1\.2\.0\/24\?/],
      [['network', 'create', '--subnet', 'nonsense', 'x'], /^minibox: invalid subnet "nonsense": expected CIDR notation/],
      [['network', 'create', 'bad/name'], /^minibox: invalid network name "bad\/name"/],
      [['network', 'create', 'host'], /^minibox: network name "host" is reserved/],
      [['network', 'rm', 'bridge'], /^minibox: bridge is a pre-defined network and cannot be removed/],
      [['network', 'rm', 'ghost'], /^minibox: network ghost not found/],
    ];
    for (const [args, message] of cases) {
      const result = minibox(cliRoot.dir, args);
      expect(result.code, args.join(' ')).toBe(125);
      expect(result.stderr.split('\n').filter(Boolean), args.join(' ')).toHaveLength(1);
      expect(result.stderr, args.join(' ')).toMatch(message);
    }
    minibox(cliRoot.dir, ['network', 'create', '--subnet', '172.30.90.0/24', 'one']);
    expect(minibox(cliRoot.dir, ['network', 'create', '--subnet', '172.30.90.128/25', 'two']).stderr)
      .toBe('minibox: subnet 172.30.90.128/25 overlaps network one (172.30.90.0/24): choose another one\n');
    expect(minibox(cliRoot.dir, ['network', 'create', 'one']).stderr).toBe('minibox: network with name one already exists\n');
  });
});
