/**
 * host-commands.ts — how minibox talks to the kernel's network stack: by running `ip`, `iptables`
 * and `nsenter`, the same commands a student types.
 *
 * The kernel's real interface for interfaces, addresses and routes is *netlink* (a socket family
 * carrying binary messages: RTM_NEWLINK, RTM_NEWADDR, RTM_NEWROUTE…), and for firewall rules
 * nf_tables' own netlink protocol. `ip` (iproute2) and `iptables` are thin clients of exactly
 * those messages. minibox runs them as child processes instead of encoding netlink itself
 * because:
 *   - every step is one line a student can copy into a shell and watch (`ip link`, `iptables-save`),
 *     and `--explain` can print that very line;
 *   - their error messages ("RTNETLINK answers: File exists") are the ones found in every tutorial;
 *   - encoding netlink by hand (or through an npm library) would triple the code for no new idea.
 * These are not system calls Node lacks, so they do not go through src/sys; each one is still
 * published as a trace step (`net.veth`, `net.nat`…) so `--trace` and `--explain` see it.
 *
 * Each program start costs a few milliseconds, and a container start used to make ~30 of them,
 * so related steps go to one process: `ip -batch -` reads one `ip` command per line from stdin
 * (`nsenter … ip -batch -` does all the steps inside a namespace at once), and
 * `iptables-restore --noflush` applies a whole set of rules in one transaction (firewall.ts).
 * Every line is still published as its own step, with the command a student would type.
 *
 * Try: `minibox network prune -f && minibox run --rm --explain=all busybox true 2>&1 | grep -o 'ip link add
 * [a-z0-9]* type bridge'` → `ip link add minibox` (each host command, as you could type it: minibox0
 * for the first state root on the host, the next free number for others; the prune first, because
 * a kept bridge is "already there" and not made again).
 */
import { spawn } from 'node:child_process';
import { MiniboxError } from '../errors.js';
import { publishStep } from '../sys/trace.js';

export interface CommandResult { code: number; stdout: string; stderr: string }

/** Runs a program to completion and collects its output; never throws for a non-zero exit. */
export async function runProgram(argv: string[], input?: string): Promise<CommandResult> {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('runProgram: empty command');
  return await new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.on('error', (error: NodeJS.ErrnoException) => {
      reject(new MiniboxError(error.code === 'ENOENT'
        ? `${file} not found: install iproute2, iptables and util-linux (see \`minibox doctor\`)`
        : `cannot run ${file}: ${error.message}`));
    });
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin?.on('error', () => { /* the program exited without reading: its exit code tells */ });
    child.stdin?.end(input);
  });
}

/**
 * Runs one network step and throws a one-line MiniboxError naming it when it fails.
 * `step` is the trace name (`net.veth`), `args` what `--explain` shows beside the command line.
 */
export async function netStep(step: string, argv: string[], args: Record<string, unknown> = {}): Promise<string> {
  const start = performance.now();
  const result = await runProgram(argv);
  const failure = result.code === 0 ? undefined : (result.stderr.trim().split('\n').pop() ?? `exit ${result.code}`);
  publishStep(step, { ...args, command: argv.join(' ') }, failure, performance.now() - start);
  if (failure !== undefined) throw new MiniboxError(`${step}: \`${argv.join(' ')}\` failed: ${failure}`);
  return result.stdout;
}

/** Same, but a failure is reported back instead of thrown (for undo steps and "if it exists"). */
export async function tryNetStep(step: string, argv: string[], args: Record<string, unknown> = {}): Promise<boolean> {
  const start = performance.now();
  const result = await runProgram(argv);
  publishStep(step, { ...args, command: argv.join(' ') }, result.code === 0 ? undefined : result.stderr.trim(), performance.now() - start);
  return result.code === 0;
}

/** `ip link del DEVICE`, published as a step unless the device was already gone. */
export async function deleteLink(device: string, step: string, args: Record<string, unknown>): Promise<void> {
  const argv = ip('link', 'del', device);
  const start = performance.now();
  const result = await runProgram(argv);
  if (result.code !== 0 && /Cannot find device/.test(result.stderr)) return;
  publishStep(step, { ...args, command: argv.join(' ') }, result.code === 0 ? undefined : result.stderr.trim(), performance.now() - start);
}

