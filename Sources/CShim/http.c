#define _GNU_SOURCE
#include "CShim.h"
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

/* ---------------------------------------------------------------- HTTP server */

/* libmicrohttpd's connection timeout is an idle timer that every byte resets: a client sending
 * one byte every few seconds would hold its connection (and, at the connection limit, the
 * server) forever. So every connection is tracked from the moment it is accepted, and while it
 * is receiving a request (from its acceptance, or from the end of the previous request on a
 * kept-alive connection, to the last byte of the body) a sweeper thread shuts its socket down
 * once its line and headers have taken longer than header_seconds, or the whole request longer
 * than request_seconds; libmicrohttpd then reads end-of-file and closes the connection itself.
 * Responses, event streams included, have no such deadline.
 *
 * Deadlines alone leave a listener full of clients that reconnect as soon as they are cut. So
 * the listener keeps a quarter of its connections free for newcomers: past three quarters of what
 * it (or, over TCP, one address) may hold, a new connection cuts the one (of its address) that
 * has been receiving its request the longest, and the sweeper cuts the longest receivers until
 * the listener is back to three quarters, each only once it has been receiving for over a
 * second: a real client sends its request at once, so only slow ones and idle kept-alive
 * connections go. The per-address limit is kept here rather than by libmicrohttpd, which would
 * refuse a newcomer while the address's slow connections stay: past it the newcomer goes only
 * when none of its address's connections is slow. */
struct rs_tracked {
    struct rs_tracked *previous, *next;
    int fd;
    int receiving;
    int cut;
    uint64_t since;    /* monotonic milliseconds: when it started receiving this request */
    unsigned char address[16]; /* the peer's IP address (TCP), address_length bytes of it */
    size_t address_length;
    uint64_t deadline; /* monotonic milliseconds */
};

#define RS_SLOW_MILLISECONDS 1000u

struct rs_http_server {
    struct MHD_Daemon *daemon;
    rs_http_handler handler;
    void *context;
    size_t max_body_bytes;
    int transport;
    uint64_t request_milliseconds;
    uint64_t header_milliseconds;
    unsigned crowded;         /* connections from which a newcomer cuts the slowest receiver */
    unsigned crowded_address; /* the same for one address's connections (TCP; 0: no limit) */
    unsigned per_address;     /* one address's limit (TCP; 0: none): past it the newcomer goes */
    unsigned count;   /* connections tracked */
    pthread_mutex_t lock; /* guards tracked, count, every rs_tracked in it, and stopping */
    pthread_cond_t wake;
    struct rs_tracked *tracked;
    int stopping;
    int sweeping; /* the sweeper thread was started */
    pthread_t sweeper;
};

struct rs_connection {
    char *target; /* the request target as sent: path and query, not decoded */
    int started;
    char *body;
    size_t length;
    size_t capacity;
    int too_large;
    const char *malformed; /* a static message: the request line or headers as sent were not what they seem */
    long uid, gid, pid;
};

static uint64_t monotonic_milliseconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
}

static int same_address(const struct rs_tracked *a, const struct rs_tracked *b) {
    return a->address_length && a->address_length == b->address_length && memcmp(a->address, b->address, a->address_length) == 0;
}

/* Under the lock: the sweeper's share of the crowding rule. */
static void thin_out(struct rs_http_server *server, uint64_t now) {
    unsigned open = 0;
    for (struct rs_tracked *tracked = server->tracked; tracked; tracked = tracked->next) open += !tracked->cut;
    while (open > server->crowded) {
        struct rs_tracked *slowest = NULL;
        for (struct rs_tracked *tracked = server->tracked; tracked; tracked = tracked->next) {
            if (!tracked->receiving || tracked->cut || tracked->fd < 0) continue;
            if (!slowest || tracked->since < slowest->since) slowest = tracked;
        }
        if (!slowest || now - slowest->since < RS_SLOW_MILLISECONDS) return;
        shutdown(slowest->fd, SHUT_RDWR);
        slowest->cut = 1;
        open--;
    }
}

