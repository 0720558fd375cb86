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
 *   minibox-monitor [--new-pid-namespace] --log FILE [--log-max-size BYTES [--log-max-files N]]
 *                   --status FILE --pids FILE [--oom-file FILE]...
 *                   [--health-interval-ms MS --health-exec ARG...]            (monitor-health.c)
 *                   [--events FILE --event-id ID --event-attributes JSON-MEMBERS]
 *                   [--restart-policy P --restart-max N --restart-count K --restart-backoff-ms T
 *                    --restart-exec ARG...] -- PROGRAM ARG...                (monitor-after-exit.c)
 * File descriptors on entry:
 *   0   the container's stdin (usually /dev/null), handed to the child only
 *   1   report pipe to the engine: the monitor writes "<child pid>\n" once, then lets go
 *   2   the engine's stderr, for errors before the monitor lets go
 *   3 4 the engine ↔ init-stage sync channel (src/runtime/channel.ts), passed through untouched
 *
 * What it does, in order:
 *   1. unshare(CLONE_NEWPID) when asked: its next child — the init stage — becomes PID 1 of a new
 *      PID namespace, and the monitor, outside it, is that PID 1's parent.
 *   2. fork; the child gets fd 0, a pipe as stdout and another as stderr, fds 3/4, and execs
 *      PROGRAM (`minibox-launch node init-stage.js BUNDLE`). The engine then talks to it over
 *      fds 3/4. The monitor made itself non-dumpable first (prctl(PR_SET_DUMPABLE, 0)): the child
 *      inherits that, and is in the container's PID namespace until its execve.
 *   3. writes PIDS (monitor and child pid + start time, /proc/PID/stat field 22) atomically,
 *      reports the child pid on fd 1, and moves its own stdio to /dev/null.
 *   4. copies the two pipes into LOG in Docker's json-file format, one JSON object per line:
 *        {"log":"hello\n","stream":"stdout","time":"2024-05-01T10:00:00.123456789Z"}
 *      (a line longer than 16 KiB is split, as Docker does; a last line without "\n" is kept as is).
 *      With --log-max-size BYTES [--log-max-files N] (`--log-opt max-size=… max-file=…`) the log
 *      is rotated as Docker's json-file driver does: when the next entry would take LOG past
 *      BYTES, LOG.(N-2) becomes LOG.(N-1), …, LOG becomes LOG.1, and a new LOG starts (with N = 1,
 *      LOG is truncated instead). So the files never hold more than N × BYTES (plus, at most, one
 *      entry larger than BYTES): a container printing forever cannot fill the disk;
 *   5. reaps the child (signalfd for SIGCHLD; probes too), reads oom_kill from the OOM files (cgroup v2
 *      memory.events or v1 memory.oom_control, when they exist), and writes STATUS atomically
 *      (temp file + rename):
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

#include "monitor-after-exit.h"
#include "monitor-health.h"

#define MAX_OOM_FILES 4
#define LINE_MAX_BYTES 16384 /* Docker splits log lines at 16 KiB too */

static const char *log_path, *status_path, *pids_path;
static const char *oom_files[MAX_OOM_FILES];
static int oom_file_count;
static int new_pid_namespace;
static int log_fd = -1;
static long long log_max_size = -1; /* --log-max-size: rotate before LOG would grow past it; -1: never */
static int log_max_files = 1;       /* --log-max-files: LOG and LOG.1 … LOG.(N-1) */
static long long log_size;          /* bytes in LOG now */

static void fail(const char *format, ...) {
  va_list args;
  va_start(args, format);
  fputs("minibox-monitor: ", stderr);
  vfprintf(stderr, format, args);
  fputc('\n', stderr);
  va_end(args);
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

/* RFC 3339 with nanoseconds in UTC, trailing zeros trimmed, like Go's time.RFC3339Nano. */
static void format_now(char *out, size_t size) {
  struct timespec now;
  struct tm utc;
  clock_gettime(CLOCK_REALTIME, &now);
  gmtime_r(&now.tv_sec, &utc);
  size_t used = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &utc);
  char fraction[16];
  snprintf(fraction, sizeof fraction, ".%09ld", now.tv_nsec);
  size_t end = strlen(fraction);
  while (end > 1 && fraction[end - 1] == '0') end--;
  if (end == 1) end = 0; /* no fraction at all */
  fraction[end] = '\0';
  snprintf(out + used, size - used, "%sZ", fraction);
}

/* Docker's json-file rotation (see the header). If a rename fails, the entry goes to the current
 * file and the next one tries again: output is never dropped for the sake of rotation. */
