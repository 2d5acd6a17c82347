import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// What `apply` last made the kernel hold: `drift` compares the live table with this, not with the
/// YAML on disk (which may have changed since).
public struct AppliedRecord: Sendable, Codable {
    public var modelDigest: String
    public var source: String
    public var appliedAt: String
    public var generation: UInt32
    public var objectsChanged: Int
    public var table: Table

    public init(modelDigest: String, source: String, appliedAt: String, generation: UInt32, objectsChanged: Int, table: Table) {
        self.modelDigest = modelDigest
        self.source = source
        self.appliedAt = appliedAt
        self.generation = generation
        self.objectsChanged = objectsChanged
        self.table = table
    }

    enum CodingKeys: String, CodingKey {
        case modelDigest = "model_digest", source, appliedAt = "applied_at", generation
        case objectsChanged = "objects_changed", table
    }
}

/// The small part of an applied record, in a file of its own, so that a drift check can tell from the
/// ruleset generation alone that nothing changed, without reading the whole applied table.
public struct AppliedSummary: Sendable, Codable {
    public var modelDigest: String
    public var appliedAt: String
    public var generation: UInt32

    enum CodingKeys: String, CodingKey { case modelDigest = "model_digest", appliedAt = "applied_at", generation }
}

/// Reads and writes files in the state directory; writes go to a temporary file that is renamed
/// into place, so a reader never sees half a file.
public struct StateDirectory: Sendable {
    public let path: String
    public static let appliedFile = "applied.json"
    public static let summaryFile = "applied-summary.json"

    public init(path: String) { self.path = path }

    /// The last applied record; nil when nothing was applied yet.
    public func loadApplied() throws -> AppliedRecord? {
        let file = "\(path)/\(Self.appliedFile)"
        var info = stat()
        if stat(file, &info) != 0, errno == ENOENT { return nil }
        let bytes = try SegmentDirectory.readFile(file, limit: 1 << 30).get()
        do {
            return try JSONDecoder().decode(AppliedRecord.self, from: Data(bytes))
        } catch {
            throw FileReadError("\(file) is not a valid state record (\(error)); run 'bulkhead apply' to rewrite it")
        }
    }

    /// Saves the record atomically, the table first and the summary (which vouches for it) last.
    public func saveApplied(_ record: AppliedRecord) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try writeAtomically(Self.appliedFile, Array(try encoder.encode(record)))
        let summary = AppliedSummary(modelDigest: record.modelDigest, appliedAt: record.appliedAt, generation: record.generation)
        try writeAtomically(Self.summaryFile, Array(try encoder.encode(summary)))
    }

    /// The summary of the last applied record; nil when there is none.
    public func loadSummary() throws -> AppliedSummary? {
        let file = "\(path)/\(Self.summaryFile)"
        var info = stat()
        if stat(file, &info) != 0, errno == ENOENT { return nil }
        let bytes = try SegmentDirectory.readFile(file, limit: 1 << 20).get()
        return try? JSONDecoder().decode(AppliedSummary.self, from: Data(bytes))
    }

    /// Writes `bytes` to `name` in the directory (created if missing) through a temporary file and rename.
    public func writeAtomically(_ name: String, _ bytes: [UInt8]) throws {
        try Self.makeDirectory(path)
        let final = "\(path)/\(name)", temporary = "\(path)/.\(name).\(getpid()).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileReadError("cannot write \(temporary): \(String(cString: strerror(errno)))") }
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                let reason = String(cString: strerror(errno))
                close(fd)
                unlink(temporary)
                throw FileReadError("cannot write \(temporary): \(reason)")
            }
            offset += written
        }
        fsync(fd)
        close(fd)
        guard rename(temporary, final) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw FileReadError("cannot rename \(temporary) to \(final): \(reason)")
        }
    }

    /// `mkdir -p`.
    static func makeDirectory(_ path: String) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/\(component)"
            if mkdir(current, 0o755) != 0, errno != EEXIST {
                throw FileReadError("cannot create directory \(current): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Now, as an ISO 8601 UTC timestamp.
    public static func timestamp(_ date: Date = Date()) -> String {
        date.formatted(.iso8601)
    }
}
