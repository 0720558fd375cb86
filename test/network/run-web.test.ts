/**
 * `minibox run` on the network, end to end with real containers: three web servers on port 8080
 * at once, reached from the host, from another container and through published ports; `port`,
 * `ps` and `inspect`; names on a user network; `--network none`; `--add-host` and `--dns`;
 * `--explain`. The built CLI, a real registry, real namespaces, bridges and iptables rules.
 */
import { describe, expect, it } from 'vitest';
import { until, type LifecycleWorld } from '../lifecycle/helpers.js';
import { withNetworkWorld } from './netns-helpers.js';
import { useFreeBridge } from '../helpers/free-subnet.js';

// A bridge and subnet of this file's own, so that other minibox runs on the machine (which use
// minibox0) never meet this file's containers. The CLI inherits these through the environment.
const free = useFreeBridge('run-web');

let world: LifecycleWorld;

withNetworkWorld((started) => { world = started; });

async function ok(args: string[]): Promise<string> {
  const result = await world.mb(args);
  expect(result.stderr, `minibox ${args.join(' ')}`).toBe('');
  expect(result.code, `minibox ${args.join(' ')}`).toBe(0);
  return result.stdout;
}

/** A detached busybox httpd on port 8080 whose index.html says `hello from NAME`. */
async function webServer(name: string, extra: string[] = []): Promise<void> {
  await ok(['run', '-d', '--name', name, ...extra, world.image, 'sh', '-c',
    `echo "hello from ${name}" > /var/www/index.html && exec httpd -f -p 8080 -h /var/www`]);
}

async function ipOf(name: string): Promise<string> {
  return (await ok(['inspect', '--format', '{{.NetworkSettings.IPAddress}}', name])).trim();
}

async function get(url: string): Promise<string> {
  let text = '';
  await until(async () => {
    try {
      text = await (await fetch(url)).text();
      return true;
    } catch {
      return false; // httpd not listening yet
    }
  }, `an answer from ${url}`);
  return text;
}

describe('three web servers from one image listen on port 8080 at the same time', () => {
  it('each answers on its own address from the host and from another container, and on its own published port', async () => {
    const names = ['web1', 'web2', 'web3'];
    for (const [i, name] of names.entries()) await webServer(name, ['-p', `1808${i + 1}:8080`]);
    const ips = await Promise.all(names.map(ipOf));
    expect(new Set(ips).size).toBe(3);
    for (const ip of ips) expect(ip).toMatch(new RegExp(`^${free.pattern}$`));

    for (const [i, name] of names.entries()) {
      expect(await get(`http://${ips[i]}:8080/`)).toBe(`hello from ${name}\n`);
      expect(await get(`http://127.0.0.1:1808${i + 1}/`)).toBe(`hello from ${name}\n`);
    }
    // From inside another container, over the bridge.
    expect(await ok(['exec', 'web2', 'wget', '-qO-', `http://${ips[0]}:8080/`])).toBe('hello from web1\n');
    expect(await ok(['exec', 'web1', 'wget', '-qO-', `http://${ips[2]}:8080/`])).toBe('hello from web3\n');

    // port, ps and inspect tell the same story.
    expect(await ok(['port', 'web1'])).toBe('8080/tcp -> 0.0.0.0:18081\n');
    expect(await ok(['port', 'web2', '8080/tcp'])).toBe('0.0.0.0:18082\n');
    const missing = await world.mb(['port', 'web2', '9999']);
    expect(missing.code).toBe(125);
    expect(missing.stderr).toMatch(/No public port '9999\/tcp' published for web2/);
    const ps = (await ok(['ps'])).split('\n').find((line) => line.endsWith(' web3'));
    expect(ps).toContain('0.0.0.0:18083->8080/tcp');
    const inspect = JSON.parse(await ok(['inspect', 'web1'])) as { NetworkSettings: Record<string, unknown>; HostConfig: Record<string, unknown> }[];
    expect(inspect[0]!.NetworkSettings).toMatchObject({
      IPAddress: ips[0], Gateway: free.gateway, IPPrefixLen: 24,
      Ports: { '8080/tcp': [{ HostIp: '0.0.0.0', HostPort: '18081' }] },
      Networks: { bridge: { IPAddress: ips[0], Gateway: free.gateway } },
    });
    expect(inspect[0]!.NetworkSettings.MacAddress).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    expect(inspect[0]!.HostConfig).toMatchObject({ NetworkMode: 'bridge', PortBindings: { '8080/tcp': [{ HostIp: '', HostPort: '18081' }] } });

    // Stopped: unplugged (no address, no port); started again: plugged in again, same port.
    await ok(['stop', '-t', '0', 'web1']);
    expect(await ipOf('web1')).toBe('');
    expect(await ok(['port', 'web1'])).toBe('');
    await ok(['start', 'web1']);
    expect(await get('http://127.0.0.1:18081/')).toBe('hello from web1\n');
  });
});