static void rotate_log(void) {
  if (log_max_files < 2) {
    if (ftruncate(log_fd, 0) == 0) log_size = 0; /* O_APPEND: the next write starts at 0 */
    return;
  }
  char from[4096], to[4096];
  for (int n = log_max_files - 1; n >= 1; n--) {
    if (n == 1) snprintf(from, sizeof from, "%s", log_path);
    else snprintf(from, sizeof from, "%s.%d", log_path, n - 1);
    snprintf(to, sizeof to, "%s.%d", log_path, n);
    if (rename(from, to) < 0 && errno != ENOENT) return;
  }
  int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return;
  close(log_fd); /* now LOG.1's */
  log_fd = fd;
  log_size = 0;
}

/* One json-file entry. JSON escaping as Go's encoder: quotes, backslash, control characters,
 * and <, >, & as \u003c… (Docker's jsonlog is HTML-safe). One write(2) on an O_APPEND fd, so a
 * concurrent reader never sees half a line from us. */
static char entry[LINE_MAX_BYTES * 6 + 256];

static void write_entry(const char *stream, const char *data, size_t length) {
  static const char hex[] = "0123456789abcdef";
  size_t used = 0;
  used += (size_t)snprintf(entry, sizeof entry, "{\"log\":\"");
  for (size_t i = 0; i < length; i++) {
    unsigned char c = (unsigned char)data[i];
    switch (c) {
      case '"': entry[used++] = '\\'; entry[used++] = '"'; break;
      case '\\': entry[used++] = '\\'; entry[used++] = '\\'; break;
      case '\n': entry[used++] = '\\'; entry[used++] = 'n'; break;
      case '\r': entry[used++] = '\\'; entry[used++] = 'r'; break;
      case '\t': entry[used++] = '\\'; entry[used++] = 't'; break;
      default:
        if (c < 0x20 || c == '<' || c == '>' || c == '&') {
          memcpy(entry + used, "\\u00", 4);
          entry[used + 4] = hex[c >> 4];
          entry[used + 5] = hex[c & 15];
          used += 6;
        } else {
          entry[used++] = (char)c;
        }
    }
  }
  char now[64];
  format_now(now, sizeof now);
  used += (size_t)snprintf(entry + used, sizeof entry - used, "\",\"stream\":\"%s\",\"time\":\"%s\"}\n", stream, now);
  if (log_max_size > 0 && log_size > 0 && log_size + (long long)used > log_max_size) rotate_log();
  size_t done = 0;
  while (done < used) {
    ssize_t written = write(log_fd, entry + done, used - done);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) break; /* disk full: drop the line rather than block the container */
    done += (size_t)written;
  }
  log_size += (long long)done;
}

/* A stream (stdout or stderr) of the container: a pipe and the part of a line read so far. */
struct stream {
  const char *name;
  int fd;
  char pending[LINE_MAX_BYTES];
  size_t used;
};

static void flush_lines(struct stream *s, int at_end) {
  size_t start = 0;
  for (size_t i = 0; i < s->used; i++) {
    if (s->pending[i] == '\n') {
      write_entry(s->name, s->pending + start, i + 1 - start);
      start = i + 1;
    }
  }
  if (start == 0 && s->used == sizeof s->pending) { /* a full buffer without a newline */
    write_entry(s->name, s->pending, s->used);
    start = s->used;
  }
  if (at_end && start < s->used) {
    write_entry(s->name, s->pending + start, s->used - start);
    start = s->used;
  }
  memmove(s->pending, s->pending + start, s->used - start);
  s->used -= start;
}