/** `ip ARGS…` on the host (the engine's network namespace). */
export function ip(...args: string[]): string[] {
  return ['ip', ...args];
}

/** `ip ARGS…` run inside the network namespace of process `pid` (nsenter joins it for one command). */
export function ipIn(pid: number, ...args: string[]): string[] {
  return ['nsenter', `--net=/proc/${pid}/ns/net`, 'ip', ...args];
}

/** `iptables -w -t TABLE ARGS…`; -w waits for another iptables to finish instead of failing. */
export function iptables(table: 'nat' | 'filter', ...args: string[]): string[] {
  return ['iptables', '-w', '-t', table, ...args];
}

/** One line of an `ip -batch` (the `ip` words after `ip`) and the step it publishes. */
export interface BatchLine { step: string; words: string[]; args: Record<string, unknown> }

/** A word as `ip -batch` reads it: quoted when it holds spaces or quotes. */
export function batchWord(word: string): string {
  return /^[^\s"'\\]+$/.test(word) ? word : `"${word.replace(/(["\\])/g, '\\$1')}"`;
}

/** A command run in the same process just before an `ip -batch` inside a namespace (`sh -c 'A && exec ip -batch -'`). */
export interface Prelude { step: string; argv: string[]; args: Record<string, unknown> }

/**
 * Runs several `ip` commands in one process (`ip -batch -`, inside process `pid`'s network
 * namespace when given, after `prelude` there when given). ip stops at the first failing line
 * and names it ("Command failed -:N"); the lines before it are published as done, that one as
 * failed, and a MiniboxError names it.
 */
export async function ipBatch(lines: BatchLine[], pid?: number, prelude?: Prelude): Promise<void> {
  if (lines.length === 0) return;
  const nsenter = ['nsenter', `--net=/proc/${pid}/ns/net`];
  const argv = pid === undefined ? ['ip', '-batch', '-']
    : prelude ? [...nsenter, 'sh', '-c', '"$@" && exec ip -batch -', 'sh', ...prelude.argv] : [...nsenter, 'ip', '-batch', '-'];
  const start = performance.now();
  const result = await runProgram(argv, `${lines.map((line) => line.words.map(batchWord).join(' ')).join('\n')}\n`);
  const ms = (performance.now() - start) / (lines.length + (prelude ? 1 : 0)); // one process ran them all: each gets its share
  const preludeFailed = prelude !== undefined && result.code !== 0 && !/Command failed -:\d+/.test(result.stderr);
  if (prelude) {
    const failure = preludeFailed ? (result.stderr.trim().split('\n').pop() ?? `exit ${result.code}`) : undefined;
    publishStep(prelude.step, { ...prelude.args, command: [...nsenter, ...prelude.argv].join(' ') }, failure, ms);
    if (failure !== undefined) throw new BatchError(`${prelude.step}: \`${[...nsenter, ...prelude.argv].join(' ')}\` failed: ${failure}`, 0, false);
  }
  const failedAt = result.code === 0 ? lines.length : Number(/Command failed -:(\d+)/.exec(result.stderr)?.[1] ?? '1') - 1;
  const command = (line: BatchLine): string => (pid === undefined ? ip(...line.words) : ipIn(pid, ...line.words)).join(' ');
  for (const line of lines.slice(0, failedAt)) publishStep(line.step, { ...line.args, command: command(line) }, undefined, ms);
  if (result.code === 0) return;
  const line = lines[Math.min(failedAt, lines.length - 1)]!;
  const failure = result.stderr.trim().split('\n').find((text) => !text.startsWith('Command failed')) ?? `exit ${result.code}`;
  publishStep(line.step, { ...line.args, command: command(line) }, failure, ms);
  throw new BatchError(`${line.step}: \`${command(line)}\` failed: ${failure}`, failedAt, pid === undefined);
}

/** A failed `ip -batch`: the `done` lines before the failing one took effect (on the host, or inside a namespace). */
export class BatchError extends MiniboxError {
  constructor(message: string, readonly done: number, readonly hostSide: boolean) {
    super(message);
  }
}
