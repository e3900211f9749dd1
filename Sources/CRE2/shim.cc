#include "CRE2.h"

#include <re2/re2.h>

#include <cstring>
#include <string>

struct rs_re2_pattern {
    re2::RE2 regex;
    explicit rs_re2_pattern(re2::StringPiece text, const re2::RE2::Options &options)
        : regex(text, options) {}
};

static void copy_error(const std::string &reason, char *error, size_t capacity) {
    if (error == nullptr || capacity == 0) return;
    size_t length = reason.size() < capacity - 1 ? reason.size() : capacity - 1;
    std::memcpy(error, reason.data(), length);
    error[length] = '\0';
}

extern "C" rs_re2_pattern *rs_re2_compile(const char *pattern, size_t length, int64_t max_memory,
                                          char *error, size_t error_capacity, int *too_large) {
    if (too_large != nullptr) *too_large = 0;
    re2::RE2::Options options;
    options.set_encoding(re2::RE2::Options::EncodingUTF8);
    // Errors go to the caller, not to stderr through RE2's logging.
    options.set_log_errors(false);
    options.set_max_mem(max_memory);
    // As glibc's REG_EXTENDED did: `.` matches a newline (an event message may hold one).
    options.set_dot_nl(true);
    // Nothing may unwind into Swift: a failed allocation is a compile error.
    rs_re2_pattern *compiled = nullptr;
    try {
        compiled = new rs_re2_pattern(re2::StringPiece(pattern, length), options);
    } catch (...) {
        copy_error("out of memory", error, error_capacity);
        return nullptr;
    }
    if (!compiled->regex.ok()) {
        std::string reason = compiled->regex.error();
        if (compiled->regex.error_code() == re2::RE2::ErrorPatternTooLarge) {
            reason = "pattern too large: its compiled form exceeds the memory budget";
            if (too_large != nullptr) *too_large = 1;
        }
        copy_error(reason, error, error_capacity);
        delete compiled;
        return nullptr;
    }
    return compiled;
}

extern "C" int rs_re2_search(const rs_re2_pattern *compiled, const char *text, size_t length) {
    try {
        return re2::RE2::PartialMatch(re2::StringPiece(text, length), compiled->regex) ? 1 : 0;
    } catch (...) {
        return 0;  // a DFA cache that could not be allocated: no match rather than unwinding
    }
}

extern "C" void rs_re2_free(rs_re2_pattern *compiled) { delete compiled; }
