/**
 * Test fixture for the lifecycle tests: a state root with the busybox image pulled, and
 * long-running containers started with the foreground `minibox run` in the background (until
 * every test can use `run -d`). Everything started here is stopped and removed by `cleanup()`,
 * which checks for leaks before it removes anything; `expectNoLeaks()` checks after each test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import { ContainerStore, type ContainerRecord } from '../../src/container/container-store.js';
import { removeContainer } from '../../src/lifecycle/create.js';
import { StateRoot } from '../../src/state-root.js';
import { expectNoContainers, expectNoLeaks } from '../helpers/leaks.js';
import { bin, mbAsync, tempRoot, type CliResult } from '../helpers/minibox.js';
import { busyboxImageLayout, pushLayout, startRegistry, type TestRegistry } from '../helpers/registry.js';

export interface RunningContainer {
  id: string;
  name: string;
  /** Host PID of the container's PID 1. */
  pid: number;
  /** The foreground `minibox run` holding it. */
  engine: ChildProcess;
}

export class LifecycleFixture {
  registry!: TestRegistry;
  root = '';
  image = '';
  private engines: ChildProcess[] = [];
  private started: RunningContainer[] = [];

  async setup(): Promise<void> {
    this.registry = await startRegistry();
    pushLayout(busyboxImageLayout(), 'latest', `${this.registry.host}/busybox:latest`);
    this.root = tempRoot('mb-lifecycle-');
    this.image = `${this.registry.host}/busybox:latest`;
    const pulled = await this.mb(['run', '--rm', '-q', this.image, 'true']);
    expect(pulled.code, pulled.stderr).toBe(0);
  }

  mb(args: string[], input?: string): Promise<CliResult> {
    return mbAsync(this.root, ['--insecure-registry', this.registry.host, ...args], input === undefined ? {} : { input });
  }

  store(): ContainerStore {
    return new ContainerStore(new StateRoot(this.root));
  }

  /** Starts `minibox run --name NAME IMAGE ...command` and waits until its record shows the PID. */
  async start(name: string, command: string[], runFlags: string[] = []): Promise<RunningContainer> {
    const engine = spawn(process.execPath, [bin, '--root', this.root, '--insecure-registry', this.registry.host,
      'run', '--name', name, ...runFlags, this.image, ...command], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.engines.push(engine);
    let stderr = '';
    engine.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    for (let i = 0; i < 400; i++) {
      const record: ContainerRecord | undefined = this.store().findByName(name);
      if (record?.State.Running && record.State.Pid > 0) {
        const container = { id: record.Id, name, pid: record.State.Pid, engine };
        this.started.push(container);
        return container;
      }
      if (engine.exitCode !== null) break;
      await sleep(50);
    }
    throw new Error(`container ${name} did not start: ${stderr}`);
  }

  /** Kills the container's PID 1 (sleep ignores SIGTERM as PID 1) and waits for its engine. */
  async stop(container: RunningContainer): Promise<void> {
    if (container.engine.exitCode === null && container.engine.signalCode === null) {
      const closed = new Promise((resolve) => container.engine.once('close', resolve));
      try { process.kill(container.pid, 'SIGKILL'); } catch { /* already gone */ }
      await closed;
    }
  }

  /**
   * Nothing is left behind but the containers still running on purpose (and their engines): call
   * after each test, before any clean-up, so that a test's own leak is seen as its own.
   */
  expectNoLeaks(): void {
    const running = this.started.filter((c) => c.engine.exitCode === null && c.engine.signalCode === null);
    expectNoLeaks(this.root, [], { containers: running.map((c) => c.id), pids: running.flatMap((c) => [c.pid, c.engine.pid!]) });
  }

  /**
   * Stops every container the way a user would (PID 1 killed, the foreground `run` cleans up),
   * checks that nothing is left *before* removing anything, then removes the records with
   * `minibox rm` (no force) and checks again. Forced removal only for what a failed test left,
   * after the checks have seen it.
   */
  async cleanup(): Promise<void> {
    try {
      for (const container of this.started) await this.stop(container);
      expect(this.engines.filter((e) => e.exitCode === null && e.signalCode === null).map((e) => e.pid), 'engines still running').toEqual([]);
      expectNoLeaks(this.root);
      const ids = this.store().list().map((record) => record.Id);
      if (ids.length > 0) {
        const removed = await this.mb(['rm', ...ids]);
        expect(removed.code, removed.stderr).toBe(0);
      }
      expectNoLeaks(this.root);
      expectNoContainers(this.root);
    } finally {
      for (const engine of this.engines) {
        if (engine.exitCode === null && engine.signalCode === null) {
          const closed = new Promise((resolve) => engine.once('close', resolve));
          engine.kill('SIGKILL');
          await closed;
        }
      }
      const state = new StateRoot(this.root);
      for (const record of this.store().list()) await removeContainer(state, record.Id);
      await this.registry?.stop();
      fs.rmSync(this.root, { recursive: true, force: true });
    }
  }
}