describe('user networks, none, and the /etc files', () => {
  it('two containers on a user network reach each other by name', async () => {
    await ok(['network', 'create', '--subnet', '172.30.77.0/24', 'mbtestnet']);
    try {
      await webServer('alpha', ['--network', 'mbtestnet']);
      await ok(['run', '-d', '--name', 'beta', '--network', 'mbtestnet', world.image, 'sleep', '300']);
      expect(await ipOf('alpha')).toMatch(/^172\.30\.77\./);
      await until(async () => (await world.mb(['exec', 'beta', 'wget', '-qO-', 'http://alpha:8080/'])).code === 0, 'alpha to answer');
      expect(await ok(['exec', 'beta', 'wget', '-qO-', 'http://alpha:8080/'])).toBe('hello from alpha\n');
      expect(await ok(['exec', 'alpha', 'ping', '-c', '1', '-W', '5', 'beta'])).toContain('1 packets received');
      const inspect = JSON.parse(await ok(['inspect', 'beta'])) as { NetworkSettings: { Networks: Record<string, unknown> } }[];
      expect(Object.keys(inspect[0]!.NetworkSettings.Networks)).toEqual(['mbtestnet']);
      await ok(['rm', '-f', 'alpha', 'beta']);
    } finally {
      await world.mb(['network', 'rm', 'mbtestnet']);
    }
  });

  it('--network none has only lo', async () => {
    const out = await ok(['run', '--rm', '--network', 'none', world.image, 'cat', '/proc/net/dev']);
    const interfaces = out.split('\n').slice(2).filter((line) => line.trim() !== '').map((line) => line.split(':')[0]!.trim());
    expect(interfaces).toEqual(['lo']);
  });

  it('the default network gives eth0 an address, --add-host and --dns reach /etc/hosts and /etc/resolv.conf', async () => {
    const out = await ok(['run', '--rm', '--hostname', 'box', '--add-host', 'db:10.1.2.3', '--add-host', 'gw:host-gateway', '--dns', '192.0.2.53',
      world.image, 'sh', '-c', 'ip -4 -o addr show eth0; cat /etc/hosts /etc/resolv.conf']);
    const address = /inet (\d+\.\d+\.\d+\.\d+)\/24/.exec(out)?.[1];
    expect(address).toBeDefined();
    expect(out).toContain(`${address}\tbox`);
    expect(out).toContain('10.1.2.3\tdb');
    expect(out).toContain(`${free.gateway}\tgw`);
    expect(out).toMatch(/^nameserver 192\.0\.2\.53$/m);
  });

  it('run --explain narrates the veth pair, its eth0 made inside the namespace, and the NAT rule', async () => {
    const result = await world.mb(['run', '--rm', '--explain=all', '-p', '18097:8080', world.image, 'true']);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/create a veth pair/);
    expect(result.stderr).toMatch(/eth0 made straight inside the container's network namespace/);
    expect(result.stderr).toMatch(/NAT rule .*replaced by the host's/);
    expect(result.stderr).toMatch(/publish a port/);
    expect(result.stderr).toMatch(/ctstate DNAT .* — connections redirected by a published port \(DNAT\) may enter/);
    expect(result.stderr).toMatch(/-j DROP — nothing else is routed into the containers: their unpublished ports stay closed/);
    expect(result.stderr).toMatch(/IPv6 off and router advertisements ignored .*CVE-2020-13401/);
  });
});
