/* forward.c: an inline monitor with forward = 1 delivers its events in this process and appends
 * them to resmond's log, where another session's subscription reads them; the owning session
 * gets each event once. Against the resmond of $RESMON_SOCKET; prints what failed, exits 1. */
#define _POSIX_C_SOURCE 200809L
#include <resmon.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static resmon_session *open_session(void) {
    resmon_session *session = NULL;
    int error = resmon_open(NULL, &session);
    if (error) {
        fprintf(stderr, "resmon_open: %s (%s)\n", resmon_strerror(error), resmon_last_error());
        exit(1);
    }
    return session;
}

int main(void) {
    resmon_session *owner = open_session(), *other = open_session();
    resmon_monitor_config config;
    resmon_monitor_control control;
    resmon_monitor_config_init(&config);
    resmon_monitor_control_init(&control);
    config.key = "myapp:jobs:backlog";
    config.name = "job backlog";
    config.condition = RESMON_ABOVE;
    config.value = 10;
    control.location = RESMON_INLINE;
    control.forward = 1;
    resmon_handle handle = 0;
    CHECK(resmon_monitor_create(owner, &config, &control, &handle) == 0 && handle != 0);
    resmon_monitor_control read;
    CHECK(resmon_monitor_get_control(owner, handle, &read) == 0 && read.forward == 1);
    char filter[128];
    snprintf(filter, sizeof filter, "monitorId = \"%s\"", control.uid);
    resmon_subscription *mine = NULL, *theirs = NULL;
    CHECK(resmon_subscribe(owner, filter, -1, NULL, NULL, &mine) == 0);
    CHECK(resmon_subscribe(other, filter, -1, NULL, NULL, &theirs) == 0);
    CHECK(resmon_monitor_start(owner, handle) == 0);
    CHECK(resmon_inline_update(owner, handle, 20, NAN) == 0);

    resmon_event event;
    /* The owner's copy: delivered during the update, not from the log (id 0). */
    CHECK(resmon_event_next(mine, 0, &event) == 0 && strcmp(event.type, "above") == 0 && event.id == 0 && event.handle == handle);
    /* The log's copy, through another session's stream. */
    int64_t raised = 0;
    CHECK(resmon_event_next(theirs, 30000, &event) == 0);
    if (event.type) {
        CHECK(strcmp(event.type, "above") == 0 && event.code == 501 && event.id > 0 && event.handle == 0);
        CHECK(strcmp(event.monitor_id, control.uid) == 0 && strcmp(event.monitor_name, "job backlog") == 0);
        CHECK(strcmp(event.key, "myapp:jobs:backlog") == 0 && event.value == 20 && event.threshold == 10);
        CHECK(strstr(event.message, "(inline)") != NULL);
        raised = event.id;
    }
    CHECK(resmon_inline_update(owner, handle, 3, NAN) == 0);
    CHECK(resmon_event_next(mine, 0, &event) == 0 && strcmp(event.type, "canceled") == 0 && event.id == 0);
    CHECK(resmon_event_next(theirs, 30000, &event) == 0);
    if (event.type) CHECK(strcmp(event.type, "canceled") == 0 && event.cancels == raised && event.id > raised);
    /* The forwarded copies reach the owner's stream too: not delivered a second time. */
    CHECK(resmon_event_next(mine, 2000, &event) == -ETIMEDOUT);

    printf("forwarded: %s %lld\n", control.uid, (long long)raised);
    resmon_unsubscribe(mine);
    resmon_unsubscribe(theirs);
    CHECK(resmon_monitor_delete(owner, handle) == 0);
    resmon_close(other);
    resmon_close(owner);
    return failures ? 1 : 0;
}
