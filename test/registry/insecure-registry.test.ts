/**
 * The plain-HTTP policy of the registry client, as Docker's: a registry on this machine
 * (`localhost`, 127.0.0.0/8) may speak plain HTTP; any other one must speak HTTPS unless the user
 * trusts it by name (`--insecure-registry HOST`, or "insecure-registries" in the config file),
 * and the refusal is one line that says what to do.
 *
 * "Another host" is real: a docker-registry serving plain HTTP on 203.0.113.5 (TEST-NET-3) on
 * the loopback device of a network namespace this test makes (`unshare --net`), and minibox runs
 * in that namespace (`nsenter --net`). Nothing of the host's network is touched, so no
 * /tmp/minibox-net.lock is needed; the namespace dies with the registry process.
 * Seen to fail before the fix: the refusal was "cannot reach registry 203.0.113.5:5000:
 * 80CC…:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:…".
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listeningPorts } from '../network/netns-helpers.js';
import { bin, minibox, tempRoot } from '../helpers/minibox.js';
import { busyboxImageLayout, pushLayout, startRegistry, type TestRegistry } from '../helpers/registry.js';

const FAR = '203.0.113.5:5000';
let registry: TestRegistry;
let far: ChildProcess;
let work: string;

beforeAll(async () => {
  registry = await startRegistry();
  pushLayout(busyboxImageLayout(), 'latest', `${registry.host}/team/app:1`);
  work = tempRoot('mb-insecure-');
  // A second registry process on the same storage, in a network namespace of its own.
  const config = path.join(work, 'far.yml');
  fs.writeFileSync(config, ['version: 0.1', 'log:', '  level: error', '  accesslog:', '    disabled: true', 'storage:',
    '  filesystem:', `    rootdirectory: ${registry.dir}/data`, 'http:', `  addr: ${FAR}`].join('\n'));
  far = spawn('unshare', ['--net', 'sh', '-c', `ip link set lo up && ip addr add ${FAR.split(':')[0]}/32 dev lo && exec docker-registry serve ${config}`],
    { stdio: 'ignore' });
  const deadline = Date.now() + 30_000;
  while (!listeningPorts(far.pid!).includes(5000)) {
    if (far.exitCode !== null || Date.now() > deadline) throw new Error('the far registry did not start');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}, 60_000);

afterAll(async () => {
  if (far?.exitCode === null) {
    far.kill('SIGTERM');
    await new Promise((resolve) => far.once('exit', resolve));
  }
  await registry?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** `minibox pull` run inside the far registry's network namespace. */
function pullThere(root: string, args: string[], env: NodeJS.ProcessEnv = {}): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync('nsenter', [`--net=/proc/${far.pid}/ns/net`, process.execPath, bin, '--root', root, ...args],
    { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('plain HTTP to a registry', () => {
  it('is used for localhost and 127.0.0.0/8 without any flag', () => {
    const root = path.join(work, 'local');
    const port = registry.host.split(':')[1];
    for (const host of [`localhost:${port}`, registry.host]) {
      const pulled = minibox(root, ['pull', '-q', `${host}/team/app:1`]);
      expect(pulled.code, pulled.stderr).toBe(0);
    }
  });

  it('is refused for another host, in one line naming --insecure-registry', () => {
    const refused = pullThere(path.join(work, 'refused'), ['pull', '-q', `${FAR}/team/app:1`]);
    expect(refused.code).toBe(125);
    expect(refused.stderr).toBe(`minibox: ${FAR} answered plain HTTP, not HTTPS: minibox uses plain HTTP only for registries `
      + `on this machine (localhost, 127.0.0.0/8) and those you trust by name, as Docker does — --insecure-registry ${FAR} `
      + '(or "insecure-registries" in /etc/minibox/config.json)\n');
    expect(fs.existsSync(path.join(work, 'refused', 'images'))
      ? fs.readdirSync(path.join(work, 'refused', 'images')) : []).toEqual([]);
  });

  it('is used for a host named with --insecure-registry, or in the config file\'s insecure-registries', () => {
    const flagged = pullThere(path.join(work, 'flag'), ['--insecure-registry', FAR, 'pull', '-q', `${FAR}/team/app:1`]);
    expect(flagged.code, flagged.stderr).toBe(0);
    expect(flagged.stdout).toBe(`${FAR}/team/app:1\n`);
    const file = path.join(work, 'config.json');
    fs.writeFileSync(file, JSON.stringify({ 'insecure-registries': [FAR] }));
    const configured = pullThere(path.join(work, 'config'), ['pull', '-q', `${FAR}/team/app:1`], { MINIBOX_CONFIG: file });
    expect(configured.code, configured.stderr).toBe(0);
  });
});
