#define _GNU_SOURCE
#include "CShim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

/* ---------------------------------------------------------------- listening sockets */

static int fail(char *error, const char *what, const char *detail) {
    if (error) snprintf(error, 256, "%s: %s", what, detail);
    return -1;
}

int rs_listen_unix(const char *path, unsigned mode, long gid, char *error) {
    struct sockaddr_un address;
    memset(&address, 0, sizeof address);
    address.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof address.sun_path)
        return fail(error, path, "socket path is longer than 107 bytes");
    strcpy(address.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return fail(error, "socket", strerror(errno));
    unlink(path); /* the caller holds the state-dir lock, so a socket here is stale */
    if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0) {
        int saved = errno;
        close(fd);
        return fail(error, path, strerror(saved));
    }
    if (chmod(path, mode) != 0 || (gid >= 0 && chown(path, (uid_t)-1, (gid_t)gid) != 0)) {
        int saved = errno;
        close(fd);
        unlink(path);
        return fail(error, path, strerror(saved));
    }
    if (listen(fd, 64) != 0) {
        int saved = errno;
        close(fd);
        unlink(path);
        return fail(error, path, strerror(saved));
    }
    return fd;
}

int rs_listen_tcp(const char *host, int port, char *error) {
    struct addrinfo hints, *found = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    int status = getaddrinfo(host, service, &hints, &found);
    if (status != 0) return fail(error, host, gai_strerror(status));
    int fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        freeaddrinfo(found);
        return fail(error, "socket", strerror(errno));
    }
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (bind(fd, found->ai_addr, found->ai_addrlen) != 0 || listen(fd, 64) != 0) {
        int saved = errno;
        close(fd);
        freeaddrinfo(found);
        char what[300];
        snprintf(what, sizeof what, "%s port %d", host, port);
        return fail(error, what, strerror(saved));
    }
    freeaddrinfo(found);
    return fd;
}

int rs_socket_port(int fd) {
    struct sockaddr_storage address;
    socklen_t length = sizeof address;
    if (getsockname(fd, (struct sockaddr *)&address, &length) != 0) return -1;
    if (address.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&address)->sin_port);
    if (address.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&address)->sin6_port);
    return -1;
}

/* ---------------------------------------------------------------- event streams */

struct rs_stream {
    pthread_mutex_t lock;
    int references;
    char *buffer;
    size_t start, length, capacity;
    struct MHD_Connection *connection; /* set while a response serves the stream */
    int suspended, finished, closed;
};

rs_stream *rs_stream_create(size_t capacity) {
    rs_stream *stream = calloc(1, sizeof *stream);
    if (!stream) return NULL;
    stream->buffer = malloc(capacity ? capacity : 1);
    if (!stream->buffer) {
        free(stream);
        return NULL;
    }
    pthread_mutex_init(&stream->lock, NULL);
    stream->references = 1;
    stream->capacity = capacity;
    return stream;
}

void rs_stream_retain(rs_stream *stream) {
    pthread_mutex_lock(&stream->lock);
    stream->references++;
    pthread_mutex_unlock(&stream->lock);
}

void rs_stream_release(rs_stream *stream) {
    if (!stream) return;
    pthread_mutex_lock(&stream->lock);
    int left = --stream->references;
    pthread_mutex_unlock(&stream->lock);
    if (left > 0) return;
    pthread_mutex_destroy(&stream->lock);
    free(stream->buffer);
    free(stream);
}

/* With the lock held: lets a suspended connection run again. */
static void stream_wake(rs_stream *stream) {
    if (stream->suspended && stream->connection) {
        stream->suspended = 0;
        MHD_resume_connection(stream->connection);
    }
}

int rs_stream_write(rs_stream *stream, const void *data, size_t length) {
    pthread_mutex_lock(&stream->lock);
    int result = 0;
    if (stream->closed || stream->finished) {
        result = -1;
    } else if (stream->length + length > stream->capacity) {
        result = 1;
    } else {
        if (stream->start + stream->length + length > stream->capacity) {
            memmove(stream->buffer, stream->buffer + stream->start, stream->length);
            stream->start = 0;
        }
        memcpy(stream->buffer + stream->start + stream->length, data, length);
        stream->length += length;
        stream_wake(stream);
    }
    pthread_mutex_unlock(&stream->lock);
    return result;
}

size_t rs_stream_space(rs_stream *stream) {
    pthread_mutex_lock(&stream->lock);
    size_t space = stream->closed || stream->finished ? 0 : stream->capacity - stream->length;
    pthread_mutex_unlock(&stream->lock);
    return space;
}

int rs_stream_closed(rs_stream *stream) {
    pthread_mutex_lock(&stream->lock);
    int closed = stream->closed;
    pthread_mutex_unlock(&stream->lock);
    return closed;
}

void rs_stream_finish(rs_stream *stream) {
    pthread_mutex_lock(&stream->lock);
    stream->finished = 1;
    stream_wake(stream);
    pthread_mutex_unlock(&stream->lock);
}

/* libmicrohttpd asks for body bytes: hand over what is buffered, or suspend the connection
 * until a write resumes it (returning 0 without suspending would busy-wait). */
