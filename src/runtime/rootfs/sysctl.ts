/**
 * sysctl.ts — config.json's `linux.sysctl`: kernel settings written under /proc/sys.
 *
 * `net.ipv4.ip_forward=1` is the file /proc/sys/net/ipv4/ip_forward. Only namespaced settings
 * (net.*, kernel.hostname, kernel.shm*, fs.mqueue.*…) are safe to change from a container: they
 * affect only its namespaces. Others would change the host, which is why /proc/sys is made
 * read-only right after this step.
 *
 * Try: `minibox run --rm busybox cat /proc/sys/net/ipv4/ip_unprivileged_port_start` → `1024`
 * (namespaced: a container's own value, unless config.json's linux.sysctl sets it).
 */
import fs from 'node:fs';
import { publishStep } from '../../sys/trace.js';

const NAMESPACED = [/^net\./, /^kernel\.(shm|msg|sem)/, /^kernel\.(hostname|domainname)$/, /^fs\.mqueue\./];

export function applySysctls(settings: Record<string, string>): void {
  for (const [key, value] of Object.entries(settings)) {
    if (!NAMESPACED.some((pattern) => pattern.test(key))) {
      throw new Error(`sysctl ${key} is not namespaced: setting it would change the host`);
    }
    fs.writeFileSync(`/proc/sys/${key.replace(/\./g, '/')}`, value);
    publishStep('sysctl', { key, value });
  }
}
