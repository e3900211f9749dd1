#include "CShim.h"
#include "internal.h"

#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

/* libmicrohttpd 0.9.75 parses the request line and the header lines in place in its read buffer
 * and hands them out as C strings: a raw NUL byte in them would silently cut a target or value
 * short (GET /v1/status\0/x served as /v1/status), and it has no option that refuses one. The
 * positions show it: in place, the target as sent ends one byte (the space libmicrohttpd
 * overwrote) before the version, and each header line starts one or two bytes (the CR LF it
 * overwrote) after the previous one ends. A gap means a NUL, or a line folded onto the previous one
 * (which libmicrohttpd copies elsewhere): both are refused. */
/* A header name is a token (RFC 9110 §5.1, §5.6.2): libmicrohttpd 0.9.75 keeps whitespace before
 * the colon in the name, so "Transfer-Encoding : chunked" was no Transfer-Encoding to it, while a
 * proxy in front may take it for one (RFC 9112 §5.1 requires 400). */
static int is_token_byte(unsigned char byte) {
    if (byte >= '0' && byte <= '9') return 1;
    if ((byte | 0x20) >= 'a' && (byte | 0x20) <= 'z') return 1;
    return byte && strchr("!#$%&'*+-.^_`|~", byte) != NULL;
}

struct rs_layout {
    uintptr_t end; /* where the previous string ends in the read buffer */
    const char *problem;
};

static enum MHD_Result check_header(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                    const char *value, size_t value_size) {
    (void)kind;
    struct rs_layout *layout = cls;
    uintptr_t start = (uintptr_t)key, colon = (uintptr_t)key + key_size, at = (uintptr_t)value;
    int line_start = start == layout->end + 1 || start == layout->end + 2;
    int spacing = at > colon;
    for (uintptr_t byte = colon + 1; spacing && byte < at; byte++)
        if (*(const char *)byte != ' ' && *(const char *)byte != '\t') spacing = 0;
    if (!line_start || !spacing) {
        layout->problem = "a header line contains a NUL byte or is folded onto the previous line";
        return MHD_NO;
    }
    for (size_t index = 0; index < key_size; index++) {
        if (!is_token_byte((unsigned char)key[index])) {
            layout->problem = "a header name holds whitespace or a byte that is not a token character: no whitespace may come "
                              "between a header name and its colon (RFC 9112 section 5.1)";
            return MHD_NO;
        }
    }
    if (key_size == 0) {
        layout->problem = "a header line has no name before its colon";
        return MHD_NO;
    }
    /* A value holds visible bytes, spaces and tabs (RFC 9110 §5.5): a control byte passed on to a
     * log or a proxy could end a line or rewrite a terminal there. */
    for (size_t index = 0; index < value_size; index++) {
        unsigned char byte = (unsigned char)value[index];
        if ((byte < 0x20 && byte != '\t') || byte == 0x7F) {
            layout->problem = "a header value holds a control byte (0x01 to 0x1F other than tab, or 0x7F)";
            return MHD_NO;
        }
    }
    layout->end = at + value_size;
    return MHD_YES;
}

const char *rs_request_layout_problem(struct MHD_Connection *connection, const char *method, const char *version,
                                  const char *target) {
    const char *problem = "the request line contains a NUL byte";
    if (!version || !*version || !method) return problem;
    const char *uri = method + strlen(method) + 1;
    while (*uri == ' ') uri++;
    if ((uintptr_t)uri + strlen(target) + 1 != (uintptr_t)version) return problem;
    struct rs_layout layout = {.end = (uintptr_t)version + strlen(version), .problem = NULL};
    MHD_get_connection_values_n(connection, MHD_HEADER_KIND, check_header, &layout);
    if (layout.problem) return layout.problem;
    /* The last line: libmicrohttpd counts the block's bytes as sent (from the request line, without
     * blank lines before it), so after the last value come only its line end and the empty line. */
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    if (!info) return problem;
    uintptr_t end = (uintptr_t)method + info->header_size;
    if (end < layout.end + 2 || end > layout.end + 4) return "a header line contains a NUL byte";
    return NULL;
}

