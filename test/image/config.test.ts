/** The settings file (/etc/minibox/config.json or $MINIBOX_CONFIG): insecure registries. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

const dirs: string[] = [];
function configFile(text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-config-'));
  dirs.push(dir);
  fs.writeFileSync(path.join(dir, 'config.json'), text);
  return path.join(dir, 'config.json');
}
afterEach(() => { for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true }); });

describe('config file', () => {
  it('is optional', () => {
    expect(loadConfig('/nonexistent/minibox/config.json')).toEqual({ insecureRegistries: [], registryMirrors: [] });
  });
  it('lists insecure registries like daemon.json', () => {
    expect(loadConfig(configFile('{"insecure-registries": ["registry.lan:5000"]}')).insecureRegistries).toEqual(['registry.lan:5000']);
  });
  it('explains what is wrong with a bad file', () => {
    expect(() => loadConfig(configFile('{nope'))).toThrow(/not valid JSON/);
    expect(() => loadConfig(configFile('{"insecure-registries": "x"}'))).toThrow(/must be a list of strings/);
  });
});
