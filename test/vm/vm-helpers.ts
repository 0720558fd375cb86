/**
 * The frame the VM tier's test files share. Inside the qemu guest there is no registry: the
 * image store prepared on the host is copied into the guest at /minibox-store (scripts/vm/), and
 * each file works on its own copy of it, so files cannot disturb one another.
 *
 * Not test/helpers/minibox.ts: it loads the registry helpers, which the VM's initramfs lacks.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect } from 'vitest';

export const bin = path.resolve(import.meta.dirname, '../../bin/minibox');

export interface VmResult { code: number; stdout: string; stderr: string }

/**
 * A state root copied from /minibox-store before the file's tests and removed after them. `cp -a`
 * keeps the layers' symlinks, owners and modes exactly (bin/echo -> busybox).
 */
export function withStoreCopy(prefix: string): { readonly root: string; minibox: (args: string[]) => VmResult } {
  let root = '';
  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    expect(spawnSync('cp', ['-a', '/minibox-store/.', root]).status).toBe(0);
  });
  afterAll(() => {
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });
  return {
    get root() { return root; },
    minibox(args: string[]): VmResult {
      const result = spawnSync(process.execPath, [bin, '--root', root, ...args], { encoding: 'utf8', timeout: 240_000 });
      return { code: result.status ?? 128 + 9, stdout: result.stdout, stderr: result.stderr };
    },
  };
}

/** Polls `condition` every 100 ms until it holds; a deadline turns a hang into a failure. */
export async function until(condition: () => boolean, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(100);
  }
}
