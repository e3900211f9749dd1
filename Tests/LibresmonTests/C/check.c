/* check.c: libresmon's API checked from C, one part per argument (errors, statistics, monitors,
 * threads, follow), against the resmond of $RESMON_SOCKET. Prints what failed; exits 1 then. */
#define _POSIX_C_SOURCE 200809L
#include <resmon.h>

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static void pause_ms(long ms) {
    struct timespec wait = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&wait, NULL);
}

static resmon_session *open_session(void) {
    resmon_session *session = NULL;
    int error = resmon_open(NULL, &session);
    if (error) {
        fprintf(stderr, "resmon_open: %s (%s)\n", resmon_strerror(error), resmon_last_error());
        exit(1);
    }
    return session;
}

static void *other_thread_error(void *unused) {
    (void)unused;
    return (void *)(intptr_t)(resmon_last_error()[0] == 0);
}

static int errors(void) {
    resmon_session *session = NULL;
    CHECK(resmon_open("/nonexistent/resmond.sock", &session) == -ENOENT && session == NULL);
    CHECK(strstr(resmon_last_error(), "/nonexistent/resmond.sock") != NULL);
    /* A socket nobody listens on: refused. */
    char path[] = "/tmp/resmon-check-XXXXXX";
    CHECK(mkdtemp(path) != NULL);
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    snprintf(address.sun_path, sizeof address.sun_path, "%s/dead.sock", path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(bind(fd, (struct sockaddr *)&address, sizeof address) == 0);
    CHECK(resmon_open(address.sun_path, &session) == -ECONNREFUSED);
    close(fd);
    unlink(address.sun_path);
    rmdir(path);
    /* The error text is the calling thread's. */
    pthread_t thread;
    void *clean = NULL;
    pthread_create(&thread, NULL, other_thread_error, NULL);
    pthread_join(thread, &clean);
    CHECK(clean == (void *)1);
    CHECK(strcmp(resmon_strerror(-EBUSY), resmon_strerror(-EINVAL)) != 0);
    CHECK(resmon_strerror(-ENOTSUP) != NULL && resmon_strerror(12345) != NULL);

    session = open_session();
    resmon_statistic statistic;
    CHECK(resmon_statistic_get(session, "cpu:nowhere:nothing", &statistic) == -ENOENT);
    CHECK(strstr(resmon_last_error(), "no statistic") != NULL);
    CHECK(resmon_statistic_get(session, NULL, &statistic) == -EINVAL);
    resmon_monitor_config config;
    resmon_monitor_control control;
    resmon_handle handle = 99;
    resmon_monitor_config_init(&config);
    resmon_monitor_control_init(&control);
    config.key = "cpu:total:usage_ratio";
    CHECK(resmon_monitor_create(session, &config, &control, &handle) == -EINVAL && handle == 0); /* no condition */
    CHECK(strstr(resmon_last_error(), "condition") != NULL);
    config.condition = RESMON_ABOVE;
    config.value = 2;
    config.severity = 42;
    CHECK(resmon_monitor_create(session, &config, &control, &handle) == -EINVAL);
    config.severity = LOG_WARNING;
    control.location = 7;
    CHECK(resmon_monitor_create(session, &config, &control, &handle) == -EINVAL);
    CHECK(resmon_inline_update(session, 12345, 1, NAN) == -EINVAL);
    CHECK(resmon_monitor_start(session, 0) == -EINVAL);
    CHECK(resmon_monitor_delete(session, 12345) == -EINVAL);
    CHECK(resmon_monitor_find(session, "00000000-0000-0000-0000-000000000000", &handle) == -ENOENT);
    resmon_subscription *subscription = NULL;
    CHECK(resmon_subscribe(session, "severity >= loud", -1, NULL, NULL, &subscription) == -EINVAL && subscription == NULL);
    CHECK(strstr(resmon_last_error(), "severity") != NULL);
    CHECK(resmon_subscribe(session, NULL, -1, NULL, NULL, &subscription) == 0);
    resmon_event event;
    CHECK(resmon_event_next(subscription, 50, &event) == -ETIMEDOUT);
    resmon_unsubscribe(subscription);
    resmon_close(session);
    return failures;
}

static int count_and_stop(const char *key, const resmon_statistic *statistic, void *user) {
    (void)statistic;
    int *count = user;
    CHECK(strncmp(key, "cpu:", 4) == 0);
    return ++*count == 2;
}

static int statistics(void) {
    resmon_session *session = open_session();
    resmon_statistic statistic;
    /* A ratio is unknown (NAN) until the second sample: wait for it. */
    for (int tries = 0; tries < 300; tries++) {
        CHECK(resmon_statistic_get(session, "cpu:total:usage_ratio", &statistic) == 0);
        if (!isnan(statistic.value)) break;
        pause_ms(100);
    }
    CHECK(statistic.kind == RESMON_GAUGE && strcmp(statistic.unit, "ratio") == 0 && statistic.upper_bound == 1);
    CHECK(statistic.value >= 0 && statistic.value <= 1 && statistic.time > 1e9);
    int count = 0;
    CHECK(resmon_statistics_list(session, "^cpu:", count_and_stop, &count) == 0);
    CHECK(count == 2);
    CHECK(resmon_statistics_list(session, "(", count_and_stop, &count) == -EINVAL);
    CHECK(resmon_statistic_push(session, "app:check:items", 42, "items") == 0);
    CHECK(resmon_statistic_get(session, "app:check:items", &statistic) == 0);
    CHECK(statistic.value == 42 && statistic.raw == 42 && strcmp(statistic.unit, "items") == 0 && isnan(statistic.upper_bound));
    CHECK(resmon_statistic_push(session, "cpu:total:usage_ratio", 1, NULL) != 0); /* only app: is pushed */
    resmon_close(session);
    return failures;
}

/* Waits for a phase, pushing `value` to `key` meanwhile (each push is a reading). */
static int wait_for_phase(resmon_session *session, resmon_handle handle, int phase, const char *key, double value) {
    resmon_monitor_state state;
    for (int tries = 0; tries < 600; tries++) {
        resmon_statistic_push(session, key, value, "items");
        if (resmon_monitor_get_state(session, handle, &state) == 0 && state.phase == phase) return 1;
        pause_ms(100);
    }
    return 0;
}

static int monitors(void) {
    resmon_session *session = open_session(), *other = open_session();
    resmon_monitor_config config;
    resmon_monitor_control control;
    resmon_monitor_config_init(&config);
    resmon_monitor_control_init(&control);
    CHECK(config.type == RESMON_THRESHOLD && config.severity == LOG_WARNING && config.cancel_severity == LOG_NOTICE);
    CHECK(isnan(config.cancel_value) && control.samples == 1 && control.location == RESMON_DAEMON && control.uid[0] == 0);
    CHECK(resmon_statistic_push(session, "app:check:level", 1, "items") == 0);
    config.key = "app:check:level";
    config.name = "check level";
    config.condition = RESMON_ABOVE;
    config.value = 100;
    config.cancel_value = 50;
    control.monitoring_rate = 1;
    control.logging_rate = 30;
    control.samples = 2;
    resmon_handle handle = 0, again = 0, found = 0;
    CHECK(resmon_monitor_create(session, &config, &control, &handle) == 0 && handle != 0);
    CHECK(strlen(control.uid) == 36);
    CHECK(resmon_monitor_find(session, control.uid, &again) == 0 && again == handle);
    CHECK(resmon_monitor_find(other, control.uid, &found) == 0 && found != 0);
    resmon_monitor_control read;
    CHECK(resmon_monitor_get_control(session, handle, &read) == 0);
    CHECK(read.samples == 2 && read.cancel_samples == 2 && read.logging_rate == 30 && read.monitoring_rate == 1);
    CHECK(strcmp(read.uid, control.uid) == 0);
    resmon_monitor_state state;
    CHECK(resmon_monitor_get_state(session, handle, &state) == 0 && !state.running); /* created stopped */
    CHECK(resmon_monitor_start(session, handle) == 0);
    CHECK(resmon_monitor_start(session, handle) == 0); /* starting a running monitor is no error */
    CHECK(resmon_monitor_get_state(session, handle, &state) == 0 && state.running);
    CHECK(resmon_monitor_pause(session, handle) == 0 && resmon_monitor_resume(session, handle) == 0);
    CHECK(wait_for_phase(session, handle, RESMON_RAISED, "app:check:level", 150));
    CHECK(resmon_monitor_get_state(other, found, &state) == 0 && state.phase == RESMON_RAISED && state.last_value == 150);
    CHECK(resmon_monitor_reset_notification(session, handle) == 0);
    CHECK(resmon_monitor_reset(session, handle) == 0);
    CHECK(resmon_monitor_stop(session, handle) == 0);
    CHECK(resmon_monitor_get_state(session, handle, &state) == 0 && !state.running);
    CHECK(resmon_monitor_delete(session, handle) == 0);
    CHECK(resmon_monitor_start(session, handle) == -EINVAL);   /* the handle is gone with it */
    CHECK(resmon_monitor_start(other, found) == -ENOENT);      /* the other session's: no such monitor */

    /* A watermark, and a leaky bucket on a counter of this process (not sampled yet). */
    resmon_monitor_config_init(&config);
    resmon_monitor_control_init(&control);
    config.key = "app:check:level";
    config.type = RESMON_WATERMARK;
    config.watermark = RESMON_WATERMARK_LOW;
    config.severity = LOG_INFO;
    CHECK(resmon_monitor_create(session, &config, &control, &handle) == 0);
    CHECK(resmon_monitor_delete(session, handle) == 0);
    char key[64];
    snprintf(key, sizeof key, "process:%ld:cpu_seconds_total", (long)getpid());
    resmon_monitor_config_init(&config);
    config.key = key;
    config.type = RESMON_LEAKY_BUCKET;
    config.bucket_size = 10;
    config.fill_value = 1;
    CHECK(resmon_monitor_create(session, &config, &control, &handle) == 0);
    CHECK(resmon_monitor_delete(session, handle) == 0);
    config.key = "app:check:level"; /* a gauge: refused */
    CHECK(resmon_monitor_create(session, &config, &control, &handle) == -EINVAL);
    resmon_close(other);
    resmon_close(session);
    return failures;
}

static resmon_subscription *ending;
static int ended_in_callback;

/* Unsubscribes its own subscription from inside the callback. */
static pthread_mutex_t ending_lock = PTHREAD_MUTEX_INITIALIZER;
static void end_in_callback(const resmon_event *event, void *session) {
    (void)event;
    (void)session;
    pthread_mutex_lock(&ending_lock); /* until resmon_subscribe has set `ending` */
    if (ending) {
        resmon_unsubscribe(ending);
        ending = NULL;
        ended_in_callback = 1;
    }
    pthread_mutex_unlock(&ending_lock);
}

/* The descriptor, the signal and the replay of a subscription. */
static int subscriptions(void) {
    resmon_session *session = open_session();
    sigset_t wanted;
    sigemptyset(&wanted);
    sigaddset(&wanted, SIGRTMIN + 2);
    pthread_sigmask(SIG_BLOCK, &wanted, NULL);
    resmon_subscription *polled = NULL;
    CHECK(resmon_subscribe(session, "key = \"app:check:sub\"", -1, NULL, NULL, &polled) == 0);
    int fd = resmon_subscription_fd(polled);
    CHECK(fd >= 0);
    struct pollfd ready = {.fd = fd, .events = POLLIN};
    CHECK(poll(&ready, 1, 0) == 0); /* nothing waits */
    CHECK(resmon_subscription_signal(polled, SIGRTMIN + 2) == 0);
    CHECK(resmon_subscription_signal(polled, 1000) == -EINVAL);

    CHECK(resmon_statistic_push(session, "app:check:sub", 0, NULL) == 0);
    resmon_monitor_config config;
    resmon_monitor_control control;
    resmon_monitor_config_init(&config);
    resmon_monitor_control_init(&control);
    config.key = "app:check:sub";
    config.condition = RESMON_ABOVE;
    config.value = 0.5;
    resmon_handle handle = 0;
    CHECK(resmon_monitor_create(session, &config, &control, &handle) == 0 && resmon_monitor_start(session, handle) == 0);
    CHECK(wait_for_phase(session, handle, RESMON_RAISED, "app:check:sub", 1));

    CHECK(poll(&ready, 1, 60000) == 1); /* readable while the event waits */
    siginfo_t info;
    struct timespec minute = {60, 0};
    CHECK(sigtimedwait(&wanted, &info, &minute) == SIGRTMIN + 2 && (resmon_handle)info.si_value.sival_int == handle);
    resmon_event event;
    CHECK(resmon_event_next(polled, 0, &event) == 0 && event.handle == handle && strcmp(event.monitor_id, control.uid) == 0);
    CHECK(strcmp(event.key, "app:check:sub") == 0 && event.value == 1 && event.severity == LOG_WARNING);
    int64_t raised = event.id;
    CHECK(poll(&ready, 1, 0) == 0); /* taken: no longer readable */

    /* From an id: the log replayed after it; a callback may unsubscribe its own subscription. */
    resmon_subscription *replay = NULL;
    CHECK(resmon_subscribe(session, "key = \"app:check:sub\"", raised - 1, NULL, NULL, &replay) == 0);
    CHECK(resmon_event_next(replay, 60000, &event) == 0 && event.id == raised);
    resmon_unsubscribe(replay);
    pthread_mutex_lock(&ending_lock);
    CHECK(resmon_subscribe(session, "key = \"app:check:sub\"", raised - 1, end_in_callback, session, &ending) == 0);
    pthread_mutex_unlock(&ending_lock);
    for (int tries = 0; tries < 600 && !ended_in_callback; tries++) pause_ms(100);
    CHECK(ended_in_callback);

    CHECK(resmon_monitor_delete(session, handle) == 0);
    resmon_unsubscribe(polled);
    /* A subscription left open is ended by resmon_close. */
    CHECK(resmon_subscribe(session, NULL, -1, NULL, NULL, &polled) == 0);
    resmon_close(session);
    return failures;
}

static int inline_callbacks;
static void count_inline(const resmon_event *event, void *expected) {
    if (event->handle == *(resmon_handle *)expected) inline_callbacks++;
}

/* An inline monitor: evaluated in this process, its events delivered during the update. */
static int inline_monitors(void) {
    resmon_session *session = open_session();
    resmon_monitor_config config;
    resmon_monitor_control control;
    resmon_monitor_config_init(&config);
    resmon_monitor_control_init(&control);
    config.key = "myapp:queue:depth";
    config.condition = RESMON_ABOVE;
    config.value = 10;
    config.cancel_value = 5;
    control.location = RESMON_INLINE;
    control.samples = 2;
    resmon_handle handle = 0;
    CHECK(resmon_monitor_create(session, &config, &control, &handle) == 0 && handle != 0 && strlen(control.uid) == 36);
    char filter[128];
    snprintf(filter, sizeof filter, "monitorId = \"%s\" && severity >= notice", control.uid);
    resmon_subscription *polled = NULL, *called = NULL;
    CHECK(resmon_subscribe(session, filter, -1, NULL, NULL, &polled) == 0);
    CHECK(resmon_subscribe(session, filter, -1, count_inline, &handle, &called) == 0);
    resmon_event event;
    CHECK(resmon_inline_update(session, handle, 20, NAN) == 0); /* created stopped: ignored */
    resmon_monitor_state state;
    CHECK(resmon_monitor_get_state(session, handle, &state) == 0 && !state.running && isnan(state.last_value));
    CHECK(resmon_monitor_start(session, handle) == 0);
    CHECK(resmon_inline_update(session, handle, 20, 1000) == 0);
    CHECK(resmon_monitor_get_state(session, handle, &state) == 0 && state.phase == RESMON_PENDING && state.count == 1);
    CHECK(resmon_event_next(polled, 0, &event) == -ETIMEDOUT);
    CHECK(resmon_inline_update(session, handle, 21, 1001) == 0); /* the second sample raises */
    CHECK(inline_callbacks == 1);                                 /* delivered during the update */
    CHECK(resmon_event_next(polled, 0, &event) == 0);
    CHECK(strcmp(event.type, "above") == 0 && event.code == 501 && event.value == 21 && event.threshold == 10 && event.handle == handle);
    CHECK(event.severity == LOG_WARNING && strcmp(event.key, "myapp:queue:depth") == 0 && event.id == 0 && event.time == 1001);
    CHECK(resmon_monitor_get_state(session, handle, &state) == 0 && state.phase == RESMON_RAISED && state.last_value == 21);
    CHECK(resmon_inline_update(session, handle, 7, 1002) == 0); /* inside the hysteresis band: still raised */
    CHECK(resmon_inline_update(session, handle, 30, 1003) == 0); /* loggingRate 0: raised once until reset-notification */
    CHECK(resmon_event_next(polled, 0, &event) == -ETIMEDOUT);
    CHECK(resmon_inline_update(session, handle, 3, 1004) == 0 && resmon_inline_update(session, handle, 3, 1005) == 0);
    CHECK(resmon_event_next(polled, 0, &event) == 0 && strcmp(event.type, "canceled") == 0 && event.severity == LOG_NOTICE);
    CHECK(inline_callbacks == 2);
    resmon_monitor_control read;
    CHECK(resmon_monitor_get_control(session, handle, &read) == 0 && read.location == RESMON_INLINE && read.samples == 2);
    CHECK(strcmp(read.uid, control.uid) == 0);
    CHECK(resmon_monitor_stop(session, handle) == 0 && resmon_inline_update(session, handle, 50, 1006) == 0);
    CHECK(resmon_event_next(polled, 0, &event) == -ETIMEDOUT);
    CHECK(resmon_monitor_delete(session, handle) == 0);
    CHECK(resmon_inline_update(session, handle, 50, NAN) == -EINVAL);

    /* A low watermark: the lowest reading and when, no events. */
    resmon_monitor_config_init(&config);
    resmon_monitor_control_init(&control);
    control.location = RESMON_INLINE;
    config.key = "myapp:queue:free";
    config.type = RESMON_WATERMARK;
    config.watermark = RESMON_WATERMARK_LOW;
    CHECK(resmon_monitor_create(session, &config, &control, &handle) == 0 && resmon_monitor_start(session, handle) == 0);
    CHECK(resmon_inline_update(session, handle, 5, 2000) == 0 && resmon_inline_update(session, handle, 3, 2001) == 0);
    CHECK(resmon_inline_update(session, handle, 7, 2002) == 0);
    CHECK(resmon_monitor_get_state(session, handle, &state) == 0 && state.watermark_value == 3 && state.watermark_time == 2001);
    CHECK(state.last_value == 7 && isnan(state.bucket_level));
    CHECK(resmon_event_next(polled, 0, &event) == -ETIMEDOUT);
    CHECK(resmon_monitor_delete(session, handle) == 0);

    /* A leaky bucket over a counter's totals: 10 deep, refilled by 1 a second. */
    resmon_monitor_config_init(&config);
    config.key = "myapp:requests:total";
    config.type = RESMON_LEAKY_BUCKET;
    config.bucket_size = 10;
    config.fill_value = 1;
    control.monitoring_rate = 1;
    CHECK(resmon_monitor_create(session, &config, &control, &handle) == 0 && resmon_monitor_start(session, handle) == 0);
    resmon_subscription *bucket = NULL;
    snprintf(filter, sizeof filter, "monitorId = \"%s\"", control.uid);
    CHECK(resmon_subscribe(session, filter, -1, NULL, NULL, &bucket) == 0);
    CHECK(resmon_inline_update(session, handle, 0, 3000) == 0 && resmon_inline_update(session, handle, 5, 3001) == 0);
    CHECK(resmon_monitor_get_state(session, handle, &state) == 0 && state.bucket_level == 5 && state.phase == RESMON_CLEAR);
    CHECK(resmon_inline_update(session, handle, 12, 3002) == 0); /* 6 after the refill, 7 drained: empty */
    CHECK(resmon_event_next(bucket, 0, &event) == 0 && strcmp(event.type, "counterRateExceeded") == 0 && event.code == 508);
    CHECK(resmon_inline_update(session, handle, 12, 3013) == 0); /* refilled to the top: cancelled */
    CHECK(resmon_event_next(bucket, 0, &event) == 0 && strcmp(event.type, "canceled") == 0);
    CHECK(resmon_monitor_get_state(session, handle, &state) == 0 && state.bucket_level == 10 && state.phase == RESMON_CLEAR);
    resmon_unsubscribe(bucket);
    CHECK(resmon_monitor_delete(session, handle) == 0);

    /* What an update costs (printed, not checked: timing is the bench's). */
    resmon_monitor_config_init(&config);
    config.key = "myapp:loop:value";
    config.condition = RESMON_ABOVE;
    config.value = 1e12;
    CHECK(resmon_monitor_create(session, &config, &control, &handle) == 0 && resmon_monitor_start(session, handle) == 0);
    resmon_unsubscribe(called);
    resmon_unsubscribe(polled);
    enum { UPDATES = 1000000 };
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int i = 0; i < UPDATES; i++) resmon_inline_update(session, handle, i, 1000 + i);
    clock_gettime(CLOCK_MONOTONIC, &end);
    printf("inline update: %.0f ns\n", ((end.tv_sec - start.tv_sec) * 1e9 + (end.tv_nsec - start.tv_nsec)) / UPDATES);
    resmon_close(session);
    return failures;
}

