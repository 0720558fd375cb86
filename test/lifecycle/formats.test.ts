/**
 * The small languages of the lifecycle commands: Go templates (`--format`), log times
 * (`--since`), signal names (`kill -s`), and Docker's STATUS column.
 */
import { describe, expect, it } from 'vitest';
import { renderGoTemplate, renderRows } from '../../src/cli/go-template.js';
import { commandOf, statusText } from '../../src/cli/commands/ps-command.js';
import type { MiniboxError } from '../../src/errors.js';
import type { ContainerRecord } from '../../src/container/container-store.js';
import { parseLogLines, parseLogTime } from '../../src/lifecycle/logs.js';
import { parseSignal } from '../../src/lifecycle/stop.js';

describe('Go templates (--format)', () => {
  const data = {
    Name: '/web', State: { Pid: 42, Running: true, Status: 'running' }, Args: ['-f', '-p'], Labels: { b: '2', a: '1' }, Empty: null,
    NetworkSettings: { Networks: { bridge: { IPAddress: '172.29.0.2' }, app: { IPAddress: '10.55.0.3' } } },
  };
  it.each([
    ['{{.State.Pid}}', '42'],
    ['pid={{ .State.Pid }} name={{.Name}}', 'pid=42 name=/web'],
    ['{{.State.Running}}', 'true'],
    ['{{json .State}}', '{"Pid":42,"Running":true,"Status":"running"}'],
    ['{{json .Args}}', '["-f","-p"]'],
    ['{{.Args}}', '[-f -p]'],
    ['{{.Labels}}', 'map[a:1 b:2]'],
    ['{{.Empty}}', '<no value>'],
    // the usual IP idiom: a range over a map visits its values in key order
    ['{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}', '10.55.0.3 172.29.0.2 '],
    ['{{range $name, $net := .NetworkSettings.Networks}}{{$name}}={{$net.IPAddress}};{{end}}', 'app=10.55.0.3;bridge=172.29.0.2;'],
    ['{{range .Args}}[{{.}} of {{$.Name}}]{{end}}', '[-f of /web][-p of /web]'],
    ['{{range .Empty}}x{{else}}none{{end}}', 'none'],
    ['{{index .Labels "a"}} {{index .Args 1}}', '1 -p'],
    ['{{upper .Name}} {{lower "AB"}} {{.Name | upper}}', '/WEB ab /WEB'],
    ['{{join .Args ","}}', '-f,-p'],
    ['{{if .State.Running}}up{{else}}down{{end}}', 'up'],
    ['{{if eq .State.Pid 1}}one{{else if gt .State.Pid 10}}big{{else}}small{{end}}', 'big'],
    ['{{with .State}}{{.Status}}{{end}}', 'running'],
    ['{{printf "%s:%d" .Name .State.Pid}} {{len .Args}}', '/web:42 2'],
    ['{{len .Labels}} {{len .Name}} {{.Args | len}} {{if gt (len .Args) 1}}many{{end}}', '2 4 2 many'],
    ['{{- .Name -}}  !', '/web!'],
    ['{{/* a comment */}}ok', 'ok'],
    ['{{(index .Args 0) | upper}}', '-F'],
  ])('%s → %s', (template, expected) => {
    expect(renderGoTemplate(template, data)).toBe(expected);
  });

  it.each([
    ['{{.Nope}}', 'template: :1:3: executing "" at <.Nope>: map has no entry for key "Nope"'],
    ['{{.State.Nope}}', 'map has no entry for key "Nope"'],
    ['{{.Args.X}}', "can't evaluate field X in type slice"],
    ['{{nope .Name}}', 'function "nope" not defined'],
    ['{{range .Args}}', 'has no {{end}}'],
    ['{{.Name', 'unclosed action'],
    ['{{len .State.Pid}}', 'error calling len: len of type int'], // was 0, silently
  ])('%s is an error, as in Docker (exit 1)', (template, message) => {
    expect(() => renderGoTemplate(template, data)).toThrow(message);
    try { renderGoTemplate(template, data); } catch (error) { expect((error as MiniboxError).exitCode).toBe(1); }
  });

  it('table TEMPLATE: a header from the same template, columns aligned at tabs; json: one object a line', () => {
    const rows = [{ ID: 'abc', Names: 'web' }, { ID: 'abcdef', Names: 'db' }];
    const headers = { ID: 'CONTAINER ID', Names: 'NAMES' };
    expect(renderRows('table {{.ID}}\\t{{.Names}}', rows, headers)).toEqual(['CONTAINER ID   NAMES', 'abc            web', 'abcdef         db']);
    expect(renderRows('{{.Names}}', rows, headers)).toEqual(['web', 'db']);
    expect(renderRows('json', rows, headers)).toEqual(['{"ID":"abc","Names":"web"}', '{"ID":"abcdef","Names":"db"}']);
  });
});

describe('ps COMMAND', () => {
  it('quotes arguments with spaces as Docker does', () => {
    expect(commandOf({ Path: 'sh', Args: ['-c', 'echo hi; sleep 1'] })).toBe("sh -c 'echo hi; sleep 1'");
    expect(commandOf({ Path: 'sleep', Args: ['100'] })).toBe('sleep 100');
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
