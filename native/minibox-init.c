/*
 * minibox-init.c — a tiny PID 1 for `minibox run --init` (what tini is to `docker run --init`).
 *
 * PID 1 of a PID namespace has two duties that ordinary programs do not expect:
 *   - Orphans are re-parented to it. When they exit they stay zombies (an entry in the process
 *     table, a pid used up) until PID 1 calls wait(2) for them. A shell or a web server started
 *     as PID 1 rarely does.
 *   - The kernel shields PID 1 from signals it has no handler for: `minibox stop` sends SIGTERM,
 *     and a PID 1 without a SIGTERM handler simply ignores it — the stop then waits out the grace
 *     period and ends with SIGKILL (exit 137).
 * minibox-init takes PID 1's place: it forks the real command (as PID 2), forwards every signal
 * it gets to it, reaps every child that exits, and when the command exits, exits the same way
 * (its status, or 128+n when signal n killed it). When PID 1 exits, the kernel kills whatever is
 * left in the namespace. It runs non-dumpable (prctl(PR_SET_DUMPABLE, 0)), like every minibox
 * process the container can see; the command it execs is dumpable again.
 *
 * It is linked statically: it runs inside the container's root file system, which may have no
 * C library at all. The engine bind-mounts it read-only at /sbin/docker-init (Docker's path) and
 * makes the process `/sbin/docker-init -- COMMAND ARG...`.
 *
 * Try: `minibox run --rm --init busybox ps` — PID 1 is docker-init, your command is PID 2.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  /* A host binary (bind-mounted read-only) that the container's processes can see: non-dumpable,
   * so they cannot ptrace it or open /proc/1/exe (runc CVE-2019-5736 class). The command it
   * execs below is dumpable again — execve resets the flag. */
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
    perror("docker-init: prctl(PR_SET_DUMPABLE)");
    return 125;
  }
  int first = 1;
  if (first < argc && strcmp(argv[first], "--") == 0) first++;
  if (first >= argc) {
    fputs("usage: docker-init -- COMMAND [ARG...]\n", stderr);
    return 125;
  }

  /* Every signal is blocked here and taken with sigwaitinfo(): no handler runs at a bad time. */
  sigset_t all, original;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &original);

  pid_t child = fork();
  if (child < 0) {
    perror("docker-init: fork");
    return 125;
  }
  if (child == 0) {
    sigprocmask(SIG_SETMASK, &original, NULL);
    execvp(argv[first], argv + first);
    fprintf(stderr, "docker-init: exec %s: %s\n", argv[first], strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
  }

  for (;;) {
    siginfo_t info;
    int signal_number = sigwaitinfo(&all, &info);
    if (signal_number < 0) continue; /* EINTR */
    if (signal_number != SIGCHLD) {
      /* Job-control signals from a terminal are not for PID 1 to pass on. */
      if (signal_number != SIGTTIN && signal_number != SIGTTOU) kill(child, signal_number);
      continue;
    }
    /* SIGCHLD: reap every child that has exited — ours and every orphan re-parented to us. */
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
      if (pid != child) continue;
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      return WEXITSTATUS(status);
    }
  }
}
