/*
 * exec-channel.c — the exec stage's messages to the engine (see exec-channel.h): errors and trace
 * events as JSON lines on fd 4, strings escaped here, times in milliseconds like Date.now().
 */
#define _GNU_SOURCE
#include "exec-channel.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int exec_tracing;

void send_line(const char *line) {
  size_t length = strlen(line), written = 0;
  while (written < length) {
    ssize_t count = write(TO_ENGINE, line + written, length - written);
    if (count < 0 && errno == EINTR) continue;
    if (count <= 0) return;
    written += (size_t)count;
  }
}

/* `text` as a JSON string (quotes included) into out; control characters as \u00XX. */
void json_string(char *out, size_t size, const char *text) {
  size_t used = 0;
  out[used++] = '"';
  for (const unsigned char *c = (const unsigned char *)text; *c && used + 8 < size; c++) {
    if (*c == '"' || *c == '\\') used += (size_t)snprintf(out + used, size - used, "\\%c", *c);
    else if (*c < 0x20) used += (size_t)snprintf(out + used, size - used, "\\u%04x", *c);
    else out[used++] = (char)*c;
  }
  out[used++] = '"';
  out[used] = '\0';
}

/* A failure before the program runs: the message and Docker's exit code (125/126/127). */
_Noreturn void fail(int exit_code, const char *format, ...) {
  char message[2048], quoted[4200], line[4400];
  va_list args;
  va_start(args, format);
  vsnprintf(message, sizeof message, format, args);
  va_end(args);
  json_string(quoted, sizeof quoted, message);
  snprintf(line, sizeof line, "{\"type\":\"error\",\"message\":%s,\"exitCode\":%d}\n", quoted, exit_code);
  if (write(TO_ENGINE, line, strlen(line)) < 0) dprintf(2, "minibox exec: %s\n", message);
  _exit(exit_code);
}

double now_ms(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* One trace event (src/sys/trace.ts's SysEvent); `args` is the inside of a JSON object. */
void event(const char *kind, const char *call, const char *args, long result, int error, double started) {
  if (!exec_tracing) return;
  char line[8192], failure[64] = "";
  if (result < 0) snprintf(failure, sizeof failure, ",\"error\":\"%s\"", strerrorname_np(error));
  snprintf(line, sizeof line,
           "{\"type\":\"event\",\"event\":{\"kind\":\"%s\",\"call\":\"%s\",\"args\":{%s},\"result\":%ld%s,"
           "\"ms\":%.4f,\"pid\":%d,\"time\":%.0f}}\n",
           kind, call, args, result < 0 ? -1 : result, failure, started ? now_ms(CLOCK_MONOTONIC) - started : 0,
           getpid(), now_ms(CLOCK_REALTIME));
  send_line(line);
}

/* Every kernel call goes through here, like invoke() in src/sys/call.ts: traced, and a failure
 * is fatal with SysError's wording ("setns /proc/9/ns/mnt: EPERM (Operation not permitted)"). */
long check(const char *call, const char *what, const char *args, long result, double started) {
  int error = errno;
  event("syscall", call, args, result, error, started);
  if (result < 0) fail(125, "%s%s%s: %s (%s)", call, what ? " " : "", what ? what : "", strerrorname_np(error), strerror(error));
  return result;
}
