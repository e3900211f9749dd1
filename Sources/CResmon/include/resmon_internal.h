/* What the Swift half of libresmon needs from C: the calling thread's error text, eventfd and
 * sigqueue. Not installed; the library exports none of it (only resmon_*). */
#ifndef RESMON_INTERNAL_H
#define RESMON_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* Sets this thread's resmon_last_error() text (copied, cut at 1 KiB). */
void rsclib_set_error(const char *text);
/* An eventfd in semaphore mode, non-blocking, close-on-exec; -1 on failure. */
int rsclib_eventfd(void);
/* Adds one to the eventfd's counter. */
void rsclib_eventfd_post(int fd);
/* Takes one from the counter, waiting up to timeout_ms (negative: for ever): 0, or -ETIMEDOUT. */
int rsclib_eventfd_take(int fd, int timeout_ms);
/* Queues signal signo to this process with si_int = value; 0 or -errno. */
int rsclib_sigqueue(int signo, int value);

/* Blocks every signal in the calling thread (the library's own threads), so that a consumer's
 * handler never runs on one of them while it holds a lock the handler's calls would take. */
void rsclib_block_signals(void);

#endif
