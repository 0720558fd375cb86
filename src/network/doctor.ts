/**
 * doctor.ts — can this host do container networking? (`minibox doctor` calls `checkNetworking`.)
 *
 * The kernel needs the `bridge` and `veth` drivers (built in, or a loadable module), netfilter
 * NAT with MASQUERADE and the addrtype match, and user space needs `ip` (iproute2), `iptables`
 * and `nsenter` (util-linux). A driver counts as present when it is loaded (/sys/module/NAME),
 * built in (modules.builtin, or CONFIG_…=y in /proc/config.gz) or installed as a module file.
 *
 * Try: `minibox doctor` → `network: kernel: veth`
 */
import fs from 'node:fs';
import os from 'node:os';
import zlib from 'node:zlib';
import { runProgram } from './host-commands.js';

export interface NetworkCheck {
  name: string;
  ok: boolean;
  detail: string;
}

function kernelConfig(): string {
  try { return zlib.gunzipSync(fs.readFileSync('/proc/config.gz')).toString('utf8'); } catch { return ''; }
}

function driverPresent(module: string, configKey: string, config: string): string | undefined {
  if (fs.existsSync(`/sys/module/${module}`)) return `loaded (/sys/module/${module})`;
  const release = os.release();
  try {
    const builtin = fs.readFileSync(`/lib/modules/${release}/modules.builtin`, 'utf8');
    if (builtin.split('\n').some((line) => line.endsWith(`/${module}.ko`))) return 'built into the kernel';
  } catch { /* no module tree */ }
  if (new RegExp(`^${configKey}=y$`, 'm').test(config)) return `built into the kernel (${configKey}=y)`;
  try {
    const dep = fs.readFileSync(`/lib/modules/${release}/modules.dep`, 'utf8');
    if (dep.split('\n').some((line) => line.split(':')[0]?.match(new RegExp(`/${module}\\.ko(\\.[gx]z|\\.zst)?$`)))) return 'available as a module';
  } catch { /* no module tree */ }
  return undefined;
}

async function programWorks(argv: string[]): Promise<string | undefined> {
  try {
    const result = await runProgram(argv);
    return result.code === 0 ? (result.stdout.trim().split('\n')[0] ?? 'ok') : undefined;
  } catch {
    return undefined;
  }
}

export async function checkNetworking(): Promise<NetworkCheck[]> {
  const config = kernelConfig();
  const checks: NetworkCheck[] = [];
  for (const [module, key, why] of [
    ['bridge', 'CONFIG_BRIDGE', 'the switch containers plug into'],
    ['veth', 'CONFIG_VETH', 'the cable from a container to the bridge'],
  ] as const) {
    const found = driverPresent(module, key, config);
    checks.push({ name: `kernel: ${module}`, ok: found !== undefined, detail: found ?? `missing (${why}): load it with \`modprobe ${module}\`` });
  }
  const ipVersion = await programWorks(['ip', '-V']);
  checks.push({ name: 'iproute2 (ip)', ok: ipVersion !== undefined, detail: ipVersion ?? 'not found: apt-get install iproute2' });
  const iptablesVersion = await programWorks(['iptables', '--version']);
  checks.push({ name: 'iptables', ok: iptablesVersion !== undefined, detail: iptablesVersion ?? 'not found: apt-get install iptables' });
  if (iptablesVersion !== undefined) {
    const nat = await programWorks(['iptables', '-w', '-t', 'nat', '-S', 'POSTROUTING']);
    // Reading the nat table needs CAP_NET_ADMIN: as another user the failure says nothing about the kernel.
    const why = process.geteuid?.() === 0 ? 'is netfilter NAT enabled in the kernel?' : 'only root may read it (run doctor with sudo to check)';
    checks.push({ name: 'iptables nat table', ok: nat !== undefined, detail: nat !== undefined ? 'usable' : `cannot read the nat table: ${why}` });
  }
  const nsenter = await programWorks(['nsenter', '--version']);
  checks.push({ name: 'nsenter', ok: nsenter !== undefined, detail: nsenter ?? 'not found: apt-get install util-linux' });
  return checks;
}
