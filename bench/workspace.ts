/**
 * workspace.ts — everything one `npm run bench` creates, and how it all goes away afterwards.
 *
 * A benchmark run makes temp dirs (state roots, bundles, unpack targets), starts a registry
 * process and, through `minibox run`, overlay mounts. All of it lives under one directory in
 * os.tmpdir(), so cleaning up is: stop the processes we started (by their handle, never by
 * name), unmount whatever is still mounted below the directory (deepest first, read from
 * /proc/self/mountinfo), then delete it. Generated content is cached separately (cacheDir) so a
 * second run skips the slow part; it is deleted too unless --keep is given. Only one benchmark
 * run goes at a time (a flock, see create()).
 *
 * Try: interrupt `npm run bench` with Ctrl-C, then `ls $TMPDIR | grep minibox-bench` — nothing left.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { tryLock } from '../src/sys/flock.js';
import { readMountInfo } from '../src/mountinfo.js';
import { MNT, umount } from '../src/sys/mount.js';
import { startLocalRegistry, pushLayout, type LocalRegistry } from './local-registry.js';
import { repoRoot, threeLayerImage, type LayoutImage } from './synthetic-content.js';

export interface BenchOptions {
  /** Timed runs for slow benchmarks (pulls, unpacks); fast ones use a multiple of it. */
  runs: number;
  /** Keep the generated content cache for the next run. */
  keep: boolean;
}

function mountsBelow(dir: string): string[] {
  const mountPoints = readMountInfo().map((entry) => entry.mountPoint);
  return mountPoints.filter((point) => point === dir || point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

export class BenchWorkspace {
  readonly dir: string;
  readonly cacheDir: string;
  readonly options: BenchOptions;
  /** `bin/minibox` of this checkout (runs dist/). */
  readonly minibox = path.join(repoRoot, 'bin', 'minibox');
  private registry: LocalRegistry | undefined;
  private readonly pushed = new Map<string, string>();
  private readonly cleanups: (() => void | Promise<void>)[] = [];

  /** An fd of os.tmpdir() holding an exclusive flock: one `npm run bench` at a time. */
  private readonly lockFd: number;

  private constructor(options: BenchOptions, lockFd: number) {
    this.options = options;
    this.lockFd = lockFd;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'minibox-bench-'));
    this.cacheDir = path.join(os.tmpdir(), 'minibox-bench-cache');
    fs.mkdirSync(this.cacheDir, { recursive: true });
  }

  /**
   * Waits until no other benchmark run is going, then makes the workspace. Two runs at once would
   * skew each other's timings and one's cleanup would delete the other's cache. The lock is a
   * flock on os.tmpdir() itself, so no lock file is left behind and a killed run releases it.
   */
  static async create(options: BenchOptions): Promise<BenchWorkspace> {
    const fd = fs.openSync(os.tmpdir(), fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    let told = false;
    while (!tryLock(fd, true, `${os.tmpdir()} (benchmark lock)`)) {
      if (!told) process.stderr.write('bench: another benchmark run is going on; waiting for it to finish\n');
      told = true;
      await sleep(500);
    }
    return new BenchWorkspace(options, fd);
  }

  /** A new empty directory inside the workspace. */
  tempDir(name: string): string {
    return fs.mkdtempSync(path.join(this.dir, `${name}-`));
  }

  /** Runs at cleanup, last registered first. */
  onCleanup(step: () => void | Promise<void>): void {
    this.cleanups.push(step);
  }

  /** The 3-layer image pushed to the local registry (started on first use); returns its reference. */
  async pushedThreeLayerImage(layerMiB: number): Promise<{ reference: string; image: LayoutImage }> {
    const image = threeLayerImage(this.cacheDir, layerMiB);
    if (!this.registry) this.registry = await startLocalRegistry(path.join(this.dir, 'registry'));
    let reference = this.pushed.get(image.layout);
    if (!reference) {
      reference = `${this.registry.host}/bench/three-layers:${image.tag}`;
      pushLayout(image.layout, image.tag, reference);
      this.pushed.set(image.layout, reference);
    }
    return { reference, image };
  }

  /** Stops what was started, unmounts what is mounted below the workspace, deletes it. */
  async cleanup(): Promise<void> {
    for (const step of this.cleanups.reverse()) {
      try {
        await step();
      } catch (error) {
        process.stderr.write(`bench: cleanup step failed: ${(error as Error).message}\n`);
      }
    }
    this.cleanups.length = 0;
    await this.registry?.stop();
    this.registry = undefined;
    for (const mountPoint of mountsBelow(this.dir)) {
      try {
        umount(mountPoint, MNT.DETACH);
      } catch (error) {
        process.stderr.write(`bench: could not unmount ${mountPoint}: ${(error as Error).message}\n`);
      }
    }
    if (mountsBelow(this.dir).length === 0) fs.rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
    else process.stderr.write(`bench: left ${this.dir} in place because something is still mounted below it\n`);
    if (!this.options.keep) fs.rmSync(this.cacheDir, { recursive: true, force: true });
    fs.closeSync(this.lockFd); // releases the flock
  }
}
