/**
 * docs/tour.md is the book's table of contents: every file it names must exist, and every
 * module of src/ must be named in it — so the tour cannot go stale when files move or appear.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sourceFiles } from './helpers/source-files.js';

const repo = path.resolve(import.meta.dirname, '..');
const tour = fs.readFileSync(path.join(repo, 'docs/tour.md'), 'utf8');

/** Every `backticked` token that looks like a source file path, e.g. `image/oci.ts`. */
function namedFiles(): string[] {
  const names = new Set<string>();
  for (const match of tour.matchAll(/`([a-z0-9-]+(?:\/[a-z0-9-]+)*\.(?:ts|c))`/g)) names.add(match[1]!);
  return [...names];
}

/** Where a tour name points: native/ and bench/ are at the top of the repository, the rest under src/. */
function fileFor(name: string): string {
  return /^(native|bench|test)\//.test(name) ? path.join(repo, name) : path.join(repo, 'src', name);
}


describe('docs/tour.md', () => {
  it('names only files that exist', () => {
    const missing = namedFiles().filter((name) => !fs.existsSync(fileFor(name)));
    expect(missing).toEqual([]);
  });

  it('names every module of src/', () => {
    const named = new Set(namedFiles().map(fileFor));
    const unnamed = sourceFiles(path.join(repo, 'src')).filter((file) => !named.has(file)).map((file) => path.relative(repo, file));
    expect(unnamed).toEqual([]);
  });
});
