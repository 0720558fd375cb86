/**
 * The runtime's side of seccomp: config.json's linux.seccomp compiled by libseccomp into a BPF
 * program, and the cache that spares the next container the ~25 ms of compiling. The program is
 * only compiled here, never installed (that would confine the test process); installing is
 * exercised by real containers in seccomp.test.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_CAPABILITIES } from '../../src/bundle/docker-defaults.js';
import { dockerDefaultProfile, specSeccompFromProfile } from '../../src/bundle/seccomp-profile.js';
import { prepareSyscallFilter } from '../../src/runtime/process/syscall-filter.js';
import { onSysEvent, type SysEvent } from '../../src/sys/trace.js';

const spec = specSeccompFromProfile(dockerDefaultProfile(), { capabilities: DEFAULT_CAPABILITIES })!;
const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function calls(action: () => void): string[] {
  const seen: SysEvent[] = [];
  const stop = onSysEvent((event) => seen.push(event));
  try {
    action();
  } finally {
    stop();
  }
  return seen.map((event) => event.call);
}

function cacheDir(mode: number): string {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-seccomp-cache-'));
  dirs.push(parent);
  const dir = path.join(parent, 'seccomp');
  fs.mkdirSync(dir, { mode });
  fs.chmodSync(dir, mode);
  return dir;
}

describe('compiling linux.seccomp', () => {
  it('has libseccomp build one rule per syscall and export the program; nothing is installed', () => {
    const seen = calls(() => { prepareSyscallFilter(spec); });
    expect(seen[0]).toBe('seccomp_init');
    expect(seen.filter((call) => call === 'seccomp_arch_add')).toHaveLength(3); // x86_64 (there already), x86, x32
    expect(seen.filter((call) => call === 'seccomp_rule_add').length).toBeGreaterThan(300);
    expect(seen).toContain('seccomp_export_bpf');
    expect(seen).not.toContain('seccomp');
    expect(fs.readFileSync('/proc/self/status', 'utf8')).toMatch(/^Seccomp:\t0$/m);
  });

  it('keeps the program in a root-only cache and reuses it for the same rules', () => {
    const dir = cacheDir(0o700);
    expect(calls(() => { prepareSyscallFilter(spec, dir); })).toContain('seccomp_export_bpf');
    const files = fs.readdirSync(dir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^[0-9a-f]{8}\.filter$/);
    const second = calls(() => { prepareSyscallFilter(spec, dir); });
    expect(second).toEqual(['seccomp.cache']);
    // Other rules, another program.
    const other = { ...spec, syscalls: spec.syscalls!.slice(1) };
    expect(calls(() => { prepareSyscallFilter(other, dir); })).toContain('seccomp_export_bpf');
    expect(fs.readdirSync(dir)).toHaveLength(2);
  });

  it('uses a cached program only for the very rules it was compiled from', () => {
    // The file name is a short hash of the rules (filter-cache.ts); what decides is the text kept in
    // the file. Here the file under this spec's name holds other rules' text and program — as two
    // rule sets with the same hash would leave it — so the spec's own rules are compiled again.
    const dir = cacheDir(0o700);
    const other = { ...spec, syscalls: spec.syscalls!.slice(1) };
    prepareSyscallFilter(other, dir);
    const [otherFile] = fs.readdirSync(dir);
    prepareSyscallFilter(spec, dir);
    const ownFile = fs.readdirSync(dir).find((name) => name !== otherFile)!;
    fs.copyFileSync(path.join(dir, otherFile!), path.join(dir, ownFile));
    expect(calls(() => { prepareSyscallFilter(spec, dir); })).toContain('seccomp_export_bpf');
    expect(calls(() => { prepareSyscallFilter(spec, dir); })).toEqual(['seccomp.cache']); // rewritten: its own again
  });

  it('never uses a cache directory others can write to', () => {
    const trusted = cacheDir(0o700);
    prepareSyscallFilter(spec, trusted);
    const [file] = fs.readdirSync(trusted);
    const shared = cacheDir(0o777);
    fs.writeFileSync(path.join(shared, file!), Buffer.alloc(8)); // "a program" planted by someone else
    expect(calls(() => { prepareSyscallFilter(spec, shared); })).toContain('seccomp_export_bpf');
    expect(fs.readdirSync(shared)).toEqual([file]); // and nothing written there
  });
});
