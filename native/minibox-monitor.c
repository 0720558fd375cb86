/*
 * minibox-monitor.c — the small process that stays with a detached container (like conmon or
 * containerd-shim).
 *
 * Why a separate process, and why C:
 *   - `minibox run -d` must return at once, yet someone must stay behind: the container's first
 *     process needs a parent that reaps it (wait(2)) and records how it ended, and its stdout/stderr
 *     pipes need a reader, or the program blocks (or dies of SIGPIPE) once the pipe buffer fills.
 *   - That someone runs for as long as the container does — one per container. A Node process
 *     costs ~40 MB of RSS; this program costs about 1.6 MB (measured by `npm run bench`).
 *   - It must outlive the CLI that started it (a new session, stdio on /dev/null) and must not
 *     depend on anything but libc: no event loop, no threads, a poll(2) loop.
 *
 * Usage (started by src/runtime/monitor.ts, never by hand):
 *   minibox-monitor [--early] [--new-pid-namespace] [--tty | --stdin-pipe] [--attach-socket PATH] --log FILE
 *                   [--log-max-size BYTES [--log-max-files N]] --status FILE --pids FILE
 *                   [--oom-file FILE]...
 *                   [--health-interval-ms MS --health-exec ARG...]            (monitor-health.c)
 *                   [--events FILE --event-id ID --event-attributes JSON-MEMBERS]
 *                   [--restart-policy P --restart-max N --restart-count K --restart-backoff-ms T
 *                    --restart-exec ARG...] -- PROGRAM ARG...                (monitor-after-exit.c)
 * File descriptors on entry:
 *   0   the container's stdin (usually /dev/null), handed to the child only
 *   1   report pipe to the engine: the monitor writes "<child pid>\n" (and, with --tty, the answer
 *       to the engine's request), then lets go
 *   2   the engine's stderr, for errors before the monitor lets go
 *   3 4 the engine ↔ init-stage sync channel (src/runtime/channel.ts), passed through untouched
 *   5   with --early: first the rest of the options (monitor-early.c: the monitor starts before
 *       the container exists); with --tty: the engine's request "pty PATH" (monitor-attach.c);
 *       then end of file
 *
 * What it does, in order:
 *   1. unshare(CLONE_NEWPID) when asked: its next child — the init stage — becomes PID 1 of a new
 *      PID namespace, and the monitor, outside it, is that PID 1's parent. With --attach-socket it
 *      first listens on PATH (monitor-attach.c), so a client can connect before the program runs.
 *   2. fork; the child gets fd 0 (or, with --stdin-pipe, a pipe the attach socket writes into), a
 *      pipe as stdout and another as stderr, fds 3/4, and execs PROGRAM (`minibox-launch node
 *      init-stage.js`). The engine then talks to it over fds 3/4, bundle first. The monitor made itself
 *      non-dumpable first (prctl(PR_SET_DUMPABLE, 0)): the child inherits that, and is in the
 *      container's PID namespace until its execve.
 *      With --early this happens first; the rest of the options (log, status, pids, socket…)
 *      arrive on fd 5 once the container exists (monitor-control.c), and only then step 1's socket.
 *   3. writes PIDS (monitor and child pid + start time, /proc/PID/stat field 22) atomically,
 *      reports the child pid on fd 1, and moves its own stdio to /dev/null. With --tty it first
 *      opens the container's pty master when the engine asks (the init stage needs its number).
 *   4. copies the pipes — and the pty master — into LOG (json-file-log.c: Docker's json-file
 *      format, rotated with --log-max-size/--log-max-files) and to every attached client.
 *   5. reaps the child (signalfd for SIGCHLD; probes too), reads oom_kill from the OOM files (cgroup v2
 *      memory.events or v1 memory.oom_control, when they exist), removes the attach socket, and
 *      writes STATUS atomically (temp file + rename):
 *        {"initPid":123,"exitCode":137,"signal":9,"oomKilled":false,"finishedAt":"…Z"}
 *      exitCode is the status, or 128+n for "killed by signal n", as Docker reports it.
 *      Meanwhile, with --health-interval-ms, it forks the healthcheck probe every interval
 *      (monitor-health.c) — in the host's PID namespace, to which it returned after step 2.
 *   6. then, with --events and --restart-policy (monitor-after-exit.c): appends the "die" event,
 *      and when Docker's restart rule says so, sleeps the back-off and execs the engine's restart
 *      stage, after adding "restartDelayMs" and its own pid + start time ("restarter") to STATUS.
 * If the monitor itself is killed, STATUS is never written: the engine's reconciliation notices
 * (the monitor's pid and start time no longer match) and records exit code 137 — see
 * docs/lifecycle.md.
 *
 * Try: `minibox run -d busybox sh -c 'while true; do date; sleep 1; done'`, then
 * `grep VmRSS /proc/$(pgrep -n minibox-monitor)/status` and `cat <root>/containers/<id>/container.log`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "monitor.h"
#include "monitor-after-exit.h"
#include "monitor-control.h"
#include "monitor-health.h"

#define MAX_OOM_FILES 4

static const char *log_path, *status_path, *pids_path, *attach_socket;
static const char *oom_files[MAX_OOM_FILES];
static int oom_file_count;
static int early, new_pid_namespace, wants_terminal, wants_stdin_pipe;
static pid_t child_without_options; /* --early: the forked init stage, until its options came */
static long long log_max_size = -1; /* --log-max-size: rotate before LOG would grow past it; -1: never */
static int log_max_files = 1;       /* --log-max-files: LOG and LOG.1 … LOG.(N-1) */

