/**
 * `minibox top`: the container's processes as the host sees them (host PIDs, `ps -ef` columns).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LifecycleFixture, type RunningContainer } from './running-container.js';

const fixture = new LifecycleFixture();
let web: RunningContainer;

beforeAll(async () => {
  await fixture.setup();
  // PID 1 is the shell; `sleep 271` is its child.
  web = await fixture.start('web', ['sh', '-c', 'sleep 271 & wait']);
});

afterEach(() => fixture.expectNoLeaks());
afterAll(async () => {
  await fixture.cleanup();
});

describe('top', () => {
  it('shows the container\'s command and its child with host PIDs, like docker top', async () => {
    let result = await fixture.mb(['top', 'web']);
    for (let i = 0; i < 50 && !result.stdout.includes('sleep 271'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      result = await fixture.mb(['top', 'web']);
    }
    expect(result.code, result.stderr).toBe(0);
    const [header, ...rows] = result.stdout.trimEnd().split('\n');
    expect(header?.split(/\s+/)).toEqual(['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD']);
    expect(rows).toHaveLength(2);
    const shell = rows.find((row) => row.endsWith('sh -c sleep 271 & wait'))!.split(/\s+/);
    const sleep = rows.find((row) => row.endsWith('sleep 271'))!.split(/\s+/);
    expect(shell[0]).toBe('root');
    expect(Number(shell[1])).toBe(web.pid);
    expect(Number(sleep[2])).toBe(web.pid); // the child's parent is the container's PID 1, in host numbers
    expect(result.stdout).not.toContain('minibox'); // nothing of the host's
  });

  it('passes ps options on, and an exec\'d process shows up too', async () => {
    const exec = await fixture.mb(['exec', '-d', 'web', 'sleep', '272']);
    expect(exec.code, exec.stderr).toBe(0);
    let result = await fixture.mb(['top', 'web', '-o', 'pid,comm,args']);
    for (let i = 0; i < 50 && !result.stdout.includes('sleep 272'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      result = await fixture.mb(['top', 'web', '-o', 'pid,comm,args']);
    }
    expect(result.code, result.stderr).toBe(0);
    const [header, ...rows] = result.stdout.trimEnd().split('\n');
    expect(header?.split(/\s+/)).toEqual(['PID', 'COMMAND', 'COMMAND']);
    expect(rows.map((row) => row.split(/\s+/).slice(2).join(' ')).sort()).toEqual(['sh -c sleep 271 & wait', 'sleep 271', 'sleep 272']);
  });

  it('refuses a container that is not running', async () => {
    const short = await fixture.start('short', ['sleep', '300']);
    await fixture.stop(short);
    const result = await fixture.mb(['top', 'short']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`container ${short.id} is not running`);
  });
});