enum { THREADS = 8, ROUNDS = 20 };
static resmon_session *shared;

static void *worker(void *argument) {
    long index = (long)argument;
    char key[64];
    snprintf(key, sizeof key, "app:check:thread%ld", index);
    for (int round = 0; round < ROUNDS; round++) {
        resmon_statistic statistic;
        CHECK(resmon_statistic_push(shared, key, round, "rounds") == 0);
        CHECK(resmon_statistic_get(shared, key, &statistic) == 0 && statistic.value == round);
        resmon_monitor_config config;
        resmon_monitor_control control;
        resmon_monitor_config_init(&config);
        resmon_monitor_control_init(&control);
        config.key = key;
        config.condition = RESMON_ABOVE;
        config.value = 1000;
        resmon_handle handle = 0;
        CHECK(resmon_monitor_create(shared, &config, &control, &handle) == 0 && handle != 0);
        CHECK(resmon_monitor_start(shared, handle) == 0);
        resmon_monitor_state state;
        CHECK(resmon_monitor_get_state(shared, handle, &state) == 0);
        CHECK(resmon_monitor_delete(shared, handle) == 0);
    }
    return NULL;
}

static int threads(void) {
    shared = open_session();
    pthread_t workers[THREADS];
    for (long i = 0; i < THREADS; i++) pthread_create(&workers[i], NULL, worker, (void *)i);
    for (int i = 0; i < THREADS; i++) pthread_join(workers[i], NULL);
    resmon_close(shared);
    return failures;
}

