/**
 * runc-cli.ts — `minibox-runc`: minibox's runtime behind runc's command line.
 *
 * Engines do not link a runtime, they *run* one: containerd's shim and podman's conmon exec a
 * binary with runc's arguments — `runc --root R --log F --log-format json create --bundle B
 * --pid-file P ID`, then `start ID`, `state ID`, `kill ID 15`, `delete ID` — and read its exit
 * status, its stdout (state JSON) and its log. So any program that answers those words the way
 * runc does is an OCI runtime to them. This file is only that command line: each command calls
 * one function of create.ts / lifecycle.ts / oci-state.ts, which reuse minibox's runtime (the
 * same init stage and start protocol as `minibox run`).
 *
 * Failures look like runc's: exit 1, and on stderr a logrus line (`time="…" level=error
 * msg="container does not exist"`), or — with `--log FILE` — the line goes to FILE (`--log-format
 * json`: `{"level":"error","msg":"…","time":"…"}`, which containerd reads back) and the bare
 * message to stderr.
 *
 * Try: `minibox-runc spec && minibox-runc list` → `ID PID STATUS BUNDLE CREATED OWNER` (the header).
 */
import { Command, CommanderError } from 'commander';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { MiniboxError, describeError } from '../errors.js';
import { OCI_VERSION, OciStateDir, DEFAULT_OCI_ROOT } from './oci-state.js';
import { createContainer, type CreateOptions } from './create.js';
import { deleteContainer, killContainer, parseSignal, processesOf, startContainer } from './lifecycle.js';
import { runContainerToEnd } from './run.js';
import { execInContainer } from './exec.js';
import { defaultSpec, features } from './default-spec.js';
import { setPaused } from './oci-cgroup.js';

interface GlobalOptions { root: string; log?: string; logFormat: 'text' | 'json'; debug?: boolean; systemdCgroup?: boolean }

/** minibox's version, from package.json (two levels above dist/oci/ and src/oci/ alike). */
const MINIBOX_RUNC_VERSION = (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

function examples(lines: string[]): string {
  return `\nExamples:\n${lines.map((line) => `  ${line}`).join('\n')}\n`;
}

const json = (value: unknown): void => { process.stdout.write(`${JSON.stringify(value, null, 2)}\n`); };

function addCreateOptions(command: Command): Command {
  return command
    .option('-b, --bundle <dir>', 'the bundle: config.json and its rootfs (default: the current directory)', '.')
    .option('--pid-file <file>', 'write the container process\'s pid to this file')
    .option('--console-socket <path>', 'with process.terminal: send the pty master to this Unix socket')
    .option('--no-pivot', 'MS_MOVE + chroot instead of pivot_root (a root pivot_root refuses; less safe)')
    .option('--no-new-keyring', 'keep the caller\'s session keyring instead of a new one')
    .option('--preserve-fds <n>', 'pass N more fds (3, 4, …) on to the container\'s process', '0');
}

function creationOptions(options: Record<string, unknown>, global: GlobalOptions): CreateOptions {
  const preserveFds = Number(options.preserveFds);
  if (!Number.isInteger(preserveFds) || preserveFds < 0) throw new MiniboxError(`invalid --preserve-fds ${String(options.preserveFds)}: a count of fds, 0 or more`);
  return {
    ...(options.pivot === false ? { noPivot: true } : {}),
    ...(preserveFds > 0 ? { preserveFds } : {}),
    bundle: options.bundle as string,
    ...(options.pidFile ? { pidFile: options.pidFile as string } : {}),
    ...(options.consoleSocket ? { consoleSocket: options.consoleSocket as string } : {}),
    ...(options.newKeyring === false ? { noNewKeyring: true } : {}),
    ...(global.systemdCgroup ? { systemdCgroup: true } : {}),
  };
}

export function buildRuncProgram(): Command {
  const program = new Command('minibox-runc');
  const states = (): OciStateDir => new OciStateDir((program.opts() as GlobalOptions).root);
  program
    .description('minibox\'s container runtime with runc\'s command line (an OCI runtime for containerd, podman, runtime-tools)')
    .version(`minibox-runc version ${MINIBOX_RUNC_VERSION}\nspec: ${OCI_VERSION}`, '-v, --version', 'print the version')
    .option('--root <dir>', 'where container state is kept', DEFAULT_OCI_ROOT)
    .option('--log <file>', 'write errors to this file (the bare message still goes to stderr)')
    .option('--log-format <format>', 'text or json', 'text')
    .option('--debug', 'accepted for compatibility (there is no debug log yet)')
    .option('--systemd-cgroup', 'accepted; refused where it would take effect (a cgroup v2 host)')
    .option('--criu <path>', 'accepted for compatibility; checkpointing is not supported')
    .option('--rootless <value>', 'accepted for compatibility (auto|true|false); rootless is not supported')
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ outputError: () => undefined })
    .addHelpText('after', examples([
      'minibox-runc spec && minibox-runc run c1      # a shell in ./rootfs (needs a terminal)',
      'podman --runtime $PWD/bin/minibox-runc run --rm IMAGE echo hi',
      'ctr run --rm --runc-binary $PWD/bin/minibox-runc IMAGE c1 echo hi',
    ]));

  registerLifecycle(program, states);
  registerExecAndState(program, states);
  registerInfo(program, states);

  program.hook('preAction', () => {
    const global = program.opts() as GlobalOptions;
    if (global.logFormat !== 'text' && global.logFormat !== 'json') throw new MiniboxError(`invalid log-format: ${global.logFormat} (text or json)`);
  });
  return program;
}

