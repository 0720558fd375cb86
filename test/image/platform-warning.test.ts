/**
 * An image made for another platform runs with Docker's warning, not silently: `run` and `create`
 * of an image whose config says linux/arm64 print
 *   WARNING: The requested image's platform (linux/arm64) does not match the detected host
 *   platform (linux/amd64) and no specific platform was requested
 * and go on (the program may still fail with "exec format error": lesson 12). With `--platform`
 * the user asked for it: no warning; an image for this machine: no warning.
 * The image is the busybox test image relabelled with `umoci config --architecture arm64`, as
 * scripts/lab.sh makes lab/arm64:1 (its files are still amd64: it runs here, and shows the
 * warning is only a warning). Seen to fail before foreignPlatformWarning: stderr had no WARNING.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { foreignPlatformWarning } from '../../src/image/platform.js';
import { expectNoLeaks } from '../helpers/leaks.js';
import { minibox, tempRoot } from '../helpers/minibox.js';
import { busyboxImageLayout, pushLayout, startRegistry, type TestRegistry } from '../helpers/registry.js';

let registry: TestRegistry;
let root: string;
let work: string;
const WARNING = "WARNING: The requested image's platform (linux/arm64/v8) does not match the detected host platform (linux/amd64) "
  + 'and no specific platform was requested\n';

beforeAll(async () => {
  registry = await startRegistry();
  work = tempRoot('mb-platform-');
  root = tempRoot('mb-platform-root-');
  const layout = path.join(work, 'layout');
  fs.cpSync(busyboxImageLayout(), layout, { recursive: true });
  execFileSync('umoci', ['config', '--image', `${layout}:latest`, '--architecture', 'arm64']);
  pushLayout(layout, 'latest', `${registry.host}/relabelled:arm64`);
  pushLayout(busyboxImageLayout(), 'latest', `${registry.host}/plain:amd64`);
}, 120_000);

afterAll(async () => {
  expectNoLeaks(root);
  await registry?.stop();
  for (const dir of [root, work]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('an image for another platform', () => {
  it('is run with Docker\'s WARNING on stderr, unless --platform asked for it', () => {
    const image = `${registry.host}/relabelled:arm64`;
    const first = minibox(root, ['run', '--rm', '--network', 'none', image, 'echo', 'ran']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toBe('ran\n');
    expect(first.stderr.endsWith(WARNING)).toBe(true); // after the pull's own lines
    const created = minibox(root, ['create', '--network', 'none', image, 'true']);
    expect(created.stderr).toBe(WARNING);
    expect(minibox(root, ['rm', created.stdout.trim()]).code).toBe(0);
    const asked = minibox(root, ['run', '--rm', '--network', 'none', '--platform', 'linux/arm64', image, 'true']);
    expect(asked).toMatchObject({ code: 0, stderr: '' });
    const native = minibox(root, ['run', '--rm', '-q', '--network', 'none', `${registry.host}/plain:amd64`, 'true']);
    expect(native).toMatchObject({ code: 0, stderr: '' });
  });

  it('compares OS and architecture, in their normal names, not the variant', () => {
    const host = { os: 'linux', architecture: 'amd64' };
    expect(foreignPlatformWarning({ os: 'linux', architecture: 'x86_64' }, host)).toBeUndefined();
    expect(foreignPlatformWarning({ os: 'linux', architecture: 'arm', variant: 'v6' }, { os: 'linux', architecture: 'armhf' })).toBeUndefined();
    expect(foreignPlatformWarning({ os: 'windows', architecture: 'amd64' }, host)).toMatch(/platform \(windows\/amd64\) does not match .* \(linux\/amd64\)/);
  });
});
