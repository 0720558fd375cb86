/**
 * What the README and the demo promise a new user matches what the project does (issue 20):
 * the Node version README asks for is package.json's `engines`, and the demo's closing hint
 * names a command that works then (`./bin/minibox`, not `minibox`, which is on PATH only after
 * `npm install -g .`). On main README said "Node.js ≥ 20" and the hint said "minibox rmi".
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/registry.js';

const read = (file: string) => fs.readFileSync(path.join(repoRoot, file), 'utf8');

describe('README and demo', () => {
  it('README asks for the Node version package.json requires', () => {
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
    expect(engines).toBe('>=20.10');
    expect(read('README.md')).toContain('Node.js ≥ 20.10');
    expect(read('README.md')).not.toMatch(/Node\.js ≥ 20(?!\.)/);
  });

  it("the demo's closing lines name ./bin/minibox (through $minibox), never a bare minibox command", () => {
    const lines = read('scripts/demo.sh').trimEnd().split('\n');
    const closing = lines.slice(lines.findIndex((line) => line.startsWith('echo "Done.')));
    expect(closing.length).toBeGreaterThan(0);
    for (const line of closing.filter((text) => text.startsWith('echo'))) expect(line).not.toMatch(/: minibox /);
    expect(closing[0]).toContain('$minibox rmi');
  });
});