function rootfsOf(bundle: string): string {
  try {
    const spec = JSON.parse(fs.readFileSync(`${bundle}/config.json`, 'utf8')) as { root?: { path?: string } };
    return spec.root?.path?.startsWith('/') ? spec.root.path : `${bundle}/${spec.root?.path ?? 'rootfs'}`;
  } catch {
    return '';
  }
}

function listContainers(states: OciStateDir, options: { format: string; quiet?: boolean }): void {
  const all = states.list();
  if (options.quiet) {
    for (const saved of all) process.stdout.write(`${saved.id}\n`);
    return;
  }
  const rows = all.map((saved) => ({ ...states.state(saved), rootfs: rootfsOf(saved.bundle), created: saved.created, owner: 'root' }));
  if (options.format === 'json') {
    process.stdout.write(`${JSON.stringify(rows)}\n`);
    return;
  }
  const table = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'], ...rows.map((row) => [row.id, String(row.pid), row.status, row.bundle, row.created, row.owner])];
  const widths = table[0]!.map((_, column) => Math.max(...table.map((line) => line[column]!.length)));
  for (const line of table) process.stdout.write(`${line.map((cell, column) => cell.padEnd(widths[column]!)).join('   ').trimEnd()}\n`);
}

function showProcesses(states: OciStateDir, id: string, psArgs: string[], format: string): void {
  const saved = states.load(id);
  const pids = states.status(saved) === 'stopped' ? [] : processesOf(saved);
  if (format === 'json') {
    process.stdout.write(`${JSON.stringify(pids)}\n`);
    return;
  }
  // As runc: the host's `ps` (default -ef), only the header and the container's rows.
  const output = spawnSync('ps', psArgs.length ? psArgs : ['-ef'], { encoding: 'utf8' });
  const [header = '', ...lines] = output.stdout.split('\n');
  const pidColumn = header.trim().split(/\s+/).indexOf('PID');
  if (pidColumn < 0) throw new MiniboxError(`couldn't find PID field in ps output`);
  process.stdout.write(`${header}\n`);
  for (const line of lines) if (pids.includes(Number(line.trim().split(/\s+/)[pidColumn]))) process.stdout.write(`${line}\n`);
}

/** runc's error shape (see the header); always exit 1. */
function reportError(error: unknown, global: Partial<GlobalOptions>): number {
  if (error instanceof CommanderError) {
    if (error.exitCode === 0) return 0;
    process.stderr.write(`minibox-runc: ${error.message.replace(/^error: /, '')}\n`);
    return 1;
  }
  const message = describeError(error);
  const time = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const line = global.logFormat === 'json' ? JSON.stringify({ level: 'error', msg: message, time }) : `time="${time}" level=error msg=${JSON.stringify(message)}`;
  if (global.log) {
    try {
      fs.appendFileSync(global.log, `${line}\n`);
    } catch { /* the message still reaches stderr */ }
    process.stderr.write(`${message}\n`);
  } else {
    process.stderr.write(`${line}\n`);
  }
  return 1;
}

export async function runcMain(argv: string[]): Promise<number> {
  const program = buildRuncProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    return reportError(error, program.opts() as Partial<GlobalOptions>);
  }
}


type States = () => OciStateDir;

/** create, run, start, kill, delete: the runtime spec's operations. */
function registerLifecycle(program: Command, states: States): void {
  addCreateOptions(program.command('create').argument('<id>').description('create a container that waits for `start`'))
    .addHelpText('after', examples(['minibox-runc create --bundle /tmp/b c1 && minibox-runc start c1']))
    .action(async (id: string, options: Record<string, unknown>) => {
      await createContainer(states(), id, creationOptions(options, program.opts() as GlobalOptions));
      process.exit(0); // the waiting init stage must not hold this process
    });

  addCreateOptions(program.command('run').argument('<id>').description('create, start, wait, delete (runc run)'))
    .option('-d, --detach', 'return once it runs; do not wait or delete')
    .option('--keep', 'do not delete the container after it exits')
    .addHelpText('after', examples(['minibox-runc run --bundle /tmp/b c1; echo $?   # the container\'s exit status']))
    .action(async (id: string, options: Record<string, unknown>) => {
      process.exitCode = await runContainerToEnd(states(), id, { ...creationOptions(options, program.opts() as GlobalOptions), detach: options.detach === true, keep: options.keep === true });
    });

  program.command('start').argument('<id>').description('let a created container run its program')
    .addHelpText('after', examples(['minibox-runc start c1']))
    .action(async (id: string) => { await startContainer(states(), id); });

}

