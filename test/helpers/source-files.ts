/** The modules of src/, for tests that read the source itself (tour, lessons, layering rules). */
import fs from 'node:fs';
import path from 'node:path';

export const srcDir = path.resolve(import.meta.dirname, '../../src');

/** Every `.ts` file under `dir` (default: src/), sorted, as absolute paths. */
export function sourceFiles(dir: string = srcDir): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(full) : entry.name.endsWith('.ts') ? [full] : [];
  }).sort();
}
