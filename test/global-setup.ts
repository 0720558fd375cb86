/**
 * Runs once before all test files (in the main vitest process): builds the busybox test image
 * layout a single time for every suite, and removes it at the end.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export default function setup(): () => void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-busybox-'));
  const layout = path.join(dir, 'layout');
  execFileSync(path.resolve('scripts/build-busybox-image.sh'), [layout, 'latest'], { stdio: 'ignore' });
  process.env.MB_BUSYBOX_LAYOUT = layout; // inherited by the test workers
  return () => fs.rmSync(dir, { recursive: true, force: true });
}
