/* resmon.h: libresmon, the C interface of the resmon resource monitor (docs/C-API.md).
 *
 * Every int function returns 0 on success or a negative errno; resmon_last_error() gives the
 * calling thread's last failure in words (the daemon's message when the daemon refused).
 * A session may be used from many threads at once. */
#ifndef RESMON_H
#define RESMON_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RESMON_VERSION_MAJOR 1
#define RESMON_VERSION_MINOR 1

typedef struct resmon_session resmon_session;           /* thread-safe */
typedef struct resmon_subscription resmon_subscription;
typedef uint64_t resmon_handle;                          /* 0 is never a handle */

/* socket_path NULL: $RESMON_SOCKET, then the default. Checks that a daemon answers. */
int resmon_open(const char *socket_path, resmon_session **out);
/* A remote resmond's TCP listener (since 1.1): url "https://HOST:PORT" (NULL: $RESMON_URL),
 * token_file holding the bearer token that writes need (NULL: $RESMON_TOKEN_FILE, else none:
 * read-only), ca_file the PEM CA certificates resmond's must chain to, a self-signed one being
 * its own (NULL: $RESMON_CACERT, else the system's). The certificate is always verified.
 * Checks that a daemon answers; -ECONNREFUSED when none does (or its certificate fails). */
int resmon_open_url(const char *url, const char *token_file, const char *ca_file, resmon_session **out);
/* Ends the session's subscriptions (resmon_unsubscribe each first if you keep pointers) and frees it. */
void resmon_close(resmon_session *session);
const char *resmon_last_error(void);                     /* this thread's last failure; "" if none */
const char *resmon_strerror(int error);                  /* for a negative errno from this library */

enum resmon_kind { RESMON_GAUGE = 1, RESMON_COUNTER = 2 };
typedef struct {
    double value;        /* a gauge's value, a counter's per-second rate; NAN when unknown */
    double raw;          /* a counter's raw total; the value for a gauge */
    double time;         /* seconds since the epoch; NAN when never read */
    double upper_bound;  /* NAN when the statistic has none */
    int    kind;         /* enum resmon_kind */
    char   unit[32];
} resmon_statistic;
int resmon_statistic_get(resmon_session *session, const char *key, resmon_statistic *out);
/* The key is valid during the call; return nonzero to stop the listing (returned by resmon_statistics_list). */
typedef int (*resmon_statistic_fn)(const char *key, const resmon_statistic *statistic, void *user);
/* regex: a POSIX extended regular expression over keys (searched: anchor it); NULL: all. */
int resmon_statistics_list(resmon_session *session, const char *regex, resmon_statistic_fn fn, void *user);
/* Pushes an application gauge, key "app:RESOURCE:NAME"; unit NULL: none. */
int resmon_statistic_push(resmon_session *session, const char *key, double value, const char *unit);

enum resmon_monitor_type { RESMON_THRESHOLD = 1, RESMON_WATERMARK = 2, RESMON_LEAKY_BUCKET = 3 };
enum resmon_transform { RESMON_TRANSFORM_NONE = 0, RESMON_TRANSFORM_PERCENT, RESMON_TRANSFORM_CHANGE, RESMON_TRANSFORM_RATE };
enum resmon_condition { RESMON_ABOVE = 1, RESMON_AT_OR_ABOVE, RESMON_AT, RESMON_AT_OR_BELOW, RESMON_BELOW, RESMON_NOT_AT };
enum resmon_watermark { RESMON_WATERMARK_HIGH = 1, RESMON_WATERMARK_LOW = 2 };
enum resmon_location { RESMON_DAEMON = 0, RESMON_INLINE = 1 };
#define RESMON_SEVERITY_NONE (-1) /* as cancel_severity: the state clears silently */

