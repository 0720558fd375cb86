/**
 * A foreground `run` writes the container's output to its json-file log too, as Docker does:
 * `logs` of an exited foreground container shows what it printed, split by stream.
 *
 * On main before issue 19 `logs` of such a container printed nothing (only the monitor of a
 * detached container wrote the log): the first test fails there.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsonLogEntry, rfc3339Nano } from '../../src/container/json-file-log.js';
import { bin, minibox } from '../helpers/minibox.js';
import { pulledBusybox } from '../helpers/pulled-busybox.js';

const frame = pulledBusybox('test/fglog-busybox');

describe('foreground output in the json-file log', () => {
  it('logs of an exited foreground container shows its output, by stream', () => {
    const { root, image } = frame;
    const run = minibox(root, ['run', '--network', 'none', '--name', 'fg-log', image, 'sh', '-c', 'echo out; echo "<err>" >&2; printf partial']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('out\npartial');
    expect(run.stderr).toBe('<err>\n');
    const logs = minibox(root, ['logs', 'fg-log']);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toBe('out\npartial');
    expect(logs.stderr).toBe('<err>\n');
    const id = minibox(root, ['inspect', '--format', '{{.Id}}', 'fg-log']).stdout.trim();
    const entries = fs.readFileSync(path.join(root, 'containers', id, 'container.log'), 'utf8').trimEnd().split('\n');
    expect(entries.map((line) => JSON.parse(line) as { stream: string; log: string })
      .map(({ stream, log }) => `${stream}:${log}`).sort()).toEqual(['stderr:<err>\n', 'stdout:out\n', 'stdout:partial']);
    expect(entries.find((line) => line.includes('err'))).toContain('\\u003cerr\\u003e'); // HTML-safe, as Go's encoder
    expect(minibox(root, ['rm', 'fg-log']).code).toBe(0);
  });

  it('a reader that stops early ends the program (EPIPE), and the run still exits', () => {
    const { root, image } = frame;
    const out = execFileSync('sh', ['-c', `"${process.execPath}" "${bin}" --root "${root}" run --rm --network none ${image} yes | head -2`], { encoding: 'utf8', timeout: 60_000 });
    expect(out).toBe('y\ny\n');
  });

  it('writes entries the way the monitor does (Go RFC 3339 with nanoseconds, HTML-safe)', () => {
    expect(rfc3339Nano(new Date('2024-05-01T10:00:00.120Z'))).toBe('2024-05-01T10:00:00.12Z');
    expect(rfc3339Nano(new Date('2024-05-01T10:00:00.000Z'))).toBe('2024-05-01T10:00:00Z');
    expect(jsonLogEntry('stdout', 'a "<b>" & \u0001\n', 'T')).toBe('{"log":"a \\"\\u003cb\\u003e\\" \\u0026 \\u0001\\n","stream":"stdout","time":"T"}\n');
  });
});
