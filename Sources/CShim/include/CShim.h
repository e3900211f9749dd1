#ifndef RESMON_CSHIM_H
#define RESMON_CSHIM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The C side of resmon: every call that Swift cannot make (variadic functions, closed enums,
 * struct ucred) lives here, behind plain structs and functions. */

/* ---- HTTP server (libmicrohttpd) ---- */

typedef struct rs_http_request {
    const char *method;
    const char *path;             /* percent-decoded by libmicrohttpd, without the query */
    const char *const *arg_names;  /* query arguments, decoded */
    const char *const *arg_values; /* a value is "" when the argument had none */
    int arg_count;
    const char *const *header_names;
    const char *const *header_values;
    int header_count;
    const char *body;
    size_t body_length;
    int body_too_large;           /* the body passed max_body_bytes and was discarded */
    int transport;                /* 0 = Unix socket, 1 = TCP */
    long peer_uid;                /* -1 when unknown (TCP) */
    long peer_gid;
    long peer_pid;
} rs_http_request;

typedef struct rs_http_response {
    int status;
    const char *content_type;     /* must stay valid until the handler returns */
    char *body;                   /* malloc'd; the shim frees it */
    size_t body_length;
    char *extra_headers;          /* malloc'd "Name: value\n" lines or NULL; freed by the shim */
} rs_http_response;

typedef void (*rs_http_handler)(const rs_http_request *request, rs_http_response *response, void *context);

typedef struct rs_http_server rs_http_server;

/* Listening sockets. On failure they return -1 and write a message into error (size 256). */
int rs_listen_unix(const char *path, unsigned mode, long gid, char *error);
int rs_listen_tcp(const char *host, int port, char *error);
int rs_socket_port(int fd);

/* Starts serving fd on libmicrohttpd's own threads. Returns NULL and fills error on failure. */
rs_http_server *rs_http_start(int fd, int transport, rs_http_handler handler, void *context,
                              size_t max_body_bytes, unsigned threads, unsigned connection_limit,
                              unsigned timeout_seconds, char *error);
void rs_http_stop(rs_http_server *server);

/* ---- systemd and process helpers ---- */

/* Sends state (e.g. "READY=1") to $NOTIFY_SOCKET; 0 when sent or when there is no socket. */
int rs_sd_notify(const char *state);

#endif
