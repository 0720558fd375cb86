/*
 * exec-channel.h — how the C exec stage (minibox-exec.c) talks to the engine on fd 4: one JSON
 * line per message, the protocol of src/runtime/stages/channel.ts. A failure is
 * {"type":"error","message":…,"exitCode":N} and the stage exits with N (Docker's 125/126/127);
 * with --trace, every system call is {"type":"event","event":{…}}, a SysEvent (src/sys/trace.ts),
 * which the engine publishes as if Node had made the call — so --explain narrates it.
 */
#ifndef EXEC_CHANNEL_H
#define EXEC_CHANNEL_H
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#define TO_ENGINE 4

extern int exec_tracing; /* send events (the plan said trace=1) */

void send_line(const char *line);
void json_string(char *out, size_t size, const char *text);
_Noreturn void fail(int exit_code, const char *format, ...);
double now_ms(clockid_t clock);
void event(const char *kind, const char *call, const char *args, long result, int error, double started);
long check(const char *call, const char *what, const char *args, long result, double started);

/* CALL("setns", what, setns(fd, flag), "\"fd\":%d", fd): makes the call, timed, traced and checked
 * (`what` names the object in the error message); the args are printf-formatted JSON members. */
#define CALL(call, what, expr, ...) do {                     \
    char args_[2048];                                        \
    snprintf(args_, sizeof args_, __VA_ARGS__);              \
    double started_ = now_ms(CLOCK_MONOTONIC);               \
    check(call, what, args_, (long)(expr), started_);        \
  } while (0)

#endif
