import BulkheadCLI
import BulkheadCore
import BulkheadNetlink
import Foundation
import Synchronization
import Testing

// Shared helpers for the dataplane kernel tests (DataplaneTests, TamperTests, LargeModelTests, ...).
// Everything here works inside network namespaces the tests create and delete themselves.

/// What one in-process `bulkhead` run printed, and its exit status.
struct CLIResult: CustomStringConvertible {
    var status: Int32
    var out: String
    var err: String
    var description: String { "exit \(status)\nstdout:\n\(out)\nstderr:\n\(err)" }
}

/// Runs the CLI in-process and returns its status and output, whatever the status.
func bulkhead(_ arguments: [String]) -> CLIResult {
    final class Buffer: @unchecked Sendable {
        var out = "", err = ""
        let lock = NSLock()
    }
    let buffer = Buffer()
    let console = Console(out: { text in buffer.lock.withLock { buffer.out += text } },
                          err: { text in buffer.lock.withLock { buffer.err += text } })
    let status = BulkheadCommandLine.run(arguments, console: console)
    return buffer.lock.withLock { CLIResult(status: status, out: buffer.out, err: buffer.err) }
}

/// A network namespace of its own for one test, with only `lo` (up); deleted by `destroy()` or deinit.
final class Netns: @unchecked Sendable {
    private static let counter = Mutex(0)
    let name: String
    private var alive = true

    init(_ label: String) throws {
        let serial = Self.counter.withLock { value -> Int in
            value += 1
            return value
        }
        name = "bhd\(getpid())n\(serial)-\(label)"
        try Shell.run(["ip", "netns", "add", name])
        do {
            try Shell.run(["ip", "-n", name, "link", "set", "lo", "up"])
        } catch {
            destroy()
            throw error
        }
    }

    deinit { destroy() }

    /// Deletes the namespace (and with it every table, interface and socket binding in it); safe to call twice.
    /// `ip netns del` can fail transiently (EBUSY) while parallel tests run `ip netns add|exec`, so it is retried.
    func destroy() {
        guard alive else { return }
        alive = false
        var lastError: Error?
        for attempt in 0..<20 {
            do {
                try Shell.run(["ip", "netns", "del", name])
                return
            } catch {
                lastError = error
                if !FileManager.default.fileExists(atPath: "/run/netns/\(name)") { return }
                usleep(useconds_t(20_000 * (attempt + 1)))
            }
        }
        print("warning: could not delete network namespace \(name): \(String(describing: lastError))")
    }

    /// Runs a command inside the namespace; throws with its output when it fails.
    @discardableResult
    func exec(_ arguments: [String], input: String? = nil) throws -> String {
        try Shell.run(["ip", "netns", "exec", name] + arguments, input: input)
    }

    /// Runs `nft ARGS...` inside the namespace.
    @discardableResult
    func nft(_ arguments: String..., input: String? = nil) throws -> String {
        try exec(["nft"] + arguments, input: input)
    }

    /// Loads an nft script with `nft -f -`.
    func loadScript(_ script: String) throws {
        try exec(["nft", "-f", "-"], input: script)
    }

    /// `nft list table inet bulkhead` as nft prints it.
    func listTable() throws -> String { try nft("list", "table", "inet", "bulkhead") }

    /// Whether the namespace has any table called `inet bulkhead`.
    func hasTable() -> Bool { (try? nft("list", "table", "inet", "bulkhead")) != nil }

    /// The handle of the first rule of `chain` whose listing contains `fragment`.
    func ruleHandle(chain: String, containing fragment: String) throws -> String {
        let listing = try nft("-a", "list", "chain", "inet", "bulkhead", chain)
        for line in listing.split(separator: "\n") where line.contains(fragment) {
            if let range = line.range(of: "# handle ") { return String(line[range.upperBound...]).trimmingCharacters(in: .whitespaces) }
        }
        throw CommandFailure(command: ["find rule", chain, fragment], status: -1, output: listing)
    }
}

/// A scratch directory removed on deinit (or `remove()`).
final class TempDir: @unchecked Sendable {
    let path: String
    private var removed = false

