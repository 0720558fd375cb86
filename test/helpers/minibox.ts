/**
 * Runs the built CLI (`bin/minibox`, from dist/ — `npm test` builds first) with a temp state root.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from './registry.js';

export const bin = path.join(repoRoot, 'bin/minibox');

export interface CliResult { code: number; stdout: string; stderr: string }

/** Runs `minibox --root ROOT ...args` to completion. */
export function minibox(root: string, args: string[], options: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): CliResult {
  const result = spawnSync(process.execPath, [bin, '--root', root, ...args], {
    input: options.input ?? '',
    env: { ...process.env, ...options.env },
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 120_000,
  });
  return { code: result.status ?? 128 + 9, stdout: result.stdout, stderr: result.stderr };
}

/** Same, without blocking the test's event loop (for registries/servers running in the test process). */
export async function mbAsync(root: string, args: string[], options: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<CliResult> {
  return await new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, '--root', root, ...args], { env: { ...process.env, ...options.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.stdin.end(options.input ?? '');
    child.on('close', (code, signal) => resolve({ code: code ?? 128 + (signal ? os.constants.signals[signal] : 0), stdout, stderr }));
  });
}

/** A fresh temp state root. */
export function tempRoot(prefix = 'mb-root-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
