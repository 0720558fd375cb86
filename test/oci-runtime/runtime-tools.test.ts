/**
 * The OCI's own conformance suite, opencontainers/runtime-tools (commit 260e151), against
 * minibox-runc: scripts/oci-runtime-tools.sh builds it (Go 1.19, vendored, offline, ~40 s once,
 * cached under /var/cache/minibox) and runs each validation program with RUNTIME=bin/minibox-runc.
 *
 * The tier runs wherever the suite's source is (../shared/third_party/runtime-tools-260e151.tar.gz
 * next to the checkout, as on CI, or $MINIBOX_RUNTIME_TOOLS_SRC / $MINIBOX_RUNTIME_TOOLS_TAR —
 * docs/oci-runtime.md) and says plainly that it skipped elsewhere.
 *
 * PASSING lists the programs that pass fully here (every TAP line `ok`, exit 0); docs/oci-runtime.md
 * says why each other one fails, with runc's results on the same host. The programs poll the
 * runtime's state once a second, so all of PASSING takes ~140 s: by default this tier runs the
 * QUICK subset (~40 s, among them `default`, `process` and `mounts`, which check 940 properties
 * from inside the container); MINIBOX_RUNTIME_TOOLS_ALL=1 runs all of PASSING.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/registry.js';
import { runcBin } from './helpers.js';

const script = path.join(repoRoot, 'scripts/oci-runtime-tools.sh');

export const PASSING = [
  'config_updates_without_affect', 'create', 'default', 'delete_only_create_resources', 'hostname', 'kill',
  'kill_no_effect', 'killsig', 'linux_devices', 'linux_masked_paths', 'linux_ns_itype', 'linux_ns_nopath', 'linux_ns_path',
  'linux_ns_path_type', 'linux_readonly_paths', 'linux_rootfs_propagation', 'linux_seccomp', 'linux_sysctl',
  'linux_uid_mappings', 'mounts', 'process', 'process_oom_score_adj', 'process_user', 'root_readonly_true', 'state',
];

/** Each under 6 s here; the others of PASSING poll for 8–26 s each. */
export const QUICK = [
  'config_updates_without_affect', 'create', 'default', 'delete_only_create_resources', 'linux_devices',
  'linux_seccomp', 'linux_sysctl', 'linux_uid_mappings',
  'mounts', 'process', 'process_oom_score_adj', 'process_user', 'root_readonly_true', 'state',
];

const built = spawnSync('bash', [script, 'build'], { encoding: 'utf8', timeout: 600_000 });
const available = built.status === 0;
if (!available) process.stderr.write(`runtime-tools tier skipped: ${built.stderr.trim() || `exit ${built.status}`}\n`);

describe.skipIf(!available)('runtime-tools validation against minibox-runc', () => {
  const programs = process.env.MINIBOX_RUNTIME_TOOLS_ALL === '1' ? PASSING : QUICK;
  it(`${programs.length} programs pass fully`, () => {
    const run = spawnSync('bash', [script, 'run', runcBin, ...programs], { encoding: 'utf8', timeout: 900_000 });
    const lines = run.stdout.trim().split('\n').filter((line) => !line.startsWith('summary:'));
    const failing = lines.filter((line) => !/ ok=[1-9]\d* notok=0 rc=0$/.test(line));
    expect(failing, run.stderr).toEqual([]);
    expect(lines).toHaveLength(programs.length);
  }, 900_000);
});
