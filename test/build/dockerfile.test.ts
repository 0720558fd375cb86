/**
 * The Dockerfile's syntax and rules, without running anything: the parser (directives,
 * continuations, exec vs shell form, errors with line numbers), variable substitution, the
 * config instructions and which stages a build needs.
 */
import { describe, expect, it } from 'vitest';
import { applyConfigInstruction, type StageMeta } from '../../src/build/config-instructions.js';
import { parseDockerfile } from '../../src/build/dockerfile.js';
import { planStages } from '../../src/build/stages.js';
import { keyValuePairs, substitute } from '../../src/build/substitute.js';
import type { ContainerConfig } from '../../src/image/oci.js';

describe('parseDockerfile', () => {
  it('joins continuations, drops comments, reads exec form and flags', () => {
    const file = parseDockerfile('# a comment\nFROM busybox AS base\nRUN echo a \\\n  # inside\n  && echo b\nCOPY --from=base --chown=1:2 /a /b\nCMD ["sh", "-c", "echo hi"]\n');
    expect(file.instructions.map((i) => i.name)).toEqual(['FROM', 'RUN', 'COPY', 'CMD']);
    expect(file.instructions[1]!.args).toBe('echo a  && echo b');
    expect(file.instructions[1]!.line).toBe(3);
    expect(file.instructions[2]!.flags).toEqual({ from: 'base', chown: '1:2' });
    expect(file.instructions[3]!.json).toEqual(['sh', '-c', 'echo hi']);
  });

  it('honours the escape directive and ignores syntax', () => {
    const file = parseDockerfile('# syntax=docker/dockerfile:1\n# escape=`\nFROM x\nRUN dir c:\\ `\n  && echo done\n');
    expect(file.escape).toBe('`');
    expect(file.instructions[1]!.args).toBe('dir c:\\  && echo done');
  });

  it('refuses unknown instructions, bad JSON, missing arguments, with file and line', () => {
    expect(() => parseDockerfile('FROM x\nFORM y\n')).toThrow('Dockerfile:2: unknown instruction: FORM');
    expect(() => parseDockerfile('FROM x\nCMD ["a", b]\n')).toThrow(/Dockerfile:2: CMD: .* is not a valid JSON array/);
    expect(() => parseDockerfile('FROM x\nCOPY onlyone\n')).toThrow('Dockerfile:2: COPY requires at least two arguments, but got 1');
    expect(() => parseDockerfile('FROM x\nSHELL sh -c\n')).toThrow('Dockerfile:2: SHELL requires the arguments to be in JSON form');
    expect(() => parseDockerfile('RUN true\n')).toThrow(/Dockerfile:1: no build stage/);
    expect(() => parseDockerfile('\n# only a comment\n')).toThrow(/has no instructions/);
  });
});

describe('substitution', () => {
  const vars = new Map([['A', '1'], ['EMPTY', '']]);
  it('follows Docker\'s forms', () => {
    expect(substitute('$A ${A} ${B:-x} ${EMPTY:-y} ${A:+set} ${B:+no} \\$A', vars)).toBe('1 1 x y set  $A');
  });
  it('splits KEY=VALUE pairs with quotes, and the old KEY VALUE form', () => {
    expect(keyValuePairs('A=1 B="two words" C=\'x y\'')).toEqual([['A', '1'], ['B', 'two words'], ['C', 'x y']]);
    expect(keyValuePairs('NAME some value')).toEqual([['NAME', 'some value']]);
  });
});

describe('config instructions', () => {
  const apply = (config: ContainerConfig, meta: StageMeta, text: string) => {
    const instruction = parseDockerfile(`FROM x\n${text}\n`).instructions[1]!;
    applyConfigInstruction(config, meta, instruction, instruction.args);
  };

  it('shell form runs under SHELL; a new ENTRYPOINT clears an inherited CMD but not its own', () => {
    const config: ContainerConfig = { Cmd: ['inherited'] };
    const meta: StageMeta = { cmdSet: false };
    apply(config, meta, 'SHELL ["/bin/ash", "-eo"]');
    apply(config, meta, 'ENTRYPOINT run me');
    expect(config.Entrypoint).toEqual(['/bin/ash', '-eo', 'run me']);
    expect(config.Cmd).toBeNull();
    apply(config, meta, 'CMD ["--flag"]');
    apply(config, meta, 'ENTRYPOINT ["/x"]');
    expect(config.Cmd).toEqual(['--flag']);
  });

  it('stores HEALTHCHECK (durations in ns), ONBUILD, EXPOSE, VOLUME, LABEL, ENV', () => {
    const config: ContainerConfig = {};
    const meta: StageMeta = { cmdSet: false };
    apply(config, meta, 'HEALTHCHECK --interval=30s --timeout=3s --retries=2 CMD wget -q -O- http://localhost/');
    apply(config, meta, 'ONBUILD COPY . /app');
    apply(config, meta, 'EXPOSE 80 53/UDP');
    apply(config, meta, 'VOLUME /a /b');
    apply(config, meta, 'LABEL a=1 "b"="two"');
    apply(config, meta, 'ENV X=1');
    apply(config, meta, 'ENV X=2');
    expect(config.Healthcheck).toEqual({ Test: ['CMD-SHELL', 'wget -q -O- http://localhost/'], Interval: 30e9, Timeout: 3e9, Retries: 2 });
    expect(config.OnBuild).toEqual(['COPY . /app']);
    expect(config.ExposedPorts).toEqual({ '80/tcp': {}, '53/udp': {} });
    expect(config.Volumes).toEqual({ '/a': {}, '/b': {} });
    expect(config.Labels).toEqual({ a: '1', b: 'two' });
    expect(config.Env).toEqual(['X=2']);
    expect(() => apply(config, meta, 'ONBUILD FROM x')).toThrow(/FROM isn't allowed as an ONBUILD trigger/);
  });
});

describe('stages', () => {
  const text = 'ARG V\nFROM a AS build\nRUN x\nFROM a AS test\nRUN y\nFROM build AS extra\nFROM a\nCOPY --from=extra /x /x\n';
  it('builds only what the target needs', () => {
    expect(planStages(parseDockerfile(text), undefined).needed).toEqual([0, 2, 3]);
    expect(planStages(parseDockerfile(text), 'test').needed).toEqual([1]);
    expect(planStages(parseDockerfile(text), undefined).globalArgs.map((a) => a.args)).toEqual(['V']);
    expect(() => planStages(parseDockerfile(text), 'nope')).toThrow('target stage "nope" could not be found');
  });
});
