/**
 * The suite's leak check (test/helpers/leaks.ts) sees what `system fsck` sees: a half-created
 * container directory (`create` killed between its mkdir and its rename) is invisible to `ps -a`
 * and to the host-side scans, and every test file's expectNoLeaks must still catch it.
 * Seen to fail before fsck joined LEAK_CHECKS: findLeaks returned {} for this root.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findLeaks } from '../helpers/leaks.js';
import { minibox, tempRoot } from '../helpers/minibox.js';

const root = tempRoot('mb-leakcheck-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('the leak check', () => {
  it('reports what system fsck finds, and nothing once it is repaired', () => {
    const halfMade = path.join(root, 'containers', `.creating-${'a'.repeat(64)}`);
    fs.mkdirSync(halfMade, { recursive: true });
    expect(findLeaks(root)['minibox system fsck findings']).toEqual([expect.stringContaining(halfMade)]);
    expect(minibox(root, ['system', 'fsck', '--repair']).code).toBe(0);
    expect(findLeaks(root)).toEqual({});
  });

  it('never creates a state root that is gone', () => {
    const gone = path.join(root, 'gone');
    expect(findLeaks(gone)).toEqual({});
    expect(fs.existsSync(gone)).toBe(false);
  });
});
