import BulkheadCore
import FoundationEssentials

/// `bulkhead drift`: compare the live table with what was last applied.
enum DriftCommand: Command {
    static let name = "drift"
    static let summary = "report changes made to the firewall by hand since the last apply"
    static let options = [ModelOptions.specs[0]] + DataplaneOptions.specs.filter { $0.long != "lock" } + [
        OptionSpec(long: "json", short: nil, valueName: nil, help: "print the report as JSON"),
        OptionSpec(long: "help", short: "h", valueName: nil, help: "show this help"),
    ]
    static var help: String {
        """
        Usage: bulkhead drift [-c FILE] [--netns NAME] [--state DIR] [--json]

        Reads the live table inet bulkhead over netlink and compares it with what 'bulkhead
        apply' last applied (recorded in the state directory), not with the YAML on disk,
        which may have changed since. Every difference is listed with its object (table,
        chain, rule with its handle, set, element), whether it was added, removed or changed
        by someone else, and both the expected and the live form in nft syntax. A missing
        table is drift too. Other tables are listed for information. Changes nothing; run
        'bulkhead apply' to heal.

        JSON: {"drift": bool, "checked_at": ..., "generation": ..., "changes": [{"object": ...,
        "change": "added|removed|changed", "expected": ..., "live": ...}], ...}

        Options:
        \(ArgumentScanner.helpLines(options))

        Exit status: 0 no drift, 2 drift, 1 error (for example nothing applied yet).

        Examples:
          bulkhead drift
          bulkhead drift --json | jq '.changes[].object'
        """ + "\n"
    }

    /// How a change reads in a drift report: what someone did to the live table.
    static let verbs: [RulesetChange.Kind: String] = [.added: "added", .removed: "removed", .changed: "changed"]

    struct Report: Encodable {
        var drift: Bool
        var checkedAt: String
        var generation: UInt32
        var changes: [RulesetChange]
        var appliedAt: String
        var modelDigest: String
        var otherTables: [String]
        enum CodingKeys: String, CodingKey {
            case drift, checkedAt = "checked_at", generation, changes, appliedAt = "applied_at", modelDigest = "model_digest"
            case otherTables = "other_tables"
        }
    }

    static func run(_ arguments: ParsedArguments, console: Console) -> Int32 {
        guard let settings = DataplaneOptions.settings(arguments, console: console) else { return ExitCode.failure }
        do {
            let state = StateDirectory(path: settings.state)
            let session = try DataplaneOptions.session(arguments)
            // Fast path: the ruleset generation has not moved since our apply, so nothing can differ.
            if let summary = try state.loadSummary(), try session.generation() == summary.generation {
                let others = try session.dumpTables().filter { !($0.family == ObjectNames.tableFamily && $0.name == ObjectNames.table) }
                return try emit(Report(drift: false, checkedAt: StateDirectory.timestamp(), generation: summary.generation, changes: [],
                                    appliedAt: summary.appliedAt, modelDigest: summary.modelDigest,
                                    otherTables: others.map { "\($0.family.rawValue) \($0.name)" }), arguments, console)
            }
            guard let applied = try state.loadApplied() else {
                console.err("bulkhead drift: nothing was applied yet (no \(StateDirectory.appliedFile) in \(settings.state)); "
                            + "run 'bulkhead apply' first\n")
                return ExitCode.failure
            }
            let live = try session.read(attempts: 10)
            let changes = RulesetDiff.changes(expected: applied.table, live: live.table)
            return try emit(Report(drift: !changes.isEmpty, checkedAt: StateDirectory.timestamp(), generation: live.generation,
                                changes: changes, appliedAt: applied.appliedAt, modelDigest: applied.modelDigest,
                                otherTables: live.otherTables.map { "\($0.family.rawValue) \($0.name)" }), arguments, console)
        } catch {
            console.err("bulkhead drift: \(error)\n")
            return ExitCode.failure
        }
    }

    /// Prints the report (text or JSON) and returns the exit status.
    private static func emit(_ report: Report, _ arguments: ParsedArguments, _ console: Console) throws -> Int32 {
        if arguments.has("json") {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            console.out(String(decoding: try encoder.encode(report), as: UTF8.self) + "\n")
        } else {
            console.out(text(report, target: DataplaneOptions.target(arguments)))
        }
        return report.drift ? 2 : ExitCode.success
    }

    /// The report as on-call reads it.
    static func text(_ report: Report, target: String) -> String {
        var lines: [String] = []
        let applied = "last applied \(report.appliedAt), model \(report.modelDigest.prefix(19))"
        if report.drift {
            lines.append("DRIFT: \(target) differs from what was applied: \(report.changes.count) change"
                         + "\(report.changes.count == 1 ? "" : "s") (checked \(report.checkedAt), generation \(report.generation); \(applied))")
            for change in report.changes { lines += ChangeText.lines(change, verbs: verbs) }
            lines.append("Run 'bulkhead apply' to restore it.")
        } else {
            lines.append("no drift: \(target) is as applied (checked \(report.checkedAt), generation \(report.generation); \(applied))")
        }
        if !report.otherTables.isEmpty {
            lines.append("other tables (not managed by bulkhead): \(report.otherTables.joined(separator: ", "))")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
