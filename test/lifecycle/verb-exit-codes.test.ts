/**
 * One exit-code policy (src/errors.ts): a lifecycle verb that names a container that does not
 * exist prints Docker's "No such container: NAME" and exits 1, as Docker's CLI does — whatever
 * the verb. Usage errors stay 125.
 *
 * Checked against main before the change: `port` exited 125 there (its lookup was a second
 * findContainer with another code), so this test failed. (`stats` and `update` first check for
 * cgroup v2, so on a hybrid host they stop at that, with 125.)
 */
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { minibox, tempRoot } from '../helpers/minibox.js';

const root = tempRoot();
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const verbs: string[][] = [
  ['start', 'nosuch'], ['stop', 'nosuch'], ['restart', 'nosuch'], ['kill', 'nosuch'], ['wait', 'nosuch'],
  ['rm', 'nosuch'], ['logs', 'nosuch'], ['inspect', '--type', 'container', 'nosuch'], ['top', 'nosuch'],
  ['diff', 'nosuch'], ['port', 'nosuch'], ['exec', 'nosuch', 'true'], ['container', 'stop', 'nosuch'],
];

describe('a verb on a container that does not exist', () => {
  it.each(verbs.map((args) => [args.join(' '), args]))('`minibox %s` → "No such container", exit 1', (_name, args) => {
    const result = minibox(root, args as string[]);
    expect(result.stderr).toContain('No such container: nosuch');
    expect(result.code).toBe(1);
  });

  it('a usage error is still 125', () => {
    expect(minibox(root, ['stop', '--time', 'soon', 'nosuch']).code).toBe(125);
  });
});
