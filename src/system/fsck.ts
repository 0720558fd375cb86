/**
 * fsck.ts — `minibox system fsck [--repair]`: does the state on disk (and what minibox left in
 * the kernel) still obey the rules of docs/state.md, after whatever crashes happened?
 *
 * Like fsck(8) for a file system: minibox is written so that a `kill -9` at any moment leaves
 * either the old state or the new one (temp files + rename(2), locks the kernel drops on death,
 * records reconciled with the kernel). fsck is the proof a user can run, and the clean-up when
 * something outside those rules (a disk error, a hand edit, a crash in a place we missed) broke
 * one. The checks, in the order their repairs must run:
 *
 *   1. image store  (fsck-store.ts)       blob hashes, layer completion records, image records, tmp/
 *   2. containers   (fsck-containers.ts)  half-created/deleted dirs, ghost "running" records, temps
 *   3. the kernel   (fsck-containers.ts)  processes, mounts and cgroups of containers that are gone
 *   4. networks     (fsck-network.ts)     addresses, endpoints, veths, DNAT rules, idle bridges
 *   5. volumes      (here)                half-created or half-removed volume directories
 *
 * `repair` fixes each finding, then checks again (a repair can uncover the next problem: a corrupt
 * config blob deleted makes its image incomplete), up to three rounds. The result is clean when
 * the last check found nothing.
 *
 * Try: `minibox system fsck --format json | jq .clean` → `true`
 */
import fs from 'node:fs';
import path from 'node:path';
import { REMOVING_PREFIX, VOLUMES_LOCK } from '../bundle/volumes.js';
import { ContainerStore } from '../container/container-store.js';
import { defaultMountDir } from '../image/image-mount.js';
import { ImageStore } from '../image/store/images.js';
import { describeError } from '../errors.js';
import { STORE_LOCK, ifLockFree, withLock } from '../lock.js';
import type { StateRoot } from '../state-root.js';
import { reportOf, type Finding, type FindingReport } from './finding.js';
import { checkCgroups, checkContainerDirs, checkContainerStates, checkMounts, checkProcesses } from './fsck-containers.js';
import { checkNetworks } from './fsck-network.js';
import { checkStore } from './fsck-store.js';

export interface FsckOptions {
  repair?: boolean;
}

export interface FsckResult {
  /** What the first check found (with `repaired` set after a repair). */
  findings: FindingReport[];
  /** What is still wrong after the repairs (or the findings, without `repair`). */
  remaining: FindingReport[];
}

/** Volume directories without a record, and the remains of a `volume rm` cut short. */
async function checkVolumes(root: StateRoot): Promise<Finding[]> {
  if (!fs.existsSync(root.volumes)) return [];
  const result = await ifLockFree(root.locks, VOLUMES_LOCK, async () => fs.readdirSync(root.volumes)
    .filter((name) => name.startsWith(REMOVING_PREFIX) || !fs.existsSync(path.join(root.volumes, name, 'volume.json')))
    .map((name): Finding => {
      const dir = path.join(root.volumes, name);
      const removing = name.startsWith(REMOVING_PREFIX);
      return {
        area: 'temp', subject: dir, problem: removing ? 'a `volume rm` that never finished' : 'a volume directory without a record (a `volume create` cut short)',
        repair: 'delete it', fix: async () => fs.rmSync(dir, { recursive: true, force: true }),
      };
    }));
  return result.busy ? [] : result.value;
}

type Phase = (root: StateRoot) => Promise<Finding[]>;

/** The phases in order; each one's findings are repaired before the next one looks. */
const PHASES: Phase[] = [
  async (root) => await checkStore(root),
  async (root) => [...await checkContainerDirs(root), ...await checkContainerStates(root)],
  async (root) => {
    const images = new ImageStore(root).list().map((image) => defaultMountDir(root, image));
    return [...await checkProcesses(root), ...checkMounts(root, new Set(images)), ...await checkCgroups(root, new ContainerStore(root).list())];
  },
  async (root) => await checkNetworks(root),
  async (root) => await checkVolumes(root),
];

async function repairAll(findings: Finding[]): Promise<FindingReport[]> {
  const reports: FindingReport[] = [];
  for (const finding of findings) {
    try {
      await finding.fix();
      reports.push({ ...reportOf(finding), repaired: true });
    } catch (error) {
      reports.push({ ...reportOf(finding), repaired: false, error: describeError(error) });
    }
  }
  return reports;
}

/** One round: every phase checked (and repaired), the store phase under the store lock. */
async function round(root: StateRoot, repair: boolean): Promise<FindingReport[]> {
  const reports: FindingReport[] = [];
  for (const [i, phase] of PHASES.entries()) {
    const run = async (): Promise<FindingReport[]> => {
      const findings = await phase(root);
      return repair ? await repairAll(findings) : findings.map(reportOf);
    };
    // No pull may run while the store is judged: its temp files would look abandoned.
    reports.push(...(i === 0 ? await withLock(root.locks, STORE_LOCK, run, 'exclusive') : await run()));
  }
  return reports;
}

/** Checks the state root (and, with `repair`, fixes what it finds). The library behind the CLI. */
export async function fsck(root: StateRoot, options: FsckOptions = {}): Promise<FsckResult> {
  const findings = await round(root, options.repair === true);
  if (!options.repair || findings.length === 0) return { findings, remaining: findings };
  let remaining: FindingReport[] = findings;
  for (let i = 0; i < 3 && remaining.length > 0; i++) {
    remaining = await round(root, i < 2);
  }
  return { findings, remaining: remaining.map(({ repaired: _r, error: _e, ...rest }) => rest) };
}
