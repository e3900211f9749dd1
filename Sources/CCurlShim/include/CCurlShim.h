#ifndef RESMON_CCURLSHIM_H
#define RESMON_CCURLSHIM_H

#include <stddef.h>

/* The HTTP client side (libcurl). libcurl is loaded with dlopen on first use, so resmond only
 * maps it (and the TLS stack it brings) when a webhook or Alertmanager sink is configured. */

/* One request; socket_path NULL means TCP. ca_file, when not NULL, holds the PEM certificates
 * an https server's must chain to (instead of the system's CAs; verification is never off).
 * Returns 0 on success, else fills error (size 256). *body is malloc'd (NUL-terminated) and
 * owned by the caller. */
int rs_http_fetch(const char *socket_path, const char *url, const char *method,
                  const char *request_body, size_t request_length, const char *headers,
                  long timeout_ms, size_t max_response_bytes, const char *ca_file,
                  long *status, char **body, size_t *body_length, char *error);

/* Receives a streamed body: called with each chunk as it arrives; return 0 to stop. */
typedef int (*rs_http_chunk)(const char *data, size_t length, void *context);

/* A GET whose body is handed to on_chunk as it arrives (server-sent events). Returns 0 when the
 * server ended the body, else fills error. connect_timeout_ms bounds connecting only; idle_ms,
 * when > 0, ends the transfer after that long without a byte. *status is the HTTP status. */
int rs_http_stream(const char *socket_path, const char *url, const char *headers, const char *ca_file,
                   long connect_timeout_ms, long idle_ms, rs_http_chunk on_chunk, void *context,
                   long *status, char *error);

/* ---- a plain HTTP GET (scrape plug-ins) ---- */

/* GET http://host:port/path with HTTP/1.0 (so the server closes the connection; a chunked
 * answer is decoded too), without libcurl: loading libcurl and its TLS libraries cost resmond
 * 8 MB RSS for plain-HTTP scrapes on loopback. host is a name or a literal address (IPv6 without
 * brackets). The whole exchange is bounded by timeout_ms; a body over max_body_bytes fails.
 * Returns 0 with *status and *body (malloc'd, NUL-terminated, the caller frees it), else -1 and a
 * message in error (size 256). */
int rs_http_get_plain(const char *host, const char *port, const char *path, long timeout_ms,
                      size_t max_body_bytes, long *status, char **body, size_t *body_length, char *error);

/* POST to http://host:port/path the same way: headers are lines each ending in "\r\n" (or
 * NULL); the body goes with its Content-Length (remote_write: libcurl's 8 MB for a push to a
 * plain-HTTP receiver). Returns as rs_http_get_plain. */
int rs_http_post_plain(const char *host, const char *port, const char *path, const char *headers,
                       const char *request_body, size_t request_length, long timeout_ms, size_t max_body_bytes,
                       long *status, char **body, size_t *body_length, char *error);

#endif
