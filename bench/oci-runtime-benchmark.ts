/**
 * oci-runtime-benchmark.ts — minibox's runtime as an OCI runtime: `create` + `start` + `delete`
 * of a busybox bundle (the host's busybox-static, `runc spec`, running `true`), the three calls an
 * engine makes per container, with minibox-runc, runc and crun (Debian's) on the same bundle.
 *
 * Each of the three is exec'd once per step, as containerd's shim does, so the Node start-up
 * (~50 ms, see `node -e 0` in the run benchmark) is paid three times by minibox-runc. crun 1.8
 * refuses hosts with hybrid cgroups (this project's machines): its row then says so and is
 * skipped. Try: `time sh -c 'minibox-runc create -b B c && minibox-runc start c && minibox-runc delete -f c'`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Benchmark, BenchRow } from './benchmark.js';
import { measureInTurns, type CommandSpec } from './measure.js';
import type { BenchWorkspace } from './workspace.js';

/** A bundle: busybox and its `true` applet, config.json from `runc spec` running `true`. */
function busyboxBundle(workspace: BenchWorkspace): string {
  const bundle = path.join(workspace.tempDir('oci-runtime'), 'bundle');
  fs.mkdirSync(path.join(bundle, 'rootfs/bin'), { recursive: true });
  fs.copyFileSync('/bin/busybox', path.join(bundle, 'rootfs/bin/busybox'));
  fs.chmodSync(path.join(bundle, 'rootfs/bin/busybox'), 0o755);
  fs.symlinkSync('busybox', path.join(bundle, 'rootfs/bin/true'));
  execFileSync('runc', ['spec', '--bundle', bundle]);
  const file = path.join(bundle, 'config.json');
  const config = JSON.parse(fs.readFileSync(file, 'utf8')) as { process: { args: string[]; terminal: boolean } };
  config.process.args = ['true'];
  config.process.terminal = false;
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  return bundle;
}

/** create + start + delete -f as one shell command, with its own --root. */
function lifecycle(label: string, runtime: string, bundle: string, root: string): CommandSpec {
  const id = `bench-${process.pid}`;
  const r = `${runtime} --root ${root}`;
  return { label, command: 'sh', args: ['-c', `${r} create --bundle ${bundle} ${id} </dev/null >/dev/null && ${r} start ${id} && ${r} delete --force ${id}`] };
}

/** Why a runtime cannot run the bundle here (its own first error line), or undefined. */
function unavailable(spec: CommandSpec): string | undefined {
  const trial = spawnSync(spec.command, spec.args, { encoding: 'utf8', timeout: 60_000 });
  return trial.status === 0 ? undefined : (trial.stderr.trim().split('\n')[0] ?? `exit ${trial.status}`);
}

export const ociLifecycle: Benchmark = {
  id: 'oci-runtime',
  title: 'create + start + delete of a busybox bundle: minibox-runc vs runc vs crun',
  async run(workspace) {
    const bundle = busyboxBundle(workspace);
    const runcBin = path.join(path.dirname(workspace.minibox), 'minibox-runc');
    const specs = [
      lifecycle('minibox-runc create+start+delete', runcBin, bundle, workspace.tempDir('minibox-runc-state')),
      lifecycle('runc create+start+delete', 'runc', bundle, workspace.tempDir('runc-state')),
      lifecycle('crun create+start+delete', 'crun', bundle, workspace.tempDir('crun-state')),
    ] as const;
    const mine = unavailable(specs[0]);
    if (mine) return [{ name: 'create+start+delete', skipped: `minibox-runc failed: ${mine}` }];
    const crunProblem = unavailable(specs[2]);
    const measured = await measureInTurns(crunProblem ? [specs[0], specs[1]] : [...specs], { runs: workspace.options.runs * 2, warmup: 1 });
    const rows: BenchRow[] = [{ name: 'create+start+delete', minibox: measured[0]!, reference: measured[1]! }];
    rows.push(crunProblem ? { name: 'create+start+delete vs crun', skipped: `crun: ${crunProblem}` }
      : { name: 'create+start+delete', minibox: measured[0]!, reference: measured[2]! });
    return rows;
  },
};
