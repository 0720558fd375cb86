/*
 * minibox-launch.c — starts a stage (the Node init stage, the C exec stage minibox-exec) so that
 * a container cannot reach the host's binary through it. The defence against runc's
 * CVE-2019-5736 class.
 *
 * The attack: minibox's stages are host processes that live inside the container's PID
 * namespace (`minibox exec` starts one after setns(CLONE_NEWPID); the init stage is PID 1 of a
 * new one). The container's /proc shows them, and /proc/PID/exe is a "magic link": opening it
 * opens the *host's* binary the process runs, whatever the container's mount namespace says.
 * runc was exploited this way in 2019: a container opened /proc/<runc>/exe, waited for runc to
 * exit (a running binary cannot be written: ETXTBSY), then wrote into the host's runc through its
 * handle — the next `docker exec` ran the attacker's code as host root. PTRACE_ATTACH to the
 * stage would be worse still: the stage is uid 0 with host privileges until its execve.
 *
 * The kernel's guard for both is ptrace_may_access(): a process may open another's
 * /proc/PID/exe or ptrace it only if (a) that process is *dumpable*, and (b) every capability the
 * target holds, the caller holds too — unless the caller has CAP_SYS_PTRACE (Docker's default set
 * does not include it: src/bundle/docker-defaults.ts). So minibox layers three defences:
 *   1. Non-dumpable. prctl(PR_SET_DUMPABLE, 0) here, first thing — but execve(2) resets the flag
 *      to 1 for a readable binary, so Node's stages set it again as the first thing their code
 *      does (src/runtime/stages/non-dumpable.ts); the user's program, exec'd at the end, is
 *      dumpable again, as it should be. The C monitor and `--init` set it in their main().
 *   2. Until then, the stage holds every capability and the container does not: rule (b) keeps
 *      the container out during Node's ~50 ms start-up. The stage drops to the container's
 *      capabilities only after it is non-dumpable, just before its execve.
 *   3. Even a container that gets past both (given CAP_SYS_PTRACE) finds nothing to write: Node
 *      runs from a *read-only, detached* bind mount of its binary. open_tree(OPEN_TREE_CLONE) makes
 *      a private copy of the mount of `node` that is attached nowhere; mount_setattr() makes it
 *      read-only; execveat(fd, "", AT_EMPTY_PATH) runs the binary through it. /proc/PID/exe then
 *      names the file *through that mount*: open(O_WRONLY) fails with EROFS, now and after Node
 *      exits, and no one can remount it — it is in no mount namespace at all.
 * Why not runc's other answer, a sealed memfd copy (memfd_create + F_SEAL_WRITE…)? runc copies
 * itself (~10 MB); Node is ~100 MB, copied on every `run` and `exec`. The read-only bind costs
 * three system calls. (runc 1.1 used this same read-only bind trick for a while.)
 *
 * A container with a user namespace (config.json `linux.uidMappings`, minibox-runc only): Node
 * cannot enter one (a multithreaded process cannot unshare or setns CLONE_NEWUSER), so this
 * single-threaded step does it for the stage, as its last act before execveat — launch-userns.c,
 * which also makes the PID namespace that user namespace must own. The detached mount is made
 * before, while this process is still the host's root (open_tree needs CAP_SYS_ADMIN over the
 * host's mounts).
 *
 * Usage (by src/runtime/programs.ts and minibox-monitor, never by hand):
 *   minibox-launch [USERNS OPTIONS] NODE SCRIPT [ARG...]   → runs `NODE SCRIPT ARG...` as described
 *   minibox-launch [USERNS OPTIONS] PROGRAM [ARG...]       → the same for any program (native/minibox-exec.c)
 *   USERNS OPTIONS (launch-userns.h): --userns-fd FD | --userns-sync FD [--userns-path PATH]
 *                                     [--new-pid] [--wait]
 *
 * Try: `minibox exec web sleep 1 & sleep 0.3; grep -i dumpable /proc/$(pgrep -n -f exec-stage)/status`
 * prints nothing (Linux has no such line) — use
 * `cat /proc/$(pgrep -n -f exec-stage)/mountinfo >/dev/null; ls -l /proc/$(pgrep -n -f exec-stage)/exe`
 * as root on the host: `/proc/…/exe -> /` , the root of the detached mount of the node binary.
 */
#define _GNU_SOURCE
#include "launch-userns.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

static int fail(const char *step, const char *what) {
  fprintf(stderr, "minibox-launch: %s %s: %s\n", step, what, strerror(errno));
  return 125;
}

int main(int argc, char **argv) {
  /* 1. Non-dumpable before anything else (the process is already in the container's PID
   *    namespace). Inherited by nothing across execve: Node sets it again. */
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) return fail("prctl(PR_SET_DUMPABLE, 0)", "");
  struct userns_request userns;
  int used = parse_userns_options(argc, argv, &userns);
  argv += used > 0 ? used : 0;
  argc -= used > 0 ? used : 0;
  if (used < 0 || argc < 2) {
    fputs("usage: minibox-launch [--userns-fd FD | --userns-sync FD [--userns-path PATH] [--new-pid] [--wait]]"
          " PROGRAM [ARG...]\n", stderr);
    return 125;
  }
  const char *node = argv[1];

  /* 3. A detached, read-only bind mount of the node binary (kernel >= 5.12 for mount_setattr). */
  int tree = (int)syscall(SYS_open_tree, AT_FDCWD, node, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (tree < 0) return fail("open_tree(OPEN_TREE_CLONE)", node);
  struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
  if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0) {
    return fail("mount_setattr(MOUNT_ATTR_RDONLY)", node);
  }

  /* 4. The container's user namespace, if it has one: from here on, its root (launch-userns.c). */
  if ((userns.join_fd >= 0 || userns.sync_fd >= 0) && enter_user_namespace(&userns) != 0) return 125;

  /* The program runs through it under its own name: argv[0] is "node" (or "minibox-exec"), the
   * rest is SCRIPT ARG... or the program's ARG... */
  const char *slash = strrchr(node, '/');
  argv[1] = (char *)(slash ? slash + 1 : node);
  syscall(SYS_execveat, tree, "", argv + 1, environ, AT_EMPTY_PATH);
  return fail("execveat", node);
}
