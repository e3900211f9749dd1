#define _GNU_SOURCE
#include "resmon.h"
#include "resmon_internal.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static _Thread_local char last_error[1024];

void rsclib_set_error(const char *text) {
    if (!text) text = "";
    strncpy(last_error, text, sizeof last_error - 1);
    last_error[sizeof last_error - 1] = 0;
}

const char *resmon_last_error(void) { return last_error; }

const char *resmon_strerror(int error) {
    switch (error) {
    case 0: return "success";
    case -ECONNREFUSED: return "no resmond answers on the socket";
    case -ENOENT: return "no such monitor, statistic or socket";
    case -EINVAL: return "invalid argument (resmond refused the request)";
    case -EACCES: return "permission denied by resmond";
    case -EEXIST: return "conflicts with the current state";
    case -E2BIG: return "request too large";
    case -EBUSY: return "resmond is busy (a self-limit is reached); retry later";
    case -ETIMEDOUT: return "timed out";
    case -ENOMEM: return "out of memory";
    case -ENOTSUP: return "not supported by this version of libresmon";
    case -EIO: return "unexpected answer from resmond";
    default: return error < 0 ? strerror(-error) : "not an error code of libresmon";
    }
}

int rsclib_eventfd(void) { return eventfd(0, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC); }

void rsclib_eventfd_post(int fd) {
    uint64_t one = 1;
    while (write(fd, &one, sizeof one) < 0 && errno == EINTR) {}
}

static int64_t now_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

int rsclib_eventfd_take(int fd, int timeout_ms) {
    int64_t deadline = now_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
    for (;;) {
        uint64_t value;
        if (read(fd, &value, sizeof value) == sizeof value) return 0;
        if (errno != EAGAIN && errno != EINTR) return -errno;
        int wait = -1;
        if (timeout_ms >= 0) {
            int64_t left = deadline - now_ms();
            if (left <= 0) return -ETIMEDOUT;
            wait = left > 1000000 ? 1000000 : (int)left;
        }
        struct pollfd ready = {.fd = fd, .events = POLLIN};
        if (poll(&ready, 1, wait) < 0 && errno != EINTR) return -errno;
    }
}

void rsclib_block_signals(void) {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
}

int rsclib_sigqueue(int signo, int value) {
    union sigval payload = {.sival_int = value};
    return sigqueue(getpid(), signo, payload) == 0 ? 0 : -errno;
}
