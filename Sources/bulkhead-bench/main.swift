import BulkheadCore
#if canImport(Glibc)
import Glibc
#endif

/// bulkhead-bench: tools for the benchmarks. `generate` writes a synthetic segments directory.
let usage = """
Usage: bulkhead-bench generate --out DIR [--zones Z] [--cidrs-per-zone C] [--flows F] [--ports P] [--seed S]

Writes a valid segments directory with Z zones of C CIDRs each (IPv4 /29s and IPv6 /64s from
the benchmarking and documentation ranges), F flows between random zone pairs with P TCP ports
each (every tenth flow uses a service), reproducibly for a seed. Prints the compiled size.
Defaults: --zones 100 --cidrs-per-zone 4 --flows 300 --ports 2 --seed 1

"""

/// Writes to standard error.
func printError(_ text: String) {
    var text = text
    text.withUTF8 { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
}

func fail(_ message: String) -> Never {
    printError("bulkhead-bench: \(message)\n")
    exit(1)
}

var arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.first == "generate" else {
    if arguments.contains("--help") { print(usage, terminator: "") } else { printError(usage) }
    exit(arguments.contains("--help") ? 0 : 1)
}
arguments.removeFirst()
var options: [String: String] = [:]
while let flag = arguments.first {
    guard flag.hasPrefix("--"), arguments.count >= 2 else { fail("unexpected '\(flag)'\n\(usage)") }
    options[String(flag.dropFirst(2))] = arguments[1]
    arguments.removeFirst(2)
}
@MainActor func number(_ key: String, _ fallback: Int) -> Int {
    guard let text = options[key] else { return fallback }
    guard let value = Int(text), value >= 0 else { fail("--\(key) takes a number, not '\(text)'") }
    return value
}
guard let out = options["out"] else { fail("--out DIR is required\n\(usage)") }
let generator = ModelGenerator(zones: max(1, number("zones", 100)), cidrsPerZone: max(1, number("cidrs-per-zone", 4)),
                               flows: number("flows", 300), portsPerFlow: max(1, number("ports", 2)), seed: UInt64(number("seed", 1)))
for (path, text) in generator.files() {
    let directory = StateDirectory(path: out + "/" + (path.split(separator: "/").dropLast().joined(separator: "/")))
    do {
        try directory.writeAtomically(String(path.split(separator: "/").last ?? ""), Array(text.utf8))
    } catch {
        fail("\(error)")
    }
}
let result = SegmentLoader.load(directory: out)
guard let model = result.model else {
    for diagnostic in result.diagnostics.prefix(10) { printError("\(diagnostic)\n") }
    fail("the generated model is invalid (a bug)")
}
var settings = Settings()
settings.hooks = [.input, .output, .forward]
let table = Compiler(model: model, settings: settings).compile()
print("\(out): \(model.zones.count) zones, \(model.zones.reduce(0) { $0 + $1.addresses.count }) CIDRs, \(model.flows.count) flows"
      + " -> \(table.chains.count) chains, \(table.chains.reduce(0) { $0 + $1.rules.count }) rules, \(table.sets.count) sets,"
      + " \(table.sets.reduce(0) { $0 + $1.elements.count }) elements")