static void fail(const char *format, ...) {
  va_list args;
  va_start(args, format);
  fputs("minibox-monitor: ", stderr);
  vfprintf(stderr, format, args);
  fputc('\n', stderr);
  va_end(args);
  if (child_without_options > 0) { /* it waits for its bundle and has done nothing yet */
    kill(child_without_options, SIGKILL);
    waitpid(child_without_options, NULL, 0);
  }
  exit(125);
}

/* /proc/PID/stat field 22: when the process started, in clock ticks since boot. A pid can be
 * reused; pid + start time cannot. */
static unsigned long long start_time_of(pid_t pid) {
  char path[64], text[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t count = read(fd, text, sizeof text - 1);
  close(fd);
  if (count <= 0) return 0;
  text[count] = '\0';
  char *field = strrchr(text, ')'); /* the command name (field 2) may contain spaces */
  if (!field) return 0;
  field += 2;                       /* now at field 3, the state */
  for (int index = 3; index < 22 && field; index++) {
    field = strchr(field, ' ');
    if (field) field++;
  }
  return field ? strtoull(field, NULL, 10) : 0;
}

/* Writes `text` to `path` through a temp file and rename(2): readers see all or nothing. */
static void write_atomically(const char *path, const char *text) {
  char temporary[4096];
  snprintf(temporary, sizeof temporary, "%s.tmp", path);
  int fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  size_t length = strlen(text), done = 0;
  while (done < length) {
    ssize_t written = write(fd, text + done, length - done);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) break;
    done += (size_t)written;
  }
  close(fd);
  rename(temporary, path);
}

/* Reads what the pipe (or the pty master) has, to the log and the attached clients; returns 0 at
 * end of file (EIO from a master: every slave fd is closed). */
static int pump(struct stream *s) {
  ssize_t count = read(s->fd, s->pending + s->used, sizeof s->pending - s->used);
  if (count < 0 && (errno == EINTR || errno == EAGAIN)) return 1;
  if (count <= 0) {
    log_lines(s, 1);
    close(s->fd);
    s->fd = -1;
    return 0;
  }
  attach_broadcast(s->id, s->pending + s->used, (size_t)count);
  s->used += (size_t)count;
  log_lines(s, 0);
  return 1;
}

/* oom_kill N > 0 in any of the files (cgroup v2 memory.events, v1 memory.oom_control). */
static int was_oom_killed(void) {
  for (int i = 0; i < oom_file_count; i++) {
    FILE *file = fopen(oom_files[i], "re");
    if (!file) continue;
    char line[256];
    unsigned long long count;
    while (fgets(line, sizeof line, file)) {
      if (sscanf(line, "oom_kill %llu", &count) == 1 && count > 0) {
        fclose(file);
        return 1;
      }
    }
    fclose(file);
  }
  return 0;
}

/* The options from argv[i…] — the command line, or --early's late message: the same names. Returns
 * the index after "--" (where PROGRAM begins), or argc. */
