import BulkheadCore

/// The options every model-reading command shares, and how they combine with the settings file.
enum ModelOptions {
    static let specs: [OptionSpec] = [
        OptionSpec(long: "config", short: "c", valueName: "FILE",
                   help: "settings file (default \(Settings.defaultPath); missing is fine)"),
        OptionSpec(long: "segments", short: "s", valueName: "DIR",
                   help: "segments directory (default from settings, else \(Settings.defaultSegments))"),
        OptionSpec(long: "hooks", short: nil, valueName: "LIST",
                   help: "hooks to filter, comma-separated: input,output,forward (default input)"),
        OptionSpec(long: "failsafe", short: nil, valueName: "LIST",
                   help: "inbound ports always open, e.g. tcp/22,udp/68 (default); 'none' for none"),
        OptionSpec(long: "policy", short: nil, valueName: "MODE",
                   help: "enforce (drop what no flow allows, default) or audit (log it and accept)"),
    ]

    /// Settings from the file, overridden by flags; diagnostics go to the console.
    static func settings(_ arguments: ParsedArguments, console: Console) -> Settings? {
        let path = arguments.value("config") ?? Settings.defaultPath
        let (loaded, diagnostics) = Settings.load(path: path, required: arguments.value("config") != nil)
        for diagnostic in diagnostics { console.err("\(diagnostic)\n") }
        guard var settings = loaded else { return nil }
        do {
            if let segments = arguments.value("segments") { settings.segments = segments }
            if let hooks = arguments.value("hooks") {
                settings.hooks = try hooks.split(separator: ",").map { word in
                    try Settings.parseHook(String(word)).mapError { UsageError($0.description) }.get()
                }
                settings.hooks = Array(Set(settings.hooks)).sorted()
                if settings.hooks.isEmpty { throw UsageError("--hooks needs at least one of input, output, forward") }
            }
            if let failsafe = arguments.value("failsafe") {
                settings.failsafe = try failsafe == "none" ? [] : failsafe.split(separator: ",").map { word in
                    let spec = try PortSpec.parse(String(word)).mapError { UsageError("--failsafe: \($0)") }.get()
                    if spec.proto == .icmp { throw UsageError("--failsafe takes tcp and udp ports") }
                    return spec
                }
                settings.failsafeOrigin = "--failsafe"
            }
            if let policy = arguments.value("policy") {
                settings.policy = try Settings.parsePolicy(policy).mapError { UsageError($0.description) }.get()
            }
        } catch {
            console.err("bulkhead: \(error)\n")
            return nil
        }
        return settings
    }

    /// Loads the model, printing every diagnostic; nil when it has errors (or warnings under `strict`).
    static func load(_ settings: Settings, console: Console, strict: Bool = false) -> (model: Model?, result: LoadResult) {
        let result = SegmentLoader.load(directory: settings.segments)
        for diagnostic in result.diagnostics { console.err("\(diagnostic)\n") }
        let failed = result.model == nil || (strict && !result.diagnostics.isEmpty)
        return (failed ? nil : result.model, result)
    }
}
