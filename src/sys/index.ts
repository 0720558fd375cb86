/**
 * sys — minibox's door to the kernel. Everything that needs a system call Node does not offer
 * goes through here, so that it can be read in one place, checked for errors in one way, and
 * traced (`--trace`) or explained (`--explain`).
 *
 * Try: `minibox run --rm --explain=all busybox true 2>&1 | grep sethostname` → `sethostname("` (one
 * sentence per kernel call, each made through this directory).
 */
export * from './errno.js';
export * from './trace.js';
export * from './fs.js';
export * from './mount.js';
export * from './namespaces.js';
export * from './flock.js';
export * from './process.js';
export * from './pivot-root.js';
export * from './pty.js';
export * from './openat2.js';
export * from './mount-fd.js';
export * from './keyring.js';
export * from './seccomp.js';
export * from './netdevice.js';