/* Under the lock, for a newcomer not yet in the list: the crowding rule above. Returns 1 when the
 * newcomer itself must go: its address is at its limit and none of its connections is slow. */
static int make_room(struct rs_http_server *server, const struct rs_tracked *newcomer) {
    struct rs_tracked *slowest = NULL, *slowest_here = NULL;
    unsigned here = 1; /* the address's connections not cut, the newcomer's included */
    for (struct rs_tracked *tracked = server->tracked; tracked; tracked = tracked->next) {
        int neighbour = same_address(tracked, newcomer);
        here += neighbour && !tracked->cut;
        if (!tracked->receiving || tracked->cut || tracked->fd < 0) continue;
        if (!slowest || tracked->since < slowest->since) slowest = tracked;
        if (neighbour && (!slowest_here || tracked->since < slowest_here->since)) slowest_here = tracked;
    }
    struct rs_tracked *victim = NULL;
    if (server->crowded_address && here > server->crowded_address) victim = slowest_here;
    else if (server->count > server->crowded) victim = slowest;
    if (victim && newcomer->since - victim->since < RS_SLOW_MILLISECONDS) victim = NULL;
    if (victim) {
        shutdown(victim->fd, SHUT_RDWR);
        victim->cut = 1;
        if (victim == slowest_here) here--;
    }
    return server->per_address && here > server->per_address;
}

static void read_address(struct MHD_Connection *connection, struct rs_tracked *tracked) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!info || !info->client_addr) return;
    if (info->client_addr->sa_family == AF_INET) {
        memcpy(tracked->address, &((const struct sockaddr_in *)(const void *)info->client_addr)->sin_addr, 4);
        tracked->address_length = 4;
    } else if (info->client_addr->sa_family == AF_INET6) {
        memcpy(tracked->address, &((const struct sockaddr_in6 *)(const void *)info->client_addr)->sin6_addr, 16);
        tracked->address_length = 16;
    }
}

static void connection_notified(void *cls, struct MHD_Connection *connection, void **socket_context,
                                enum MHD_ConnectionNotificationCode code) {
    struct rs_http_server *server = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct rs_tracked *tracked = calloc(1, sizeof *tracked);
        *socket_context = tracked;
        if (!tracked) {
            /* Untracked, it would escape the deadline: refuse it instead. */
            if (info) shutdown(info->connect_fd, SHUT_RDWR);
            return;
        }
        tracked->fd = info ? info->connect_fd : -1;
        tracked->receiving = 1;
        tracked->since = monotonic_milliseconds();
        tracked->deadline = tracked->since + server->header_milliseconds;
        if (server->transport) read_address(connection, tracked);
        pthread_mutex_lock(&server->lock);
        server->count++;
        if (make_room(server, tracked) && tracked->fd >= 0) {
            shutdown(tracked->fd, SHUT_RDWR);
            tracked->cut = 1;
        }
        tracked->next = server->tracked;
        if (server->tracked) server->tracked->previous = tracked;
        server->tracked = tracked;
        pthread_mutex_unlock(&server->lock);
        return;
    }
    /* Closed: libmicrohttpd closes the socket after this returns, so once the record is out of
     * the list under the lock, the sweeper can never shut down a descriptor reused since. */
    struct rs_tracked *tracked = *socket_context;
    if (!tracked) return;
    pthread_mutex_lock(&server->lock);
    if (tracked->previous) tracked->previous->next = tracked->next;
    else server->tracked = tracked->next;
    if (tracked->next) tracked->next->previous = tracked->previous;
    server->count--;
    pthread_mutex_unlock(&server->lock);
    free(tracked);
    *socket_context = NULL;
}

enum rs_receiving { RS_DONE = 0, RS_HEADERS = 1, RS_BODY = 2 };

