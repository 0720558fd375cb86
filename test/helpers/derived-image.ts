/**
 * Builds an image on top of another with umoci (the reference OCI tool): unpack the base,
 * let the test change the rootfs, repack as a new layer. The result shares the base's layers,
 * which is how tests prove shared layers are stored and fetched once.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';

// Removed after the test file that made them (a vitest worker may end without 'exit').
const madeDirs: string[] = [];
afterAll(() => {
  for (const dir of madeDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

export function deriveImage(baseLayout: string, baseTag: string, change: (rootfs: string) => void, tag = 'latest'): string {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-derived-'));
  madeDirs.push(work);
  const layout = path.join(work, 'layout');
  execFileSync('cp', ['-a', baseLayout, layout]);
  const bundle = path.join(work, 'bundle');
  execFileSync('umoci', ['unpack', '--image', `${layout}:${baseTag}`, bundle], { stdio: 'ignore' });
  change(path.join(bundle, 'rootfs'));
  execFileSync('umoci', ['repack', '--image', `${layout}:${tag}`, bundle], { stdio: 'ignore' });
  fs.rmSync(bundle, { recursive: true, force: true });
  return layout;
}

/** Writes `bytes` of incompressible data (a big layer for kill -9 and benchmark tests). */
export function writeRandomFile(file: string, bytes: number): void {
  const fd = fs.openSync(file, 'w');
  const chunk = Buffer.alloc(1 << 20);
  for (let written = 0; written < bytes; written += chunk.length) {
    for (let i = 0; i < chunk.length; i += 4) chunk.writeUInt32LE((Math.random() * 0xffffffff) >>> 0, i);
    fs.writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - written));
  }
  fs.closeSync(fd);
}
