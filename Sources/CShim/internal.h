#ifndef RESMON_CSHIM_INTERNAL_H
#define RESMON_CSHIM_INTERNAL_H

/* Shared by the shim's C files, not exported to Swift. */

/* Writes "what: detail" into error (size 256) when given; returns -1. */
int rs_fail(char *error, const char *what, const char *detail);

/* Event streams (stream.c) as the HTTP server (http.c) serves them. */
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
struct MHD_Connection;
/* The connection that now serves the stream: a write resumes it while it is suspended. */
void rs_stream_attach(rs_stream *stream, struct MHD_Connection *connection);
/* Ends the stream's body with an error at libmicrohttpd's next read, resuming its connection:
 * the peer is gone. */
void rs_stream_abort(rs_stream *stream);
/* libmicrohttpd's content reader and its free callback (which releases the reference). */
ssize_t rs_stream_read(void *cls, uint64_t position, char *out, size_t maximum);
void rs_stream_done(void *cls);

/* Why the request line or headers libmicrohttpd parsed are not the bytes sent (a raw NUL cut
 * one short), or NULL (request_layout.c). */
const char *rs_request_layout_problem(struct MHD_Connection *connection, const char *method, const char *version,
                                      const char *target);

/* Why the request's Transfer-Encoding and Content-Length lines do not frame its body
 * unambiguously (both given, a coding other than chunked, one given twice, a coding in
 * HTTP/1.0), or NULL
 * (request_layout.c). */
const char *rs_request_framing_problem(struct MHD_Connection *connection, const char *version);

/* Called with the request target in libmicrohttpd's read buffer as its request line is parsed,
 * before it parses the headers: why a Content-Length, or the first chunk's size line, already
 * buffered would make libmicrohttpd answer on its own (twice over, or an HTML 500), or NULL. The
 * header is then renamed in place, so that libmicrohttpd frames no body and the handler answers
 * (request_layout.c). */
const char *rs_request_prescan(char *uri);

/* Whether a request's line and headers leave too little of its connection's pool_bytes for
 * libmicrohttpd to build an answer; then the 431 answer written to the socket directly, after
 * which the handler returns MHD_NO to close the connection (request_layout.c). */
int rs_request_fills_pool(struct MHD_Connection *connection, size_t pool_bytes);
size_t rs_request_pool_bytes(struct MHD_Connection *connection);
void rs_answer_too_large(struct MHD_Connection *connection, size_t pool_bytes);

/* One listener (http.c); its connections and their deadlines are kept by connections.c. */
#include <pthread.h>
struct rs_tracked;
struct rs_http_server {
    struct MHD_Daemon *daemon;
    rs_http_handler handler;
    void *context;
    size_t max_body_bytes;
    int transport;
    uint64_t request_milliseconds;
    uint64_t header_milliseconds;
    unsigned limit;           /* libmicrohttpd's connection limit: it refuses a newcomer past it */
    unsigned crowded;         /* connections from which a newcomer cuts the slowest receiver */
    unsigned crowded_address; /* the same for one address's connections (TCP; 0: no limit) */
    unsigned per_address;     /* one address's limit (TCP; 0: none): past it the newcomer goes */
    unsigned streams_per_peer; /* event streams one TCP address or non-root uid may hold */
    unsigned max_streams;      /* event streams the listener may hold */
    int streams_ended;         /* a stream ended since the sweeper last gave memory back */
    unsigned peak;             /* the most connections tracked at once since then */
    uint64_t trimmed;          /* monotonic milliseconds: when the sweeper last did */
    unsigned count;   /* connections tracked */
    unsigned rooms;   /* make_room calls so far (connections.c) */
    pthread_mutex_t lock; /* guards tracked, count, every rs_tracked in it, and stopping */
    pthread_cond_t wake;
    struct rs_tracked *tracked;
    int stopping;
    int sweeping; /* the sweeper thread was started */
    char *tls_certificate; /* PEM, when the listener serves TLS; else NULL */
    char *tls_key;         /* PEM, wiped when the server stops; NULL for plain HTTP */
    pthread_t sweeper;
    struct rs_adopter *adopter; /* a listening socket bound again (rs_http_adopt), or NULL */
};

/* A listening socket whose connections a running server takes as its own (MHD_add_connection):
 * the Unix socket bound again after its path was removed. One thread accepts; a pipe ends it. */
struct rs_adopter {
    int fd;
    int wake[2];
    pthread_t thread;
    struct MHD_Daemon *daemon;
};

enum rs_receiving { RS_DONE = 0, RS_HEADERS = 1, RS_BODY = 2 };
enum MHD_ConnectionNotificationCode;
/* libmicrohttpd's connection notification: tracks a connection from its acceptance to its close. */
void rs_connection_notified(void *cls, struct MHD_Connection *connection, void **socket_context,
                            enum MHD_ConnectionNotificationCode code);
/* RS_HEADERS when a response is done and the connection waits for the next request, whose
 * deadlines start now; RS_BODY once its headers are in; RS_DONE once it has fully arrived. */
void rs_track_receiving(struct rs_http_server *server, struct MHD_Connection *connection, enum rs_receiving receiving);
/* A kept-alive connection's next request line is in: its head's deadline counts from now. */
void rs_track_request_line(struct rs_http_server *server, struct MHD_Connection *connection);
/* What rs_http_claim_stream's slot points to: the request's listener and connection. */
struct rs_stream_slot {
    struct rs_http_server *server;
    struct MHD_Connection *connection;
};
/* The stream a granted claim's response serves: the sweeper ends it once the peer is gone. */
void rs_track_stream(struct rs_http_server *server, struct MHD_Connection *connection, rs_stream *stream);
/* The deadline thread. */
void *rs_sweep(void *cls);

#endif
