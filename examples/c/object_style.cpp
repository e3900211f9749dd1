// object_style.cpp: the RMF's C++ object-style example (CplusplusExample.cpp) ported to
// resmon.hpp. A threshold monitor on this process's virtual memory size, raised by allocating
// memory; the event arrives by callback and by polling; RAII stops nothing by hand: the
// Subscription unsubscribes, the Monitor deletes its monitor and the Session closes.
//
//   c++ -std=c++17 -Wall -Wextra -Werror object_style.cpp $(pkg-config --cflags --libs resmon) -lpthread
#include <resmon.hpp>

#include <syslog.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>

namespace {

constexpr double MiB = 1024.0 * 1024.0;

double own_vsize() {
    unsigned long pages = 0;
    std::ifstream("/proc/self/statm") >> pages;
    return static_cast<double>(pages) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

// rmCreateMonitor + StartMonitor, object style.
resmon::Monitor create_virtual_memory_monitor(const resmon::Session &session, double threshold) {
    std::string key = "process:" + std::to_string(getpid()) + ":vsize_bytes";
    resmon::MonitorConfig config;
    config.key = key.c_str();
    config.type = RESMON_THRESHOLD;
    config.transform = RESMON_TRANSFORM_NONE;
    config.condition = RESMON_AT_OR_ABOVE;
    config.value = threshold;
    config.severity = LOG_WARNING;
    config.cancel_severity = LOG_NOTICE;
    resmon::MonitorControl control;
    control.location = RESMON_DAEMON;
    control.monitoring_interval = 0;  // monitor until stopped
    control.monitoring_rate = 1;      // check every second
    control.samples = 1;
    control.logging_rate = 60;
    resmon::Monitor monitor = session.create(config, control);
    monitor.start();
    return monitor;
}

}  // namespace

int main() {
    try {
        resmon::Session session;
        double threshold = own_vsize() + 256 * MiB;
        resmon::Monitor monitor = create_virtual_memory_monitor(session, threshold);
        std::cout << "monitor " << monitor.uid() << " (handle " << monitor.handle() << ") watches vsize >= " << threshold / MiB << " MiB\n";

        std::string filter = "monitorId = \"" + monitor.uid() + "\" && severity = warning";
        std::mutex lock;
        std::condition_variable changed;
        int called = 0;
        resmon::Subscription by_callback = session.subscribe(filter, -1, [&](const resmon::Event &event) {
            std::cout << "callback: event " << event.id << " " << event.type << ": " << event.message << std::endl;
            std::lock_guard<std::mutex> guard(lock);
            if (event.handle == monitor.handle()) called++;
            changed.notify_all();
        });
        resmon::Subscription by_poll = session.subscribe(filter);

        auto ballast = std::make_unique<char[]>(512 * 1024 * 1024);
        ballast[0] = 1;

        std::optional<resmon::Event> event = by_poll.next(60000);
        if (!event || event->monitor_id != monitor.uid()) {
            std::cerr << "no event polled\n";
            return 1;
        }
        std::cout << "polled: event " << event->id << " " << event->type << "\n";
        {
            std::unique_lock<std::mutex> guard(lock);
            if (!changed.wait_for(guard, std::chrono::seconds(30), [&] { return called > 0; })) {
                std::cerr << "no event reached the callback\n";
                return 1;
            }
        }
        if (monitor.state().phase != RESMON_RAISED) {
            std::cerr << "the monitor is not raised\n";
            return 1;
        }
        monitor.stop();
        // A monitor of another session's making is found, and errors carry the errno.
        try {
            session.find("00000000-0000-0000-0000-000000000000");
            std::cerr << "found a monitor that does not exist\n";
            return 1;
        } catch (const resmon::Error &error) {
            std::cout << "expected: " << error.what() << " (errno " << error.code() << ")\n";
            if (error.code() != ENOENT) return 1;
        }
    } catch (const resmon::Error &error) {
        std::cerr << error.what() << "\n";
        return 1;
    }
    std::cout << "ok\n";
    return 0;
}
