#define _GNU_SOURCE
#include "CShim.h"
#include "internal.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <errno.h>
#include <linux/tcp.h>
#include <malloc.h>
#include <stdio.h>
#include <time.h>

#include <microhttpd.h>

/* ---------------------------------------------------------------- connections and their deadlines */

/* libmicrohttpd's connection timeout is an idle timer that every byte resets: a client sending
 * one byte every few seconds would hold its connection (and, at the connection limit, the
 * server) forever. So every connection is tracked from the moment it is accepted, and while it
 * is receiving a request (from its acceptance, or from the end of the previous request on a
 * kept-alive connection, to the last byte of the body) a sweeper thread shuts its socket down
 * once its line and headers have taken longer than header_seconds, or the whole request longer
 * than request_seconds; libmicrohttpd then reads end-of-file and closes the connection itself.
 * Responses, event streams included, have no such deadline.
 *
 * Deadlines alone leave a listener full of clients that reconnect as soon as they are cut, and
 * all loopback clients share one address. So the listener keeps a quarter of its connections free
 * for newcomers: past three quarters of what it (or, over TCP, one address) may hold, a new
 * connection cuts the one (of its address) that has been receiving its request the longest, and
 * the sweeper cuts the longest receivers until the listener is back to three quarters, each only
 * once it has been receiving for over a second: a real client sends its request at once, so only
 * slow ones and idle kept-alive connections go. At the limit itself a newcomer is not refused
 * while any connection (of its address) waits for a request's head, however young: as nginx reuses
 * its idle connections when it runs out, the one that has waited longest is closed instead (one
 * that has sent nothing, an idle kept-alive one, or one trickling its line and headers). One
 * whose socket holds bytes not yet read is spared: that is a request libmicrohttpd has not read
 * yet. So connections that send nothing and reconnect at once only displace each other, and a
 * client that sends its whole request at once, past its head within milliseconds, gets its
 * answer. The per-address limit is kept here rather than by libmicrohttpd, which would refuse a
 * newcomer while the address's waiting connections stay: past it the newcomer goes only when none
 * of its address's connections can be closed. */
struct rs_tracked {
    struct rs_tracked *previous, *next;
    int fd;
    int receiving;     /* an enum rs_receiving: RS_HEADERS waits for (the rest of) a request's head */
    int cut;
    unsigned spared;   /* the make_room call (server->rooms) that found bytes waiting in its socket */
    uint64_t since;    /* monotonic milliseconds: when it started receiving this request */
    unsigned char address[16]; /* the peer's IP address (TCP), address_length bytes of it */
    size_t address_length;
    uint64_t deadline; /* monotonic milliseconds */
    long uid;          /* the peer's uid (Unix socket), else -1 */
    int streaming;     /* its request holds a claim among the event streams: 1 counted, 2 root's (Unix socket) */
    rs_stream *stream; /* the stream its answer serves (a reference), or NULL */
    int served;        /* a request on it has been answered: it may wait idle, kept alive */
    int started;       /* kept alive, its next request has begun: its head's deadline was restarted */
    uint64_t received; /* bytes received (TCP) when it started waiting for this request */
};

#define RS_SLOW_MILLISECONDS 1000u

static uint64_t monotonic_milliseconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
}

