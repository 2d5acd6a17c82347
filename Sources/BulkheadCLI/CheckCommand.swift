import BulkheadCore

/// `bulkhead check`: validate the model and settings, compiler style.
enum CheckCommand: Command {
    static let name = "check"
    static let summary = "validate the segment model (for CI and before deploying)"
    static let options = ModelOptions.specs + [
        OptionSpec(long: "strict", short: nil, valueName: nil, help: "treat warnings as errors"),
        OptionSpec(long: "help", short: "h", valueName: nil, help: "show this help"),
    ]
    static var help: String {
        """
        Usage: bulkhead check [-s DIR] [-c FILE] [--strict]

        Loads every *.yaml/*.yml file under the segments directory (recursively, in sorted
        path order; names starting with '.' are skipped), validates zones, services and flows,
        and prints every problem as 'path:line:column: error: message' (or 'warning:'),
        sorted by path and line. Nothing is changed on the host and no root is needed.

        Options:
        \(ArgumentScanner.helpLines(options))

        Exit status: 0 when the model is valid (warnings allowed unless --strict), 1 when not.

        Examples:
          bulkhead check -s segments/              # in CI, on the repository
          bulkhead check --strict -s segments/     # also fail on warnings
        """ + "\n"
    }

    static func run(_ arguments: ParsedArguments, console: Console) -> Int32 {
        guard arguments.positional.isEmpty else {
            console.err("bulkhead check: unexpected argument '\(arguments.positional[0])'; see 'bulkhead check --help'\n")
            return ExitCode.failure
        }
        guard let settings = ModelOptions.settings(arguments, console: console) else { return ExitCode.failure }
        let strict = arguments.has("strict")
        let (model, result) = ModelOptions.load(settings, console: console, strict: strict)
        let errors = result.diagnostics.filter { $0.severity == .error }.count
        let warnings = result.diagnostics.count - errors
        guard let model else {
            console.err("\(settings.segments): invalid: \(errors) error\(errors == 1 ? "" : "s"), \(warnings) warning\(warnings == 1 ? "" : "s")\n")
            return ExitCode.failure
        }
        let table = Compiler(model: model, settings: settings).compile()
        let elements = table.sets.reduce(0) { $0 + $1.elements.count }
        let rules = table.chains.reduce(0) { $0 + $1.rules.count }
        console.out("\(settings.segments): ok: \(model.zones.count) zones, \(model.services.count) services, \(model.flows.count) flows"
                    + " -> \(table.chains.count) chains, \(rules) rules, \(table.sets.count) sets, \(elements) elements"
                    + (warnings > 0 ? "; \(warnings) warning\(warnings == 1 ? "" : "s")" : "") + "\n")
        return ExitCode.success
    }
}
