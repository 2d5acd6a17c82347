import FoundationEssentials

/// What the daemon reports about itself, rewritten atomically after every event that changes it;
/// `bulkhead status` reads it.
public struct DaemonStatus: Sendable, Codable {
    /// Who changed the firewall, from the kernel's NEWGEN notification.
    public struct Culprit: Sendable, Codable, Hashable {
        public var pid: UInt32
        public var name: String
        public init(pid: UInt32, name: String) {
            self.pid = pid
            self.name = name
        }
    }

    public struct ModelState: Sendable, Codable {
        public var source: String
        /// Digest of the model being enforced (the last valid one).
        public var digest: String?
        /// False while the model on disk is invalid (the last valid one stays enforced).
        public var valid: Bool
        public var errors: [String]
        public var checkedAt: String?
        enum CodingKeys: String, CodingKey { case source, digest, valid, errors, checkedAt = "checked_at" }
    }

    public struct ApplyState: Sendable, Codable {
        public var at: String
        public var durationMs: Double
        public var objectsChanged: Int
        public var generation: UInt32
        public var reason: String
        enum CodingKeys: String, CodingKey { case at, durationMs = "duration_ms", objectsChanged = "objects_changed", generation, reason }

        public init(at: String, durationMs: Double, objectsChanged: Int, generation: UInt32, reason: String) {
            self.at = at
            self.durationMs = durationMs
            self.objectsChanged = objectsChanged
            self.generation = generation
            self.reason = reason
        }
    }

    public struct DriftState: Sendable, Codable {
        public var present: Bool
        public var detectedAt: String?
        public var detectionLatencyMs: Double?
        public var culprit: Culprit?
        public var changes: [RulesetChange]
        public var healed: Bool
        enum CodingKeys: String, CodingKey {
            case present, detectedAt = "detected_at", detectionLatencyMs = "detection_latency_ms", culprit, changes, healed
        }

        public init(present: Bool, detectedAt: String?, detectionLatencyMs: Double?, culprit: Culprit?, changes: [RulesetChange], healed: Bool) {
            self.present = present
            self.detectedAt = detectedAt
            self.detectionLatencyMs = detectionLatencyMs
            self.culprit = culprit
            self.changes = changes
            self.healed = healed
        }
    }

    public var pid: Int32
    public var startedAt: String
    public var updatedAt: String
    public var networkNamespace: String?
    /// enforce or audit.
    public var policy: String
    /// heal or report.
    public var driftMode: String
    public var lock: Bool
    public var model: ModelState
    public var lastApply: ApplyState?
    public var drift: DriftState
    public var lastDrift: DriftState?
    public var heals: Int
    public var applies: Int
    public var applyErrors: Int
    public var rulesetElements: Int
    public var lastError: String?

    enum CodingKeys: String, CodingKey {
        case pid, startedAt = "started_at", updatedAt = "updated_at", networkNamespace = "netns", policy
        case driftMode = "drift_mode", lock, model, lastApply = "last_apply", drift, lastDrift = "last_drift", heals, applies
        case applyErrors = "apply_errors", rulesetElements = "ruleset_elements", lastError = "last_error"
    }

    public init(pid: Int32, startedAt: String, networkNamespace: String?, policy: String, driftMode: String, lock: Bool, source: String) {
        self.pid = pid
        self.startedAt = startedAt
        updatedAt = startedAt
        self.networkNamespace = networkNamespace
        self.policy = policy
        self.driftMode = driftMode
        self.lock = lock
        model = ModelState(source: source, digest: nil, valid: false, errors: [], checkedAt: nil)
        drift = DriftState(present: false, detectedAt: nil, detectionLatencyMs: nil, culprit: nil, changes: [], healed: false)
        heals = 0
        applies = 0
        applyErrors = 0
        rulesetElements = 0
    }

    /// Reads a status file.
    public static func load(_ path: String) throws -> DaemonStatus {
        let bytes = try SegmentDirectory.readFile(path, limit: 1 << 30).get()
        return try JSONDecoder().decode(DaemonStatus.self, from: Data(bytes))
    }

    /// The status as JSON.
    public func json(pretty: Bool = false) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(self))
    }

    /// Prometheus text exposition for the node exporter's textfile collector.
    public var metrics: String {
        func metric(_ name: String, _ type: String, _ help: String, _ value: String) -> String {
            "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(value)\n"
        }
        let lastApplySeconds = lastApply.flatMap { try? Date($0.at, strategy: .iso8601) }.map { String(format: $0.timeIntervalSince1970) } ?? "0"
        return metric("bulkhead_drift", "gauge", "1 while the live table differs from what was applied.", drift.present ? "1" : "0")
            + metric("bulkhead_drift_objects", "gauge", "Objects that currently differ from what was applied.", "\(drift.changes.count)")
            + metric("bulkhead_heals_total", "counter", "Drift healed by re-applying the model.", "\(heals)")
            + metric("bulkhead_apply_total", "counter", "Transactions committed.", "\(applies)")
            + metric("bulkhead_apply_errors_total", "counter", "Applies the kernel refused or that failed.", "\(applyErrors)")
            + metric("bulkhead_last_apply_timestamp_seconds", "gauge", "When the last transaction was committed (Unix time).", lastApplySeconds)
            + metric("bulkhead_apply_duration_seconds", "gauge", "How long the last apply took.", String(format: (lastApply?.durationMs ?? 0) / 1000))
            + metric("bulkhead_model_valid", "gauge", "1 when the model on disk is valid.", model.valid ? "1" : "0")
            + metric("bulkhead_ruleset_elements", "gauge", "Set and map elements in the enforced table.", "\(rulesetElements)")
    }
}

extension String {
    /// A number without exponent, with up to six decimals.
    init(format value: Double) {
        let scaled = Int64((value * 1_000_000).rounded())
        let whole = scaled / 1_000_000, fraction = abs(scaled % 1_000_000)
        if fraction == 0 {
            self = "\(whole)"
        } else {
            var digits = String(fraction)
            digits = String(repeating: "0", count: 6 - digits.count) + digits
            while digits.hasSuffix("0") { digits.removeLast() }
            self = "\(scaled < 0 && whole == 0 ? "-" : "")\(whole).\(digits)"
        }
    }
}
