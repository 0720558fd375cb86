/**
 * version-command.ts — `minibox version` and `minibox info`, Docker's two "what is this?" commands.
 * minibox has no daemon, so there is no "Server:" half: `version` describes this program and
 * `info` what it manages here (containers, images, storage, cgroups, registries), with Docker's
 * field names for `--format` (`{{.Containers}}`, `{{.CgroupVersion}}`, `{{json .}}`).
 *
 * Try: `minibox info --format '{{.Driver}} {{.CgroupVersion}}'` → `overlay 1` on a hybrid host.
 */
import type { Command } from 'commander';
import fs from 'node:fs';
import os from 'node:os';
import { cgroupMode } from '../../cgroups/mode.js';
import { reconcileAll } from '../../container/reconcile.js';
import { formatBinaryBytes } from '../../format.js';
import { ImageStore } from '../../image/store/images.js';
import { hostPlatform } from '../../image/platform.js';
import { renderGoTemplate } from '../go-template.js';
import { contextOf, registryContextOf, say } from '../context.js';

export const MINIBOX_VERSION = '0.1.0';

function versionFields(): Record<string, string> {
  return {
    Version: MINIBOX_VERSION,
    NodeVersion: process.version,
    Os: process.platform,
    Arch: hostPlatform().architecture,
    KernelVersion: os.release(),
  };
}

function operatingSystem(): string {
  try {
    return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export function registerVersionCommands(program: Command): void {
  program.command('version')
    .description('Show the minibox version information')
    .option('-f, --format <template>', "format the output with a Go template, e.g. '{{.Version}}'")
    .action((options: { format?: string }) => {
      const fields = versionFields();
      if (options.format !== undefined) { say(renderGoTemplate(options.format, fields)); return; }
      say(['minibox:', ` Version:      ${fields.Version}`, ` Node.js:      ${fields.NodeVersion}`,
        ` OS/Arch:      ${fields.Os}/${fields.Arch}`, ` Kernel:       ${fields.KernelVersion}`,
        ' Engine:       none (minibox has no daemon: each command does its work itself)'].join('\n'));
    });

  program.command('info')
    .description('Display system-wide information')
    .option('-f, --format <template>', "format the output with a Go template, e.g. '{{json .}}'")
    .action(async (options: { format?: string }, command: Command) => {
      const { root } = contextOf(command);
      const containers = await reconcileAll(root);
      const running = containers.filter((record) => record.State.Running).length;
      const mode = cgroupMode();
      const registries = registryContextOf(command);
      const info = {
        Containers: containers.length, ContainersRunning: running, ContainersPaused: 0, ContainersStopped: containers.length - running,
        Images: new ImageStore(root).list().length, Driver: 'overlay', DockerRootDir: root.dir,
        CgroupDriver: 'cgroupfs', CgroupVersion: mode === 'unified' ? '2' : mode === 'none' ? '' : '1', CgroupMode: mode,
        KernelVersion: os.release(), OperatingSystem: operatingSystem(), OSType: 'linux', Architecture: os.machine(),
        NCPU: os.cpus().length, MemTotal: os.totalmem(), Name: os.hostname(), ServerVersion: MINIBOX_VERSION,
        RegistryConfig: { Mirrors: registries.registryMirrors, InsecureRegistryCIDRs: registries.insecureRegistries },
      };
      if (options.format !== undefined) { say(renderGoTemplate(options.format, info)); return; }
      say([
        `Containers: ${info.Containers}`, ` Running: ${running}`, ' Paused: 0', ` Stopped: ${info.ContainersStopped}`,
        `Images: ${info.Images}`, `Storage Driver: overlay (layers in ${root.layers})`,
        `Cgroup Driver: cgroupfs`, `Cgroup Version: ${info.CgroupVersion || 'none'} (${mode}${mode === 'unified' ? '' : ': no limits, stats or update'})`,
        `Kernel Version: ${info.KernelVersion}`, `Operating System: ${info.OperatingSystem}`, `OSType: linux`,
        `Architecture: ${info.Architecture}`, `CPUs: ${info.NCPU}`, `Total Memory: ${formatBinaryBytes(info.MemTotal)}`,
        `Name: ${info.Name}`, `minibox Root Dir: ${root.dir}`,
        `Registry Mirrors:${info.RegistryConfig.Mirrors.map((mirror) => `\n ${mirror}`).join('') || ' none'}`,
        `Insecure Registries:${['127.0.0.0/8', ...info.RegistryConfig.InsecureRegistryCIDRs].map((host) => `\n ${host}`).join('')}`,
      ].join('\n'));
    });
}
