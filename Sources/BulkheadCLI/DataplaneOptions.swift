import BulkheadCore
import BulkheadNetlink
#if canImport(Glibc)
import Glibc
#endif

/// Options and set-up shared by the commands that talk to the kernel (plan, apply, drift).
enum DataplaneOptions {
    static let specs: [OptionSpec] = [
        OptionSpec(long: "state", short: nil, valueName: "DIR",
                   help: "where apply records what it applied (default \(Settings.defaultState))"),
        OptionSpec(long: "netns", short: nil, valueName: "NAME", help: "act inside the network namespace /run/netns/NAME"),
        OptionSpec(long: "lock", short: nil, valueName: "on|off",
                   help: "create the table owned and persistent (default on); see README"),
    ]

    /// Settings with the dataplane flags applied.
    static func settings(_ arguments: ParsedArguments, console: Console) -> Settings? {
        guard var settings = ModelOptions.settings(arguments, console: console) else { return nil }
        if let state = arguments.value("state") { settings.state = state }
        if let lock = arguments.value("lock") {
            guard let value = Settings.parseBoolean(lock) else {
                console.err("bulkhead: --lock takes on or off, not '\(lock)'\n")
                return nil
            }
            settings.lock = value
        }
        return settings
    }

    /// The model's compiled table (with its digest) and the digest; nil after printing diagnostics.
    static func desiredTable(_ settings: Settings, console: Console) -> (table: Table, digest: String)? {
        let (model, result) = ModelOptions.load(settings, console: console)
        guard let model else {
            console.err("bulkhead: the model in \(settings.segments) is invalid; nothing was changed\n")
            return nil
        }
        let digest = ModelDigest.of(result.sources)
        return (Compiler(model: model, settings: settings).compile(digest: digest), digest)
    }

    /// A session in the namespace the flags name.
    static func session(_ arguments: ParsedArguments) throws -> NftablesSession {
        try NftablesSession(networkNamespace: arguments.value("netns"))
    }

    /// Where the command acted, for messages: `table inet bulkhead` plus the namespace if any.
    static func target(_ arguments: ParsedArguments) -> String {
        "table inet bulkhead" + (arguments.value("netns").map { " in network namespace \($0)" } ?? "")
    }
}

/// Human-readable change lists, shared by plan and drift.
enum ChangeText {
    /// One change as indented lines; `verbs` names the three kinds from the reader's point of view.
    static func lines(_ change: RulesetChange, verbs: [RulesetChange.Kind: String]) -> [String] {
        let verb = verbs[change.change] ?? change.change.rawValue
        var lines = ["  \(verb.padding(9)) \(change.object)"]
        if let expected = change.expected { lines += indent("expected:", expected) }
        if let live = change.live { lines += indent("live:", live) }
        return lines
    }

    private static func indent(_ label: String, _ text: String) -> [String] {
        let parts = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard let first = parts.first else { return [] }
        return ["            \(label.padding(10)) \(first)"] + parts.dropFirst().map { "                       \($0)" }
    }
}

extension String {
    /// Padded with spaces to at least `width` characters.
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
