/**
 * command-modules.ts — every command of the CLI, by the module of src/cli/commands that defines it.
 *
 * main.ts builds the program from such a table. This one is the whole CLI (run-cli.ts); the
 * start-up entries in cli-entries/ each name one module, so that their joined file holds only
 * what that verb needs (scripts/build-startup.mjs).
 *
 * Try: `minibox --help | grep -c '^  exec '` → `1` (the whole table: every command in the help).
 */
import type { CommandModule } from './main.js';

/**
 * Each module of src/cli/commands and the top-level commands it defines. Node spends more time
 * loading a module graph than running most commands, so `minibox run` loads only commands/run.js
 * (and what it needs), not the registry client, the unpacker or cli-progress. Help, an unknown
 * command and the `container` group (to which several modules add) load all of them, in this order.
 */
export const COMMAND_MODULES: CommandModule[] = [
  { names: ['pull', 'images', 'rmi', 'tag', 'history', 'image'], load: async () => (await import('./commands/images-command.js')).registerImageCommands },
  { names: ['login', 'logout'], load: async () => (await import('./commands/login-command.js')).registerLoginCommands },
  { names: ['network'], load: async () => (await import('./commands/network-command.js')).registerNetworkCommands },
  { names: ['run', 'create'], load: async () => (await import('./commands/run-command.js')).registerRunCommands },
  { names: ['ps', 'logs', 'start', 'stop', 'restart', 'kill', 'pause', 'unpause', 'wait', 'rename', 'rm', 'inspect'], load: async () => (await import('./commands/container-command.js')).registerLifecycleCommands },
  { names: ['attach'], load: async () => (await import('./commands/attach-command.js')).registerAttachCommand },
  { names: ['volume'], load: async () => (await import('./commands/volume-command.js')).registerVolumeCommands },
  { names: ['exec'], load: async () => (await import('./commands/exec-command.js')).registerExecCommand },
  { names: ['top'], load: async () => (await import('./commands/top-command.js')).registerTopCommand },
  { names: ['cp'], load: async () => (await import('./commands/cp-command.js')).registerCpCommands },
  { names: ['diff'], load: async () => (await import('./commands/diff-command.js')).registerDiffCommand },
  { names: ['port'], load: async () => (await import('./commands/port-command.js')).registerPortCommand },
  { names: ['doctor'], load: async () => (await import('./commands/doctor-command.js')).registerDoctorCommand },
  { names: ['stats'], load: async () => (await import('./commands/stats-command.js')).registerStatsCommand },
  { names: ['build', 'builder'], load: async () => (await import('./commands/build-command.js')).registerBuildCommands },
  { names: ['save', 'load'], load: async () => (await import('./commands/archive-command.js')).registerArchiveCommands },
  { names: ['push'], load: async () => (await import('./commands/push-command.js')).registerPushCommand },
  { names: ['commit', 'export', 'import'], load: async () => (await import('./commands/commit-command.js')).registerCommitCommands },
  { names: ['lesson'], load: async () => (await import('./commands/lesson-command.js')).registerLessonCommands },
  { names: ['update'], load: async () => (await import('./commands/update-command.js')).registerUpdateCommand },
  { names: ['version', 'info'], load: async () => (await import('./commands/version-command.js')).registerVersionCommands },
  { names: ['events'], load: async () => (await import('./commands/events-command.js')).registerEventsCommand },
  { names: ['system'], load: async () => (await import('./commands/system-command.js')).registerSystemCommands },
  { names: ['serve'], load: async () => (await import('./commands/serve-command.js')).registerServeCommand },
];
