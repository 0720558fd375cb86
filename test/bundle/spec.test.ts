import { describe, expect, it } from 'vitest';
import {
  buildEnvironment, buildRuntimeSpec, computeCapabilities, expandEnvOption, namespacesFor, parseEnvFile,
  parseNetworkMode, containerArgv, resolveWorkingDir, DEFAULT_PATH,
} from '../../src/bundle/spec-from-image.js';
import { DEFAULT_CAPABILITIES } from '../../src/bundle/docker-defaults.js';

describe('entrypoint and cmd follow Docker', () => {
  const image = { Entrypoint: ['/entry'], Cmd: ['default', 'args'] };
  it.each([
    ['image entrypoint + image cmd', image, undefined, [], ['/entry', 'default', 'args']],
    ['args replace only the cmd', image, undefined, ['x'], ['/entry', 'x']],
    ['--entrypoint drops the image cmd', image, '/other', [], ['/other']],
    ['--entrypoint with args', image, '/other', ['a', 'b'], ['/other', 'a', 'b']],
    ['empty --entrypoint resets it, args remain', image, '', ['sh'], ['sh']],
    ['cmd only image', { Cmd: ['/bin/sh'] }, undefined, [], ['/bin/sh']],
    ['null entrypoint', { Entrypoint: null, Cmd: ['ls'] }, undefined, ['echo', 'hi'], ['echo', 'hi']],
    ['entrypoint is one word, never split', {}, 'ls -l', [], ['ls -l']],
  ] as const)('%s', (_name, config, entrypoint, args, argv) => {
    expect(containerArgv(config as never, entrypoint, [...args]).argv).toEqual(argv);
  });

  it('no entrypoint and no cmd is "no command specified" (125)', () => {
    expect(() => containerArgv({}, undefined, [])).toThrow(expect.objectContaining({ message: 'no command specified', exitCode: 125 }));
    expect(() => containerArgv(image, '', [])).toThrow('no command specified');
  });
});

describe('environment', () => {
  it('orders PATH, HOSTNAME, TERM, image env, user env, then HOME from passwd', () => {
    const env = buildEnvironment({ imageEnv: ['PATH=/img/bin', 'A=image'], userEnv: ['A=user', 'B=2'], hostname: 'abc', home: '/home/app', tty: true });
    expect(env).toEqual(['PATH=/img/bin', 'HOSTNAME=abc', 'TERM=xterm', 'A=user', 'B=2', 'HOME=/home/app']);
  });

  it('defaults PATH when the image sets none, and keeps an image HOME', () => {
    const env = buildEnvironment({ imageEnv: ['HOME=/srv'], userEnv: [], hostname: 'h', home: '/root', tty: false });
    expect(env).toEqual([`PATH=${DEFAULT_PATH}`, 'HOSTNAME=h', 'HOME=/srv']);
  });

  it('-e K copies from minibox\'s environment and is dropped when unset', () => {
    expect(expandEnvOption('FOO', { FOO: 'bar' })).toBe('FOO=bar');
    expect(expandEnvOption('FOO', {})).toBeUndefined();
    expect(expandEnvOption('X=a=b', {})).toBe('X=a=b');
    expect(() => expandEnvOption('=x', {})).toThrow(/invalid environment variable/);
  });

  it('--env-file skips comments and blank lines', () => {
    expect(parseEnvFile('# comment\n\nA=1\n  B=two words\nHOSTVAR\nMISSING\n', 'f', { HOSTVAR: 'h' }))
      .toEqual(['A=1', 'B=two words', 'HOSTVAR=h']);
    expect(() => parseEnvFile('BAD KEY=1\n', 'envs')).toThrow(/envs:1: .*whitespace/);
  });
});