/* RS_HEADERS when a response is done and the connection waits for the next request, whose
 * deadlines start now; RS_BODY once its headers are in (the body's deadline counts from the same
 * start); RS_DONE once it has fully arrived. */
static void track_receiving(struct rs_http_server *server, struct MHD_Connection *connection, enum rs_receiving receiving) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (!info || !info->socket_context) return;
    struct rs_tracked *tracked = info->socket_context;
    pthread_mutex_lock(&server->lock);
    tracked->receiving = receiving != RS_DONE;
    if (receiving == RS_HEADERS) {
        tracked->since = monotonic_milliseconds();
        tracked->deadline = tracked->since + server->header_milliseconds;
    } else if (receiving == RS_BODY) {
        tracked->deadline = tracked->since + server->request_milliseconds;
    }
    pthread_mutex_unlock(&server->lock);
}

static void *sweep(void *cls) {
    struct rs_http_server *server = cls;
    pthread_setname_np(pthread_self(), server->transport ? "resmond.tcp-dl" : "resmond.unix-dl");
    pthread_mutex_lock(&server->lock);
    while (!server->stopping) {
        uint64_t now = monotonic_milliseconds();
        for (struct rs_tracked *tracked = server->tracked; tracked; tracked = tracked->next) {
            if (tracked->receiving && !tracked->cut && tracked->fd >= 0 && now >= tracked->deadline) {
                shutdown(tracked->fd, SHUT_RDWR);
                tracked->cut = 1;
            }
        }
        thin_out(server, now);
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += 250 * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec += 1;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&server->wake, &server->lock, &until);
    }
    pthread_mutex_unlock(&server->lock);
    return NULL;
}

/* Called once per request with the target as sent, before libmicrohttpd decodes it (a decoded
 * %00 would end the C string there); the state returned becomes the request's *con_cls. */
static void *request_started(void *cls, const char *uri, struct MHD_Connection *connection) {
    (void)cls; (void)connection;
    struct rs_connection *state = calloc(1, sizeof *state);
    if (state && uri) state->target = strdup(uri);
    return state;
}

struct rs_pairs {
    const char **names;
    const char **values;
    int count;
    int capacity;
};

static enum MHD_Result collect_pair(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind;
    struct rs_pairs *pairs = cls;
    if (pairs->count == pairs->capacity) {
        int capacity = pairs->capacity ? pairs->capacity * 2 : 16;
        if (capacity > 4096) return MHD_NO;
        const char **names = realloc(pairs->names, sizeof(char *) * (size_t)capacity);
        if (!names) return MHD_NO;
        pairs->names = names;
        const char **values = realloc(pairs->values, sizeof(char *) * (size_t)capacity);
        if (!values) return MHD_NO;
        pairs->values = values;
        pairs->capacity = capacity;
    }
    pairs->names[pairs->count] = key ? key : "";
    pairs->values[pairs->count] = value ? value : "";
    pairs->count++;
    return MHD_YES;
}

static void read_peer(struct MHD_Connection *connection, struct rs_connection *state) {
    state->uid = state->gid = state->pid = -1;
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!info) return;
    struct ucred credentials;
    socklen_t length = sizeof credentials;
    if (getsockopt(info->connect_fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0) {
        state->uid = credentials.uid;
        state->gid = credentials.gid;
        state->pid = credentials.pid;
    }
}