/* Bytes the connection has received so far (TCP), or 0. */
static uint64_t bytes_received(int fd) {
    struct tcp_info info;
    socklen_t length = sizeof info;
    memset(&info, 0, sizeof info);
    if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return 0;
    return length >= offsetof(struct tcp_info, tcpi_bytes_received) + sizeof info.tcpi_bytes_received ? info.tcpi_bytes_received : 0;
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

/* Whether bytes the client sent wait unread in the connection's socket (end-of-file counts not). */
static int has_unread_bytes(int fd) {
    char byte;
    return recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

/* Under the lock: the connection (of the newcomer's address when address_only) to close for
 * the newcomer, or NULL. At the limit (full), the one waiting longest for its request's head whose
 * socket holds no unread bytes; else, or failing one, the longest receiver if it has been
 * receiving for over a second. */
static struct rs_tracked *victim_for(struct rs_http_server *server, const struct rs_tracked *newcomer, int address_only,
                                     int full) {
    unsigned room = ++server->rooms;
    struct rs_tracked *slowest = NULL;
    for (int attempt = 0; attempt < 8; attempt++) {
        struct rs_tracked *waiting = NULL;
        slowest = NULL;
        for (struct rs_tracked *tracked = server->tracked; tracked; tracked = tracked->next) {
            if (!tracked->receiving || tracked->cut || tracked->fd < 0) continue;
            if (address_only && !same_address(tracked, newcomer)) continue;
            if (!slowest || tracked->since < slowest->since) slowest = tracked;
            if (tracked->receiving != RS_HEADERS || tracked->spared == room) continue;
            if (!waiting || tracked->since < waiting->since) waiting = tracked;
        }
        if (!full || !waiting) break;
        if (!has_unread_bytes(waiting->fd)) return waiting;
        waiting->spared = room;
    }
    if (slowest && newcomer->since - slowest->since >= RS_SLOW_MILLISECONDS) return slowest;
    return NULL;
}

/* Under the lock, for a newcomer counted but not yet in the list: the crowding rule above.
 * Returns 1 when the newcomer itself must go: its address is past its limit and none of its
 * connections can be closed. */
static int make_room(struct rs_http_server *server, const struct rs_tracked *newcomer) {
    unsigned here = 1; /* the address's connections not cut, the newcomer's included */
    for (struct rs_tracked *tracked = server->tracked; tracked; tracked = tracked->next)
        here += same_address(tracked, newcomer) && !tracked->cut;
    struct rs_tracked *victim = NULL;
    if (server->crowded_address && here > server->crowded_address)
        victim = victim_for(server, newcomer, 1, server->per_address && here > server->per_address);
    else if (server->count > server->crowded)
        victim = victim_for(server, newcomer, 0, server->count >= server->limit); /* libmicrohttpd refuses the next */
    if (victim) {
        shutdown(victim->fd, SHUT_RDWR);
        victim->cut = 1;
        if (same_address(victim, newcomer)) here--;
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

static void read_uid(struct rs_tracked *tracked) {
    struct ucred credentials;
    socklen_t length = sizeof credentials;
    tracked->uid = -1;
    if (tracked->fd >= 0 && getsockopt(tracked->fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0)
        tracked->uid = credentials.uid;
}

void rs_connection_notified(void *cls, struct MHD_Connection *connection, void **socket_context,
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
        tracked->receiving = RS_HEADERS;
        tracked->since = monotonic_milliseconds();
        tracked->deadline = tracked->since + server->header_milliseconds;
        if (server->transport) {
            read_address(connection, tracked);
            tracked->uid = -1;
        } else {
            read_uid(tracked);
        }
        pthread_mutex_lock(&server->lock);
        server->count++;
        if (server->count > server->peak) server->peak = server->count;
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
    if (tracked->streaming) server->streams_ended = 1;
    pthread_mutex_unlock(&server->lock);
    if (tracked->stream) rs_stream_release(tracked->stream);
    free(tracked);
    *socket_context = NULL;
}

/* RS_HEADERS when a response is done and the connection waits for the next request, whose
 * deadlines start now; RS_BODY once its headers are in (the body's deadline counts from the same
 * start); RS_DONE once it has fully arrived. */
void rs_track_receiving(struct rs_http_server *server, struct MHD_Connection *connection, enum rs_receiving receiving) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (!info || !info->socket_context) return;
    struct rs_tracked *tracked = info->socket_context;
    pthread_mutex_lock(&server->lock);
    tracked->receiving = receiving;
    rs_stream *ended = NULL;
    if (receiving == RS_HEADERS) {
        /* The request is over: so is its claim among the streams. */
        if (tracked->streaming) server->streams_ended = 1;
        tracked->streaming = 0;
        ended = tracked->stream;
        tracked->stream = NULL;
        tracked->served = 1;
        tracked->started = 0;
        if (server->transport) tracked->received = bytes_received(tracked->fd);
        tracked->since = monotonic_milliseconds();
        tracked->deadline = tracked->since + server->header_milliseconds;
    } else if (receiving == RS_BODY) {
        tracked->deadline = tracked->since + server->request_milliseconds;
    }
    pthread_mutex_unlock(&server->lock);
    if (ended) rs_stream_release(ended);
}

/* A kept-alive connection waits for its next request at most header_seconds, and then has
 * header_seconds for that request's line and headers: once a request has begun, its deadline
 * counts from then. Before, one deadline counted from the previous answer, so a request sent just
 * before it (or in the quarter second before the sweeper acted on it) was cut unanswered, or
 * answered 400 as a slow head (issue 23: schemathesis' "Remote end closed connection without
 * response" on a second request 5.05 to 5.3 s after the first). */
static void restart_head_deadline(const struct rs_http_server *server, struct rs_tracked *tracked, uint64_t now) {
    tracked->started = 1;
    tracked->since = now;
    tracked->deadline = now + server->header_milliseconds;
}

void rs_track_request_line(struct rs_http_server *server, struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (!server || !info || !info->socket_context) return;
    struct rs_tracked *tracked = info->socket_context;
    pthread_mutex_lock(&server->lock);
    if (tracked->served && !tracked->started && tracked->receiving == RS_HEADERS && !tracked->cut)
        restart_head_deadline(server, tracked, monotonic_milliseconds());
    pthread_mutex_unlock(&server->lock);
}

/* Under the lock, for a kept-alive connection at its idle deadline: whether its next request has
 * begun though its line is not complete yet (bytes wait in the socket, or, over TCP, arrived since
 * it began waiting). On the Unix socket bytes libmicrohttpd has read already cannot be told. */
static int next_request_began(const struct rs_http_server *server, const struct rs_tracked *tracked) {
    if (!tracked->served || tracked->started || tracked->receiving != RS_HEADERS) return 0;
    return has_unread_bytes(tracked->fd) || (server->transport && bytes_received(tracked->fd) > tracked->received);
}

/* ---------------------------------------------------------------- event streams' share */

/* An event stream is an answer in progress: the crowding rule above never closes one to make
 * room. So streams have a share of their own, bounded per peer (a TCP address; on the Unix
 * socket a uid) and per listener, each at most half of the connections the peer or listener may
 * hold, so that the rest always stays for ordinary requests. Root's streams on the Unix socket,
 * the administration path, are neither bounded nor counted. A claim is taken
 * under the lock, before the stream opens, and given back when its request ends: when the
 * connection closes, which the sweeper hastens once the peer is gone (a suspended stream's
 * socket is not watched by libmicrohttpd until the next heartbeat). */
static int same_peer(const struct rs_http_server *server, const struct rs_tracked *a, const struct rs_tracked *b) {
    return server->transport ? same_address(a, b) : a->uid == b->uid;
}

static void describe_peer(const struct rs_http_server *server, const struct rs_tracked *tracked, char *text, size_t size) {
    if (!server->transport) {
        snprintf(text, size, "uid %ld", tracked->uid);
    } else if (tracked->address_length == 4) {
        snprintf(text, size, "%u.%u.%u.%u", tracked->address[0], tracked->address[1], tracked->address[2], tracked->address[3]);
    } else {
        snprintf(text, size, "this IPv6 address");
    }
}

int rs_http_claim_stream(void *stream_slot, char *message) {
    struct rs_stream_slot *slot = stream_slot;
    struct rs_http_server *server = slot->server;
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(slot->connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (!info || !info->socket_context) {
        snprintf(message, 256, "this connection is not tracked; no event stream can open on it");
        return 503;
    }
    struct rs_tracked *claimant = info->socket_context;
    int status = 0;
    pthread_mutex_lock(&server->lock);
    unsigned all = 0, peer = 0;
    for (struct rs_tracked *tracked = server->tracked; tracked; tracked = tracked->next) {
        if (tracked->streaming != 1 || tracked == claimant) continue;
        all++;
        peer += same_peer(server, tracked, claimant);
    }
    char who[64];
    describe_peer(server, claimant, who, sizeof who);
    if (claimant->streaming) {
        status = 0;
    } else if (!server->transport && claimant->uid == 0) {
        claimant->streaming = 2; /* root on the administration path: neither limited nor counted */
    } else if ((!server->transport || claimant->address_length) && peer >= server->streams_per_peer) {
        status = 429;
        snprintf(message, 256,
                 "%s already holds %u event streams, the most one %s may hold on this listener (http.streamsPerAddress); "
                 "close one first",
                 who, peer, server->transport ? "address" : "uid other than root");
    } else if (all >= server->max_streams) {
        status = 503;
        snprintf(message, 256,
                 "this listener already holds %u event streams, the most it may (http.maxStreams); the rest of its "
                 "connections stay for requests; retry later",
                 all);
    } else {
        claimant->streaming = 1;
    }
    pthread_mutex_unlock(&server->lock);
    return status;
}

void rs_track_stream(struct rs_http_server *server, struct MHD_Connection *connection, rs_stream *stream) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (!info || !info->socket_context) return;
    struct rs_tracked *tracked = info->socket_context;
    rs_stream_retain(stream);
    pthread_mutex_lock(&server->lock);
    rs_stream *previous = tracked->stream;
    tracked->stream = stream;
    pthread_mutex_unlock(&server->lock);
    if (previous) rs_stream_release(previous);
}

/* Whether the peer of a connection has closed it or reset it (bytes it sent count as alive). */
static int peer_gone(int fd) {
    char byte;
    ssize_t count = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return count == 0 || (count < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* Under the lock, for a connection whose line and headers missed their deadline: whether the
 * client sent part of a request, so that it is owed an answer rather than a silent close (an
 * idle kept-alive connection, or one that sent nothing, is closed without one, RFC 9112 §9.6).
 * A line that ends with a bare CR never ends for libmicrohttpd, which waits for its LF: the
 * answer says so. Over TCP the socket's byte count tells; on the Unix socket, a connection that
 * was never answered is. */
static void answer_late_head(const struct rs_http_server *server, struct rs_tracked *tracked) {
    if (tracked->receiving != RS_HEADERS) return;
    if (server->tls_key) return; /* plain bytes on a TLS session would be garbage to the client */
    if (server->transport ? bytes_received(tracked->fd) <= tracked->received : tracked->served) return;
    char body[400], answer[600];
    int body_length = snprintf(body, sizeof body,
                               "{\"error\":{\"code\":\"bad_request\",\"message\":\"the request line and headers did not "
                               "end within %llu s (http.headerSeconds): each line ends with CR LF, a bare CR ends none, "
                               "and the headers end with an empty line\"}}",
                               (unsigned long long)(server->header_milliseconds / 1000u));
    int length = snprintf(answer, sizeof answer,
                          "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                          "Connection: close\r\n\r\n%s", body_length, body);
    if (length > 0 && (size_t)length < sizeof answer) (void)send(tracked->fd, answer, (size_t)length, MSG_NOSIGNAL | MSG_DONTWAIT);
}

void *rs_sweep(void *cls) {
    struct rs_http_server *server = cls;
    pthread_setname_np(pthread_self(), server->transport ? "resmond.tcp-dl" : "resmond.unix-dl");
    pthread_mutex_lock(&server->lock);
    while (!server->stopping) {
        uint64_t now = monotonic_milliseconds();
        for (struct rs_tracked *tracked = server->tracked; tracked; tracked = tracked->next) {
            if (tracked->receiving && !tracked->cut && tracked->fd >= 0 && now >= tracked->deadline) {
                if (next_request_began(server, tracked)) {
                    restart_head_deadline(server, tracked, now);
                    continue;
                }
                answer_late_head(server, tracked);
                shutdown(tracked->fd, SHUT_RDWR);
                tracked->cut = 1;
            }
        }
        for (struct rs_tracked *tracked = server->tracked; tracked; tracked = tracked->next) {
            if (tracked->stream && !tracked->cut && tracked->fd >= 0 && peer_gone(tracked->fd)) {
                shutdown(tracked->fd, SHUT_RDWR);
                tracked->cut = 1;
                rs_stream_abort(tracked->stream);
            }
        }
        thin_out(server, now);
        /* Streams' connections, buffers and answers, and a crowd of connections, leave freed
         * memory in malloc's arenas: give it back once they end (the streams, or 64 connections
         * since the most), at most once a second, without the lock. */
        if ((server->streams_ended || server->peak >= server->count + 64u) && now - server->trimmed >= 1000u) {
            server->streams_ended = 0;
            server->peak = server->count;
            server->trimmed = now;
            pthread_mutex_unlock(&server->lock);
            malloc_trim(0);
            pthread_mutex_lock(&server->lock);
            continue;
        }
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