/* Reads what the pipe has; returns 0 at end of file. */
static int pump(struct stream *s) {
  ssize_t count = read(s->fd, s->pending + s->used, sizeof s->pending - s->used);
  if (count < 0 && (errno == EINTR || errno == EAGAIN)) return 1;
  if (count <= 0) {
    flush_lines(s, 1);
    close(s->fd);
    s->fd = -1;
    return 0;
  }
  s->used += (size_t)count;
  flush_lines(s, 0);
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

static void parse_arguments(int argc, char **argv, int *program_index) {
  int i = 1;
  for (; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) { i++; break; }
    if (strcmp(argv[i], "--new-pid-namespace") == 0) { new_pid_namespace = 1; continue; }
    if (i + 1 >= argc) fail("option %s needs a value", argv[i]);
    if (strcmp(argv[i], "--log") == 0) log_path = argv[++i];
    else if (strcmp(argv[i], "--status") == 0) status_path = argv[++i];
    else if (strcmp(argv[i], "--pids") == 0) pids_path = argv[++i];
    else if (strcmp(argv[i], "--oom-file") == 0 && oom_file_count < MAX_OOM_FILES) oom_files[oom_file_count++] = argv[++i];
    else if (strcmp(argv[i], "--log-max-size") == 0) log_max_size = strtoll(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--log-max-files") == 0) log_max_files = atoi(argv[++i]);
    else if (after_exit_option(argv[i], argv[i + 1]) || health_option(argv[i], argv[i + 1])) i++;
    else fail("unknown option %s", argv[i]);
  }
  if (!log_path || !status_path || !pids_path || i >= argc) {
    fail("usage: minibox-monitor [--new-pid-namespace] --log FILE [--log-max-size BYTES [--log-max-files N]] --status FILE "
         "--pids FILE [--oom-file FILE]... -- PROGRAM ARG...");
  }
  if (log_max_files < 1 || log_max_files > 1000) fail("--log-max-files must be between 1 and 1000");
  const char *problem = after_exit_options_problem();
  if (!problem) problem = health_options_problem();
  if (problem) fail("%s", problem);
  *program_index = i;
}

/* In the child, before exec: the container's stdio, default signal handling, then the program.
 * If exec fails, say so on fd 4 in the channel's own words so the engine reports it. */
static void become_program(char **program, int out_fd, int err_fd, const sigset_t *original_mask) {
  if (dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0) _exit(125);
  signal(SIGPIPE, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  sigprocmask(SIG_SETMASK, original_mask, NULL);
  execv(program[0], program);
  dprintf(4, "{\"type\":\"error\",\"message\":\"minibox-monitor: cannot execute %s: %s\",\"exitCode\":125}\n",
          program[0], strerror(errno));
  _exit(125);
}

int main(int argc, char **argv) {
  /* Non-dumpable, inherited by the child forked below: from fork to its execve that child is a
   * copy of this host program inside the container's PID namespace, and the container must not
   * ptrace it or open /proc/PID/exe (runc CVE-2019-5736 class; see minibox-launch.c). */
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) fail("prctl(PR_SET_DUMPABLE, 0): %s", strerror(errno));
  int program_index;
  parse_arguments(argc, argv, &program_index);
  if (chdir("/") < 0) fail("chdir /: %s", strerror(errno)); /* never keep a container dir busy */
  /* fds 3 and 4 belong to the channel. If a caller did not pass them, hold them with /dev/null,
   * or the files opened below would get those numbers and be closed by mistake after the fork. */
  for (int fd = 3; fd <= 4; fd++) {
    if (fcntl(fd, F_GETFD) < 0) {
      int null_fd = open("/dev/null", O_RDWR);
      if (null_fd >= 0 && null_fd != fd) {
        dup2(null_fd, fd);
        close(null_fd);
      }
    }
  }
  signal(SIGPIPE, SIG_IGN); /* a reader of fd 1 that went away must not kill us */
  signal(SIGHUP, SIG_IGN);
  signal(SIGINT, SIG_IGN);

  log_fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (log_fd < 0) fail("open %s: %s", log_path, strerror(errno));
  struct stat log_stat;
  if (fstat(log_fd, &log_stat) == 0) log_size = log_stat.st_size; /* a restarted container appends */
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) < 0 || pipe2(err_pipe, O_CLOEXEC) < 0) fail("pipe2: %s", strerror(errno));

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
  if (child == 0) become_program(argv + program_index, out_pipe[1], err_pipe[1], &original_mask);
  if (new_pid_namespace) after_exit_leave_container_pid_namespace(); /* later children: the host's */

  /* The parent keeps only the read ends; fds 3/4 belong to the engine and the child now, and
   * the engine reads "started" from the end of file on fd 4 once every copy is closed. */
  close(out_pipe[1]);
  close(err_pipe[1]);
  close(3);
  close(4);

  char text[512];
  snprintf(text, sizeof text, "{\"monitor\":{\"pid\":%d,\"startTime\":%llu},\"init\":{\"pid\":%d,\"startTime\":%llu}}\n",
           (int)getpid(), start_time_of(getpid()), (int)child, start_time_of(child));
  write_atomically(pids_path, text);
  dprintf(1, "%d\n", (int)child);

  /* Let go of the engine: from now on nobody reads our stdio. */
  int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd >= 0) {
    dup2(null_fd, 0);
    dup2(null_fd, 1);
    dup2(null_fd, 2);
    close(null_fd);
  }

  health_start();
  struct stream out = {.name = "stdout", .fd = out_pipe[0]}, err = {.name = "stderr", .fd = err_pipe[0]};
  int status = 0, reaped = 0;
  while (out.fd >= 0 || err.fd >= 0 || !reaped) {
    struct pollfd fds[3] = {
      {.fd = out.fd, .events = POLLIN}, {.fd = err.fd, .events = POLLIN}, {.fd = reaped ? -1 : signal_fd, .events = POLLIN},
    };
    /* Once the child is reaped, wait briefly for the pipes to drain: without a PID namespace a
     * background process could hold them open forever. */
    int ready = poll(fds, 3, reaped ? 500 : health_poll_timeout());
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0 && !reaped) { /* the healthcheck's timer (monitor-health.c) */
      health_tick();
      continue;
    }
    if (ready <= 0) break;
    if (out.fd >= 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))) pump(&out);
    if (err.fd >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))) pump(&err);
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
  if (out.fd >= 0) flush_lines(&out, 1);
  if (err.fd >= 0) flush_lines(&err, 1);

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
  write_atomically(status_path, text);
  if (delay_ms >= 0) after_exit_restart(delay_ms, child);
  return 0;
}