/** exec and state. */
function registerExecAndState(program: Command, states: States): void {
  program.command('exec').argument('<id>').argument('[args...]').description('run one more process in a running container')
    .option('-p, --process <file>', 'a runtime-spec process JSON (instead of ARGS)')
    .option('-d, --detach', 'return once the process runs')
    .option('--pid-file <file>', 'write the process\'s pid to this file')
    .option('-t, --tty', 'a terminal (needs --console-socket)')
    .option('--console-socket <path>', 'send the pty master to this Unix socket')
    .option('-e, --env <env>', 'KEY=VALUE (repeatable)', (value: string, all: string[]) => [...all, value], [] as string[])
    .option('--cwd <dir>', 'working directory')
    .passThroughOptions()
    .addHelpText('after', examples(['minibox-runc exec c1 ps', 'minibox-runc exec -d --pid-file p --process proc.json c1']))
    .action(async (id: string, args: string[], options: Record<string, unknown>) => {
      process.exitCode = await execInContainer(states(), id, {
        args, detach: options.detach === true, tty: options.tty === true, env: options.env as string[],
        ...(options.process ? { processFile: options.process as string } : {}),
        ...(options.pidFile ? { pidFile: options.pidFile as string } : {}),
        ...(options.consoleSocket ? { consoleSocket: options.consoleSocket as string } : {}),
        ...(options.cwd ? { cwd: options.cwd as string } : {}),
      });
      if (options.detach) process.exit(0); // the process runs on without us
    });

  program.command('state').argument('<id>').description('print the runtime-spec state JSON')
    .addHelpText('after', examples(['minibox-runc state c1 | jq -r .status']))
    .action((id: string) => {
      const saved = states().load(id);
      json({ ...states().state(saved), rootfs: rootfsOf(saved.bundle), created: saved.created, owner: '' });
    });

  program.command('kill').argument('<id>').argument('[signal]', 'name or number', 'SIGTERM').description('send a signal to the container')
    .option('-a, --all', 'signal every process of the container')
    .addHelpText('after', examples(['minibox-runc kill c1 KILL', 'minibox-runc kill --all c1 9']))
    .action((id: string, signal: string, options: { all?: boolean }) => { killContainer(states(), id, parseSignal(signal), options.all === true); });

  program.command('delete').argument('<id>').description('remove a stopped (or created) container')
    .option('-f, --force', 'kill it first if it still runs')
    .addHelpText('after', examples(['minibox-runc delete c1', 'minibox-runc delete --force c1']))
    .action(async (id: string, options: { force?: boolean }) => { await deleteContainer(states(), id, options.force === true); });

}

/** list, ps, pause/resume, spec, features. */
function registerInfo(program: Command, states: States): void {
  program.command('list').description('list containers').option('-f, --format <format>', 'table or json', 'table')
    .option('-q, --quiet', 'ids only')
    .addHelpText('after', examples(['minibox-runc list', 'minibox-runc --root /run/containerd/runc/k8s.io list -q']))
    .action((options: { format: string; quiet?: boolean }) => { listContainers(states(), options); });

  program.command('ps').argument('<id>').argument('[ps-args...]').description('the container\'s processes')
    .option('-f, --format <format>', 'table (ps -ef) or json (pids)', 'table')
    .addHelpText('after', examples(['minibox-runc ps c1', 'minibox-runc ps --format json c1']))
    .action((id: string, psArgs: string[], options: { format: string }) => { showProcesses(states(), id, psArgs, options.format); });

  for (const verb of ['pause', 'resume'] as const) {
    program.command(verb).argument('<id>').description(`${verb} every process (cgroup v2 freezer)`)
      .addHelpText('after', examples([`minibox-runc ${verb} c1`]))
      .action(async (id: string) => { await setPaused(states(), id, verb === 'pause'); });
  }

  program.command('spec').description('write a default config.json (as runc spec)')
    .option('-b, --bundle <dir>', 'where to write it', '.')
    .option('--rootless', 'refused: rootless containers are not supported')
    .addHelpText('after', examples(['mkdir -p b/rootfs && cd b && minibox-runc spec']))
    .action((options: { bundle: string; rootless?: boolean }) => {
      if (options.rootless) throw new MiniboxError('--rootless is not supported: minibox-runc runs as root');
      const file = `${options.bundle}/config.json`;
      if (fs.existsSync(file)) throw new MiniboxError(`File ${file} exists. Remove it first`);
      fs.writeFileSync(file, `${JSON.stringify(defaultSpec(), null, '\t')}\n`);
    });

  program.command('features').description('what this runtime supports, as JSON')
    .addHelpText('after', examples(['minibox-runc features | jq .linux.namespaces']))
    .action(() => json(features()));

}
