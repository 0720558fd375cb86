/**
 * Helpers for the minibox-runc tests: a plain OCI bundle as `runc spec` + a busybox rootfs make
 * it (the host's busybox-static and its applet links; no image store involved), a private
 * `--root` for the runtime's state, and the runtime run to completion.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../helpers/registry.js';

export const runcBin = path.join(repoRoot, 'bin/minibox-runc');

export interface RuncResult { code: number; stdout: string; stderr: string }

/**
 * A temp dir for one test file: `state/` (the runtime's --root) and bundles under it. Lowercase
 * (not mkdtemp's mixed case): podman names an image pulled from `oci:DIR` after DIR.
 */
export function ociScratch(prefix: string): { dir: string; state: string } {
  const dir = path.join(os.tmpdir(), `${prefix}${randomBytes(6).toString('hex')}`);
  fs.mkdirSync(dir, { mode: 0o700 });
  return { dir, state: path.join(dir, 'state') };
}

/** `minibox-runc --root STATE ...args`, to completion (stdin closed). */
export function runc(state: string, args: string[], options: { timeoutMs?: number; stdio?: 'pipe' } = {}): RuncResult {
  const result = spawnSync(process.execPath, [runcBin, '--root', state, ...args], {
    input: '', encoding: 'utf8', timeout: options.timeoutMs ?? 60_000,
  });
  return { code: result.status ?? 128 + 9, stdout: result.stdout, stderr: result.stderr };
}

const APPLETS = ['sh', 'stty', 'echo', 'cat', 'ls', 'sleep', 'true', 'id', 'hostname', 'readlink', 'tty', 'ps', 'test'];

/** A bundle in `parent/NAME`: rootfs with busybox, config.json from `minibox-runc spec`, edited. */
export function makeBundle(parent: string, name: string, edit: (spec: Record<string, any>) => void = () => undefined): string {
  const bundle = path.join(parent, name);
  fs.mkdirSync(path.join(bundle, 'rootfs/bin'), { recursive: true });
  fs.copyFileSync('/bin/busybox', path.join(bundle, 'rootfs/bin/busybox'));
  fs.chmodSync(path.join(bundle, 'rootfs/bin/busybox'), 0o755);
  for (const applet of APPLETS) fs.symlinkSync('busybox', path.join(bundle, 'rootfs/bin', applet));
  const made = spawnSync(process.execPath, [runcBin, 'spec', '--bundle', bundle], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`minibox-runc spec failed: ${made.stderr}`);
  const spec = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8')) as Record<string, any>;
  spec.process.terminal = false;
  edit(spec);
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
  return bundle;
}

/** Polls until `condition` holds (bounded: 400 × 25 ms); a condition wait, not a sleep. */
export async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out waiting until ${what}`);
}

export function statusOf(state: string, id: string): string {
  const result = runc(state, ['state', id]);
  return result.code === 0 ? (JSON.parse(result.stdout) as { status: string }).status : `error: ${result.stderr.trim()}`;
}

/**
 * `create` (or `run -d`) with files as stdio, as engines give a runtime: the container keeps the
 * runtime's stdout/stderr, so pipes would stay open (and spawnSync waiting) until it exits.
 * Returns the exit code, the runtime's own stderr, and the files the container writes to.
 */
export function runcDetached(state: string, args: string[], dir: string, name: string): RuncResult & { out: string; err: string } {
  const out = path.join(dir, `${name}.out`);
  const err = path.join(dir, `${name}.err`);
  const outFd = fs.openSync(out, 'w');
  const errFd = fs.openSync(err, 'w');
  try {
    const result = spawnSync(process.execPath, [runcBin, '--root', state, ...args], { stdio: ['ignore', outFd, errFd], timeout: 60_000 });
    return { code: result.status ?? 128 + 9, stdout: fs.readFileSync(out, 'utf8'), stderr: fs.readFileSync(err, 'utf8'), out, err };
  } finally {
    fs.closeSync(outFd);
    fs.closeSync(errFd);
  }
}
