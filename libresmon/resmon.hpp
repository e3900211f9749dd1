// resmon.hpp: the C++17 face of libresmon (docs/C-API.md), header-only over resmon.h.
// RAII: a Session closes itself, a Monitor it created deletes its monitor (release() keeps it),
// a Subscription unsubscribes. Failures throw resmon::Error with the errno and resmond's message.
// A Monitor or Subscription must not outlive the Session it came from.
#ifndef RESMON_HPP
#define RESMON_HPP

#include <resmon.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace resmon {

/// A failure of libresmon: code() is the positive errno (EBUSY, ENOENT, ...), what() says
/// which call failed and resmond's reason.
class Error : public std::runtime_error {
public:
    Error(int code, const std::string &message) : std::runtime_error(message), code_(code) {}
    int code() const noexcept { return code_; }

private:
    int code_;
};

namespace detail {
inline void check(int result, const char *call) {
    if (result < 0) {
        const char *detail = resmon_last_error();
        throw Error(-result, std::string(call) + ": " + resmon_strerror(result) + (detail && *detail ? std::string(" (") + detail + ")" : ""));
    }
}
inline std::string text(const char *value) { return value ? value : ""; }
}  // namespace detail

/// One statistic's reading and metadata.
struct Statistic {
    std::string key;
    double value = NAN, raw = NAN, time = NAN, upper_bound = NAN;
    int kind = 0;
    std::string unit;

    Statistic() = default;
    Statistic(std::string name, const resmon_statistic &from)
        : key(std::move(name)), value(from.value), raw(from.raw), time(from.time), upper_bound(from.upper_bound), kind(from.kind),
          unit(from.unit) {}
    bool is_counter() const noexcept { return kind == RESMON_COUNTER; }
};

/// An event, copied out of the library's storage.
struct Event {
    int64_t id = 0;
    double time = NAN;
    int code = 0;
    std::string type;
    int severity = 0;
    std::string monitor_id, monitor_name, key, host, message;
    double value = NAN, threshold = NAN;
    int64_t cancels = 0;
    resmon_handle handle = 0;

    Event() = default;
    explicit Event(const resmon_event &from)
        : id(from.id), time(from.time), code(from.code), type(detail::text(from.type)), severity(from.severity),
          monitor_id(detail::text(from.monitor_id)), monitor_name(detail::text(from.monitor_name)), key(detail::text(from.key)),
          host(detail::text(from.host)), message(detail::text(from.message)), value(from.value), threshold(from.threshold),
          cancels(from.cancels), handle(from.handle) {}
};

/// The RMF's rmMonitorConfiguration and rmMonitorControl, with resmon's defaults.
struct MonitorConfig : resmon_monitor_config {
    MonitorConfig() { resmon_monitor_config_init(this); }
};
struct MonitorControl : resmon_monitor_control {
    MonitorControl() { resmon_monitor_control_init(this); }
};

/// A monitor of a session. One that this object created is deleted with it, unless released.
class Monitor {
public:
    Monitor(resmon_session *session, resmon_handle handle, std::string uid, bool owned)
        : session_(session), handle_(handle), uid_(std::move(uid)), owned_(owned) {}
    Monitor(const Monitor &) = delete;
    Monitor &operator=(const Monitor &) = delete;
    Monitor(Monitor &&other) noexcept
        : session_(other.session_), handle_(std::exchange(other.handle_, 0)), uid_(std::move(other.uid_)), owned_(other.owned_) {}
    Monitor &operator=(Monitor &&other) noexcept {
        if (this != &other) {
            destroy();
            session_ = other.session_;
            handle_ = std::exchange(other.handle_, 0);
            uid_ = std::move(other.uid_);
            owned_ = other.owned_;
        }
        return *this;
    }
    ~Monitor() { destroy(); }

    resmon_handle handle() const noexcept { return handle_; }
    const std::string &uid() const noexcept { return uid_; }
    /// Keeps the monitor in resmond when this object goes.
    void release() noexcept { owned_ = false; }

    void start() { detail::check(resmon_monitor_start(session_, handle_), "resmon_monitor_start"); }
    void stop() { detail::check(resmon_monitor_stop(session_, handle_), "resmon_monitor_stop"); }
    void pause() { detail::check(resmon_monitor_pause(session_, handle_), "resmon_monitor_pause"); }
    void resume() { detail::check(resmon_monitor_resume(session_, handle_), "resmon_monitor_resume"); }
    void reset() { detail::check(resmon_monitor_reset(session_, handle_), "resmon_monitor_reset"); }
    void reset_notification() { detail::check(resmon_monitor_reset_notification(session_, handle_), "resmon_monitor_reset_notification"); }
    /// Deletes the monitor now; the object is empty after.
    void remove() {
        detail::check(resmon_monitor_delete(session_, handle_), "resmon_monitor_delete");
        handle_ = 0;
    }
    resmon_monitor_state state() const {
        resmon_monitor_state out;
        detail::check(resmon_monitor_get_state(session_, handle_, &out), "resmon_monitor_get_state");
        return out;
    }
    MonitorControl control() const {
        MonitorControl out;
        detail::check(resmon_monitor_get_control(session_, handle_, &out), "resmon_monitor_get_control");
        return out;
    }

private:
    void destroy() noexcept {
        if (handle_ != 0 && owned_) resmon_monitor_delete(session_, handle_);
        handle_ = 0;
    }
    resmon_session *session_;
    resmon_handle handle_;
    std::string uid_;
    bool owned_;
};

