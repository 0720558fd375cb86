/**
 * What a person sees: `minibox pull` on a terminal draws a bar per layer (bytes, speed) and ends
 * with Docker's summary; `rmi` refuses an image a container still uses unless forced.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveImage, writeRandomFile } from '../helpers/derived-image.js';
import { expectNoLeaks } from '../helpers/leaks.js';
import { bin, minibox, tempRoot } from '../helpers/minibox.js';
import { busyboxImageLayout, pushLayout, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { killSession, tmux, waitForScreen } from '../helpers/tmux.js';

let registry: TestRegistry;
let root: string;
let image: string;

beforeAll(async () => {
  registry = await startRegistry();
  image = `${registry.host}/tty/two-layers:latest`;
  const layout = deriveImage(busyboxImageLayout(), 'latest', (rootfs) => writeRandomFile(path.join(rootfs, 'data.bin'), 8 << 20));
  pushLayout(layout, 'latest', image);
  root = tempRoot();
});

afterAll(async () => {
  if (root) {
    expectNoLeaks(root);
    fs.rmSync(root, { recursive: true, force: true });
  }
  await registry?.stop();
});

describe('pull on a terminal', () => {
  it('draws a progress bar per layer and ends with the digest and status', async () => {
    const session = `mb-pull-tty-${process.pid}`;
    const status = path.join(root, 'pull-status');
    try {
      tmux('new-session', '-d', '-s', session, '-x', '120', '-y', '30',
        `${process.execPath} ${bin} --root ${root} pull ${image}; echo "EXIT=$?" > ${status}; sleep 60`);
      const screen = await waitForScreen(session, /Status: Downloaded newer image/);
      // One bar line per layer: "<12 hex>: <status> <bar>"; both layers end complete.
      const bars = screen.split('\n').filter((line) => /^[a-f0-9]{12}: (Pull complete|Already exists)\s/.test(line));
      expect(bars).toHaveLength(2);
      expect(screen).toMatch(/[█=]{10,}/);
      expect(screen).toMatch(/^Digest: sha256:[a-f0-9]{64}$/m);
      for (let i = 0; i < 100 && !fs.existsSync(status); i++) await new Promise((r) => setTimeout(r, 50));
      expect(fs.readFileSync(status, 'utf8').trim()).toBe('EXIT=0');
    } finally {
      killSession(session);
    }
  });
});

describe('rmi and containers', () => {
  it('refuses to remove an image a container uses; -f removes only its name', () => {
    expect(minibox(root, ['run', '--name', 'keeper', image, 'true']).code).toBe(0);
    const refused = minibox(root, ['rmi', image]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/container [a-f0-9]{12} is using its referenced image/);
    const forced = minibox(root, ['rmi', '-f', image]);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain(`Untagged: ${image}`);
    expect(forced.stdout).not.toContain('Deleted:');
    // The layers stay while the container exists; removing it makes the image prunable.
    expect(minibox(root, ['rm', 'keeper']).code).toBe(0);
    const pruned = minibox(root, ['image', 'prune', '-f']);
    expect(pruned.code).toBe(0);
    expect(pruned.stdout).toMatch(/deleted: sha256:/);
    expect(fs.readdirSync(path.join(root, 'layers/sha256'))).toEqual([]);
  });
});
