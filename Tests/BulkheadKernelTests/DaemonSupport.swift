import BulkheadCore
import Foundation
import Testing

/// The built `bulkhead` binary (the daemon runs as a real process, as under systemd).
enum BuiltBinary {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var bulkhead: String {
        ProcessInfo.processInfo.environment["BULKHEAD_BINARY"] ?? repository.appendingPathComponent(".build/debug/bulkhead").path
    }
    static var available: Bool { KernelTestSupport.available && FileManager.default.isExecutableFile(atPath: bulkhead) }
}

/// `bulkhead run` in a test namespace, with its own state and status files.
final class DaemonProcess {
    let process = Process()
    let statusPath: String
    let metricsPath: String
    let logPath: String
    let scratch: TempDir

    init(namespace: String, segments: String, extra: [String] = [], environment: [String: String] = [:]) throws {
        scratch = try TempDir("daemon")
        statusPath = scratch.path + "/status.json"
        metricsPath = scratch.path + "/metrics.prom"
        logPath = scratch.path + "/daemon.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: BuiltBinary.bulkhead)
        process.arguments = ["run", "-s", segments, "-c", scratch.path + "/none.yaml", "--netns", namespace,
                             "--state", scratch.path + "/state", "--status", statusPath, "--metrics", metricsPath] + extra
        _ = FileManager.default.createFile(atPath: scratch.path + "/none.yaml", contents: Data("# defaults\n".utf8))
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "NOTIFY_SOCKET")
        env.removeValue(forKey: "JOURNAL_STREAM")
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardError = log
        process.standardOutput = log
        try process.run()
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// The status once `condition` holds, polling every few milliseconds; nil on timeout.
    func waitForStatus(timeout: Double = 10, _ condition: (DaemonStatus) -> Bool) -> DaemonStatus? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let status = try? DaemonStatus.load(statusPath), condition(status) { return status }
            usleep(2000)
        }
        return nil
    }

    /// Sends `signal` and waits for the exit; returns the status and how long it took.
    func stop(_ signal: Int32 = SIGTERM) -> (status: Int32, seconds: Double) {
        let start = Date()
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        return (process.terminationStatus, Date().timeIntervalSince(start))
    }
}

/// Runs `nft` in a namespace, returning its output; throws when it fails.
@discardableResult
func nft(_ namespace: String, _ arguments: String...) throws -> String {
    try Shell.run(["ip", "netns", "exec", namespace, "nft"] + arguments)
}

/// The median of some numbers.
func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}
