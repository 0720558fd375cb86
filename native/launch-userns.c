/*
 * launch-userns.c — minibox-launch's last step before Node, for a container whose config.json
 * asks for a user namespace: make it (or join it), become its root, and — when the container gets
 * a new PID namespace — make that from inside and fork the container's PID 1 into it.
 *
 * A user namespace maps ids: "uid 0 in here is uid 100000 out there" (/proc/PID/uid_map, lines
 * of "inside outside count"). Inside it a process can be root — every capability — over what the
 * namespace *owns*, and nothing else. Every other namespace records the user namespace of the
 * process that made it, and that owner decides who may administer it: mounting proc needs
 * CAP_SYS_ADMIN in the owner of the *PID* namespace, sethostname in the owner of the UTS one…
 * So the user namespace comes first, and the others are made from inside it (runc's nsexec, crun:
 * one clone(CLONE_NEWUSER | …)). Its map is written once, by a process outside with
 * CAP_SETUID/CAP_SETGID there: the engine, root on the host (src/runtime/user-namespace.ts).
 *
 * Why C: unshare(CLONE_NEWUSER) and setns(fd, CLONE_NEWUSER) fail with EINVAL in a multithreaded
 * process (one thread cannot take new credentials while its siblings share its memory), and Node
 * always runs helper threads. And why a fork: the PID namespace must be made *after* the user
 * namespace, by a process in it — but unshare(CLONE_NEWPID) moves only the caller's next child
 * into it, and a PID namespace cannot be joined until it has a PID 1. So, with the engine on the
 * other end of a socket (--userns-sync FD):
 *   1. unshare(CLONE_NEWUSER) — or setns to --userns-path — then "ready\n";
 *   2. the engine writes uid_map and gid_map and answers "mapped\n";
 *   3. setgroups(0, NULL), setresgid(0), setresuid(0): this process is the container's root;
 *   4. --new-pid: unshare(CLONE_NEWPID) and fork(). The child is PID 1 there and goes on to exec
 *      Node; the parent reports "pid N\n" (the child's host pid) and either exits — the child is
 *      adopted by the nearest subreaper, containerd's shim or conmon, as runc's init is — or, with
 *      --wait (`minibox-runc run`), stays its parent: forwards signals, exits with its status.
 * Without --new-pid there is no fork and the pid reported is this process's own. `--userns-fd FD`
 * (an exec into a running container) only joins: setns, then step 3.
 * minibox-launch.c's CVE-2019-5736 defences still hold (the forked PID 1 stays non-dumpable, Node
 * still runs from the read-only detached mount made before step 1), and a stage inside the user
 * namespace holds no privilege on the host at all: its capabilities are the namespace's. The
 * parent that stays with --wait lives in the host's PID namespace, out of the container's sight.
 *
 * Try: `minibox-runc run --bundle B c1` with B's config.json asking for a `user` namespace mapped
 * 0→100000 (size 65536) and running `cat /proc/self/uid_map` → `         0     100000      65536`
 */
#define _GNU_SOURCE
#include "launch-userns.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int sync_fd = -1;

/* One line: to the engine over the sync socket when there is one (it reports it), else stderr. */
static int fail(const char *step, const char *hint) {
  char line[512];
  snprintf(line, sizeof line, "%s: %s%s%s", step, strerror(errno), hint[0] ? " " : "", hint);
  if (sync_fd >= 0) dprintf(sync_fd, "error %s\n", line);
  else fprintf(stderr, "minibox-launch: %s\n", line);
  return 125;
}

int parse_userns_options(int argc, char **argv, struct userns_request *request) {
  *request = (struct userns_request){.join_fd = -1, .sync_fd = -1};
  int used = 0;
  while (used + 1 < argc && strncmp(argv[used + 1], "--", 2) == 0) {
    const char *option = argv[used + 1];
    if (strcmp(option, "--new-pid") == 0) request->new_pid = 1;
    else if (strcmp(option, "--wait") == 0) request->wait = 1;
    else if (used + 2 >= argc) return -1;
    else if (strcmp(option, "--userns-fd") == 0) request->join_fd = atoi(argv[++used + 1]);
    else if (strcmp(option, "--userns-sync") == 0) request->sync_fd = atoi(argv[++used + 1]);
    else if (strcmp(option, "--userns-path") == 0) request->path = argv[++used + 1];
    else return -1;
    used++;
  }
  return used;
}

/* Step 2: blocks until the engine has written the maps ("mapped\n"). */
static int await_maps(void) {
  char c;
  ssize_t n;
  while ((n = read(sync_fd, &c, 1)) == 1 && c != '\n') {
  }
  if (n != 1) {
    errno = EPIPE;
    return -1;
  }
  return 0;
}

static pid_t container_init;
static void forward(int signal) { kill(container_init, signal); }

/* Step 4 with --wait: this parent lives on, invisible in the container, until PID 1 exits. */
static void wait_and_mirror(pid_t child) {
  container_init = child;
  struct sigaction action = {.sa_handler = forward};
  sigemptyset(&action.sa_mask);
  const int forwarded[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};
  for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++) sigaction(forwarded[i], &action, NULL);
  int status;
  while (waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) _exit(125);
  }
  _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

/* The parent after fork(): report, let go of every fd the container uses, then leave or wait. */
static void parent_after_fork(pid_t child, int wait) {
  dprintf(sync_fd, "pid %d\n", (int)child);
  int null = open("/dev/null", O_RDWR);
  for (int fd = 0; fd <= 2; fd++) dup2(null, fd);
  close_range(3, ~0U, 0); /* fds 3 and 4 (the start protocol) must reach end-of-file with the child */
  if (wait) wait_and_mirror(child);
  _exit(0);
}

static int become_root(void) {
  if (setgroups(0, NULL) < 0) return fail("setgroups(0)", "in the container's user namespace");
  if (setresgid(0, 0, 0) < 0) return fail("setresgid(0)", "(gid 0 must be mapped: linux.gidMappings)");
  if (setresuid(0, 0, 0) < 0) return fail("setresuid(0)", "(uid 0 must be mapped: linux.uidMappings)");
  return 0;
}

int enter_user_namespace(const struct userns_request *request) {
  if (request->join_fd >= 0) {
    if (setns(request->join_fd, CLONE_NEWUSER) < 0) return fail("setns(CLONE_NEWUSER)", "(the container's user namespace)");
    close(request->join_fd);
    return become_root();
  }
  sync_fd = request->sync_fd;
  if (request->path) {
    char step[300];
    snprintf(step, sizeof step, "setns(CLONE_NEWUSER) %.256s", request->path);
    int fd = open(request->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWUSER) < 0) return fail(step, "(linux.namespaces user path)");
    close(fd);
  } else if (unshare(CLONE_NEWUSER) < 0) {
    return fail("unshare(CLONE_NEWUSER)", "");
  }
  if (dprintf(sync_fd, "ready\n") < 0 || await_maps() < 0) return fail("waiting for the uid/gid maps", "(the engine went away)");
  if (become_root() != 0) return 125;
  if (request->new_pid) {
    if (unshare(CLONE_NEWPID) < 0) return fail("unshare(CLONE_NEWPID)", "");
    pid_t child = fork();
    if (child < 0) return fail("fork", "");
    if (child > 0) parent_after_fork(child, request->wait);
  } else {
    dprintf(sync_fd, "pid %d\n", (int)getpid());
  }
  close(sync_fd);
  sync_fd = -1;
  return 0;
}
