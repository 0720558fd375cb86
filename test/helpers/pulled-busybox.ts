/**
 * The usual frame of a CLI test file: a real registry with the busybox test image, a temp state
 * root that has pulled it, and at the end a leak check and clean-up. Call once at the top level;
 * read `image`/`root` inside tests (they are set in beforeAll).
 */
import fs from 'node:fs';
import { afterAll, beforeAll, expect } from 'vitest';
import { expectNoLeaks } from './leaks.js';
import { minibox, tempRoot } from './minibox.js';
import { busyboxImageLayout, pushLayout, startRegistry, type TestRegistry } from './registry.js';

export interface PulledBusybox {
  /** `127.0.0.1:PORT/<repository>:latest`, already pulled into `root`. */
  image: string;
  root: string;
}

export function pulledBusybox(repository: string): PulledBusybox {
  const frame: PulledBusybox = { image: '', root: '' };
  let registry: TestRegistry | undefined;
  beforeAll(async () => {
    registry = await startRegistry();
    frame.image = `${registry.host}/${repository}:latest`;
    pushLayout(busyboxImageLayout(), 'latest', frame.image);
    frame.root = tempRoot();
    expect(minibox(frame.root, ['pull', '-q', frame.image]).code).toBe(0);
  });
  afterAll(async () => {
    if (frame.root) {
      expectNoLeaks(frame.root);
      fs.rmSync(frame.root, { recursive: true, force: true });
    }
    await registry?.stop();
  });
  return frame;
}
