import BulkheadCore

/// `bulkhead status`: what the daemon reports, for on-call.
enum StatusCommand: Command {
    static let name = "status"
    static let summary = "show what the running daemon enforces, its drift, heals and errors"
    static let options = [ModelOptions.specs[0],
                          OptionSpec(long: "status", short: nil, valueName: "FILE", help: "status file (default from settings)"),
                          OptionSpec(long: "json", short: nil, valueName: nil, help: "print the status file as JSON"),
                          OptionSpec(long: "help", short: "h", valueName: nil, help: "show this help")]
    static var help: String {
        """
        Usage: bulkhead status [-c FILE] [--json]

        Reads the status file the daemon rewrites atomically after every event (setting
        'status', default /run/bulkhead/status.json) and prints: mode, the model being enforced
        (digest and source) and whether the one on disk is valid, the last apply (time,
        duration, objects changed), current drift with its changes and culprit, heals, and the
        last error. Needs no privileges beyond reading that file.

        Options:
        \(ArgumentScanner.helpLines(options))

        Exit status: 0 when enforcing without drift or errors, 2 when there is drift or the
        model on disk is invalid, 1 when the status cannot be read (daemon not running?).
        """ + "\n"
    }

    static func run(_ arguments: ParsedArguments, console: Console) -> Int32 {
        guard let settings = ModelOptions.settings(arguments, console: console) else { return ExitCode.failure }
        let path = arguments.value("status") ?? settings.status
        let status: DaemonStatus
        do {
            status = try DaemonStatus.load(path)
        } catch {
            console.err("bulkhead status: cannot read \(path): \(error)\nIs the daemon running? (systemctl status bulkhead)\n")
            return ExitCode.failure
        }
        if arguments.has("json") {
            console.out(String(decoding: (try? status.json(pretty: true)) ?? [], as: UTF8.self) + "\n")
        } else {
            console.out(text(status))
        }
        return status.drift.present || !status.model.valid ? 2 : ExitCode.success
    }

    static func text(_ status: DaemonStatus) -> String {
        var lines: [String] = []
        let scope = status.networkNamespace.map { " in network namespace \($0)" } ?? ""
        lines.append("bulkhead (pid \(status.pid)\(scope)), \(status.policy), drift: \(status.driftMode), lock \(status.lock ? "on" : "off"); updated \(status.updatedAt)")
        lines.append("model:      \(status.model.digest.map { String($0.prefix(19)) } ?? "none applied") from \(status.model.source)"
                     + (status.model.valid ? "" : " -- the model on disk is INVALID, the last good one stays enforced:"))
        for error in status.model.errors.prefix(20) { lines.append("              \(error)") }
        if let apply = status.lastApply {
            lines.append("last apply: \(apply.at) (\(apply.reason)): \(apply.objectsChanged) objects in \(Int(apply.durationMs)) ms, generation \(apply.generation)")
        } else {
            lines.append("last apply: none")
        }
        lines.append("applies:    \(status.applies), errors \(status.applyErrors), heals \(status.heals), \(status.rulesetElements) set elements")
        if status.drift.present {
            let who = status.drift.culprit.map { "\($0.name) (pid \($0.pid))" } ?? "unknown"
            lines.append("DRIFT:      \(status.drift.changes.count) changes by \(who), detected \(status.drift.detectedAt ?? "?")")
            for change in status.drift.changes.prefix(50) {
                lines += ChangeText.lines(change, verbs: DriftCommand.verbs)
            }
        } else {
            lines.append("drift:      none")
        }
        if let last = status.lastDrift {
            let who = last.culprit.map { "\($0.name) (pid \($0.pid))" } ?? "unknown"
            lines.append("last drift: \(last.detectedAt ?? "?") by \(who), \(last.changes.count) changes, \(last.healed ? "healed" : "not healed")")
        }
        if let error = status.lastError { lines.append("last error: \(error)") }
        return lines.joined(separator: "\n") + "\n"
    }
}