/* How the request says where its body ends (RFC 9112 §6): Transfer-Encoding and Content-Length
 * lines as sent. libmicrohttpd 0.9.75 takes Transfer-Encoding over Content-Length, reads a coding
 * other than chunked as a body that ends when the connection does, and uses the first of two
 * Content-Length lines: a proxy in front that read the same bytes another way would take the rest
 * of the body for a second request (request smuggling). So only chunked alone, or one
 * Content-Length, frames a body; anything else is refused and the connection closed. */
struct rs_framing {
    int encodings, lengths, chunked;
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                     const char *value, size_t value_size) {
    (void)kind;
    struct rs_framing *framing = cls;
    if (key_size == strlen(MHD_HTTP_HEADER_TRANSFER_ENCODING) && strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        framing->encodings++;
        framing->chunked = value && value_size == strlen("chunked") && strncasecmp(value, "chunked", value_size) == 0;
    } else if (key_size == strlen(MHD_HTTP_HEADER_CONTENT_LENGTH) && strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        framing->lengths++;
    }
    return MHD_YES;
}

const char *rs_request_framing_problem(struct MHD_Connection *connection, const char *version) {
    struct rs_framing framing = {0};
    MHD_get_connection_values_n(connection, MHD_HEADER_KIND, count_framing, &framing);
    /* HTTP/1.0 has no transfer codings (RFC 9112 §6.1): a 1.0 intermediary would read the chunks
     * as something else. */
    if (framing.encodings && version && strcmp(version, MHD_HTTP_VERSION_1_1) != 0)
        return "Transfer-Encoding is not defined in HTTP/1.0: send the body with Content-Length (RFC 9112 section 6.1)";
    if (framing.encodings && framing.lengths)
        return "the request has both Transfer-Encoding and Content-Length, so its length is ambiguous (RFC 9112 section 6.1)";
    if (framing.encodings > 1) return "Transfer-Encoding is given more than once: send one, chunked";
    if (framing.encodings && !framing.chunked)
        return "Transfer-Encoding other than chunked alone is not accepted: a body is sent chunked or with Content-Length";
    if (framing.lengths > 1) return "Content-Length is given more than once, so the request's length is ambiguous";
    return NULL;
}

/* libmicrohttpd 0.9.75 answers a Content-Length that is not digits ("0, 0", "+0", "-1") with its
 * own HTML 400 while it parses the headers, then carries on as if they were fine and sends the
 * answer's status line and headers a second time; and a chunk-size line longer than its buffer (a
 * 100 KB chunk extension) gets its HTML 500. Neither reaches the handler. So, as the request line
 * is parsed, the bytes buffered after it are read here: up to the first NUL, since the pool is
 * zeroed past them (http.c), and only once the headers' empty line is among them (a head that
 * trickles in is left to libmicrohttpd). The offending header's first letter is then changed to
 * 'X', so libmicrohttpd takes it for an unknown header and frames no body, and the handler
 * answers the problem with the API's JSON 400 and closes the connection. */
#define RS_CHUNK_LINE_BYTES 4096u

static int is_header(const char *line, size_t length, const char *name) {
    size_t name_length = strlen(name);
    return length > name_length && line[name_length] == ':' && strncasecmp(line, name, name_length) == 0;
}

/* Whether a Content-Length line's value is digits (at most 19), spaces or tabs around them. */
static int is_plain_length(const char *line) {
    const char *value = line + strlen(MHD_HTTP_HEADER_CONTENT_LENGTH) + 1;
    while (*value == ' ' || *value == '\t') value++;
    size_t digits = 0;
    while (value[digits] >= '0' && value[digits] <= '9') digits++;
    const char *rest = value + digits;
    while (*rest == ' ' || *rest == '\t') rest++;
    return digits > 0 && digits <= 19 && (*rest == '\r' || *rest == '\n');
}