static ssize_t stream_read(void *cls, uint64_t position, char *out, size_t maximum) {
    (void)position;
    rs_stream *stream = cls;
    pthread_mutex_lock(&stream->lock);
    ssize_t result;
    if (stream->length > 0) {
        size_t count = stream->length < maximum ? stream->length : maximum;
        memcpy(out, stream->buffer + stream->start, count);
        stream->start += count;
        stream->length -= count;
        if (stream->length == 0) stream->start = 0;
        result = (ssize_t)count;
    } else if (stream->finished) {
        result = MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        stream->suspended = 1;
        MHD_suspend_connection(stream->connection);
        result = 0;
    }
    pthread_mutex_unlock(&stream->lock);
    return result;
}

static void stream_done(void *cls) {
    rs_stream *stream = cls;
    pthread_mutex_lock(&stream->lock);
    stream->closed = 1;
    stream->connection = NULL;
    stream->suspended = 0;
    pthread_mutex_unlock(&stream->lock);
    rs_stream_release(stream);
}

/* ---------------------------------------------------------------- HTTP server */

struct rs_http_server {
    struct MHD_Daemon *daemon;
    rs_http_handler handler;
    void *context;
    size_t max_body_bytes;
    int transport;
};

struct rs_connection {
    char *body;
    size_t length;
    size_t capacity;
    int too_large;
    long uid, gid, pid;
};

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
        .body = state->body ? state->body : "",
        .body_length = state->length,
        .body_too_large = state->too_large,
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
        pthread_mutex_lock(&stream->lock);
        stream->connection = connection;
        pthread_mutex_unlock(&stream->lock);
        response = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_read, stream, stream_done);
        if (!response) {
            stream_done(stream);
            free(reply.extra_headers);
            return MHD_NO;
        }
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
    enum MHD_Result result = MHD_queue_response(connection, (unsigned)reply.status, response);
    MHD_destroy_response(response);
    return result;
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *connection, const char *url,
                                      const char *method, const char *version, const char *upload_data,
                                      size_t *upload_data_size, void **con_cls) {
    (void)version;
    struct rs_http_server *server = cls;
    struct rs_connection *state = *con_cls;
    if (!state) {
        state = calloc(1, sizeof *state);
        if (!state) return MHD_NO;
        *con_cls = state;
        if (server->transport == 0) read_peer(connection, state);
        else state->uid = state->gid = state->pid = -1;
        const char *declared = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (declared && strtoull(declared, NULL, 10) > server->max_body_bytes) {
            /* Answer at once: libmicrohttpd then closes the connection without reading the body. */
            state->too_large = 1;
            return respond(server, connection, url, method, state);
        }
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
    return respond(server, connection, url, method, state);
}

static void request_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                              enum MHD_RequestTerminationCode code) {
    (void)cls; (void)connection; (void)code;
    struct rs_connection *state = *con_cls;
    if (state) {
        free(state->body);
        free(state);
        *con_cls = NULL;
    }
}

rs_http_server *rs_http_start(int fd, int transport, rs_http_handler handler, void *context,
                              size_t max_body_bytes, unsigned threads, unsigned connection_limit,
                              unsigned timeout_seconds, char *error) {
    struct rs_http_server *server = calloc(1, sizeof *server);
    if (!server) {
        fail(error, "rs_http_start", "out of memory");
        return NULL;
    }
    server->handler = handler;
    server->context = context;
    server->max_body_bytes = max_body_bytes;
    server->transport = transport;
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME;
    server->daemon = MHD_start_daemon(flags, 0, NULL, NULL, access_handler, server,
                                      MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
                                      MHD_OPTION_NOTIFY_COMPLETED, request_completed, server,
                                      MHD_OPTION_THREAD_POOL_SIZE, threads,
                                      MHD_OPTION_CONNECTION_LIMIT, connection_limit,
                                      MHD_OPTION_CONNECTION_TIMEOUT, timeout_seconds,
                                      MHD_OPTION_END);
    if (!server->daemon) {
        free(server);
        fail(error, "MHD_start_daemon", "libmicrohttpd could not start on the listening socket");
        return NULL;
    }
    return server;
}

void rs_http_stop(rs_http_server *server) {
    if (!server) return;
    MHD_stop_daemon(server->daemon);
    free(server);
}

/* ---------------------------------------------------------------- systemd */

int rs_sd_notify(const char *state) {
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !*path) return 0;
    struct sockaddr_un address;
    memset(&address, 0, sizeof address);
    address.sun_family = AF_UNIX;
    size_t length = strlen(path);
    if (length >= sizeof address.sun_path) return -1;
    memcpy(address.sun_path, path, length);
    if (address.sun_path[0] == '@') address.sun_path[0] = '\0'; /* abstract namespace */
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    socklen_t size = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + length);
    ssize_t sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&address, size);
    close(fd);
    return sent < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------- memory */

void rs_malloc_trim(void) { malloc_trim(0); }

void rs_malloc_tune(void) {
    /* Buffers of 128 KiB and more are mapped on their own and unmapped when freed. glibc would
       otherwise raise this threshold after the first such free and serve later large buffers
       (a request of thousands of monitors, its answer, an array growing) from a thread's arena,
       where the pages live allocations pin cannot be given back. */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    /* Two arenas for resmond's handful of threads: fewer heaps to fragment. */
    mallopt(M_ARENA_MAX, 2);
}

/* ---------------------------------------------------------------- pipes */

int rs_pipe_cloexec(int ends[2]) { return pipe2(ends, O_CLOEXEC); }

/* ---------------------------------------------------------------- processes */

int rs_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1UL, 0UL, 0UL, 0UL); }

