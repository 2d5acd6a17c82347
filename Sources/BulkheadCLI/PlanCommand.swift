import BulkheadCore
import FoundationEssentials

/// `bulkhead plan`: what apply would change.
enum PlanCommand: Command {
    static let name = "plan"
    static let summary = "show what apply would change in the kernel, object by object"
    static let options = ModelOptions.specs + DataplaneOptions.specs + [
        OptionSpec(long: "json", short: nil, valueName: nil, help: "print the changes as JSON"),
        OptionSpec(long: "help", short: "h", valueName: nil, help: "show this help"),
    ]
    static var help: String {
        """
        Usage: bulkhead plan [-s DIR] [-c FILE] [--netns NAME] [--json]

        Validates the model, compiles it, reads the live table inet bulkhead over netlink and
        prints every object apply would create, delete or update, in nft syntax. Changes
        nothing. Needs CAP_NET_ADMIN (root) to read the ruleset.

        Options:
        \(ArgumentScanner.helpLines(options))

        Exit status: 0 when the live table already equals the model, 2 when apply would
        change something, 1 on error (invalid model, no permission, ...).

        Examples:
          bulkhead plan                       # on a host, with /etc/bulkhead/bulkhead.yaml
          bulkhead plan -s segments/ --json   # in CI or scripts
        """ + "\n"
    }

    /// How a change reads in a plan: what apply will do to the live table.
    static let verbs: [RulesetChange.Kind: String] = [.removed: "create", .added: "delete", .changed: "update"]

    static func run(_ arguments: ParsedArguments, console: Console) -> Int32 {
        guard let settings = DataplaneOptions.settings(arguments, console: console),
              let (table, digest) = DataplaneOptions.desiredTable(settings, console: console) else { return ExitCode.failure }
        do {
            let session = try DataplaneOptions.session(arguments)
            let (live, plan, changes) = try Reconciler(backend: session, lock: settings.lock).plan(table)
            if arguments.has("json") {
                struct Report: Encodable {
                    var changes: [RulesetChange]
                    var operations: Int
                    var fullReplace: Bool
                    var generation: UInt32
                    var modelDigest: String
                    enum CodingKeys: String, CodingKey {
                        case changes, operations, fullReplace = "full_replace", generation, modelDigest = "model_digest"
                    }
                }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                let data = try encoder.encode(Report(changes: changes, operations: plan.operations.count, fullReplace: plan.isFullReplace,
                                                     generation: live.generation, modelDigest: digest))
                console.out(String(decoding: data, as: UTF8.self) + "\n")
            } else if plan.isEmpty {
                console.out("\(DataplaneOptions.target(arguments)) matches the model (\(digest.prefix(19))); nothing to do\n")
            } else {
                let kind = live.table == nil ? "create the table" : (plan.isFullReplace ? "replace the whole table (one transaction)"
                                                                      : "change it in place")
                console.out("\(DataplaneOptions.target(arguments)): \(changes.count) difference\(changes.count == 1 ? "" : "s"); "
                            + "apply would \(kind) with \(plan.operations.count) operations\n")
                for change in changes.prefix(500) {
                    console.out(ChangeText.lines(change, verbs: verbs).joined(separator: "\n") + "\n")
                }
                if changes.count > 500 { console.out("  ... and \(changes.count - 500) more (use --json for all)\n") }
            }
            return plan.isEmpty ? ExitCode.success : 2
        } catch {
            console.err("bulkhead plan: \(error)\n")
            return ExitCode.failure
        }
    }
}