const char *rs_request_prescan(char *uri) {
    char *at = uri + strlen(uri);
    /* The rest of the request line: the version, then the NULs its line end was overwritten with. */
    if (*at == '\0') at++;
    at += strlen(at);
    for (int nul = 0; nul < 2 && *at == '\0'; nul++) at++;
    char *length_line = NULL, *encoding_line = NULL;
    int bad_length = 0;
    int complete = 0;
    while (*at) {
        char *end = at;
        while (*end && *end != '\n') end++;
        if (!*end) return NULL; /* the head has not all arrived */
        size_t length = (size_t)(end - at);
        if (length && at[length - 1] == '\r') length--;
        if (length == 0) {
            at = end + 1;
            complete = 1;
            break;
        }
        if (is_header(at, length, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
            length_line = at;
            if (!is_plain_length(at)) bad_length = 1;
        }
        if (is_header(at, length, MHD_HTTP_HEADER_TRANSFER_ENCODING)) encoding_line = at;
        at = end + 1;
    }
    if (!complete) return NULL;
    if (bad_length) {
        /* libmicrohttpd reads the first Content-Length (when there is no Transfer-Encoding):
         * every one is renamed, and the request refused whatever the others say. */
        for (char *line = at - 1; line > uri; line--)
            if (line[-1] == '\0' || line[-1] == '\n')
                if (is_header(line, strlen(MHD_HTTP_HEADER_CONTENT_LENGTH) + 1, MHD_HTTP_HEADER_CONTENT_LENGTH)) line[0] = 'X';
        return "Content-Length is not a decimal number of bytes (digits only: no sign, list or spaces inside)";
    }
    if (encoding_line && !length_line) {
        /* The body's first chunk-size line, as far as it is buffered. */
        size_t index = 0;
        while (index < RS_CHUNK_LINE_BYTES && at[index] && at[index] != '\n') index++;
        if (index == RS_CHUNK_LINE_BYTES) {
            encoding_line[0] = 'X';
            return "a chunk-size line (the size and its extensions) is longer than 4096 bytes";
        }
    }
    return NULL;
}

/* libmicrohttpd 0.9.75 keeps a request's line and headers, a record for each header and cookie,
 * and a copy of the Cookie header in the connection's memory pool until the answer is sent, and
 * builds the answer's header lines there too. It answers 414 or 431 itself when the request does
 * not fit, but a request that fits with less than the answer's header lines to spare (a 32,400-byte
 * target) is closed without an answer. So a request that leaves less than RS_POOL_SPARE bytes of
 * the pool is answered here instead, written to the socket directly: the pool has no room for it. */
#define RS_POOL_SPARE 2048u
#define RS_POOL_RECORD 64u /* struct MHD_HTTP_Header (56 bytes), rounded to the pool's alignment */

static enum MHD_Result count_record(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind; (void)key; (void)value;
    *(size_t *)cls += RS_POOL_RECORD;
    return MHD_YES;
}

size_t rs_request_pool_bytes(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    size_t used = info ? info->header_size : 0;
    MHD_get_connection_values(connection, (enum MHD_ValueKind)(MHD_HEADER_KIND | MHD_COOKIE_KIND), count_record, &used);
    size_t cookie = 0;
    if (MHD_lookup_connection_value_n(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_COOKIE, strlen(MHD_HTTP_HEADER_COOKIE), NULL, &cookie) == MHD_YES)
        used += cookie + 1;
    return used;
}

int rs_request_fills_pool(struct MHD_Connection *connection, size_t pool_bytes) {
    return rs_request_pool_bytes(connection) + RS_POOL_SPARE > pool_bytes;
}

void rs_answer_too_large(struct MHD_Connection *connection, size_t pool_bytes) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!info) return;
    char body[256], answer[512];
    int body_length = snprintf(body, sizeof body,
                               "{\"error\":{\"code\":\"request_too_large\",\"message\":\"the request line and headers "
                               "need %zu bytes of the connection's %zu; send a shorter target or fewer headers\"}}",
                               rs_request_pool_bytes(connection) + RS_POOL_SPARE, pool_bytes);
    int length = snprintf(answer, sizeof answer,
                          "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: application/json\r\n"
                          "Content-Length: %d\r\nConnection: close\r\n\r\n%s", body_length, body);
    if (length <= 0 || (size_t)length >= sizeof answer) return;
    int fd = info->connect_fd;
    (void)send(fd, answer, (size_t)length, MSG_NOSIGNAL | MSG_DONTWAIT);
    shutdown(fd, SHUT_WR);
    /* What the client sent past the headers is read and dropped, or closing would reset the
     * connection and could discard the answer on its way. */
    char discard[4096];
    for (int reads = 0; reads < 64 && recv(fd, discard, sizeof discard, MSG_DONTWAIT) > 0; reads++) continue;
}