describe('working dir, network, capabilities', () => {
  it('uses -w, else the image WorkingDir, else /; relative paths are refused', () => {
    expect(resolveWorkingDir('/app', { WorkingDir: '/img' })).toBe('/app');
    expect(resolveWorkingDir(undefined, { WorkingDir: '/img' })).toBe('/img');
    expect(resolveWorkingDir(undefined, {})).toBe('/');
    expect(() => resolveWorkingDir('app', {})).toThrow(/needs to be an absolute path/);
  });

  it('host networking shares the host network namespace; none and bridge get their own', () => {
    expect(namespacesFor('host').map((n) => n.type)).not.toContain('network');
    expect(namespacesFor('none').map((n) => n.type)).toEqual(['pid', 'mount', 'uts', 'ipc', 'network', 'cgroup']);
    expect(parseNetworkMode(undefined)).toBe('bridge');
    expect(() => parseNetworkMode('weird')).toThrow(/network weird not found/);
  });

  it('starts from Docker\'s 14 and applies --cap-add / --cap-drop with or without CAP_', () => {
    expect(computeCapabilities([], [])).toHaveLength(14);
    expect(new Set(computeCapabilities([], []))).toEqual(new Set(DEFAULT_CAPABILITIES));
    const caps = computeCapabilities(['net_admin'], ['CAP_CHOWN', 'kill']);
    expect(caps).toContain('CAP_NET_ADMIN');
    expect(caps).not.toContain('CAP_CHOWN');
    expect(caps).not.toContain('CAP_KILL');
    expect(computeCapabilities([], ['ALL'])).toEqual([]);
    expect(computeCapabilities(['CHOWN'], ['ALL'])).toEqual(['CAP_CHOWN']);
    expect(computeCapabilities(['ALL'], ['SYS_ADMIN'])).not.toContain('CAP_SYS_ADMIN');
    expect(computeCapabilities(['ALL'], []).length).toBeGreaterThan(38);
    expect(() => computeCapabilities(['FLY'], [])).toThrow('unknown capability: "FLY"');
  });
});

describe('the runtime spec', () => {
  const specInput: Parameters<typeof buildRuntimeSpec>[0] = {
    argv: ['sh'], env: ['A=1'], cwd: '/', tty: false, hostname: 'abc', network: 'none',
    user: { uid: 1000, gid: 1000, additionalGids: [10] }, readOnlyRootfs: true, capabilities: ['CAP_KILL'],
    userMounts: [
      { destination: '/data/cache', type: 'tmpfs', source: 'tmpfs', options: [] },
      { destination: '/data', type: 'bind', source: '/srv', options: ['rbind', 'rprivate'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'tmpfs', options: ['size=1g'] },
    ],
    etcFiles: { hostname: '/c/hostname', hosts: '/c/hosts', resolvConf: '/c/resolv.conf' },
    overlay: { lowerDirsTopFirst: ['/l/top', '/l/bottom'], upperDir: '/c/upper', workDir: '/c/work' },
  };
  const spec = buildRuntimeSpec(specInput);

  it('carries the overlay as annotations, top layer first', () => {
    expect(spec.annotations).toEqual({
      'org.minibox.overlay.lowerdir': '/l/top:/l/bottom',
      'org.minibox.overlay.upperdir': '/c/upper',
      'org.minibox.overlay.workdir': '/c/work',
    });
    expect(spec.root).toEqual({ path: 'rootfs', readonly: true });
  });

  it('marks the overlay volatile only when asked (a --rm container)', () => {
    const input = { ...specInput, overlay: { ...specInput.overlay, volatile: true } };
    expect(buildRuntimeSpec(input).annotations?.['org.minibox.overlay.volatile']).toBe('true');
    expect(buildRuntimeSpec({ ...input, overlay: { ...input.overlay, volatile: false } }).annotations?.['org.minibox.overlay.volatile']).toBeUndefined();
  });

  it('mounts Docker\'s defaults, the etc files, then user mounts parents first; a user mount replaces a default', () => {
    const destinations = spec.mounts!.map((m) => m.destination);
    expect(destinations).toEqual(['/proc', '/dev', '/dev/pts', '/sys', '/sys/fs/cgroup', '/dev/mqueue', '/etc/resolv.conf', '/etc/hostname', '/etc/hosts', '/data', '/data/cache', '/dev/shm']);
    expect(spec.mounts!.find((m) => m.destination === '/dev/shm')!.options).toEqual(['size=1g']);
  });

  it('sets user, capabilities and no_new_privs', () => {
    expect(spec.process.user).toEqual({ uid: 1000, gid: 1000, additionalGids: [10] });
    expect(spec.process.capabilities).toEqual({ bounding: ['CAP_KILL'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'] });
    expect(spec.process.noNewPrivileges).toBe(true);
    expect(spec.linux!.maskedPaths).toContain('/proc/kcore');
  });
});
