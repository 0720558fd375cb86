/**
 * default-spec.ts — `minibox-runc spec` (a starting config.json, as `runc spec` writes) and
 * `minibox-runc features` (what this runtime supports, as JSON, runtime-spec features.md).
 *
 * The default config.json runs `sh` on a terminal as root in a busybox-like rootfs under
 * ./rootfs, with new mount, PID, IPC, UTS and network namespaces, Docker's default capability
 * set (the same 14 as `minibox run`), the kernel files masked or read-only, and NOFILE 1024 —
 * the same shape as runc's, so a tutorial written for runc works here.
 *
 * Try: `mkdir b && cd b && minibox-runc spec && jq -c .process.args config.json` → `["sh"]`.
 */
import { CAPABILITY_NUMBERS, DEFAULT_CAPABILITIES } from '../bundle/docker-defaults.js';
import { KNOWN_MOUNT_OPTIONS } from '../runtime/rootfs/mount-options.js';
import { OCI_VERSION } from './oci-state.js';
import { RLIMIT } from '../sys/rlimit.js';

export function defaultSpec(): Record<string, unknown> {
  const capabilities = [...DEFAULT_CAPABILITIES];
  return {
    ociVersion: OCI_VERSION,
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: { bounding: capabilities, effective: capabilities, permitted: capabilities },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'minibox',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    ],
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: ['pid', 'network', 'ipc', 'uts', 'mount'].map((type) => ({ type })),
      maskedPaths: ['/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
        '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi'],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

/** runtime-spec features.md: what a config.json may ask of this runtime. */
export function features(): Record<string, unknown> {
  return {
    ociVersionMin: '1.0.0',
    ociVersionMax: OCI_VERSION,
    hooks: ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'],
    mountOptions: [...KNOWN_MOUNT_OPTIONS].sort(),
    linux: {
      namespaces: ['cgroup', 'ipc', 'mount', 'network', 'pid', 'user', 'uts'], // user: runtime/user-namespace.ts
      capabilities: Object.keys(CAPABILITY_NUMBERS),
      cgroup: { v1: false, v2: true, systemd: false, systemdUser: false },
      seccomp: { enabled: true },
      apparmor: { enabled: false },
      selinux: { enabled: false },
    },
    annotations: { 'org.minibox.runtime.rlimits': Object.keys(RLIMIT).join(',') },
  };
}
