#define _GNU_SOURCE
#include "CShim.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

/* ---------------------------------------------------------------- HTTP server */

/* Each connection's memory for its request's line and headers and its answer's header lines
 * (set so that request_layout.c knows it). Over 32 KiB, libmicrohttpd maps it on its own, zeroed
 * (and zeroes it again between requests), so the bytes it has buffered end at the first NUL:
 * rs_request_prescan relies on that. Page-sized: libmicrohttpd rounds the mapping up. */
#define RS_POOL_BYTES (36u * 1024u)

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

/* Called once per request with the target as sent, before libmicrohttpd decodes it (a decoded
 * %00 would end the C string there); the state returned becomes the request's *con_cls.
 *
 * libmicrohttpd 0.9.75 then parses the query into records in the connection's memory pool, and
 * when they do not fit (some 500 parameters in its 32 KiB) it starts an error answer from inside
 * the request line's parser and closes the connection without one. So the query is parsed from
 * the copy kept here (HTTPServer.swift), and libmicrohttpd's is emptied: the target is its read
 * buffer, writable, and the byte after the '?' is the start of the string it would parse. */
static void *request_started(void *cls, const char *uri, struct MHD_Connection *connection) {
    rs_track_request_line(cls, connection);
    struct rs_connection *state = calloc(1, sizeof *state);
    if (state && uri) state->target = strdup(uri);
    if (state && uri) state->malformed = rs_request_prescan((char *)uri);
    char *query = uri ? strchr(uri, '?') : NULL;
    if (query && state && state->target) query[1] = '\0';
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

/* The TCP client's numeric address into text (size INET6_ADDRSTRLEN), or NULL. */
static const char *read_address_text(struct MHD_Connection *connection, char *text) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!info || !info->client_addr) return NULL;
    const void *address = NULL;
    if (info->client_addr->sa_family == AF_INET)
        address = &((const struct sockaddr_in *)(const void *)info->client_addr)->sin_addr;
    else if (info->client_addr->sa_family == AF_INET6)
        address = &((const struct sockaddr_in6 *)(const void *)info->client_addr)->sin6_addr;
    if (!address) return NULL;
    return inet_ntop(info->client_addr->sa_family, address, text, INET6_ADDRSTRLEN);
}

static enum MHD_Result respond(struct rs_http_server *server, struct MHD_Connection *connection,
                               const char *url, const char *method, struct rs_connection *state) {
    struct rs_pairs headers = {0};
    char address[INET6_ADDRSTRLEN];
    struct rs_stream_slot slot = {.server = server, .connection = connection};
    MHD_get_connection_values(connection, MHD_HEADER_KIND, collect_pair, &headers);

    rs_http_request request = {
        .method = method,
        .path = url,
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
        .peer_address = server->transport ? read_address_text(connection, address) : NULL,
        .stream_slot = state->malformed ? NULL : &slot,
    };
    rs_http_response reply = {.status = 500, .content_type = "application/json"};
    server->handler(&request, &reply, server->context);
    free(headers.names);
    free(headers.values);

    struct MHD_Response *response;
    if (reply.stream) {
        free(reply.body);
        rs_stream *stream = reply.stream; /* the reference the handler handed over */
        rs_stream_attach(stream, connection);
        rs_track_stream(server, connection, stream);
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
        if (rs_request_fills_pool(connection, RS_POOL_BYTES)) {
            /* Written to the socket directly, the answer would break a TLS session: closed without one. */
            if (!server->tls_key) rs_answer_too_large(connection, RS_POOL_BYTES);
            return MHD_NO;
        }
        if (!state->malformed) state->malformed = rs_request_layout_problem(connection, method, version, state->target);
        if (!state->malformed) state->malformed = rs_request_framing_problem(connection, version);
        if (server->transport == 0) read_peer(connection, state);
        else state->uid = state->gid = state->pid = -1;
        if (state->malformed) {
            /* Answered at once, without reading a body: the request's framing is in doubt. */
            rs_track_receiving(server, connection, RS_DONE);
            return respond(server, connection, url, method, state);
        }
        const char *declared = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (declared && strtoull(declared, NULL, 10) > server->max_body_bytes) {
            /* Answer at once: libmicrohttpd then closes the connection without reading the body. */
            state->too_large = 1;
            rs_track_receiving(server, connection, RS_DONE);
            return respond(server, connection, url, method, state);
        }
        rs_track_receiving(server, connection, RS_BODY);
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
    rs_track_receiving(server, connection, RS_DONE);
    return respond(server, connection, url, method, state);
}

static void request_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                              enum MHD_RequestTerminationCode code) {
    (void)code;
    rs_track_receiving(cls, connection, RS_HEADERS);
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
    server->limit = limits->connection_limit;
    server->crowded = limits->connection_limit - limits->connection_limit / 4;
    unsigned per_address = transport ? limits->connections_per_address : 0u;
    server->crowded_address = per_address - per_address / 4;
    server->per_address = per_address;
    /* Streams never take more than half of the listener's (or an address's) connections: the
     * rest stay for ordinary requests, since a stream is an answer no newcomer can displace. */
    unsigned streams_per_peer = limits->streams_per_peer;
    if (per_address && streams_per_peer > per_address / 2) streams_per_peer = per_address / 2;
    server->streams_per_peer = streams_per_peer;
    server->max_streams = limits->max_streams < limits->connection_limit / 2 ? limits->max_streams : limits->connection_limit / 2;
    pthread_mutex_init(&server->lock, NULL);
    pthread_condattr_t attributes;
    pthread_condattr_init(&attributes);
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    pthread_cond_init(&server->wake, &attributes);
    pthread_condattr_destroy(&attributes);
    if (pthread_create(&server->sweeper, NULL, rs_sweep, server) != 0) {
        rs_http_stop(server);
        rs_fail(error, "rs_http_start", "cannot start the request-deadline thread");
        return NULL;
    }
    server->sweeping = 1;
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME;
    /* TLS options ride in an option array, so that one call serves both kinds of listener. The
     * PEM texts are kept until the server stops (libmicrohttpd reads them at start). */
    struct MHD_OptionItem tls_options[3] = {{MHD_OPTION_END, 0, NULL}, {MHD_OPTION_END, 0, NULL}, {MHD_OPTION_END, 0, NULL}};
    if (limits->tls_certificate && limits->tls_key) {
        server->tls_certificate = strdup(limits->tls_certificate);
        server->tls_key = strdup(limits->tls_key);
        if (!server->tls_certificate || !server->tls_key) {
            rs_http_stop(server);
            rs_fail(error, "rs_http_start", "out of memory");
            return NULL;
        }
        flags |= MHD_USE_TLS;
        tls_options[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, server->tls_certificate};
        tls_options[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, server->tls_key};
    }
    server->daemon = MHD_start_daemon(flags, 0, NULL, NULL, access_handler, server,
                                      MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
                                      MHD_OPTION_NOTIFY_COMPLETED, request_completed, server,
                                      MHD_OPTION_NOTIFY_CONNECTION, rs_connection_notified, server,
                                      MHD_OPTION_URI_LOG_CALLBACK, request_started, server,
                                      MHD_OPTION_THREAD_POOL_SIZE, limits->threads,
                                      MHD_OPTION_CONNECTION_LIMIT, limits->connection_limit,
                                      MHD_OPTION_CONNECTION_TIMEOUT, limits->idle_seconds,
                                      MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)RS_POOL_BYTES,
                                      MHD_OPTION_ARRAY, tls_options,
                                      MHD_OPTION_END);
    if (!server->daemon) {
        int tls = server->tls_key != NULL;
        rs_http_stop(server);
        rs_fail(error, "MHD_start_daemon",
                tls ? "libmicrohttpd could not start TLS on the listening socket" : "libmicrohttpd could not start on the listening socket");
        return NULL;
    }
    return server;
}

