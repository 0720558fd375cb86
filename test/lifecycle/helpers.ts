/**
 * Shared set-up for the lifecycle tests: a real registry with the busybox image, a temp state
 * root with the image pulled, and small helpers to read a container's record and processes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { ContainerStore, type ContainerRecord } from '../../src/container/container-store.js';
import { readRunPids, type RunPids } from '../../src/container/run-files.js';
import { StateRoot } from '../../src/state-root.js';
import { expectNoContainers, expectNoLeaks } from '../helpers/leaks.js';
import { mbAsync, tempRoot, type CliResult } from '../helpers/minibox.js';
import { busyboxImageLayout, pushLayout, startRegistry, type TestRegistry } from '../helpers/registry.js';

export interface LifecycleWorld {
  registry: TestRegistry;
  root: string;
  image: string;
  mb(args: string[], options?: { input?: string }): Promise<CliResult>;
  record(nameOrId: string): ContainerRecord | undefined;
  pids(nameOrId: string): RunPids | undefined;
  /** `rm -f` of every container of the root. */
  removeContainers(): Promise<void>;
  /** Removes the containers and stops the registry (the root stays: see endWorld). */
  close(): Promise<void>;
}

export async function startWorld(): Promise<LifecycleWorld> {
  const registry = await startRegistry();
  pushLayout(busyboxImageLayout(), 'latest', `${registry.host}/busybox:latest`);
  const root = tempRoot('mb-life-');
  const image = `${registry.host}/busybox:latest`;
  const mb = (args: string[], options: { input?: string } = {}) => mbAsync(root, ['--insecure-registry', registry.host, ...args], options);
  const pulled = await mb(['pull', '-q', image]);
  expect(pulled.code).toBe(0);
  const store = new ContainerStore(new StateRoot(root));
  const removeContainers = async (): Promise<void> => {
    const ids = fs.existsSync(path.join(root, 'containers')) ? fs.readdirSync(path.join(root, 'containers')) : [];
    if (ids.length > 0) await mb(['rm', '-f', ...ids]);
  };
  return {
    registry, root, image, mb,
    record: (nameOrId) => store.resolve(nameOrId),
    pids: (nameOrId) => {
      const record = store.resolve(nameOrId);
      return record ? readRunPids(store.paths(record.Id)) : undefined;
    },
    removeContainers,
    async close() {
      await removeContainers();
      await registry.stop();
    },
  };
}

/** Closes a world, checks that it left nothing (no leaks, no container directory) and deletes its root. */
export async function endWorld(world: LifecycleWorld | undefined): Promise<void> {
  if (!world) return;
  await world.close();
  expectNoLeaks(world.root);
  expectNoContainers(world.root);
  fs.rmSync(world.root, { recursive: true, force: true });
}

/**
 * The usual frame of a file or describe block: a world started before its tests and ended
 * (endWorld) after them. `started` receives it: `let world; withWorld((w) => { world = w; });`.
 */
export function withWorld(started: (world: LifecycleWorld) => void): void {
  let world: LifecycleWorld | undefined;
  beforeAll(async () => { world = await startWorld(); started(world); });
  afterAll(async () => { await endWorld(world); });
}

/** Zombie children of `pid`, read from the host's /proc. */
export function zombieChildren(pid: number): number[] {
  const zombies: number[] = [];
  for (const entry of fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z' && Number(fields[1]) === pid) zombies.push(Number(entry));
    } catch { /* exited */ }
  }
  return zombies;
}

/** VmRSS of a process in KiB. */
export function rssKiB(pid: number): number {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(line?.split(/\s+/)[1] ?? NaN);
}

export async function until(condition: () => boolean | Promise<boolean>, what: string, attempts = 200): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}
