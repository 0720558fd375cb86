/** Drive a program in a real terminal as a person would: tmux sessions, keys in, screen out. */
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

export function tmux(...args: string[]): string {
  return execFileSync('tmux', args, { encoding: 'utf8' });
}

/** Polls the pane until `pattern` shows up (bounded: 300 × 50 ms), then returns the screen. */
export async function waitForScreen(session: string, pattern: RegExp): Promise<string> {
  let screen = '';
  for (let i = 0; i < 300; i++) {
    screen = tmux('capture-pane', '-p', '-t', session);
    if (pattern.test(screen)) return screen;
    await sleep(50);
  }
  throw new Error(`${pattern} never appeared on the screen:\n${screen}`);
}

export function killSession(session: string): void {
  try { tmux('kill-session', '-t', session); } catch { /* already gone */ }
}
