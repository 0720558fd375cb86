/**
 * The seccomp filter and the session keyring, probed from inside real containers.
 *
 * A small static C program (fixtures/syscall-probe.c, built here with gcc, bind-mounted read-only)
 * tries the calls container escapes start from. Under Docker's default profile every one fails
 * with EPERM; with `--security-opt seccomp=unconfined` each reaches the kernel, which then allows
 * it or not by its own rules (the expectations below read the host's sysctls and say which).
 * minibox itself runs under a session keyring of its own (`syscall-probe with-session-keyring`),
 * as it does from a root login shell: that is the host keyring a container must not possess.
 *
 * Uses the default bridge: run under `flock /tmp/minibox-net.lock npx vitest run …`.
 *
 * Checked to fail on today's main (18d62ab, before this change, with the `--security-opt` flags
 * removed from the calls): there every probed call succeeds in a default container (no filter),
 * and the container's session keyring *is* minibox's (`session_keyring` = `host_keyring`,
 * `add_key_host_keyring=ok`) — the "default profile" and "fresh keyring" tests fail.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LifecycleFixture } from '../lifecycle/running-container.js';
import { bin, type CliResult } from '../helpers/minibox.js';

const fixture = new LifecycleFixture();
const probeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-probe-'));
const probe = path.join(probeDir, 'syscall-probe');

const PROBED = ['keyctl_host_keyring', 'add_key_host_keyring', 'add_key', 'io_uring_setup', 'userfaultfd', 'perf_event_open',
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
  await fixture.setup();
});

afterAll(async () => {
  await fixture.cleanup();
  fs.rmSync(probeDir, { recursive: true, force: true });
});

/** `minibox ARGS` started from a process with a session keyring of its own, like a login shell's. */
async function mbWithKeyring(args: string[]): Promise<CliResult> {
  return await new Promise((resolve) => {
    const child = spawn(probe, ['with-session-keyring', process.execPath, bin, '--root', fixture.root,
      '--insecure-registry', fixture.registry.host, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Runs the probe in a new container; `HOST_KEYRING` is the keyring minibox was started with. */
async function runProbe(flags: string[]): Promise<Record<string, string>> {
  const result = await mbWithKeyring(['run', '--rm', ...flags, '-e', 'HOST_KEYRING', '-v', `${probeDir}:/probe:ro`,
    fixture.image, '/probe/syscall-probe', 'env']);
  expect(result.code, result.stderr).toBe(0);
  return results(result.stdout);
}

describe('Docker\'s default seccomp profile', () => {
  it('refuses keyctl, add_key, io_uring, userfaultfd, perf_event_open, bpf and new user namespaces with EPERM', async () => {
    const seen = await runProbe([]);
    expect(seen.host_keyring).toMatch(/^[1-9]\d*$/);
    for (const call of PROBED) expect(seen[call], call).toBe('EPERM');
    expect(seen.session_keyring).toBeUndefined(); // keyctl itself is refused
  });

  it('with seccomp=unconfined, each call reaches the kernel, which decides by its own rules', async () => {
    const seen = await runProbe(['--security-opt', 'seccomp=unconfined']);
    // The container's root is uid 0 like the host's, and "view" is granted to the keyring's uid;
    // "write" only to its possessors: the container no longer is one (on main it was: ok).
    expect(seen.keyctl_host_keyring).toBe('ok');
    expect(seen.add_key_host_keyring).toBe('EACCES');
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
    expect(first.session_keyring).not.toBe(first.host_keyring);
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
    const result = await mbWithKeyring(['exec', '-e', 'HOST_KEYRING', 'confined', '/probe/syscall-probe', 'env']);
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
    const fromExec = results((await mbWithKeyring(['exec', '-e', 'HOST_KEYRING', 'open', '/probe/syscall-probe', 'env'])).stdout);
    expect(fromInit).toMatch(/^\d+$/);
    expect(fromExec.session_keyring).toBe(fromInit);
    expect(fromExec.host_keyring).toMatch(/^[1-9]\d*$/);
    expect(fromExec.session_keyring).not.toBe(fromExec.host_keyring);
    expect(fromExec.add_key_host_keyring).toBe('EACCES');
  });
});

describe('--security-opt and --privileged from the command line', () => {
  it('no-new-privileges: on by default (stricter than Docker), off with =false', async () => {
    const on = await fixture.mb(['run', '--rm', fixture.image, 'grep', '^NoNewPrivs:', '/proc/self/status']);
    expect(on.stdout).toBe('NoNewPrivs:\t1\n');
    const off = await fixture.mb(['run', '--rm', '--security-opt', 'no-new-privileges=false', fixture.image, 'grep', '-E', '^(NoNewPrivs|Seccomp):', '/proc/self/status']);
    // Without no_new_privs the filter was loaded while CAP_SYS_ADMIN was still there (runc's order).
    expect(off.stdout).toBe('NoNewPrivs:\t0\nSeccomp:\t2\n');
  });

  it('a Docker-format profile file replaces the default', async () => {
    const profile = path.join(probeDir, 'no-mkdir.json');
    fs.writeFileSync(profile, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }] }));
    const run = await fixture.mb(['run', '--rm', '--security-opt', `seccomp=${profile}`, fixture.image, 'sh', '-c', 'mkdir /tmp/x; echo "mkdir=$?"']);
    expect(run.stderr).toMatch(/Permission denied/); // errnoRet 13 = EACCES
    expect(run.stdout).toBe('mkdir=1\n');
  });

  it('bad values fail before anything is created, with exit 125', async () => {
    const missing = await fixture.mb(['run', '--rm', '--security-opt', 'seccomp=/no/such/profile.json', fixture.image, 'true']);
    expect(missing.code).toBe(125);
    expect(missing.stderr).toMatch(/opening seccomp profile \(\/no\/such\/profile.json\) failed: ENOENT/);
    const unknown = await fixture.mb(['run', '--rm', '--security-opt', 'label=disable', fixture.image, 'true']);
    expect(unknown.code).toBe(125);
    expect(unknown.stderr).toMatch(/--security-opt label is not supported/);
  });

  it('--privileged: every capability, no filter, no masked paths, writable /sys, the host\'s devices', async () => {
    const hostBounding = /^CapBnd:\s*(\S+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1];
    const script = [
      'grep -E "^(CapEff|Seccomp|NoNewPrivs):" /proc/self/status',
      'grep -c " /proc/kcore " /proc/self/mountinfo',
      'mount -t tmpfs none /tmp && echo mounted',
      'test -c /dev/kmsg && echo host-devices',
      'grep " /sys " /proc/self/mountinfo | grep -c " rw,"',
    ].join('; ');
    const run = await fixture.mb(['run', '--rm', '--privileged', fixture.image, 'sh', '-c', script]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe(`CapEff:\t${hostBounding}\nNoNewPrivs:\t0\nSeccomp:\t0\n0\nmounted\nhost-devices\n1\n`);
    const plain = await fixture.mb(['run', '--rm', fixture.image, 'sh', '-c', 'test -c /dev/kmsg || echo no-host-devices']);
    expect(plain.stdout).toBe('no-host-devices\n');
  });

  it('--explain says what --privileged and seccomp=unconfined give up, and narrates the filter and keyring', async () => {
    const privileged = await fixture.mb(['run', '--rm', '--explain=all', '--privileged', fixture.image, 'true']);
    expect(privileged.stderr).toMatch(/--privileged: \d+ capabilities, \d+ of the host.s devices, no seccomp filter.*it is root on the host/);
    const unconfined = await fixture.mb(['run', '--rm', '--explain=all', '--security-opt', 'seccomp=unconfined', fixture.image, 'true']);
    expect(unconfined.stderr).toMatch(/seccomp=unconfined: no system call filter/);
    expect(unconfined.stderr).not.toMatch(/SET_MODE_FILTER/);
    const confined = await fixture.mb(['run', '--rm', '--explain=all', fixture.image, 'true']);
    expect(confined.stderr).toMatch(/keyctl\(JOIN_SESSION_KEYRING, "_ses\.[0-9a-f]{64}"\): a session keyring of the container's own/);
    expect(confined.stderr).toMatch(/seccomp_export_bpf: libseccomp compiled the seccomp profile|BPF instructions reused from the cache/);
    expect(confined.stderr).toMatch(/seccomp\(SET_MODE_FILTER\): \d+ BPF instructions now check every system call \(x86_64,x86,x32 ABIs\): \d+ are allowed, 1 answered with an error, all others fail with EPERM/);
    // The filter comes after no_new_privs, and execve after it.
    expect(confined.stderr.indexOf('PR_SET_NO_NEW_PRIVS')).toBeLessThan(confined.stderr.indexOf('SET_MODE_FILTER'));
    expect(confined.stderr.indexOf('SET_MODE_FILTER')).toBeLessThan(confined.stderr.indexOf('execve'));
  });
});