    init(_ label: String) throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("bulkhead-\(label)-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        path = base.path
    }

    deinit { remove() }

    func remove() {
        guard !removed else { return }
        removed = true
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Writes `text` to `name` (relative, parent directories created) through a rename, as editors and
    /// config management do, and returns the full path.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let url = URL(fileURLWithPath: path).appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url, options: .atomic)
        return url.path
    }

    func subdirectory(_ name: String) throws -> String {
        let full = (path as NSString).appendingPathComponent(name)
        try FileManager.default.createDirectory(atPath: full, withIntermediateDirectories: true)
        return full
    }
}

/// Listing normalisation for comparing what our apply made with what `nft -f` made.
enum Listing {
    /// Counter values are state: `counter packets N bytes M` becomes `counter`.
    static func withoutCounterValues(_ listing: String) -> String {
        listing.replacingOccurrences(of: #"counter packets \d+ bytes \d+"#, with: "counter", options: .regularExpression)
    }

    /// Drops the table's `flags ...` line. nft 1.0.6 prints a table with flags as `\tflags <names>`
    /// (`flags ` with a trailing space for NFT_TABLE_F_PERSIST, which it has no name for) and then
    /// separates the first set/chain with an extra empty line, which goes too.
    static func withoutTableFlags(_ listing: String) -> String {
        var lines = listing.components(separatedBy: "\n")
        guard let index = lines.firstIndex(where: { $0.hasPrefix("\tflags") }) else { return listing }
        lines.remove(at: index)
        if let blank = lines[index...].firstIndex(where: { !$0.hasPrefix("\tcomment") }), lines[blank].isEmpty {
            lines.remove(at: blank)
        }
        return lines.joined(separator: "\n")
    }

    /// Counter values and the flags line aside.
    static func normalized(_ listing: String) -> String { withoutCounterValues(withoutTableFlags(listing)) }

    /// The rendered script from its `table inet bulkhead {` line on: what `nft list table` prints back.
    static func renderedTable(_ script: String) -> String {
        script.split(separator: "\n", omittingEmptySubsequences: false).drop { !$0.hasPrefix("table inet bulkhead {") }
            .joined(separator: "\n")
    }

    /// The table's top-level blocks (`\tset NAME {` ... `\t}`, chains and maps likewise) by their first line, and
    /// the table's own lines under "". nft lists objects in creation order, so after incremental applies the order
    /// differs from a freshly loaded script; the blocks themselves (rule order included) must not.
    static func blocks(_ listing: String) -> [String: String] {
        var blocks: [String: String] = [:]
        var current: String?
        var lines: [String] = []
        for line in listing.components(separatedBy: "\n") {
            if current == nil, line.hasPrefix("\t"), !line.hasPrefix("\t\t"), line.hasSuffix("{") {
                current = line
                lines = [line]
            } else if let name = current {
                lines.append(line)
                if line == "\t}" {
                    blocks[name] = lines.joined(separator: "\n")
                    current = nil
                }
            } else if !line.isEmpty {
                blocks["", default: ""] += line + "\n"
            }
        }
        return blocks
    }

    /// The first line of `nft list table` output: `table inet bulkhead {`, with `# progname ...` while owned.
    static func header(_ listing: String) -> String { String(listing.split(separator: "\n").first ?? "") }

    /// The table's `flags` line, if any (`\tflags owner`, `\tflags `), nil without flags.
    static func flagsLine(_ listing: String) -> String? {
        listing.components(separatedBy: "\n").first { $0.hasPrefix("\tflags") }
    }
}

/// `bulkhead drift --json`.
struct DriftReport: Decodable {
    struct Change: Decodable, CustomStringConvertible {
        var object: String
        var change: String
        var expected: String?
        var live: String?
        var description: String { "\(change) \(object)" }
    }

    var drift: Bool
    var checkedAt: String
    var generation: UInt32
    var changes: [Change]
    var otherTables: [String]
    var modelDigest: String

