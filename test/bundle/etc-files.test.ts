import { describe, expect, it } from 'vitest';
import { containerResolvConf, deriveResolvConf, hostsFile } from '../../src/bundle/etc-files.js';

describe('resolv.conf for a container', () => {
  it('replaces a systemd-resolved stub with public resolvers, keeping search and options', () => {
    expect(deriveResolvConf('nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch example.org\n'))
      .toBe('options edns0 trust-ad\nsearch example.org\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n');
  });

  it('keeps reachable nameservers and drops only the loopback ones', () => {
    expect(deriveResolvConf('nameserver ::1\nnameserver 10.0.0.2\nnameserver 127.0.0.1\n')).toBe('nameserver 10.0.0.2\n');
  });

  it('uses the defaults when the host has no resolv.conf', () => {
    expect(deriveResolvConf('')).toBe('nameserver 8.8.8.8\nnameserver 8.8.4.4\n');
  });

  it('with host networking the host file is used as is', () => {
    expect(containerResolvConf('host', 'nameserver 127.0.0.53\n')).toBe('nameserver 127.0.0.53\n');
  });
});

describe('/etc/hosts', () => {
  it('names localhost on both loopbacks and the container hostname', () => {
    const text = hostsFile('abc123');
    expect(text).toMatch(/^127\.0\.0\.1\tlocalhost$/m);
    expect(text).toMatch(/^::1\tlocalhost/m);
    expect(text).toMatch(/\tabc123$/m);
  });
});
