/**
 * Runs INSIDE the test VM (cgroup v2): the Engine API's `stats`, `pause`/`unpause` and `update`
 * answered from a real container cgroup — first spoken by this test over the daemon's socket,
 * then by the real docker CLI (the host's static /usr/local/bin/docker, which
 * scripts/vm/build-initramfs.sh copies in when there is one; on this project's hybrid hosts the
 * same commands get minibox's refusal, test/api/docker-admin.test.ts).
 * Checks the numbers the docker CLI computes with: pids_stats.current is the container's one
 * process, memory_stats.limit is the --memory given, cpu_stats.system_cpu_usage grew between the
 * two samples; the stream sends one object a second; pause leaves cgroup.freeze at 1; update
 * rewrites memory.max.
 * Fails on main: its route table answered stats with 501 and pause/unpause/update with 404
 * (read from main's code, not run in the VM).
 * Takes ~1–2 minutes under TCG: a daemon and a handful of CLI calls.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MINIBOX_CGROUP_PARENT } from '../../src/cgroups/index.js';
import { bin, until, withStoreCopy } from './vm-helpers.js';

const vm = withStoreCopy('mb-vm-api-');
let socket = '';
let daemon: ReturnType<typeof spawn> | undefined;

beforeAll(async () => {
  socket = path.join(vm.root, 'api.sock');
  daemon = spawn(process.execPath, [bin, '--root', vm.root, 'serve', '--host', `unix://${socket}`], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  daemon.stdout!.on('data', (chunk: Buffer) => { out += chunk.toString(); });
  await until(() => out.includes('API listening'), 'minibox serve to listen');
});
afterAll(async () => {
  vm.minibox(['rm', '-f', 'st', 'cst']);
  if (daemon && daemon.exitCode === null) {
    const exited = new Promise((resolve) => daemon!.once('exit', resolve));
    daemon.kill('SIGTERM');
    await exited;
  }
});

async function request(method: string, url: string, body?: unknown): Promise<{ status: number; body: string }> {
  return await new Promise((resolve, reject) => {
    const headers = body === undefined ? {} : { 'Content-Type': 'application/json' };
    const req = http.request({ socketPath: socket, method, path: url, headers }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => { text += chunk.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** The first `count` lines of a streamed answer; then the client hangs up. */
async function firstLines(url: string, count: number): Promise<string[]> {
  return await new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, method: 'GET', path: url }, (res) => {
      let text = '';
      res.on('error', () => undefined); // our own hang-up
      res.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        const lines = text.split('\n');
        if (lines.length > count) {
          req.destroy();
          resolve(lines.slice(0, count));
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the Engine API on cgroup v2', () => {
  it('stats from the cgroup; pause freezes it; update rewrites memory.max', async () => {
    const run = vm.minibox(['run', '-d', '--network', 'none', '--pull', 'never', '--memory', '32m', '--name', 'st', 'busybox', 'sleep', '600']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const cgroup = `/sys/fs/cgroup/${MINIBOX_CGROUP_PARENT}/${run.stdout.trim()}`;

    const stats = await request('GET', '/containers/st/stats?stream=false');
    expect(stats.status).toBe(200);
    const sample = JSON.parse(stats.body);
    expect(sample.name).toBe('/st');
    expect(sample.pids_stats.current).toBe(1);
    expect(sample.memory_stats.limit).toBe(32 * 1024 * 1024);
    expect(sample.memory_stats.usage).toBeGreaterThan(0);
    expect(sample.cpu_stats.system_cpu_usage).toBeGreaterThan(sample.precpu_stats.system_cpu_usage);
    expect(sample.cpu_stats.online_cpus).toBeGreaterThan(0);

    // `docker stats` without --no-stream: one object a second, until the client leaves.
    const streamed = await firstLines('/containers/st/stats', 2);
    expect(streamed.map((line) => JSON.parse(line).pids_stats.current)).toEqual([1, 1]);

    expect((await request('POST', '/containers/st/pause')).status).toBe(204);
    expect(fs.readFileSync(`${cgroup}/cgroup.freeze`, 'utf8').trim()).toBe('1');
    expect(vm.minibox(['inspect', '-f', '{{.State.Paused}}', 'st']).stdout).toBe('true\n');
    expect((await request('POST', '/containers/st/pause')).status).toBe(409); // already paused
    expect((await request('POST', '/containers/st/unpause')).status).toBe(204);
    expect(fs.readFileSync(`${cgroup}/cgroup.freeze`, 'utf8').trim()).toBe('0');

    const update = await request('POST', '/containers/st/update', { Memory: 64 * 1024 * 1024 });
    expect(update).toEqual({ status: 200, body: '{"Warnings":[]}\n' });
    expect(fs.readFileSync(`${cgroup}/memory.max`, 'utf8').trim()).toBe(String(64 * 1024 * 1024));
  });
});

const dockerCli = '/usr/local/bin/docker';

/** The real docker CLI against the daemon (its config in a scratch dir of the store copy). */
function docker(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const config = path.join(vm.root, 'docker-config');
  fs.mkdirSync(config, { recursive: true });
  const result = spawnSync(dockerCli, ['-H', `unix://${socket}`, ...args], {
    encoding: 'utf8', timeout: 120_000, env: { PATH: process.env.PATH, HOME: config, DOCKER_CONFIG: config },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe.skipIf(!fs.existsSync(dockerCli))('the docker CLI on cgroup v2', () => {
  it('docker stats --no-stream shows the limit and the pids; pause, unpause and update do their work', () => {
    const run = vm.minibox(['run', '-d', '--network', 'none', '--pull', 'never', '--memory', '32m', '--name', 'cst', 'busybox', 'sleep', '600']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const cgroup = `/sys/fs/cgroup/${MINIBOX_CGROUP_PARENT}/${run.stdout.trim()}`;
    const stats = docker(['stats', '--no-stream', '--format', '{{.Name}}|{{.MemUsage}}|{{.PIDs}}', 'cst']);
    expect(stats.stderr).toBe('');
    expect(stats.stdout).toMatch(/^cst\|[\d.]+[KMG]?i?B \/ 32MiB\|1\n$/);
    expect(docker(['pause', 'cst'])).toEqual({ code: 0, stdout: 'cst\n', stderr: '' });
    expect(fs.readFileSync(`${cgroup}/cgroup.freeze`, 'utf8').trim()).toBe('1');
    expect(docker(['unpause', 'cst'])).toEqual({ code: 0, stdout: 'cst\n', stderr: '' });
    expect(fs.readFileSync(`${cgroup}/cgroup.freeze`, 'utf8').trim()).toBe('0');
    expect(docker(['update', '--memory', '48m', 'cst'])).toEqual({ code: 0, stdout: 'cst\n', stderr: '' });
    expect(fs.readFileSync(`${cgroup}/memory.max`, 'utf8').trim()).toBe(String(48 * 1024 * 1024));
  });
});
