/**
 * `minibox diff`: Docker's A/C/D list, read from the container's overlay upper dir — for exited
 * and running containers, with whiteouts and opaque directories.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LifecycleFixture } from './running-container.js';

const fixture = new LifecycleFixture();

beforeAll(async () => {
  await fixture.setup();
});

afterEach(() => fixture.expectNoLeaks());
afterAll(async () => {
  await fixture.cleanup();
});

describe('diff lists what a container added, changed and deleted', () => {
  it('an exited container: added files and dirs, a changed file, a whiteout, an opaque dir', async () => {
    const script = [
      'echo new > /new-file',
      'mkdir -p /newdir/sub && echo x > /newdir/sub/f',
      'echo extra >> /etc/passwd',
      'rm /etc/group',
      'rm -rf /var/www && mkdir /var/www && echo y > /var/www/other.html',
    ].join(' && ');
    const run = await fixture.mb(['run', '--name', 'changer', fixture.image, 'sh', '-c', script]);
    expect(run.code, run.stderr).toBe(0);
    const upper = path.join(fixture.root, 'containers', fixture.store().findByName('changer')!.Id, 'upper');
    expect(fs.lstatSync(path.join(upper, 'etc/group')).isCharacterDevice()).toBe(true); // the whiteout

    const diff = await fixture.mb(['diff', 'changer']);
    expect(diff.code, diff.stderr).toBe(0);
    expect(diff.stdout).toBe([
      'C /etc',
      'D /etc/group',
      'C /etc/passwd',
      'A /new-file',
      'A /newdir',
      'A /newdir/sub',
      'A /newdir/sub/f',
      'C /var',
      'D /var/www',
      'A /var/www/other.html',
      '',
    ].join('\n'));
  });

  it('a container that changed nothing has an empty diff (runtime mount points are not changes)', async () => {
    const run = await fixture.mb(['run', '--name', 'quiet', fixture.image, 'true']);
    expect(run.code, run.stderr).toBe(0);
    // The runtime did write into the upper dir: mount points for /etc/hostname, hosts, resolv.conf.
    const upper = path.join(fixture.root, 'containers', fixture.store().findByName('quiet')!.Id, 'upper');
    expect(fs.readdirSync(upper)).toContain('etc');
    const diff = await fixture.mb(['diff', 'quiet']);
    expect(diff.code, diff.stderr).toBe(0);
    expect(diff.stdout).toBe('');
  });

  it('a running container: changes made through exec show up at once', async () => {
    await fixture.start('live', ['sleep', '300']);
    const exec = await fixture.mb(['exec', 'live', 'sh', '-c', 'echo hi > /tmp/hello && rm /bin/vi']);
    expect(exec.code, exec.stderr).toBe(0);
    const diff = await fixture.mb(['diff', 'live']);
    expect(diff.code, diff.stderr).toBe(0);
    expect(diff.stdout).toBe('C /bin\nD /bin/vi\nC /tmp\nA /tmp/hello\n');
  });

  it('an unknown container is an error', async () => {
    const diff = await fixture.mb(['diff', 'no-such-box']);
    expect(diff.code).not.toBe(0);
    expect(diff.stderr).toContain('No such container: no-such-box');
  });
});