static int parse_options(int argc, char **argv, int i) {
  for (; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) return i + 1;
    if (strcmp(argv[i], "--early") == 0) { early = 1; continue; }
    if (strcmp(argv[i], "--new-pid-namespace") == 0) { new_pid_namespace = 1; continue; }
    if (strcmp(argv[i], "--tty") == 0) { wants_terminal = 1; continue; }
    if (strcmp(argv[i], "--stdin-pipe") == 0) { wants_stdin_pipe = 1; continue; }
    if (i + 1 >= argc) fail("option %s needs a value", argv[i]);
    if (strcmp(argv[i], "--log") == 0) log_path = argv[++i];
    else if (strcmp(argv[i], "--status") == 0) status_path = argv[++i];
    else if (strcmp(argv[i], "--pids") == 0) pids_path = argv[++i];
    else if (strcmp(argv[i], "--attach-socket") == 0) attach_socket = argv[++i];
    else if (strcmp(argv[i], "--oom-file") == 0 && oom_file_count < MAX_OOM_FILES) oom_files[oom_file_count++] = argv[++i];
    else if (strcmp(argv[i], "--log-max-size") == 0) log_max_size = strtoll(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--log-max-files") == 0) log_max_files = atoi(argv[++i]);
    else if (after_exit_option(argv[i], argv[i + 1]) || health_option(argv[i], argv[i + 1])) i++;
    else fail("unknown option %s", argv[i]);
  }
  return argc;
}

static void check_options(void) {
  if (!log_path || !status_path || !pids_path) {
    fail("usage: minibox-monitor [--early] [--new-pid-namespace] [--tty | --stdin-pipe] [--attach-socket PATH] --log FILE "
         "[--log-max-size BYTES [--log-max-files N]] --status FILE --pids FILE [--oom-file FILE]... -- PROGRAM ARG...");
  }
  if (log_max_files < 1 || log_max_files > 1000) fail("--log-max-files must be between 1 and 1000");
  const char *problem = after_exit_options_problem();
  if (!problem) problem = health_options_problem();
  if (problem) fail("%s", problem);
}

/* The files and the socket the options name: the log, and the attach socket's listener. */
static void open_outputs(void) {
  if (log_open(log_path, log_max_size, log_max_files) < 0) fail("open %s: %s", log_path, strerror(errno));
  if (attach_socket && attach_listen(attach_socket) < 0) fail("attach socket %s: %s", attach_socket, strerror(errno));
}

/* --early: the rest of the options, now that the container exists (monitor-control.c) — or none,
 * when the engine gave up: the child, still waiting for its bundle, is killed and reaped, and
 * the monitor leaves without having written anything. */
static void receive_late_options(void) {
  char **options;
  int forked_with = early + new_pid_namespace + wants_terminal + wants_stdin_pipe;
  int count = read_late_options(CONTROL_FD, &options);
  if (count < 0) {
    kill(child_without_options, SIGKILL);
    waitpid(child_without_options, NULL, 0);
    exit(0);
  }
  if (parse_options(count, options, 0) != count || early + new_pid_namespace + wants_terminal + wants_stdin_pipe != forked_with)
    fail("the late options may not name a program, nor change what the fork needed");
  check_options();
  open_outputs();
  child_without_options = 0;
  if (!wants_terminal) close(CONTROL_FD); /* with --tty, the pty request follows (serve_control) */
}

/* In the child, before exec: the container's stdio, default signal handling, then the program.
 * If exec fails, say so on fd 4 in the channel's own words so the engine reports it. */
