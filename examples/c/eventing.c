/* eventing.c: the RMF's EventingExample.c ported to libresmon. A vsize monitor on this process;
 * a query on its id registered for SIGRTMIN+1 (posix_log_query_create + posix_log_notify_add
 * there, resmon_subscribe + resmon_subscription_signal here); memory allocated to raise it; the
 * signal's si_int is the monitor's handle, and the main loop then reads the monitor's state,
 * stops it and deletes it (the RMF's handler did that inside the handler, which is not
 * async-signal-safe: here the handler only records the handle).
 *
 *   cc -Wall -Wextra -Werror eventing.c $(pkg-config --cflags --libs resmon)
 */
#define _POSIX_C_SOURCE 200809L
#include <resmon.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t event_handle; /* the si_int of the notification, 0 before */

static void catch_notification_event(int signo, siginfo_t *info, void *ignored) {
    (void)signo;
    (void)ignored;
    event_handle = info->si_value.sival_int;
}

static double own_vsize(void) {
    unsigned long pages = 0;
    FILE *statm = fopen("/proc/self/statm", "r");
    if (statm) {
        if (fscanf(statm, "%lu", &pages) != 1) pages = 0;
        fclose(statm);
    }
    return (double)pages * (double)sysconf(_SC_PAGESIZE);
}

static int fail(const char *what, int error) {
    fprintf(stderr, "%s: %s (%s)\n", what, resmon_strerror(error), resmon_last_error());
    return 1;
}

int main(void) {
    resmon_session *session;
    int error = resmon_open(NULL, &session);
    if (error) return fail("resmon_open", error);

    char key[64];
    snprintf(key, sizeof key, "process:%ld:vsize_bytes", (long)getpid());
    resmon_monitor_config config;
    resmon_monitor_control control;
    resmon_monitor_config_init(&config);
    resmon_monitor_control_init(&control);
    config.key = key;
    config.condition = RESMON_AT_OR_ABOVE;
    config.value = own_vsize() + 256.0 * 1024 * 1024;
    config.severity = LOG_WARNING;
    config.cancel_severity = LOG_NOTICE;
    control.monitoring_rate = 1;
    control.samples = 2; /* the event after 2 consecutive readings at or above */
    control.logging_rate = 60;
    resmon_handle handle;
    if ((error = resmon_monitor_create(session, &config, &control, &handle))) return fail("resmon_monitor_create", error);
    if ((error = resmon_monitor_start(session, handle))) return fail("resmon_monitor_start", error);

    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    action.sa_sigaction = catch_notification_event;
    if (sigaction(SIGRTMIN + 1, &action, NULL) < 0) {
        perror("sigaction failed for SIGRTMIN+1");
        return 1;
    }
    /* The query: this monitor's events at severity warning. */
    resmon_monitor_control current;
    if ((error = resmon_monitor_get_control(session, handle, &current))) return fail("resmon_monitor_get_control", error);
    char query[128];
    snprintf(query, sizeof query, "monitorId = \"%s\" && severity = warning", current.uid);
    resmon_subscription *notification;
    if ((error = resmon_subscribe(session, query, -1, NULL, NULL, &notification))) return fail("resmon_subscribe", error);
    if ((error = resmon_subscription_signal(notification, SIGRTMIN + 1))) return fail("resmon_subscription_signal", error);
    printf("registered the notification for monitor %s (handle %llu)\n", current.uid, (unsigned long long)handle);

    char *ballast = malloc(512 * 1024 * 1024);
    if (!ballast) return 1;
    ballast[0] = 1;

    for (int waited = 0; event_handle == 0; waited++) {
        if (waited > 60) {
            fprintf(stderr, "no notification within a minute\n");
            return 1;
        }
        sleep(1); /* a signal ends the sleep early */
    }
    resmon_handle notified = (resmon_handle)event_handle;
    resmon_event event;
    if ((error = resmon_event_next(notification, 0, &event))) return fail("resmon_event_next", error);
    resmon_monitor_state state;
    if ((error = resmon_monitor_get_state(session, notified, &state))) return fail("resmon_monitor_get_state", error);
    printf(" signal=%d from event: handle=%llu, record id=%lld, phase=%d\n", SIGRTMIN + 1, (unsigned long long)notified,
           (long long)event.id, state.phase);
    resmon_unsubscribe(notification);
    if ((error = resmon_monitor_stop(session, notified))) return fail("resmon_monitor_stop", error);
    if ((error = resmon_monitor_delete(session, notified))) return fail("resmon_monitor_delete", error);
    free(ballast);
    resmon_close(session);
    int ok = notified == handle && state.phase == RESMON_RAISED;
    printf(ok ? "ok\n" : "FAILED\n");
    return ok ? 0 : 1;
}
