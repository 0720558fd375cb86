/**
 * Docker's --detach-keys syntax and the escape matcher, on their own: a partial match is held
 * back and sent after all when the next key breaks it; the full sequence detaches, whether the
 * keys arrive one read at a time (typed) or in one chunk (pasted, tmux send-keys).
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_DETACH_KEYS, escapeMatcher, parseDetachKeys } from '../../src/lifecycle/detach-keys.js';

describe('parseDetachKeys', () => {
  it('reads Docker\'s syntax', () => {
    expect([...parseDetachKeys(DEFAULT_DETACH_KEYS)]).toEqual([0x10, 0x11]);
    expect([...parseDetachKeys('ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_')]).toEqual([0, 27, 28, 29, 30, 31]);
    expect([...parseDetachKeys('ctrl-x,x')]).toEqual([0x18, 0x78]);
  });

  it('refuses what is neither one character nor ctrl-X, naming it (exit 1, as Docker)', () => {
    for (const bad of ['', 'ctrl-', 'ctrl-A', 'ctrl-1', 'alt-x', 'ctrl-p,,ctrl-q']) {
      expect(() => parseDetachKeys(bad), bad).toThrow(/^Invalid detach keys \(.*\) provided: '.*' is neither/);
    }
    let caught: unknown;
    try { parseDetachKeys('ctrl-A'); } catch (error) { caught = error; }
    expect(caught).toMatchObject({ exitCode: 1 });
  });
});

describe('escapeMatcher', () => {
  const keys = parseDetachKeys(DEFAULT_DETACH_KEYS);

  it('detaches on the sequence, typed or in one chunk; what came before it is sent', () => {
    const typed = escapeMatcher(keys);
    expect(typed.feed(Buffer.from('ls\r'))).toEqual({ send: Buffer.from('ls\r'), detach: false });
    expect(typed.feed(Buffer.from([0x10]))).toEqual({ send: Buffer.alloc(0), detach: false });
    expect(typed.feed(Buffer.from([0x11]))).toEqual({ send: Buffer.alloc(0), detach: true });
    expect(escapeMatcher(keys).feed(Buffer.from([0x61, 0x10, 0x11, 0x62]))).toEqual({ send: Buffer.from('a'), detach: true });
  });

  it('sends held keys on when the sequence breaks, and starts again on a new Ctrl-P', () => {
    const matcher = escapeMatcher(keys);
    expect(matcher.feed(Buffer.from([0x10]))).toEqual({ send: Buffer.alloc(0), detach: false });
    expect(matcher.feed(Buffer.from('x'))).toEqual({ send: Buffer.from([0x10, 0x78]), detach: false });
    expect(matcher.feed(Buffer.from([0x10, 0x10]))).toEqual({ send: Buffer.from([0x10]), detach: false });
    expect(matcher.feed(Buffer.from([0x11]))).toEqual({ send: Buffer.alloc(0), detach: true });
  });
});
