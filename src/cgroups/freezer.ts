/**
 * freezer.ts — `pause`/`unpause`: stopping every process of a container in place, and letting
 * them go on, with the cgroup v2 freezer.
 *
 * Writing 1 to a cgroup's `cgroup.freeze` asks the kernel to stop every task in it and below it:
 * each one is parked as soon as it next leaves the kernel (no signal is sent — unlike SIGSTOP,
 * which a process can see, and which its parent's wait(2) reports). Freezing takes a moment; the
 * kernel says it is done by writing `frozen 1` into `cgroup.events`. A frozen task still holds
 * its memory; a fatal signal (SIGKILL) ends it even frozen, so `stop`/`kill`/`rm -f` still work.
 * Writing 0 thaws them (`frozen 0`). New children of a frozen cgroup are born frozen.
 *
 * cgroup v1 had a separate `freezer` controller (freezer.state FROZEN/THAWED). minibox makes
 * cgroups only on a cgroup v2 host and never writes into v1 or hybrid hierarchies it did not
 * create, so on such hosts pause is refused with a clear message (see docs/vm.md).
 *
 * Try (cgroup v2): `minibox run -d --name fz busybox sleep 100 >/dev/null; minibox pause fz
 * >/dev/null; cat /sys/fs/cgroup/minibox/$(minibox inspect -f '{{.Id}}' fz)/cgroup.events` →
 * `frozen 1`
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MiniboxError } from '../errors.js';
import { publishStep } from '../sys/trace.js';
import { parseKeyedFile, writeCgroupFile, type ContainerCgroup } from './cgroup.js';

/** True when the kernel reports every task of the cgroup frozen (cgroup.events `frozen 1`). */
export function isFrozen(cgroup: ContainerCgroup): boolean {
  try {
    return parseKeyedFile(fs.readFileSync(path.join(cgroup.path, 'cgroup.events'), 'utf8')).get('frozen') === 1;
  } catch {
    return false;
  }
}

async function waitFrozen(cgroup: ContainerCgroup, frozen: boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (isFrozen(cgroup) !== frozen) {
    if (Date.now() > deadline) {
      throw new MiniboxError(`the kernel did not report ${cgroup.path}/cgroup.events "frozen ${frozen ? 1 : 0}" within ${timeoutMs / 1000} s`);
    }
    await sleep(10);
  }
  publishStep('cgroup.frozen', {
    dir: cgroup.path, frozen,
    meaning: frozen ? 'cgroup.events says "frozen 1": every task of the container is parked' : 'cgroup.events says "frozen 0": its tasks run again',
  });
}

/** Freezes every process of the cgroup and waits until the kernel says they all are. */
export async function freezeCgroup(cgroup: ContainerCgroup, timeoutMs = 10_000): Promise<void> {
  writeCgroupFile(cgroup.path, 'cgroup.freeze', '1', 'the kernel parks every task of the container the next time it leaves the kernel (no signal is sent)');
  await waitFrozen(cgroup, true, timeoutMs);
}

/** Thaws the cgroup; its processes go on where they stopped. */
export async function thawCgroup(cgroup: ContainerCgroup, timeoutMs = 10_000): Promise<void> {
  writeCgroupFile(cgroup.path, 'cgroup.freeze', '0', 'the kernel lets the container\'s tasks run again, where they stopped');
  await waitFrozen(cgroup, false, timeoutMs);
}
