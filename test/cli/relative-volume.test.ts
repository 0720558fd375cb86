/**
 * `-v ./dir:/x` binds a directory relative to where minibox was started, as Docker's CLI does
 * (issue 20; main refused it: "includes invalid characters for a local volume name").
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bin } from '../helpers/minibox.js';
import { pulledBusybox } from '../helpers/pulled-busybox.js';

const frame = pulledBusybox('relative-volume');

describe('-v with a relative host path', () => {
  it('binds the directory under the current directory', () => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-cwd-'));
    try {
      fs.mkdirSync(path.join(cwd, 'site'));
      fs.writeFileSync(path.join(cwd, 'site', 'index.html'), 'hello from ./site\n');
      const result = spawnSync(process.execPath, [bin, '--root', frame.root, 'run', '--rm', '--network', 'none', '-v', './site:/www:ro',
        frame.image, 'cat', '/www/index.html'], { cwd, encoding: 'utf8', input: '' });
      expect({ code: result.status, stdout: result.stdout, stderr: result.stderr }).toEqual({ code: 0, stdout: 'hello from ./site\n', stderr: '' });
    } finally {
      fs.rmSync(cwd, { recursive: true, force: true });
    }
  });
});
