/**
 * Hostile probes: small static C programs under test/fixtures/probes/, compiled for the test that
 * needs them (static: they run inside busybox images, which may have no C library) into a temp
 * directory the test bind-mounts read-only into a container. Needs gcc and glibc's static
 * libraries (scripts/provision.sh installs build-essential, as native/ needs).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from './registry.js';

/** Compiles test/fixtures/probes/NAME.c into a fresh temp dir; returns the dir (remove it after). */
export function buildProbe(name: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-probe-'));
  execFileSync('gcc', ['-O2', '-Wall', '-Werror', '-static', '-o', path.join(dir, name),
    path.join(repoRoot, 'test/fixtures/probes', `${name}.c`)], { stdio: ['ignore', 'ignore', 'inherit'] });
  return dir;
}
