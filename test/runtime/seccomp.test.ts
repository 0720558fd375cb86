/**
 * The seccomp filter and the session keyring, probed from inside real containers.
 *
 * A small static C program (fixtures/syscall-probe.c, built here with gcc, bind-mounted read-only)
 * tries the calls container escapes start from. Under Docker's default profile every one fails
 * with EPERM; with `--security-opt seccomp=unconfined` each reaches the kernel, which then allows
 * it or not by its own rules (the expectations below read the host's sysctls and say which).
 *
 * Checked to fail on today's main (18d62ab, before this change): there the probe's calls all
 * succeed in a default container (no filter), and the container's session keyring id is the
 * host's — the "default profile" and "fresh keyring" tests fail.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LifecycleFixture } from '../lifecycle/running-container.js';

const fixture = new LifecycleFixture();
const probeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-probe-'));
const probe = path.join(probeDir, 'syscall-probe');
let hostKeyring = '';

const PROBED = ['keyctl_host_keyring', 'add_key', 'io_uring_setup', 'userfaultfd', 'perf_event_open',
  'bpf_map_create', 'bpf_obj_get', 'unshare_user'];

function sysctl(name: string): number {
  try {
    return Number(fs.readFileSync(`/proc/sys/${name}`, 'utf8').trim());
  } catch {
    return Number.NaN;
  }
}

/** `NAME=result` lines → { NAME: result }. */
function results(stdout: string): Record<string, string> {
  return Object.fromEntries(stdout.trim().split('\n').map((line) => line.split('=') as [string, string]));
}

beforeAll(async () => {
  const source = path.join(import.meta.dirname, 'fixtures/syscall-probe.c');
  const built = spawnSync('gcc', ['-O2', '-static', '-o', probe, source], { encoding: 'utf8' });
  expect(built.status, built.stderr).toBe(0);
  // The session keyring this test (and so minibox) runs with: the one a container must not share.
  hostKeyring = spawnSync(probe, ['session-keyring'], { encoding: 'utf8' }).stdout.trim();
  expect(hostKeyring).toMatch(/^\d+$/);
  await fixture.setup();
});

afterAll(async () => {
  await fixture.cleanup();
  fs.rmSync(probeDir, { recursive: true, force: true });
});

async function runProbe(flags: string[]): Promise<Record<string, string>> {
  const result = await fixture.mb(['run', '--rm', ...flags, '-v', `${probeDir}:/probe:ro`, fixture.image, '/probe/syscall-probe', hostKeyring]);
  expect(result.code, result.stderr).toBe(0);
  return results(result.stdout);
}

describe('Docker\'s default seccomp profile', () => {
  it('refuses keyctl, add_key, io_uring, userfaultfd, perf_event_open, bpf and new user namespaces with EPERM', async () => {
    const seen = await runProbe([]);
    for (const call of PROBED) expect(seen[call], call).toBe('EPERM');
    expect(seen.session_keyring).toBeUndefined(); // keyctl itself is refused
  });

  it('with seccomp=unconfined, each call reaches the kernel, which decides by its own rules', async () => {
    const seen = await runProbe(['--security-opt', 'seccomp=unconfined']);
    // The container's root is uid 0 like the host's, and "view" is granted to the keyring's uid.
    expect(seen.keyctl_host_keyring).toBe('ok');
    expect(seen.add_key).toBe('ok'); // into the container's own session keyring
    expect(seen.io_uring_setup).toBe(sysctl('kernel/io_uring_disabled') === 0 ? 'ok' : 'EPERM');
    expect(seen.userfaultfd).toBe('ok'); // UFFD_USER_MODE_ONLY needs no capability
    expect(seen.perf_event_open).toBe(sysctl('kernel/perf_event_paranoid') <= 2 ? 'ok' : 'EACCES');
    // No CAP_BPF in the container: maps need kernel.unprivileged_bpf_disabled=0.
    expect(seen.bpf_map_create).toBe(sysctl('kernel/unprivileged_bpf_disabled') === 0 ? 'ok' : 'EPERM');
    expect(seen.bpf_obj_get).toBe('ENOENT'); // reached the kernel: no such pinned object
    expect(seen.unshare_user).toBe('ok');
  });

  it('gives every container a fresh session keyring, not the host\'s', async () => {
    const first = await runProbe(['--security-opt', 'seccomp=unconfined']);
    const second = await runProbe(['--security-opt', 'seccomp=unconfined']);
    expect(first.session_keyring).toMatch(/^\d+$/);
    expect(first.session_keyring).not.toBe(hostKeyring);
    expect(second.session_keyring).not.toBe(first.session_keyring);
  });

  it('shows in /proc/self/status: filter mode under the profile, none when unconfined', async () => {
    const confined = await fixture.mb(['run', '--rm', fixture.image, 'grep', '^Seccomp:', '/proc/self/status']);
    expect(confined.stdout).toBe('Seccomp:\t2\n');
    const unconfined = await fixture.mb(['run', '--rm', '--security-opt', 'seccomp=unconfined', fixture.image, 'grep', '^Seccomp:', '/proc/self/status']);
    expect(unconfined.stdout).toBe('Seccomp:\t0\n');
  });

  it('keeps Docker\'s programs working: a shell pipeline, and ping with CAP_NET_RAW', async () => {
    const shell = await fixture.mb(['run', '--rm', fixture.image, 'sh', '-c', 'echo a b | tr " " "\\n" | sort -r | head -1; ls / >/dev/null && echo ok']);
    expect(shell.stdout).toBe('b\nok\n');
    const ping = await fixture.mb(['run', '--rm', '--network', 'none', fixture.image, 'ping', '-c', '1', '-W', '2', '127.0.0.1']);
    expect(ping.code, ping.stderr).toBe(0);
    expect(ping.stdout).toMatch(/1 packets received/);
  });
});

describe('exec inherits the container\'s filter and keyring', () => {
  it('an exec\'d process is refused the same calls', async () => {
    await fixture.start('confined', ['sleep', '300'], ['-v', `${probeDir}:/probe:ro`]);
    const result = await fixture.mb(['exec', 'confined', '/probe/syscall-probe', hostKeyring]);
    expect(result.code, result.stderr).toBe(0);
    const seen = results(result.stdout);
    for (const call of PROBED) expect(seen[call], call).toBe('EPERM');
  });

  it('an exec\'d process of an unconfined container joins that container\'s keyring', async () => {
    await fixture.start('open', ['sh', '-c', '/probe/syscall-probe 0 > /tmp/init-probe; exec sleep 300'],
      ['--security-opt', 'seccomp=unconfined', '-v', `${probeDir}:/probe:ro`]);
    let fromInit: string | undefined;
    for (let i = 0; i < 200 && !fromInit; i++) {
      fromInit = (await fixture.mb(['exec', 'open', 'cat', '/tmp/init-probe'])).stdout.match(/session_keyring=(\d+)/)?.[1];
    }
    const fromExec = results((await fixture.mb(['exec', 'open', '/probe/syscall-probe', hostKeyring])).stdout);
    expect(fromInit).toMatch(/^\d+$/);
    expect(fromExec.session_keyring).toBe(fromInit);
    expect(fromExec.session_keyring).not.toBe(hostKeyring);
  });
});