typedef struct {                     /* the RMF's rmMonitorConfiguration */
    const char *key;                 /* statistic key; for an inline monitor, a name of the consumer's */
    const char *name;                /* NULL: resmond names it */
    int    type;                     /* enum resmon_monitor_type */
    int    transform;                /* enum resmon_transform */
    int    condition;                /* enum resmon_condition (threshold) */
    double value;                    /* threshold */
    double cancel_value;             /* NAN: cancel when the condition no longer holds */
    int    severity;                 /* syslog LOG_EMERG ... LOG_DEBUG */
    int    cancel_severity;          /* syslog priority, or RESMON_SEVERITY_NONE */
    int    watermark;                /* enum resmon_watermark */
    double bucket_size, fill_value;  /* leaky bucket */
} resmon_monitor_config;

typedef struct {                     /* the RMF's rmMonitorControl */
    int      location;               /* enum resmon_location */
    unsigned monitoring_rate;        /* seconds; 0: the base step */
    unsigned micro_monitoring_rate;  /* microseconds, added to monitoring_rate */
    unsigned monitoring_interval;    /* seconds; 0: until stopped */
    double   tolerance;
    unsigned samples, cancel_samples;/* cancel_samples 0: as samples */
    unsigned logging_rate;           /* seconds */
    int      data_capture;           /* boolean */
    int      forward;                /* inline only: also append its events to resmond's log */
    char     uid[37];                /* out: the monitor's UUID, filled by create */
} resmon_monitor_control;

void resmon_monitor_config_init(resmon_monitor_config *config);   /* resmon's defaults, as the API's */
void resmon_monitor_control_init(resmon_monitor_control *control);

int resmon_monitor_create(resmon_session *session, const resmon_monitor_config *config, resmon_monitor_control *control,
                          resmon_handle *out);
int resmon_monitor_find(resmon_session *session, const char *uid, resmon_handle *out);
int resmon_monitor_start(resmon_session *session, resmon_handle handle);
int resmon_monitor_stop(resmon_session *session, resmon_handle handle);
int resmon_monitor_pause(resmon_session *session, resmon_handle handle);
int resmon_monitor_resume(resmon_session *session, resmon_handle handle);
int resmon_monitor_reset(resmon_session *session, resmon_handle handle);
int resmon_monitor_reset_notification(resmon_session *session, resmon_handle handle);
int resmon_monitor_delete(resmon_session *session, resmon_handle handle);
int resmon_monitor_get_control(resmon_session *session, resmon_handle handle, resmon_monitor_control *out);

enum resmon_phase { RESMON_CLEAR = 0, RESMON_PENDING, RESMON_RAISED, RESMON_PENDING_CANCEL };
typedef struct {
    int      phase;                  /* enum resmon_phase */
    unsigned count;                  /* readings counted toward samples / cancel_samples */
    int      running;                /* started and not stopped */
    double   last_value, last_time;  /* NAN when unknown */
    double   watermark_value, watermark_time;
    double   bucket_level;
} resmon_monitor_state;
int resmon_monitor_get_state(resmon_session *session, resmon_handle handle, resmon_monitor_state *out);

/* Feeds a reading to an inline monitor (RESMON_INLINE, threshold only): evaluated here with the
 * daemon's state machine; its events reach the session's subscriptions before this returns. */
int resmon_inline_update(resmon_session *session, resmon_handle handle, double value, double time); /* time NAN: now */

typedef struct {                     /* valid during the callback, or until the next resmon_event_next */
    int64_t id;  double time;  int code;  const char *type;  int severity;
    const char *monitor_id, *monitor_name, *key, *host, *message;
    double value, threshold;  int64_t cancels;  resmon_handle handle;  /* 0 if not this session's */
} resmon_event;
typedef void (*resmon_event_fn)(const resmon_event *event, void *user);

int resmon_subscribe(resmon_session *session, const char *filter, int64_t after, /* after -1: from now */
                     resmon_event_fn fn, void *user,                             /* fn NULL: poll */
                     resmon_subscription **out);
int resmon_event_next(resmon_subscription *subscription, int timeout_ms, resmon_event *out); /* -ETIMEDOUT */
int resmon_subscription_fd(resmon_subscription *subscription);        /* readable while an event waits */
int resmon_subscription_signal(resmon_subscription *subscription, int signo); /* sigqueue, si_int = handle */
void resmon_unsubscribe(resmon_subscription *subscription);

#ifdef __cplusplus
}
#endif

#endif /* RESMON_H */
