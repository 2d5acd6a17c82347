import CSystemd
#if canImport(Glibc)
import Glibc
#endif

/// syslog priorities, as journald and `<N>` prefixes use them.
public enum LogPriority: Int32, Sendable {
    case error = 3, warning = 4, notice = 5, info = 6, debug = 7
}

/// Where the daemon's log goes.
public protocol DaemonLogger: AnyObject {
    /// One entry; `fields` become structured journal fields (`BULKHEAD_EVENT=drift`).
    func log(_ priority: LogPriority, _ message: String, fields: [String: String])
}

/// Logs to journald with structured fields through libsystemd.
public final class JournalLogger: DaemonLogger {
    public init() {}

    public func log(_ priority: LogPriority, _ message: String, fields: [String: String]) {
        var entries = ["MESSAGE=\(message)", "PRIORITY=\(priority.rawValue)", "SYSLOG_IDENTIFIER=bulkhead"]
        entries += fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let buffers = entries.map { Array($0.utf8) }
        var pointers: [UnsafeMutablePointer<UInt8>] = []
        defer { pointers.forEach { $0.deallocate() } }
        var vectors: [iovec] = []
        for bytes in buffers {
            let pointer = UnsafeMutablePointer<UInt8>.allocate(capacity: max(bytes.count, 1))
            pointer.initialize(from: bytes, count: bytes.count)
            pointers.append(pointer)
            vectors.append(iovec(iov_base: UnsafeMutableRawPointer(pointer), iov_len: bytes.count))
        }
        _ = sd_journal_sendv(vectors, Int32(vectors.count))
    }

    /// True when stderr is connected to journald (systemd sets JOURNAL_STREAM for services).
    public static var isAvailable: Bool {
        getenv("JOURNAL_STREAM") != nil && access("/run/systemd/journal/socket", F_OK) == 0
    }
}

/// Plain lines on stderr with `<N>` priority prefixes (which journald also understands).
public final class StderrLogger: DaemonLogger {
    public init() {}

    public func log(_ priority: LogPriority, _ message: String, fields: [String: String]) {
        let extra = fields.isEmpty ? "" : " [" + fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ") + "]"
        var line = "<\(priority.rawValue)>\(message)\(extra)\n"
        line.withUTF8 { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}

/// Tells systemd about the service's state (READY=1, RELOADING=1, STOPPING=1, STATUS=...);
/// does nothing when NOTIFY_SOCKET is not set.
public enum ServiceNotifier {
    public static func notify(_ state: String) {
        _ = sd_notify(0, state)
    }
}
