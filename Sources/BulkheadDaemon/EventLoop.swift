import BulkheadCore
import CSystemd
#if canImport(Glibc)
import Glibc
#endif

/// One sd-event loop (epoll underneath): file descriptors, signals, timers and inotify watches call
/// Swift closures. libsystemd also sends the watchdog pings when the service has WatchdogSec.
final class EventLoop {
    private var event: OpaquePointer?
    /// Closures the C callbacks reach through their userdata pointer; kept alive here.
    private var handlers: [Handler] = []
    private var sources: [OpaquePointer] = []

    final class Handler {
        let run: () -> Void
        var onInotify: ((UInt32, String) -> Void)?
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    /// A timer that can be re-armed, e.g. for debouncing.
    final class Timer {
        fileprivate let source: OpaquePointer
        fileprivate init(source: OpaquePointer) { self.source = source }

        /// Fires once, `seconds` from now (re-arming replaces any pending firing).
        func arm(after seconds: Double) {
            sd_event_source_set_time_relative(source, UInt64(max(0, seconds) * 1_000_000))
            sd_event_source_set_enabled(source, Int32(SD_EVENT_ONESHOT))
        }

        func disarm() { sd_event_source_set_enabled(source, Int32(SD_EVENT_OFF)) }
    }

    init() throws {
        var event: OpaquePointer?
        let result = sd_event_new(&event)
        guard result >= 0, let event else { throw NetlinkError("cannot create the event loop", errno: -result) }
        self.event = event
        // Sends WATCHDOG=1 at half of WATCHDOG_USEC when systemd asks for it; no-op otherwise.
        sd_event_set_watchdog(event, 1)
    }

    deinit {
        for source in sources { sd_event_source_unref(source) }
        if let event { sd_event_unref(event) }
    }

    private func keep(_ handler: Handler) -> UnsafeMutableRawPointer {
        handlers.append(handler)
        return Unmanaged.passUnretained(handler).toOpaque()
    }

    private func check(_ result: Int32, _ what: String) throws {
        if result < 0 { throw NetlinkError("event loop: cannot \(what)", errno: -result) }
    }

    /// Calls `body` whenever `fd` is readable.
    func onReadable(_ fd: Int32, _ body: @escaping () -> Void) throws {
        var source: OpaquePointer?
        try check(sd_event_add_io(event, &source, fd, UInt32(EPOLLIN.rawValue), { _, _, _, userdata in
            guard let userdata else { return 0 }
            Unmanaged<Handler>.fromOpaque(userdata).takeUnretainedValue().run()
            return 0
        }, keep(Handler(body))), "watch descriptor \(fd)")
        if let source { sources.append(source) }
    }

    /// Calls `body` on `signal` (which is blocked for normal delivery, as sd-event requires).
    func onSignal(_ signal: Int32, _ body: @escaping () -> Void) throws {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, signal)
        pthread_sigmask(SIG_BLOCK, &set, nil)
        var source: OpaquePointer?
        try check(sd_event_add_signal(event, &source, signal, { _, _, userdata in
            guard let userdata else { return 0 }
            Unmanaged<Handler>.fromOpaque(userdata).takeUnretainedValue().run()
            return 0
        }, keep(Handler(body))), "watch signal \(signal)")
        if let source { sources.append(source) }
    }

    /// A disarmed one-shot timer on the monotonic clock.
    func timer(_ body: @escaping () -> Void) throws -> Timer {
        var source: OpaquePointer?
        try check(sd_event_add_time_relative(event, &source, CLOCK_MONOTONIC, UInt64.max / 2, 1000, { _, _, userdata in
            guard let userdata else { return 0 }
            Unmanaged<Handler>.fromOpaque(userdata).takeUnretainedValue().run()
            return 0
        }, keep(Handler(body))), "create a timer")
        guard let source else { throw NetlinkError("event loop: no timer source", errno: EINVAL) }
        sources.append(source)
        let timer = Timer(source: source)
        timer.disarm()
        return timer
    }

    /// Calls `body` with the mask and name of every inotify event on `path` (a directory).
    func onInotify(_ path: String, mask: UInt32, _ body: @escaping (UInt32, String) -> Void) throws {
        let handler = Handler {}
        handler.onInotify = body
        var source: OpaquePointer?
        try check(sd_event_add_inotify(event, &source, path, mask, { _, event, userdata in
            guard let userdata, let event else { return 0 }
            let handler = Unmanaged<Handler>.fromOpaque(userdata).takeUnretainedValue()
            let length = Int(event.pointee.len)
            var name = ""
            if length > 0 {
                name = withUnsafePointer(to: event.pointee) { pointer in
                    UnsafeRawPointer(pointer).advanced(by: MemoryLayout<inotify_event>.size)
                        .withMemoryRebound(to: CChar.self, capacity: length) { String(cString: $0) }
                }
            }
            handler.onInotify?(event.pointee.mask, name)
            return 0
        }, keep(handler)), "watch \(path)")
        if let source { sources.append(source) }
    }

    /// Runs until `exit` is called; returns its code.
    func run() throws -> Int32 {
        let result = sd_event_loop(event)
        if result < 0 { throw NetlinkError("event loop failed", errno: -result) }
        return result
    }

    /// Makes `run` return `code` after the current callback.
    func exit(_ code: Int32) { sd_event_exit(event, code) }
}