/* The adopter's thread: accepts and hands each connection to libmicrohttpd, which closes it
 * when it cannot take it. A failure such as EMFILE waits a tenth of a second (polling again at
 * once would spin on the connection still waiting). */
static void *adopt_connections(void *cls) {
    struct rs_adopter *adopter = cls;
    pthread_setname_np(pthread_self(), "resmond.unix-adopt");
    struct pollfd watched[2] = {{adopter->fd, POLLIN, 0}, {adopter->wake[0], POLLIN, 0}};
    for (;;) {
        if (poll(watched, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (watched[1].revents) break;
        struct sockaddr_storage address;
        socklen_t length = sizeof address;
        int client = accept4(adopter->fd, (struct sockaddr *)&address, &length, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (client < 0) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED && poll(&watched[1], 1, 100) > 0) break;
            continue;
        }
        if (length == 0) {
            address.ss_family = AF_UNIX;
            length = sizeof address.ss_family;
        }
        MHD_add_connection(adopter->daemon, client, (struct sockaddr *)&address, length);
    }
    return NULL;
}

static void adopter_stop(struct rs_adopter *adopter) {
    if (!adopter) return;
    char byte = 1;
    while (write(adopter->wake[1], &byte, 1) < 0 && errno == EINTR) {}
    pthread_join(adopter->thread, NULL);
    close(adopter->fd);
    close(adopter->wake[0]);
    close(adopter->wake[1]);
    free(adopter);
}

int rs_http_adopt(rs_http_server *server, int fd, char *error) {
    struct rs_adopter *adopter = calloc(1, sizeof *adopter);
    if (!adopter || !server->daemon) {
        free(adopter);
        close(fd);
        rs_fail(error, "rs_http_adopt", adopter ? "the server is not running" : "out of memory");
        return -1;
    }
    adopter->fd = fd;
    adopter->daemon = server->daemon;
    if (pipe2(adopter->wake, O_CLOEXEC) != 0) {
        rs_fail(error, "pipe2", strerror(errno));
        close(fd);
        free(adopter);
        return -1;
    }
    if (pthread_create(&adopter->thread, NULL, adopt_connections, adopter) != 0) {
        rs_fail(error, "rs_http_adopt", "cannot start the thread that accepts on the socket");
        close(fd);
        close(adopter->wake[0]);
        close(adopter->wake[1]);
        free(adopter);
        return -1;
    }
    adopter_stop(server->adopter);
    server->adopter = adopter;
    return 0;
}

void rs_http_stop(rs_http_server *server) {
    if (!server) return;
    /* Before the daemon goes: the adopter's thread hands connections to it. */
    adopter_stop(server->adopter);
    server->adopter = NULL;
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
    free(server->tls_certificate);
    if (server->tls_key) explicit_bzero(server->tls_key, strlen(server->tls_key));
    free(server->tls_key);
    free(server);
}
