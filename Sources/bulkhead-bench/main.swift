import BulkheadCore
#if canImport(Glibc)
import Glibc
#endif

/// bulkhead-bench: tools for the benchmarks. `generate` writes a synthetic segments directory.
let usage = """
Usage: bulkhead-bench generate --out DIR [--zones Z] [--cidrs-per-zone C] [--flows F] [--ports P] [--seed S]
       bulkhead-bench load serve --port P --seconds S          (prints UDP datagrams received)
       bulkhead-bench load tcp|udp --to IPV4 --port P --seconds S [--threads T]   (prints the rate per second)
       bulkhead-bench plan-time DIR     (where an incremental apply's planning time goes, for profiling)

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
if arguments.first == "load", arguments.count >= 2 {
    let mode = arguments[1]
    var options: [String: String] = [:]
    var rest = Array(arguments.dropFirst(2))
    while rest.count >= 2, rest[0].hasPrefix("--") {
        options[String(rest[0].dropFirst(2))] = rest[1]
        rest.removeFirst(2)
    }
    guard rest.isEmpty, let port = options["port"].flatMap(UInt16.init), let seconds = options["seconds"].flatMap(Double.init) else {
        fail("load: bad arguments\n\(usage)")
    }
    let threads = options["threads"].flatMap(Int.init) ?? 4
    switch mode {
    case "serve": print(LoadGenerator.serve(port: port, seconds: seconds))
    case "tcp", "udp":
        guard let host = options["to"] else { fail("load \(mode): --to IPV4 is required") }
        let rate = mode == "tcp" ? LoadGenerator.tcp(to: host, port: port, seconds: seconds, threads: threads)
                                 : LoadGenerator.udp(to: host, port: port, seconds: seconds, threads: threads)
        print(Int(rate))
    default: fail("load: unknown mode '\(mode)'\n\(usage)")
    }
    exit(0)
}
if arguments.first == "plan-time", arguments.count == 2 {
    // Where an incremental apply's planning time goes, for the large model in arguments[1].
    let result = SegmentLoader.load(directory: arguments[1])
    guard let model = result.model else { fail("invalid model") }
    var settings = Settings()
    settings.hooks = [.input, .output, .forward]
    let live = Compiler(model: model, settings: settings).compile(digest: "sha256:a")
    var changed = model
    changed.flows[0].ports = [PortSpec(.tcp, 40000...40000)]
    let desired = Compiler(model: changed, settings: settings).compile(digest: "sha256:b")
    func time(_ label: String, _ body: () -> Int) {
        var samples: [Double] = []
        var size = 0
        for _ in 0..<5 {
            let start = MonotonicClock.seconds()
            size = body()
            samples.append((MonotonicClock.seconds() - start) * 1000)
        }
        print("\(label): \(samples.sorted()[2]) ms (\(size))")
    }
    time("compile") { Compiler(model: changed, settings: settings).compile(digest: "sha256:b").chains.count }
    time("TransactionPlan.make") { TransactionPlan.make(desired: desired, live: live).operations.count }
    time("RulesetDiff.changes") { RulesetDiff.changes(expected: desired, live: live).count }
    time("Table ==") { desired == live ? 1 : 0 }
    exit(0)
}
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
