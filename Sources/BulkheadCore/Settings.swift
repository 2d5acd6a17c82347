import BulkheadYAML

/// A netfilter hook Bulkhead can filter in.
public enum FilterHook: String, Sendable, Hashable, CaseIterable, Comparable {
    /// Traffic to this host.
    case input
    /// Traffic from this host (only zones with `egress: deny` are restricted).
    case output
    /// Traffic routed through this host.
    case forward

    public static func < (a: FilterHook, b: FilterHook) -> Bool {
        allCases.firstIndex(of: a) ?? 0 < allCases.firstIndex(of: b) ?? 0
    }
}

/// What the daemon does when the live table drifts from what it applied.
public enum DriftMode: String, Sendable, Hashable, CaseIterable {
    /// Re-apply at once and count a heal.
    case heal
    /// Leave it and keep reporting it.
    case report
}

/// What happens to traffic the model does not allow.
public enum EnforcementPolicy: String, Sendable, Hashable, CaseIterable {
    /// Drop it.
    case enforce
    /// Log it and let it through: for rolling out a model without breaking anything.
    case audit
}

/// Per-host settings (`/etc/bulkhead/bulkhead.yaml`); every key is optional and also a command-line flag.
public struct Settings: Sendable, Hashable {
    public static let defaultPath = "/etc/bulkhead/bulkhead.yaml"
    public static let defaultSegments = "/etc/bulkhead/segments"
    public static let defaultState = "/var/lib/bulkhead"

    public var segments: String = Settings.defaultSegments
    public var hooks: [FilterHook] = [.input]
    /// Inbound ports always open, whatever the model says, so a bad model cannot lock out SSH or DHCP.
    public var failsafe: [PortSpec] = [PortSpec(.tcp, 22...22), PortSpec(.udp, 68...68)]
    public var policy: EnforcementPolicy = .enforce
    /// Where the failsafe list was written, for the comment on its rules.
    public var failsafeOrigin: String = "default"
    /// Where `apply` records what it applied (and `drift` compares with).
    public var state: String = Settings.defaultState
    /// Create the table owned (NFT_TABLE_F_OWNER) and persistent (NFT_TABLE_F_PERSIST): while the daemon
    /// holds it nobody else can change it, and it survives the daemon's exit.
    public var lock: Bool = true
    /// What the daemon does about drift: heal it at once (default) or only report it.
    public var drift: DriftMode = .heal
    /// Seconds between the daemon's full checks (events catch changes at once; this catches anything missed).
    public var resync: Double = 60
    /// Where the daemon writes its status for `bulkhead status`.
    public var status: String = "/run/bulkhead/status.json"
    /// A Prometheus textfile-collector file the daemon keeps current; nil for none.
    public var metrics: String?

    public init() {}

    /// The keys a settings file may hold.
    public static let keys = ["segments", "hooks", "failsafe", "policy", "state", "lock", "drift", "resync", "status", "metrics"]

    /// Reads a settings file. A missing file is fine when `required` is false (the default path).
    public static func load(path: String, required: Bool) -> (settings: Settings?, diagnostics: [Diagnostic]) {
        var info = stat()
        if stat(path, &info) != 0, errno == ENOENT, !required {
            return (Settings(), [])
        }
        switch SegmentDirectory.readFile(path, limit: 1 << 20) {
        case .failure(let problem):
            return (nil, [Diagnostic(.error, at: .whole(path), "cannot read settings: \(problem)")])
        case .success(let bytes):
            return parse(bytes, path: path)
        }
    }