static enum MHD_Result respond(struct rs_http_server *server, struct MHD_Connection *connection,
                               const char *url, const char *method, struct rs_connection *state) {
    struct rs_pairs arguments = {0}, headers = {0};
    MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, collect_pair, &arguments);
    MHD_get_connection_values(connection, MHD_HEADER_KIND, collect_pair, &headers);

    rs_http_request request = {
        .method = method,
        .path = url,
        .arg_names = arguments.names,
        .arg_values = arguments.values,
        .arg_count = arguments.count,
        .header_names = headers.names,
        .header_values = headers.values,
        .header_count = headers.count,
        .target = state->target,
        .body = state->body ? state->body : "",
        .body_length = state->length,
        .body_too_large = state->too_large,
        .malformed = state->malformed,
        .transport = server->transport,
        .peer_uid = state->uid,
        .peer_gid = state->gid,
        .peer_pid = state->pid,
    };
    rs_http_response reply = {.status = 500, .content_type = "application/json"};
    server->handler(&request, &reply, server->context);
    free(arguments.names);
    free(arguments.values);
    free(headers.names);
    free(headers.values);

    struct MHD_Response *response;
    if (reply.stream) {
        free(reply.body);
        rs_stream *stream = reply.stream; /* the reference the handler handed over */
        rs_stream_attach(stream, connection);
        response = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, rs_stream_read, stream, rs_stream_done);
        if (!response) {
            rs_stream_done(stream);
            free(reply.extra_headers);
            return MHD_NO;
        }
        /* A stream's consumer may stop reading for a while: the idle timeout would close it
         * without the overflow notice. The hub bounds what it holds instead: one buffer until it
         * falls behind, then only the notice. */
        MHD_set_connection_option(connection, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
    } else {
        if (!reply.body) {
            reply.body = malloc(1);
            reply.body_length = 0;
        }
        response = MHD_create_response_from_buffer(reply.body_length, reply.body, MHD_RESPMEM_MUST_FREE);
        if (!response) {
            free(reply.body);
            free(reply.extra_headers);
            return MHD_NO;
        }
    }
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, reply.content_type ? reply.content_type : "application/json");
    if (reply.extra_headers) {
        char *line = reply.extra_headers;
        while (*line) {
            char *end = strchr(line, '\n');
            if (end) *end = '\0';
            char *colon = strchr(line, ':');
            if (colon) {
                *colon = '\0';
                const char *value = colon + 1;
                while (*value == ' ') value++;
                MHD_add_response_header(response, line, value);
            }
            if (!end) break;
            line = end + 1;
        }
        free(reply.extra_headers);
    }
    if (state->malformed) MHD_add_response_header(response, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result result = MHD_queue_response(connection, (unsigned)reply.status, response);
    MHD_destroy_response(response);
    return result;
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *connection, const char *url,
                                      const char *method, const char *version, const char *upload_data,
                                      size_t *upload_data_size, void **con_cls) {
    struct rs_http_server *server = cls;
    struct rs_connection *state = *con_cls;
    if (!state) {
        state = calloc(1, sizeof *state);
        if (!state) return MHD_NO;
        *con_cls = state;
    }
    if (!state->started) {
        /* Without the target as sent a %00 in it could not be found: refuse rather than serve. */
        if (!state->target) return MHD_NO;
        state->started = 1;
        state->malformed = rs_request_layout_problem(connection, method, version, state->target);
        if (!state->malformed) state->malformed = rs_request_framing_problem(connection);
        if (server->transport == 0) read_peer(connection, state);
        else state->uid = state->gid = state->pid = -1;
        if (state->malformed) {
            /* Answered at once, without reading a body: the request's framing is in doubt. */
            track_receiving(server, connection, RS_DONE);
            return respond(server, connection, url, method, state);
        }
        const char *declared = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (declared && strtoull(declared, NULL, 10) > server->max_body_bytes) {
            /* Answer at once: libmicrohttpd then closes the connection without reading the body. */
            state->too_large = 1;
            track_receiving(server, connection, RS_DONE);
            return respond(server, connection, url, method, state);
        }
        track_receiving(server, connection, RS_BODY);
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t incoming = *upload_data_size;
        *upload_data_size = 0;
        if (state->too_large || state->length + incoming > server->max_body_bytes) {
            state->too_large = 1;
            free(state->body);
            state->body = NULL;
            state->length = state->capacity = 0;
            return MHD_YES;
        }
        if (state->length + incoming + 1 > state->capacity) {
            size_t capacity = state->capacity ? state->capacity : 1024;
            while (capacity < state->length + incoming + 1) capacity *= 2;
            char *body = realloc(state->body, capacity);
            if (!body) return MHD_NO;
            state->body = body;
            state->capacity = capacity;
        }
        memcpy(state->body + state->length, upload_data, incoming);
        state->length += incoming;
        state->body[state->length] = '\0';
        return MHD_YES;
    }
    track_receiving(server, connection, RS_DONE);
    return respond(server, connection, url, method, state);
}

