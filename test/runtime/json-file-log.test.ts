/**
 * json-file-log.ts on its own (the end-to-end proof, foreground log = monitor's log, is in
 * test/lifecycle/run.test.ts): Docker's entry format and escapes, the 16 KiB split, and rotation
 * at max-size with max-file files, in a temp directory.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { jsonFileEntry, openJsonFileLog, takeLines } from '../../src/runtime/json-file-log.js';

let dir: string | undefined;
afterEach(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

describe('the json-file log writer', () => {
  it('escapes as Go does for Docker (HTML-safe, \\b and \\f as \\u)', () => {
    expect(jsonFileEntry('stderr', 'a<b>&"\\\b\f\t\n', '2024-05-01T10:00:00Z'))
      .toBe('{"log":"a\\u003cb\\u003e\\u0026\\"\\\\\\u0008\\u000c\\t\\n","stream":"stderr","time":"2024-05-01T10:00:00Z"}\n');
  });

  it('splits lines at newlines and at 16 KiB; the rest waits unless the stream ended', () => {
    const { lines, rest } = takeLines(Buffer.from(`a\n${'x'.repeat(16384)}yz\nhalf`), false);
    expect(lines.map((l) => l.length)).toEqual([2, 16384, 3]);
    expect(rest.toString()).toBe('half');
    expect(takeLines(rest, true).lines.map(String)).toEqual(['half']);
  });

  it('rotates at max-size, keeping max-file files', () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-jsonlog-'));
    const file = path.join(dir, 'container.log');
    const log = openJsonFileLog(file, { maxSize: 300, maxFiles: 2 });
    for (let i = 0; i < 20; i++) log.write('stdout', Buffer.from(`line ${i}\n`));
    log.close();
    expect(fs.readdirSync(dir).sort()).toEqual(['container.log', 'container.log.1']);
    for (const name of fs.readdirSync(dir)) expect(fs.statSync(path.join(dir, name)).size).toBeLessThanOrEqual(300);
    const last = fs.readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => (JSON.parse(l) as { log: string }).log);
    expect(last.at(-1)).toBe('line 19\n');
  });
});
