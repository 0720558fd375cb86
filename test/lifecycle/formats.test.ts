/**
 * The small languages of the lifecycle commands: Go templates (`--format`), log times
 * (`--since`), signal names (`kill -s`), and Docker's STATUS column.
 */
import { describe, expect, it } from 'vitest';
import { renderGoTemplate } from '../../src/cli/go-template.js';
import { statusText } from '../../src/cli/commands/ps-command.js';
import type { ContainerRecord } from '../../src/container/container-store.js';
import { parseLogLines, parseLogTime } from '../../src/lifecycle/logs.js';
import { parseSignal } from '../../src/lifecycle/stop.js';

describe('Go template subset', () => {
  const data = { Name: '/web', State: { Pid: 42, Running: true, Status: 'running' }, Args: ['-f', '-p'], Labels: { b: '2', a: '1' }, Empty: null };
  it.each([
    ['{{.State.Pid}}', '42'],
    ['pid={{ .State.Pid }} name={{.Name}}', 'pid=42 name=/web'],
    ['{{.State.Running}}', 'true'],
    ['{{json .State}}', '{"Pid":42,"Running":true,"Status":"running"}'],
    ['{{json .Args}}', '["-f","-p"]'],
    ['{{.Args}}', '[-f -p]'],
    ['{{.Labels}}', 'map[a:1 b:2]'],
    ['{{.Nope.Deeper}}', '<no value>'],
    ['{{.Empty}}', '<no value>'],
  ])('%s → %s', (template, expected) => {
    expect(renderGoTemplate(template, data)).toBe(expected);
  });

  it('refuses what it does not understand, in one line', () => {
    expect(() => renderGoTemplate('{{range .Args}}{{.}}{{end}}', data)).toThrow(/unsupported expression/);
  });
});

describe('log times and lines', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');
  it.each([
    ['2024-05-01T10:00:00Z', Date.parse('2024-05-01T10:00:00Z')],
    ['1714557600', 1714557600_000],
    ['10m', now - 600_000],
    ['1h30m', now - 5_400_000],
    ['1.5s', now - 1500],
  ])('--since %s', (text, expected) => {
    expect(parseLogTime(text, now)).toBe(expected);
  });

  it('rejects nonsense with a hint', () => {
    expect(() => parseLogTime('yesterday', now)).toThrow(/RFC 3339/);
  });

  it('keeps a torn last line for the next read', () => {
    const { entries, rest } = parseLogLines('{"log":"a\\n","stream":"stdout","time":"t"}\n{"log":"b');
    expect(entries).toEqual([{ log: 'a\n', stream: 'stdout', time: 't' }]);
    expect(rest).toBe('{"log":"b');
  });
});

describe('signals', () => {
  it.each([['KILL', 9], ['SIGTERM', 15], ['hup', 1], ['10', 10]])('%s → %i', (text, number) => {
    expect(parseSignal(text)).toBe(number);
  });
  it('rejects unknown signals', () => {
    expect(() => parseSignal('SIGNOPE')).toThrow(/invalid signal/);
  });
});

describe('STATUS column', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');
  const record = (state: Partial<ContainerRecord['State']>): ContainerRecord => ({
    State: { Status: 'created', Running: false, Pid: 0, ExitCode: 0, Error: '', StartedAt: '', FinishedAt: '', ...state },
  }) as ContainerRecord;
  it.each([
    [{ Status: 'created' as const }, 'Created'],
    [{ Status: 'running' as const, Running: true, StartedAt: '2024-05-01T11:59:57Z' }, 'Up 3 seconds'],
    [{ Status: 'exited' as const, ExitCode: 137, FinishedAt: '2024-05-01T11:58:00Z' }, 'Exited (137) 2 minutes ago'],
    [{ Status: 'removing' as const }, 'Removal In Progress'],
  ])('%j → %s', (state, text) => {
    expect(statusText(record(state), now)).toBe(text);
  });
});