    /// Interprets settings YAML; relative `segments` paths are taken relative to the settings file.
    public static func parse(_ bytes: [UInt8], path: String) -> (settings: Settings?, diagnostics: [Diagnostic]) {
        let sink = DiagnosticSink()
        let reader = FieldReader(path: path, relativePath: path, sink: sink)
        var settings = Settings()
        switch YAMLReader.read(bytes) {
        case .failure(let problem):
            sink.error(problem.message, at: SourceLocation(path: path, relativePath: path, mark: problem.mark))
        case .success(nil):
            break
        case .success(let root?):
            guard root.isNull == false, let fields = reader.fields(of: root, what: "the settings", known: keys) else { break }
            if let node = fields["segments"]?.value, let text = reader.string(node, what: "segments") {
                let directory = directoryName(path)
                settings.segments = text.hasPrefix("/") ? text : (directory.hasSuffix("/") ? directory : directory + "/") + text
            }
            if let node = fields["hooks"]?.value {
                var hooks: [FilterHook] = []
                for item in reader.list(node, what: "hooks") ?? [] {
                    guard let text = reader.string(item, what: "a hook") else { continue }
                    switch parseHook(text) {
                    case .success(let hook): if !hooks.contains(hook) { hooks.append(hook) }
                    case .failure(let message): reader.error(message.description, at: item)
                    }
                }
                if hooks.isEmpty, case .sequence(let items) = node.kind, items.isEmpty {
                    reader.error("hooks must name at least one of input, output, forward", at: node)
                }
                settings.hooks = hooks.sorted()
            }
            if let node = fields["failsafe"]?.value {
                var ports: [PortSpec] = []
                let items: [YAMLNode] = node.isNull ? [] : (reader.list(node, what: "failsafe") ?? [])
                for item in items {
                    guard let text = reader.string(item, what: "a port") else { continue }
                    switch PortSpec.parse(text) {
                    case .success(let spec) where spec.proto == .icmp:
                        reader.error("failsafe takes tcp and udp ports; essential ICMP is always allowed", at: item)
                    case .success(let spec): ports.append(spec)
                    case .failure(let problem): reader.error(problem.description, at: item)
                    }
                }
                settings.failsafe = ports
                settings.failsafeOrigin = "\(path):\(node.mark.line)"
            }
            if let node = fields["state"]?.value, let text = reader.string(node, what: "state") {
                settings.state = text.hasPrefix("/") ? text : directoryName(path) + "/" + text
            }
            if let node = fields["lock"]?.value {
                switch node.scalarText.flatMap(parseBoolean) {
                case let value?: settings.lock = value
                case nil: reader.error("lock must be true or false", at: node)
                }
            }
            if let node = fields["drift"]?.value, let text = reader.string(node, what: "drift") {
                switch DriftMode(rawValue: text) {
                case let mode?: settings.drift = mode
                case nil: reader.error("drift must be 'heal' or 'report'" + Suggestion.didYouMean(text, among: ["heal", "report"]), at: node)
                }
            }
            if let node = fields["resync"]?.value, let text = reader.string(node, what: "resync") {
                switch parseDuration(text) {
                case let seconds?: settings.resync = seconds
                case nil: reader.error("resync must be a duration such as 60s, 5m or 1h (at least 1s)", at: node)
                }
            }
            if let node = fields["status"]?.value, let text = reader.string(node, what: "status") {
                settings.status = text.hasPrefix("/") ? text : directoryName(path) + "/" + text
            }
            if let node = fields["metrics"]?.value {
                if node.isNull || node.scalarText == "off" {
                    settings.metrics = nil
                } else if let text = reader.string(node, what: "metrics") {
                    settings.metrics = text.hasPrefix("/") ? text : directoryName(path) + "/" + text
                }
            }
            if let node = fields["policy"]?.value, let text = reader.string(node, what: "policy") {
                switch parsePolicy(text) {
                case .success(let policy): settings.policy = policy
                case .failure(let message): reader.error(message.description, at: node)
                }
            }
        }
        let diagnostics = sink.diagnostics.sorted()
        return (diagnostics.hasErrors ? nil : settings, diagnostics)
    }

    /// `90`, `90s`, `5m`, `1h`: seconds; nil when unreadable or under one second.
    public static func parseDuration(_ text: String) -> Double? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600]
        var digits = Substring(text), factor = 1.0
        if let last = text.last, let unit = units[last] {
            digits = text.dropLast()
            factor = unit
        }
        guard let value = Double(digits), value.isFinite, value * factor >= 1 else { return nil }
        return value * factor
    }

    /// YAML's usual spellings of a boolean.
    public static func parseBoolean(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: return nil
        }
    }

    /// Reads a hook name, explaining the choices when it is not one.
    public static func parseHook(_ text: String) -> Result<FilterHook, FileReadError> {
        if let hook = FilterHook(rawValue: text) { return .success(hook) }
        let names = FilterHook.allCases.map(\.rawValue)
        return .failure(FileReadError("unknown hook '\(text)' (expected input, output or forward)" + Suggestion.didYouMean(text, among: names)))
    }

    /// Reads a policy name, explaining the choices when it is not one.
    public static func parsePolicy(_ text: String) -> Result<EnforcementPolicy, FileReadError> {
        if let policy = EnforcementPolicy(rawValue: text) { return .success(policy) }
        return .failure(FileReadError("unknown policy '\(text)' (expected enforce or audit)"
                                      + Suggestion.didYouMean(text, among: EnforcementPolicy.allCases.map(\.rawValue))))
    }

    private static func directoryName(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}

#if canImport(Glibc)
import Glibc
#endif