static void request_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                              enum MHD_RequestTerminationCode code) {
    (void)code;
    track_receiving(cls, connection, RS_HEADERS);
    struct rs_connection *state = *con_cls;
    if (state) {
        free(state->target);
        free(state->body);
        free(state);
        *con_cls = NULL;
    }
}

rs_http_server *rs_http_start(int fd, int transport, rs_http_handler handler, void *context,
                              const rs_http_limits *limits, char *error) {
    struct rs_http_server *server = calloc(1, sizeof *server);
    if (!server) {
        rs_fail(error, "rs_http_start", "out of memory");
        return NULL;
    }
    server->handler = handler;
    server->context = context;
    server->max_body_bytes = limits->max_body_bytes;
    server->transport = transport;
    server->request_milliseconds = (uint64_t)limits->request_seconds * 1000u;
    unsigned header_seconds = limits->header_seconds < limits->request_seconds ? limits->header_seconds : limits->request_seconds;
    server->header_milliseconds = (uint64_t)header_seconds * 1000u;
    server->crowded = limits->connection_limit - limits->connection_limit / 4;
    unsigned per_address = transport ? limits->connections_per_address : 0u;
    server->crowded_address = per_address - per_address / 4;
    server->per_address = per_address;
    pthread_mutex_init(&server->lock, NULL);
    pthread_condattr_t attributes;
    pthread_condattr_init(&attributes);
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    pthread_cond_init(&server->wake, &attributes);
    pthread_condattr_destroy(&attributes);
    if (pthread_create(&server->sweeper, NULL, sweep, server) != 0) {
        rs_http_stop(server);
        rs_fail(error, "rs_http_start", "cannot start the request-deadline thread");
        return NULL;
    }
    server->sweeping = 1;
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME;
    server->daemon = MHD_start_daemon(flags, 0, NULL, NULL, access_handler, server,
                                      MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
                                      MHD_OPTION_NOTIFY_COMPLETED, request_completed, server,
                                      MHD_OPTION_NOTIFY_CONNECTION, connection_notified, server,
                                      MHD_OPTION_URI_LOG_CALLBACK, request_started, server,
                                      MHD_OPTION_THREAD_POOL_SIZE, limits->threads,
                                      MHD_OPTION_CONNECTION_LIMIT, limits->connection_limit,
                                      MHD_OPTION_CONNECTION_TIMEOUT, limits->idle_seconds,
                                      MHD_OPTION_END);
    if (!server->daemon) {
        rs_http_stop(server);
        rs_fail(error, "MHD_start_daemon", "libmicrohttpd could not start on the listening socket");
        return NULL;
    }
    return server;
}

void rs_http_stop(rs_http_server *server) {
    if (!server) return;
    if (server->sweeping) {
        pthread_mutex_lock(&server->lock);
        server->stopping = 1;
        pthread_cond_signal(&server->wake);
        pthread_mutex_unlock(&server->lock);
        pthread_join(server->sweeper, NULL);
    }
    /* Closing its connections, libmicrohttpd takes them out of the list under the lock. */
    if (server->daemon) MHD_stop_daemon(server->daemon);
    pthread_cond_destroy(&server->wake);
    pthread_mutex_destroy(&server->lock);
    free(server);
}
