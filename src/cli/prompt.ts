/**
 * prompt.ts — asking the person at the terminal: a line (echoed) or a secret (never echoed).
 *
 * A terminal's driver normally echoes each key and hands a program whole lines (termios'
 * ECHO and ICANON, "cooked" mode). To read a password, stdin is switched to raw mode (Node's
 * setRawMode is tcsetattr(3) clearing ECHO, ICANON and ISIG): every key arrives as typed, nothing
 * is shown unless this code shows it, and Ctrl-C arrives as the byte 0x03 instead of SIGINT — so
 * the mode is restored on every way out, or the person's shell would stay without echo.
 *
 * Try: `minibox login 127.0.0.1:5000` → `Username: ` (what you type shows), then `Password: `
 * (nothing shows), then `Login Succeeded`.
 */
import { ExitCode, MiniboxError } from '../errors.js';

const ENTER = new Set(['\r', '\n']);
const BACKSPACE = new Set(['\x7f', '\b']);
const CTRL_C = '\x03';
const CTRL_D = '\x04';

/** Whether both ends are a terminal (a prompt needs someone to answer it). */
export function canPrompt(): boolean {
  return process.stdin.isTTY === true && process.stdout.isTTY === true;
}

/** Asks `question` on stdout and reads one line from the terminal, echoing unless `secret`. */
export async function prompt(question: string, options: { secret?: boolean } = {}): Promise<string> {
  const stdin = process.stdin;
  process.stdout.write(question);
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  try {
    return await new Promise<string>((resolve, reject) => {
      let answer = '';
      const onData = (chunk: string): void => {
        for (const key of chunk) {
          if (ENTER.has(key) || (key === CTRL_D && answer === '')) {
            stdin.off('data', onData);
            resolve(answer);
            return;
          }
          if (key === CTRL_C) {
            stdin.off('data', onData);
            reject(new MiniboxError('login cancelled', ExitCode.SignalBase + 2));
            return;
          }
          if (BACKSPACE.has(key)) {
            if (answer.length > 0 && !options.secret) process.stdout.write('\b \b');
            answer = answer.slice(0, -1);
          } else if (key >= ' ') {
            answer += key;
            if (!options.secret) process.stdout.write(key);
          }
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    process.stdout.write('\n');
  }
}
