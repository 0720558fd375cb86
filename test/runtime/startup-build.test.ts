/**
 * The start-up build (scripts/build-startup.mjs): each program Node starts is one joined file,
 * used when it is at least as new as the module-by-module build, and it is the same program.
 * Speed is measured in bench/, never here. On main before this change the first test failed
 * (no dist/startup/, stagePath named dist/runtime/stages/init-stage.js).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { stagePath } from '../../src/runtime/programs.js';

const repo = path.resolve(import.meta.dirname, '../..');
const bin = path.join(repo, 'bin/minibox');

function minibox(args: string[], env: Record<string, string> = {}): { code: number; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

afterEach(() => { delete process.env.MINIBOX_UNBUNDLED; });

describe('the start-up build', () => {
  test('the init stage starts from dist/startup/ (one file), or module by module with MINIBOX_UNBUNDLED', () => {
    expect(stagePath('init-stage')).toBe(path.join(repo, 'dist/startup/init-stage.cjs'));
    process.env.MINIBOX_UNBUNDLED = '1';
    expect(stagePath('init-stage')).toBe(path.join(repo, 'dist/runtime/stages/init-stage.js'));
  });

  test('the joined CLI and the module-by-module one answer alike: help, a usage error, its exit code', () => {
    for (const args of [
      ['run', '--help'], ['exec', '--help'], ['rm', '--help'], ['ps', '--help'], ['unpause', '--help'], ['pull', '--help'],
      ['image', '--help'], ['image'], ['exec', '--bogus', 'x'], ['run', '--bogus-flag', 'x'], ['rm'], ['pull'], ['tag', 'a'],
      ['nosuchverb'],
    ]) {
      const joined = minibox(args);
      const plain = minibox(args, { MINIBOX_UNBUNDLED: '1' });
      expect(joined, args.join(' ')).toEqual(plain);
    }
  });

  test('exec, run, the lifecycle and the image verbs start from smaller joined files of their own', () => {
    const whole = fs.statSync(path.join(repo, 'dist/startup/run-cli.cjs')).size;
    for (const verb of ['exec', 'run', 'create', 'rm', 'ps', 'pull', 'images', 'image']) {
      expect(fs.statSync(path.join(repo, `dist/startup/verb-${verb}.cjs`)).size, verb).toBeLessThan(whole);
    }
  });

  test('a successful command leaves a code cache for its verb; a failing one or a help page does not', () => {
    const cache = path.join(repo, 'dist/startup/code-cache');
    fs.rmSync(path.join(cache, 'version.bin'), { force: true });
    fs.rmSync(path.join(cache, 'rename.bin'), { force: true });
    fs.rmSync(path.join(cache, 'tag.bin'), { force: true });
    expect(minibox(['tag', '--help']).code).toBe(0); // on main before this change: tag.bin, holding only the help's code
    expect(fs.existsSync(path.join(cache, 'tag.bin'))).toBe(false);
    expect(minibox(['version']).code).toBe(0);
    expect(fs.statSync(path.join(cache, 'version.bin')).size).toBeGreaterThan(0);
    expect(minibox(['version']).code).toBe(0); // and runs from it
    expect(minibox(['rename']).code).toBe(125); // missing arguments
    expect(fs.existsSync(path.join(cache, 'rename.bin'))).toBe(false);
  });

  test('`ps` loads neither koffi nor the builtins only other verbs use (they load on first use)', () => {
    // A preload that reports, at exit, the builtins Node loaded and whether koffi's addon is mapped.
    // On main before this change: child_process, crypto, dgram, https, tls, tty, zlib… and koffi
    // (required by sys/libc.ts as soon as it was imported) — 131 builtins instead of 86.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'minibox-startup-'));
    try {
      const preload = path.join(dir, 'report.cjs');
      const report = path.join(dir, 'report.json');
      fs.writeFileSync(preload, `process.on('exit', () => {
        const fs = require('node:fs');
        const builtins = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13));
        fs.writeFileSync(${JSON.stringify(report)}, JSON.stringify({ builtins, koffi: fs.readFileSync('/proc/self/maps', 'utf8').includes('koffi.node') }));
      });\n`);
      const result = spawnSync(process.execPath, ['--require', preload, bin, '--root', path.join(dir, 'root'), 'ps'], { encoding: 'utf8' });
      expect(result.status, result.stderr).toBe(0);
      const loaded = JSON.parse(fs.readFileSync(report, 'utf8')) as { builtins: string[]; koffi: boolean };
      expect(loaded.koffi).toBe(false);
      for (const builtin of ['child_process', 'crypto', 'dgram', 'http', 'https', 'tls', 'tty', 'zlib']) {
        expect(loaded.builtins, builtin).not.toContain(builtin);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