static void become_program(char **program, int in_fd, int out_fd, int err_fd, const sigset_t *original_mask) {
  if ((in_fd >= 0 && dup2(in_fd, 0) < 0) || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0) _exit(125);
  signal(SIGPIPE, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  sigprocmask(SIG_SETMASK, original_mask, NULL);
  execv(program[0], program);
  dprintf(4, "{\"type\":\"error\",\"message\":\"minibox-monitor: cannot execute %s: %s\",\"exitCode\":125}\n",
          program[0], strerror(errno));
  _exit(125);
}

/* Copies output, serves the engine and the attach clients, and reaps the child; its status. */
static int watch(pid_t child, int signal_fd, struct stream *out, struct stream *err, struct stream *terminal) {
  int status = 0, reaped = 0, control_fd = wants_terminal ? CONTROL_FD : -1;
  while (out->fd >= 0 || err->fd >= 0 || terminal->fd >= 0 || !reaped) {
    struct pollfd fds[16] = {
      {.fd = out->fd, .events = POLLIN}, {.fd = err->fd, .events = POLLIN},
      {.fd = reaped ? -1 : signal_fd, .events = POLLIN}, {.fd = control_fd, .events = POLLIN},
      /* The master only once the program runs: before its slave is first opened it reads EIO. */
      {.fd = control_fd < 0 ? terminal->fd : -1, .events = POLLIN},
    };
    int clients = attach_poll_fds(fds + 5, 16 - 5);
    /* Once the child is reaped, wait briefly for the output to drain: without a PID namespace a
     * background process could hold the pipes (or the pty) open forever. */
    int ready = poll(fds, (nfds_t)(5 + clients), reaped ? 500 : health_poll_timeout());
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0 && !reaped) { /* the healthcheck's timer (monitor-health.c) */
      health_tick();
      continue;
    }
    if (ready <= 0) break;
    const short done = POLLIN | POLLHUP | POLLERR | POLLNVAL;
    if (out->fd >= 0 && (fds[0].revents & done)) pump(out);
    if (err->fd >= 0 && (fds[1].revents & done)) pump(err);
    if (control_fd >= 0 && (fds[3].revents & done)) serve_control(&control_fd, terminal);
    if (terminal->fd >= 0 && fds[4].fd >= 0 && (fds[4].revents & done) && !pump(terminal)) attach_set_targets(-1, -1);
    attach_serve(fds + 5, clients);
    if (!reaped && (fds[2].revents & POLLIN)) {
      struct signalfd_siginfo info;
      while (read(signal_fd, &info, sizeof info) > 0) { /* drain */ }
      pid_t done;
      int done_status;
      while ((done = waitpid(-1, &done_status, WNOHANG)) > 0) { /* the container, or a health probe */
        if (done == child) { status = done_status; reaped = 1; } else health_reaped(done);
      }
    }
  }
  if (!reaped) waitpid(child, &status, 0);
  if (out->fd >= 0) log_lines(out, 1);
  if (err->fd >= 0) log_lines(err, 1);
  if (terminal->fd >= 0) log_lines(terminal, 1);
  return status;
}

/* fds 3 and 4 belong to the channel (and 5 to --tty's requests). If a caller did not pass them,
 * hold them with /dev/null, or the files opened later would get those numbers and be closed by
 * mistake after the fork. */
static void hold_inherited_fds(void) {
  for (int fd = 3; fd <= 5; fd++) {
    if (fcntl(fd, F_GETFD) >= 0) continue;
    if (fd == CONTROL_FD && (wants_terminal || early)) fail("--tty and --early need the engine's requests on fd %d", CONTROL_FD);
    int null_fd = open("/dev/null", O_RDWR);
    if (null_fd >= 0 && null_fd != fd) {
      dup2(null_fd, fd);
      close(null_fd);
    }
  }
  fcntl(CONTROL_FD, F_SETFD, FD_CLOEXEC); /* the engine's requests never reach the container */
}

