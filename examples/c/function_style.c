/* function_style.c: the RMF's C function-style example (Cexample.c, with EventingExample.c's
 * notification) ported to libresmon. It creates a threshold monitor on its own process's
 * virtual memory size, raises it by allocating memory, and receives the event three ways: by
 * callback on the library's thread, by polling a subscription, and by a real-time signal whose
 * si_int is the monitor's handle. Then it stops and deletes the monitor.
 *
 *   cc -Wall -Wextra -Werror function_style.c $(pkg-config --cflags --libs resmon) -lpthread
 *   RESMON_SOCKET=/run/resmon/resmond.sock ./a.out
 */
#define _POSIX_C_SOURCE 200809L
#include <resmon.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define MiB (1024.0 * 1024.0)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static int callback_events;
static volatile sig_atomic_t signal_handle; /* the si_int of the last signal */

static void catch_notification(int signo, siginfo_t *info, void *context) {
    (void)signo;
    (void)context;
    signal_handle = info->si_value.sival_int;
}

/* Called on the library's own thread for each matching event. */
static void on_event(const resmon_event *event, void *user) {
    resmon_handle expected = *(const resmon_handle *)user;
    printf("callback: event %lld %s (handle %llu, value %.0f MiB): %s\n", (long long)event->id, event->type,
           (unsigned long long)event->handle, event->value / MiB, event->message);
    pthread_mutex_lock(&lock);
    if (event->handle == expected) callback_events++;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

/* This process's virtual memory size from /proc/self/statm, in bytes. */
static double own_vsize(void) {
    unsigned long pages = 0;
    FILE *statm = fopen("/proc/self/statm", "r");
    if (!statm) return 0;
    if (fscanf(statm, "%lu", &pages) != 1) pages = 0;
    fclose(statm);
    return (double)pages * (double)sysconf(_SC_PAGESIZE);
}

static int fail(const char *what, int error) {
    fprintf(stderr, "%s: %s (%s)\n", what, resmon_strerror(error), resmon_last_error());
    return 1;
}

/* rmCreateMonitor + rmStartMonitor: at or above `threshold` bytes of virtual memory. */
static int create_vsize_monitor(resmon_session *session, double threshold, resmon_handle *handle, resmon_monitor_control *control) {
    char key[64];
    resmon_monitor_config config;
    resmon_monitor_config_init(&config);
    snprintf(key, sizeof key, "process:%ld:vsize_bytes", (long)getpid());
    config.key = key;
    config.type = RESMON_THRESHOLD;
    config.transform = RESMON_TRANSFORM_NONE;
    config.condition = RESMON_AT_OR_ABOVE;
    config.value = threshold;
    config.severity = LOG_WARNING;
    config.cancel_severity = LOG_NOTICE;

    resmon_monitor_control_init(control);
    control->location = RESMON_DAEMON;
    control->monitoring_interval = 0; /* monitor until stopped */
    control->monitoring_rate = 1;     /* check every second */
    control->samples = 1;             /* log the event at the first reading at or above */
    control->logging_rate = 60;       /* log events no more than once a minute */

    int error = resmon_monitor_create(session, &config, control, handle);
    if (error) return fail("resmon_monitor_create", error);
    error = resmon_monitor_start(session, *handle);
    if (error) return fail("resmon_monitor_start", error);
    return 0;
}

int main(void) {
    resmon_session *session = NULL;
    int error = resmon_open(NULL, &session); /* $RESMON_SOCKET, then the default socket */
    if (error) return fail("resmon_open", error);

    /* Created stopped at once, even before resmond has sampled this process. */
    double threshold = own_vsize() + 256 * MiB;
    resmon_handle handle = 0;
    resmon_monitor_control control;
    if (create_vsize_monitor(session, threshold, &handle, &control)) return 1;
    printf("monitor %s (handle %llu) watches vsize >= %.0f MiB\n", control.uid, (unsigned long long)handle, threshold / MiB);

    /* The notification: a real-time signal, as the RMF's posix_log_notify_add with SIGRTMIN+1. */
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    action.sa_sigaction = catch_notification;
    if (sigaction(SIGRTMIN + 1, &action, NULL) < 0) {
        perror("sigaction");
        return 1;
    }
    char filter[128];
    snprintf(filter, sizeof filter, "monitorId = \"%s\" && severity = warning", control.uid);
    resmon_subscription *by_callback = NULL, *by_poll = NULL;
    error = resmon_subscribe(session, filter, -1, on_event, &handle, &by_callback);
    if (error) return fail("resmon_subscribe (callback)", error);
    error = resmon_subscription_signal(by_callback, SIGRTMIN + 1);
    if (error) return fail("resmon_subscription_signal", error);
    error = resmon_subscribe(session, filter, -1, NULL, NULL, &by_poll);
    if (error) return fail("resmon_subscribe (poll)", error);

    /* Raise it: 512 MiB more address space. */
    char *ballast = malloc(512 * 1024 * 1024);
    if (!ballast) {
        perror("malloc");
        return 1;
    }
    ballast[0] = 1;

    resmon_event event;
    error = resmon_event_next(by_poll, 60000, &event);
    if (error) return fail("resmon_event_next", error);
    printf("polled: event %lld %s on %s (handle %llu)\n", (long long)event.id, event.type, event.monitor_id, (unsigned long long)event.handle);
    int status = 0;
    if (event.handle != handle || strcmp(event.monitor_id, control.uid) != 0) {
        fprintf(stderr, "the polled event is not the monitor's\n");
        status = 1;
    }

    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 30;
    pthread_mutex_lock(&lock);
    while (callback_events == 0 && pthread_cond_timedwait(&changed, &lock, &deadline) != ETIMEDOUT) {}
    int received = callback_events;
    pthread_mutex_unlock(&lock);
    if (!received) {
        fprintf(stderr, "no event reached the callback\n");
        status = 1;
    }
    struct timespec tenth = {0, 100000000};
    for (int waited = 0; signal_handle == 0 && waited < 300; waited++) nanosleep(&tenth, NULL);
    printf("signal: si_int = %d\n", (int)signal_handle);
    if ((resmon_handle)signal_handle != handle) {
        fprintf(stderr, "no signal carried the monitor's handle\n");
        status = 1;
    }

    resmon_monitor_state state;
    error = resmon_monitor_get_state(session, handle, &state);
    if (error) return fail("resmon_monitor_get_state", error);
    printf("state: phase %d, last value %.0f MiB\n", state.phase, state.last_value / MiB);
    if (state.phase != RESMON_RAISED) status = 1;

    /* rmStopMonitor, rmDeleteMonitor. */
    resmon_unsubscribe(by_callback);
    resmon_unsubscribe(by_poll);
    if ((error = resmon_monitor_stop(session, handle))) return fail("resmon_monitor_stop", error);
    if ((error = resmon_monitor_delete(session, handle))) return fail("resmon_monitor_delete", error);
    if (resmon_monitor_get_state(session, handle, &state) != -EINVAL) {
        fprintf(stderr, "the deleted monitor's handle is still valid\n");
        status = 1;
    }
    free(ballast);
    resmon_close(session);
    printf(status == 0 ? "ok\n" : "FAILED\n");
    return status;
}