    enum CodingKeys: String, CodingKey {
        case drift, checkedAt = "checked_at", generation, changes, otherTables = "other_tables", modelDigest = "model_digest"
    }

    static func parse(_ text: String) throws -> DriftReport {
        try JSONDecoder().decode(DriftReport.self, from: Data(text.utf8))
    }
}

/// `bulkhead plan --json`.
struct PlanReport: Decodable {
    var changes: [DriftReport.Change]
    var operations: Int
    var fullReplace: Bool
    var generation: UInt32

    enum CodingKeys: String, CodingKey {
        case changes, operations, fullReplace = "full_replace", generation
    }

    static func parse(_ text: String) throws -> PlanReport {
        try JSONDecoder().decode(PlanReport.self, from: Data(text.utf8))
    }
}

/// What `nft -j` reports, as an independent reading.
enum NftJSON {
    /// `packets` of every counter in the rules of one chain (`nft -j list chain`), with each rule's comment.
    static func ruleCounters(_ json: String) throws -> [(comment: String?, packets: Int, text: String)] {
        let root = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        let objects = root?["nftables"] as? [[String: Any]] ?? []
        var result: [(String?, Int, String)] = []
        for object in objects {
            guard let rule = object["rule"] as? [String: Any], let exprs = rule["expr"] as? [[String: Any]] else { continue }
            for expr in exprs {
                if let counter = expr["counter"] as? [String: Any], let packets = counter["packets"] as? Int {
                    let text = String(decoding: try JSONSerialization.data(withJSONObject: exprs, options: [.sortedKeys]), as: UTF8.self)
                    result.append((rule["comment"] as? String, packets, text))
                }
            }
        }
        return result
    }
}

/// Element totals of compiled or decoded tables.
extension Table {
    var elementCount: Int { sets.reduce(0) { $0 + $1.elements.count } }
}

/// A model directory with the matching CLI arguments.
struct ModelFixture {
    /// The example model shipped in segments/.
    static let exampleSegments = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("segments").path
}

/// The table the CLI would apply for a segments directory and flags, compiled in-process the same way
/// (same digest, so the `model` chain matches too).
func compiledTable(segments: String, hooks: [FilterHook] = [.input], failsafe: [PortSpec]? = nil) throws -> Table {
    let loaded = SegmentLoader.load(directory: segments)
    let model = try #require(loaded.model, "model in \(segments) is invalid: \(loaded.diagnostics)")
    var settings = Settings()
    settings.segments = segments
    settings.hooks = hooks
    if let failsafe { settings.failsafe = failsafe }
    return Compiler(model: model, settings: settings).compile(digest: ModelDigest.of(loaded.sources))
}

/// Wall-clock seconds since `start`, for printing.
func seconds(since start: ContinuousClock.Instant) -> Double {
    let duration = ContinuousClock.now - start
    return Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// Which kind of operation, for assertions about plans.
extension RulesetOperation {
    var kindName: String {
        switch self {
        case .addTable: return "addTable"
        case .deleteTable: return "deleteTable"
        case .addChain: return "addChain"
        case .flushChain: return "flushChain"
        case .deleteChain: return "deleteChain"
        case .addSet: return "addSet"
        case .deleteSet: return "deleteSet"
        case .addElements: return "addElements"
        case .deleteElements: return "deleteElements"
        case .addRule: return "addRule"
        }
    }

    var summary: String {
        switch self {
        case .addTable(let table): return "addTable flags=\(table.flags)"
        case .deleteTable: return "deleteTable"
        case .addChain(let chain): return "addChain \(chain.name)"
        case .flushChain(let name): return "flushChain \(name)"
        case .deleteChain(let name): return "deleteChain \(name)"
        case .addSet(let set): return "addSet \(set.name)"
        case .deleteSet(let name): return "deleteSet \(name)"
        case .addElements(let set): return "addElements \(set.name) ×\(set.elements.count)"
        case .deleteElements(let set): return "deleteElements \(set.name) ×\(set.elements.count)"
        case .addRule(let chain, _): return "addRule \(chain)"
        }
    }
}