/// A subscription: a callback on the library's thread, or polled with next().
class Subscription {
public:
    using Callback = std::function<void(const Event &)>;

    Subscription(resmon_session *session, const std::string *filter, int64_t after, Callback callback)
        : callback_(callback ? std::make_unique<Callback>(std::move(callback)) : nullptr) {
        detail::check(resmon_subscribe(session, filter ? filter->c_str() : nullptr, after, callback_ ? &Subscription::trampoline : nullptr,
                                       callback_.get(), &subscription_),
                      "resmon_subscribe");
    }
    Subscription(const Subscription &) = delete;
    Subscription &operator=(const Subscription &) = delete;
    Subscription(Subscription &&other) noexcept
        : subscription_(std::exchange(other.subscription_, nullptr)), callback_(std::move(other.callback_)) {}
    Subscription &operator=(Subscription &&other) noexcept {
        if (this != &other) {
            if (subscription_) resmon_unsubscribe(subscription_);
            subscription_ = std::exchange(other.subscription_, nullptr);
            callback_ = std::move(other.callback_);
        }
        return *this;
    }
    ~Subscription() {
        if (subscription_) resmon_unsubscribe(subscription_);
    }

    /// The next event, or nothing after timeout_ms (negative: wait for ever).
    std::optional<Event> next(int timeout_ms) {
        resmon_event event;
        int result = resmon_event_next(subscription_, timeout_ms, &event);
        if (result == -ETIMEDOUT) return std::nullopt;
        detail::check(result, "resmon_event_next");
        return Event(event);
    }
    /// Readable while an event waits (for poll/epoll); owned by the subscription.
    int fd() const { return resmon_subscription_fd(subscription_); }
    /// Queues `signo` for each event, si_int = the monitor's handle; 0 turns it off.
    void signal(int signo) { detail::check(resmon_subscription_signal(subscription_, signo), "resmon_subscription_signal"); }

private:
    static void trampoline(const resmon_event *event, void *user) {
        try {
            (*static_cast<Callback *>(user))(Event(*event));
        } catch (...) {
            // An exception cannot cross the library's thread: it is dropped.
        }
    }
    resmon_subscription *subscription_ = nullptr;
    std::unique_ptr<Callback> callback_;
};

/// A connection to resmond (thread-safe: share it between threads).
class Session {
public:
    /// socket_path null: $RESMON_SOCKET, then the default socket.
    explicit Session(const char *socket_path = nullptr) { detail::check(resmon_open(socket_path, &session_), "resmon_open"); }
    /// A remote resmond's TCP listener (resmon_open_url): null arguments read $RESMON_URL,
    /// $RESMON_TOKEN_FILE and $RESMON_CACERT.
    static Session remote(const char *url, const char *token_file = nullptr, const char *ca_file = nullptr) {
        Session session(nullptr, 0);
        detail::check(resmon_open_url(url, token_file, ca_file, &session.session_), "resmon_open_url");
        return session;
    }
    Session(const Session &) = delete;
    Session &operator=(const Session &) = delete;
    Session(Session &&other) noexcept : session_(std::exchange(other.session_, nullptr)) {}
    Session &operator=(Session &&other) noexcept {
        if (this != &other) {
            if (session_) resmon_close(session_);
            session_ = std::exchange(other.session_, nullptr);
        }
        return *this;
    }
    ~Session() {
        if (session_) resmon_close(session_);
    }
    resmon_session *get() const noexcept { return session_; }

private:
    Session(std::nullptr_t, int) noexcept {}

public:

    Statistic statistic(const std::string &key) const {
        resmon_statistic out;
        detail::check(resmon_statistic_get(session_, key.c_str(), &out), "resmon_statistic_get");
        return Statistic(key, out);
    }
    /// The statistics whose keys match a POSIX extended regex (empty: all).
    std::vector<Statistic> statistics(const std::string &regex = "") const {
        std::vector<Statistic> found;
        detail::check(resmon_statistics_list(
                          session_, regex.empty() ? nullptr : regex.c_str(),
                          [](const char *key, const resmon_statistic *statistic, void *user) -> int {
                              static_cast<std::vector<Statistic> *>(user)->emplace_back(key, *statistic);
                              return 0;
                          },
                          &found),
                      "resmon_statistics_list");
        return found;
    }
    void push(const std::string &key, double value, const std::string &unit = "") const {
        detail::check(resmon_statistic_push(session_, key.c_str(), value, unit.c_str()), "resmon_statistic_push");
    }
    /// Creates a monitor, stopped; control.uid is filled. The Monitor deletes it when it goes.
    Monitor create(const MonitorConfig &config, MonitorControl &control) const {
        resmon_handle handle = 0;
        detail::check(resmon_monitor_create(session_, &config, &control, &handle), "resmon_monitor_create");
        return Monitor(session_, handle, control.uid, true);
    }
    /// A monitor that exists already (not deleted when the Monitor goes).
    Monitor find(const std::string &uid) const {
        resmon_handle handle = 0;
        detail::check(resmon_monitor_find(session_, uid.c_str(), &handle), "resmon_monitor_find");
        return Monitor(session_, handle, uid, false);
    }
    /// Events matching `filter` after id `after` (-1: from now): to `callback`, or polled when it is empty.
    Subscription subscribe(const std::string &filter, int64_t after = -1, Subscription::Callback callback = nullptr) const {
        return Subscription(session_, &filter, after, std::move(callback));
    }

private:
    resmon_session *session_ = nullptr;
};

}  // namespace resmon

#endif  // RESMON_HPP