/* Prints each event matching argv's filter from the start of the log, polled, until `count`
 * have arrived; exits 1 on a repeated or out-of-order id. */
static int follow(const char *filter, int count) {
    resmon_session *session = open_session();
    resmon_subscription *subscription = NULL;
    int error = resmon_subscribe(session, filter, 0, NULL, NULL, &subscription);
    if (error) {
        fprintf(stderr, "resmon_subscribe: %s (%s)\n", resmon_strerror(error), resmon_last_error());
        return 1;
    }
    printf("subscribed\n");
    fflush(stdout);
    int64_t last = 0;
    for (int seen = 0; seen < count;) {
        resmon_event event;
        error = resmon_event_next(subscription, 120000, &event);
        if (error) {
            fprintf(stderr, "resmon_event_next: %s (%s)\n", resmon_strerror(error), resmon_last_error());
            return 1;
        }
        printf("event %lld %s\n", (long long)event.id, event.type);
        fflush(stdout);
        CHECK(event.id > last);
        last = event.id;
        seen++;
    }
    resmon_unsubscribe(subscription);
    resmon_close(session);
    return failures;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    int result = 2;
    if (strcmp(argv[1], "errors") == 0) result = errors();
    if (strcmp(argv[1], "statistics") == 0) result = statistics();
    if (strcmp(argv[1], "monitors") == 0) result = monitors();
    if (strcmp(argv[1], "threads") == 0) result = threads();
    if (strcmp(argv[1], "subscriptions") == 0) result = subscriptions();
    if (strcmp(argv[1], "inline") == 0) result = inline_monitors();
    if (strcmp(argv[1], "follow") == 0 && argc == 4) result = follow(argv[2], atoi(argv[3]));
    printf("%s: %s\n", argv[1], result == 0 ? "ok" : "FAILED");
    return result != 0;
}
