/**
 * Healthchecks: `--health-*` and the image's HEALTHCHECK (built by `minibox build`), probed by the
 * container's monitor through `exec` — the built CLI, a real registry, real containers. Every
 * wait is for a state (ps/inspect), with a deadline; no assertion on how long a probe took.
 * Fails on main (checked): `--health-cmd` was an unknown option (exit 125), no State.Health.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { judge } from '../../src/lifecycle/health.js';
import { until, withWorld, type LifecycleWorld } from './helpers.js';

let world: LifecycleWorld;

withWorld((started) => { world = started; });

interface Health { Status: string; FailingStreak: number; Log: { ExitCode: number; Output: string }[] }

async function health(name: string): Promise<Health | undefined> {
  const result = await world.mb(['inspect', '--format', '{{json .State.Health}}', name]);
  return result.stdout.trim() === 'null' || result.code !== 0 ? undefined : JSON.parse(result.stdout) as Health;
}

async function status(name: string): Promise<string> {
  return (await world.mb(['ps', '-a', '--filter', `name=^${name}$`, '--format', '{{.Status}}'])).stdout.trim();
}

describe('Docker\'s verdicts (handleProbeResult)', () => {
  const check = { Test: ['CMD-SHELL', 'x'], Retries: 2, StartPeriod: 60_000 * 1_000_000 };
  const at = (ms: number, code: number) => ({ Start: new Date(ms).toISOString(), End: new Date(ms).toISOString(), ExitCode: code, Output: '' });
  it('failures in the start period do not count until the first success; retries in a row make unhealthy', () => {
    const started = new Date(0).toISOString();
    let state = judge(undefined, at(1000, 1), check, started);
    expect(state).toMatchObject({ Status: 'starting', FailingStreak: 0 });
    state = judge(state, at(2000, 0), check, started);
    expect(state).toMatchObject({ Status: 'healthy', FailingStreak: 0 });
    state = judge(state, at(3000, 1), check, started);
    expect(state).toMatchObject({ Status: 'healthy', FailingStreak: 1 });
    state = judge(state, at(4000, -1), check, started);
    expect(state).toMatchObject({ Status: 'unhealthy', FailingStreak: 2 });
    for (let i = 0; i < 6; i++) state = judge(state, at(5000 + i, 1), check, started);
    expect(state.Log).toHaveLength(5);
  });
});

describe('healthchecks', () => {
  it('--health-cmd: starting, healthy, then unhealthy when the command starts failing; events say so', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    const run = await world.mb(['run', '-d', '--name', 'hc', '--network', 'none', '--health-cmd', 'cat /ok',
      '--health-interval', '1s', '--health-retries', '2', world.image, 'sh', '-c', 'echo fine > /ok; exec sleep 1000']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    await until(async () => (await health('hc'))?.Status === 'healthy', 'hc to be healthy', 600);
    expect(await status('hc')).toMatch(/^Up .* \(healthy\)$/);
    const healthy = (await health('hc'))!;
    expect(healthy.Log.at(-1)).toMatchObject({ ExitCode: 0, Output: 'fine\n' });

    expect((await world.mb(['exec', 'hc', 'rm', '/ok'])).code).toBe(0);
    await until(async () => (await health('hc'))?.Status === 'unhealthy', 'hc to be unhealthy', 600);
    expect(await status('hc')).toMatch(/^Up .* \(unhealthy\)$/);
    expect((await world.mb(['ps', '--filter', 'health=unhealthy', '--format', '{{.Names}}'])).stdout).toBe('hc\n');
    const unhealthy = (await health('hc'))!;
    expect(unhealthy.FailingStreak).toBeGreaterThanOrEqual(2);
    expect(unhealthy.Log.at(-1)!.ExitCode).toBe(1);
    expect(unhealthy.Log.at(-1)!.Output).toMatch(/No such file/);

    expect((await world.mb(['kill', 'hc'])).code).toBe(0);
    const events = await world.mb(['events', '--since', since, '--until', '0s', '-f', 'container=hc', '--format', '{{.Action}}']);
    expect(events.stdout.split('\n').filter((action) => action !== 'kill' && action !== ''))
      .toEqual(['create', 'start', 'health_status: healthy', 'health_status: unhealthy', 'die']);
    expect((await world.mb(['rm', 'hc'])).code).toBe(0);
  });

  it('inside the start period failures do not count: still (health: starting)', async () => {
    expect((await world.mb(['run', '-d', '--name', 'slow', '--network', 'none', '--health-cmd', 'test -f /never',
      '--health-interval', '1s', '--health-retries', '1', '--health-start-period', '10m', world.image, 'sleep', '1000'])).code).toBe(0);
    await until(async () => ((await health('slow'))?.Log.length ?? 0) >= 2, 'two probes of slow', 600);
    expect(await health('slow')).toMatchObject({ Status: 'starting', FailingStreak: 0 });
    expect(await status('slow')).toMatch(/^Up .* \(health: starting\)$/);
    expect((await world.mb(['rm', '-f', 'slow'])).code).toBe(0);
  });

  it('the image\'s HEALTHCHECK (minibox build) runs; --no-healthcheck turns it off', async () => {
    const context = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-health-build-'));
    try {
      fs.writeFileSync(path.join(context, 'Dockerfile'),
        `FROM ${world.image}\nHEALTHCHECK --interval=1s --retries=1 CMD test -f /etc/passwd\n`);
      expect((await world.mb(['build', '-q', '-t', 'withhealth', context])).code).toBe(0);
    } finally {
      fs.rmSync(context, { recursive: true, force: true });
    }
    expect((await world.mb(['run', '-d', '--name', 'img', '--network', 'none', 'withhealth', 'sleep', '1000'])).code).toBe(0);
    await until(async () => (await health('img'))?.Status === 'healthy', 'img to be healthy', 600);
    expect((await world.mb(['run', '-d', '--name', 'off', '--network', 'none', '--no-healthcheck', 'withhealth', 'sleep', '1000'])).code).toBe(0);
    expect(await health('off')).toBeUndefined();
    expect((await world.mb(['inspect', '--format', '{{json .Config.Healthcheck.Test}}', 'off'])).stdout).toBe('["NONE"]\n');
    expect(await status('off')).toMatch(/^Up [^(]*$/);
    expect((await world.mb(['rm', '-f', 'img', 'off'])).code).toBe(0);
    expect((await world.mb(['rmi', 'withhealth'])).code).toBe(0);
  });

  it('bad input: one line, exit 125, nothing created', async () => {
    const before = (await world.mb(['ps', '-aq'])).stdout;
    for (const [args, message] of [
      [['--health-interval', 'often'], /invalid argument "often" for "--health-interval"/],
      [['--health-retries', '-1', '--health-cmd', 'true'], /--health-retries cannot be negative/],
      [['--no-healthcheck', '--health-cmd', 'true'], /--no-healthcheck conflicts with --health-\* options/],
    ] as const) {
      const bad = await world.mb(['run', '-d', '--network', 'none', ...args, world.image, 'true']);
      expect(bad.code).toBe(125);
      expect(bad.stderr).toMatch(message);
      expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect((await world.mb(['ps', '-aq'])).stdout).toBe(before);
  });
});
