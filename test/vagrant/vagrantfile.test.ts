/**
 * The Vagrantfile is Ruby that only Vagrant runs, and Vagrant cannot run here (no nested
 * hypervisor, no box downloads). So: Ruby's own parser checks its syntax (`ruby -c`), and a small
 * stand-in for Vagrant's `Vagrant.configure` evaluates it for real and records what it asks for,
 * which must point at files that exist and parse.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const repo = path.resolve(import.meta.dirname, '../..');
const vagrantfile = path.join(repo, 'Vagrantfile');

function ruby(args: string[], input = ''): { code: number; stdout: string; stderr: string } {
  const result = spawnSync('ruby', args, { cwd: repo, input, encoding: 'utf8' });
  if (result.error) throw new Error(`ruby is needed to check the Vagrantfile: ${result.error.message} (bash scripts/provision.sh installs it)`);
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

// Records every `config.x.y = v` and `config.x.y(args)` call the Vagrantfile makes.
const RECORDER = `
require 'json'
class Recorder
  def initialize(log, prefix) @log, @prefix = log, prefix end
  def method_missing(name, *args, **kwargs, &block)
    key = "#{@prefix}#{name}"
    if name.to_s.end_with?('=')
      @log << [key.chomp('='), args.first]
    elsif args.empty? && kwargs.empty? && block.nil?
      return Recorder.new(@log, "#{key}.")
    else
      @log << [key, args, kwargs]
      block.call(Recorder.new(@log, "#{key}(#{args.first}).")) if block
    end
    self
  end
  def respond_to_missing?(*) true end
end
module Vagrant
  def self.configure(version)
    log = []
    yield Recorder.new(log, 'config.')
    puts JSON.generate({ version: version, calls: log })
  end
end
load ARGV[0]
`;

describe('Vagrantfile', () => {
  it('is valid Ruby', () => {
    const { code, stdout, stderr } = ruby(['-c', vagrantfile]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout.trim()).toBe('Syntax OK');
  });

  it('configures a Debian 12 box provisioned by a script that exists and parses', () => {
    const { code, stdout, stderr } = ruby(['-', vagrantfile], RECORDER);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const { version, calls } = JSON.parse(stdout) as { version: string; calls: [string, ...unknown[]][] };
    expect(version).toBe('2');
    expect(calls).toContainEqual(['config.vm.box', 'debian/bookworm64']);
    const provision = calls.find(([key]) => key === 'config.vm.provision') as [string, unknown[], { path: string; env: Record<string, string> }];
    expect(provision[1]).toEqual(['shell']);
    const script = path.join(repo, provision[2].path);
    expect(fs.existsSync(script)).toBe(true);
    expect(spawnSync('bash', ['-n', script]).status).toBe(0);
    // The box provisions with the same script as every other machine, and gets Node >= 20 first.
    const text = fs.readFileSync(script, 'utf8');
    expect(text).toContain('bash scripts/provision.sh');
    expect(text).toMatch(/node_20\.x/);
    expect(text).toContain('npm install -g .');
  });
});