int main(int argc, char **argv) {
  /* Non-dumpable, inherited by the child forked below: from fork to its execve that child is a
   * copy of this host program inside the container's PID namespace, and the container must not
   * ptrace it or open /proc/PID/exe (runc CVE-2019-5736 class; see minibox-launch.c). */
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) fail("prctl(PR_SET_DUMPABLE, 0): %s", strerror(errno));
  int program_index = parse_options(argc, argv, 1);
  if (program_index >= argc) fail("usage: minibox-monitor [OPTIONS] -- PROGRAM ARG... (see its header)");
  if (!early) check_options(); /* --early: once the late options came */
  if (chdir("/") < 0) fail("chdir /: %s", strerror(errno)); /* never keep a container dir busy */
  hold_inherited_fds();
  signal(SIGPIPE, SIG_IGN); /* a reader of fd 1 that went away must not kill us */
  signal(SIGHUP, SIG_IGN);
  signal(SIGINT, SIG_IGN);

  if (!early) open_outputs();
  int out_pipe[2], err_pipe[2], in_pipe[2] = {-1, -1};
  if (pipe2(out_pipe, O_CLOEXEC) < 0 || pipe2(err_pipe, O_CLOEXEC) < 0) fail("pipe2: %s", strerror(errno));
  if (wants_stdin_pipe && !wants_terminal && pipe2(in_pipe, O_CLOEXEC) < 0) fail("pipe2: %s", strerror(errno));

  /* SIGCHLD is blocked and read from a signalfd, so poll(2) wakes up when the child exits. */
  sigset_t child_signal, original_mask;
  sigemptyset(&child_signal);
  sigaddset(&child_signal, SIGCHLD);
  sigprocmask(SIG_BLOCK, &child_signal, &original_mask);
  int signal_fd = signalfd(-1, &child_signal, SFD_CLOEXEC | SFD_NONBLOCK);
  if (signal_fd < 0) fail("signalfd: %s", strerror(errno));

  if (new_pid_namespace) after_exit_remember_pid_namespace();
  if (new_pid_namespace && unshare(CLONE_NEWPID) < 0) fail("unshare(CLONE_NEWPID): %s", strerror(errno));
  struct timespec started_at, ended_at;
  clock_gettime(CLOCK_MONOTONIC, &started_at);
  pid_t child = fork();
  if (child < 0) fail("fork: %s", strerror(errno));
  if (child == 0) become_program(argv + program_index, in_pipe[0], out_pipe[1], err_pipe[1], &original_mask);
  if (new_pid_namespace) after_exit_leave_container_pid_namespace(); /* later children: the host's */

  /* The parent keeps only its ends; fds 3/4 belong to the engine and the child now, and
   * the engine reads "started" from the end of file on fd 4 once every copy is closed. */
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (in_pipe[0] >= 0) {
    close(in_pipe[0]);
    fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);
    attach_set_targets(in_pipe[1], -1); /* attach -i writes the container's stdin */
  }
  close(3);
  close(4);
  child_without_options = early ? child : 0;
  if (early) receive_late_options();

  char text[512];
  snprintf(text, sizeof text, "{\"monitor\":{\"pid\":%d,\"startTime\":%llu},\"init\":{\"pid\":%d,\"startTime\":%llu}}\n",
           (int)getpid(), start_time_of(getpid()), (int)child, start_time_of(child));
  write_atomically(pids_path, text);
  dprintf(1, "%d\n", (int)child);
  if (!wants_terminal) let_go_of_engine(); /* with --tty, at the end of the engine's requests */

  health_start();
  struct stream out = {.name = "stdout", .id = STREAM_STDOUT, .fd = out_pipe[0]};
  struct stream err = {.name = "stderr", .id = STREAM_STDERR, .fd = err_pipe[0]};
  struct stream terminal = {.name = "stdout", .id = STREAM_STDOUT, .fd = -1};
  int status = watch(child, signal_fd, &out, &err, &terminal);

  clock_gettime(CLOCK_MONOTONIC, &ended_at);
  int signal_number = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  int exit_code = signal_number ? 128 + signal_number : WEXITSTATUS(status);
  int oom_killed = was_oom_killed();
  char finished[64], restart_text[160] = "";
  format_now(finished, sizeof finished);
  after_exit_events(exit_code, oom_killed);
  double ran_seconds = (double)(ended_at.tv_sec - started_at.tv_sec) + (double)(ended_at.tv_nsec - started_at.tv_nsec) / 1e9;
  long delay_ms = after_exit_restart_delay(exit_code, ran_seconds);
  if (delay_ms >= 0) {
    snprintf(restart_text, sizeof restart_text, ",\"restartDelayMs\":%ld,\"restarter\":{\"pid\":%d,\"startTime\":%llu}",
             delay_ms, (int)getpid(), start_time_of(getpid()));
  }
  snprintf(text, sizeof text, "{\"initPid\":%d,\"exitCode\":%d,\"signal\":%d,\"oomKilled\":%s,\"finishedAt\":\"%s\"%s}\n",
           (int)child, exit_code, signal_number, oom_killed ? "true" : "false", finished, restart_text);
  attach_remove_socket();
  write_atomically(status_path, text); /* then exit (or restart): every attached client reads end of file */
  if (delay_ms >= 0) after_exit_restart(delay_ms, child);
  return 0;
}
