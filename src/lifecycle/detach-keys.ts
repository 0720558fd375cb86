/**
 * detach-keys.ts — the key sequence that leaves a container running: Ctrl-P Ctrl-Q by default.
 *
 * Attached to a container's terminal, every key goes to the container — Ctrl-C included, which
 * its pty turns into SIGINT for its foreground program. So leaving needs a sequence the user
 * would rarely type: Docker's default is Ctrl-P then Ctrl-Q (bytes 0x10 0x11), and
 * `--detach-keys` takes Docker's syntax — a comma-separated list where each item is one
 * character (`a`) or `ctrl-X`, X one of a–z, @, [, \, ], ^, _ (byte 0–31, as a terminal sends it).
 * The bytes of a partial match are held back; if the next key does not continue the sequence,
 * they are sent after all (so a lone Ctrl-P still reaches the shell, one key late — as in Docker).
 *
 * Try: `minibox attach --detach-keys ctrl-p,ctrl-Q box` → `Invalid detach keys (ctrl-p,ctrl-Q)
 * provided: 'ctrl-Q' is neither one character nor ctrl-X`
 *
 * In a terminal: `minibox attach --detach-keys ctrl-x,x box`, then Ctrl-X x → `read escape sequence`.
 */
import { VerbError } from '../errors.js';

export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

/** `ctrl-@` … `ctrl-_`: the control characters 0–31, in order. */
const CONTROL_NAMES = '@abcdefghijklmnopqrstuvwxyz[\\]^_';

/** Docker's detach-keys syntax → the bytes; a one-line error (exit 1, as Docker's) otherwise. */
export function parseDetachKeys(text: string): Buffer {
  const bytes = text.split(',').map((key) => {
    if (key.length === 1) return key.charCodeAt(0);
    const control = /^ctrl-(.)$/.exec(key);
    const index = control ? CONTROL_NAMES.indexOf(control[1]!) : -1;
    if (index < 0) {
      throw new VerbError(`Invalid detach keys (${text}) provided: '${key}' is neither one character nor ctrl-X ` +
        '(X: a-z @ [ \\ ] ^ _), e.g. --detach-keys ctrl-p,ctrl-q');
    }
    return index;
  });
  return Buffer.from(bytes);
}

export interface EscapeMatcher {
  /** Returns the bytes to send on, and whether the sequence was completed (then: detach). */
  feed(chunk: Buffer): { send: Buffer; detach: boolean };
}

/** Watches typed input for `keys`; holds back a partial match until it is decided. */
export function escapeMatcher(keys: Buffer): EscapeMatcher {
  let matched = 0; // how many bytes of `keys` the last input ended with
  return {
    feed(chunk) {
      const send: number[] = [];
      for (const byte of chunk) {
        if (byte === keys[matched]) {
          matched++;
          if (matched === keys.length) return { send: Buffer.from(send), detach: true };
          continue;
        }
        send.push(...keys.subarray(0, matched)); // not the sequence after all: the held keys go on
        matched = byte === keys[0] ? 1 : 0; // (keys has 2+ bytes here: a 1-byte one matched above)
        if (matched === 0) send.push(byte);
      }
      return { send: Buffer.from(send), detach: false };
    },
  };
}
