import BulkheadCLI
import BulkheadCore
import Foundation
import Testing

@Suite struct CommandLineTests {
    static var emptySettings: String { Fixtures.directory.appendingPathComponent("empty-settings.yaml").path }

    /// Makes a temporary segments directory with the given files; removed by the caller.
    static func segments(_ files: [String: String]) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bulkhead-cli-\(UUID().uuidString)")
        for (name, text) in files {
            let url = directory.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        return directory
    }

    @Test(arguments: ["check", "render"])
    func everyCommandHasHelpThatTeaches(command: String) {
        let result = CapturedConsole.run([command, "--help"])
        #expect(result.status == 0)
        #expect(result.out.contains("Usage: bulkhead \(command)"))
        #expect(result.out.contains("Exit status"))
        #expect(result.out.contains("Examples"))
        #expect(result.out.contains("--segments DIR"))
        #expect(CapturedConsole.run(["help", command]).out == result.out)
    }

    @Test func overviewListsCommands() {
        let result = CapturedConsole.run(["--help"])
        #expect(result.status == 0)
        #expect(result.out.contains("check") && result.out.contains("render"))
        #expect(CapturedConsole.run([]).status == 1)
    }

    @Test func mistakesGetSuggestions() {
        let command = CapturedConsole.run(["chek"])
        #expect(command.status == 1)
        #expect(command.err.contains("unknown command 'chek' (did you mean 'check'?)"))
        let option = CapturedConsole.run(["check", "--segmnts", "x"])
        #expect(option.status == 1)
        #expect(option.err.contains("(did you mean '--segments'?)"))
        let missing = CapturedConsole.run(["check", "-s"])
        #expect(missing.err.contains("needs a value"))
        let hook = CapturedConsole.run(["render", "-c", Self.emptySettings, "-s", Fixtures.exampleSegments, "--hooks", "inptu"])
        #expect(hook.status == 1)
        #expect(hook.err.contains("did you mean 'input'"))
    }

    @Test func checkPassesTheExampleWithoutWarnings() {
        let result = CapturedConsole.run(["check", "--strict", "-c", Self.emptySettings, "-s", Fixtures.exampleSegments])
        #expect(result.status == 0, "\(result.err)")
        #expect(result.err.isEmpty)
        #expect(result.out.contains(": ok: 9 zones"))
    }

    @Test func checkPrintsEveryProblemCompilerStyleAndFails() throws {
        let directory = try Self.segments([
            "a.yaml": "zones:\n  web:\n    owner: x\n    adresses: [198.51.100.0/24]\n",
            "b/c.yml": "flows:\n  - from: wbe\n    to: web\n    ports: [tcp/0]\n",
        ])
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = CapturedConsole.run(["check", "-c", Self.emptySettings, "-s", directory.path])
        #expect(result.status == 1)
        let lines = result.err.split(separator: "\n").map(String.init)
        let a = directory.appendingPathComponent("a.yaml").path, c = directory.appendingPathComponent("b/c.yml").path
        #expect(lines.contains { $0.hasPrefix("\(a):4:5: error: unknown key 'adresses'") })
        #expect(lines.contains { $0.hasPrefix("\(a):2:3: warning: zone 'web' has no addresses") })
        #expect(lines.contains { $0.hasPrefix("\(c):2:11: error: unknown zone 'wbe' (did you mean 'web'?)") })
        #expect(lines.contains { $0.hasPrefix("\(c):4:13: error: 'tcp/0': port 0 is out of range") })
        #expect(lines.last?.contains("invalid: 3 errors, 1 warning") == true)
        // Sorted by path then line.
        let positions = lines.dropLast().map { $0.split(separator: ":").prefix(2).joined(separator: ":") }
        #expect(positions == positions.sorted { a, b in
            let pa = a.split(separator: ":"), pb = b.split(separator: ":")
            return (pa[0], Int(pa[1]) ?? 0) < (pb[0], Int(pb[1]) ?? 0)
        })
    }

    @Test func strictTurnsWarningsIntoFailure() throws {
        let directory = try Self.segments(["a.yaml": "zones:\n  web:\n    owner: x\n    addresses: []\n"])
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(CapturedConsole.run(["check", "-c", Self.emptySettings, "-s", directory.path]).status == 0)
        #expect(CapturedConsole.run(["check", "--strict", "-c", Self.emptySettings, "-s", directory.path]).status == 1)
    }

    @Test func missingOrEmptySegmentsDirectoryIsAnError() throws {
        let missing = CapturedConsole.run(["check", "-c", Self.emptySettings, "-s", "/nonexistent/segments"])
        #expect(missing.status == 1)
        #expect(missing.err.contains("/nonexistent/segments: error: cannot read the segments directory"))
        let empty = try Self.segments(["README.txt": "no yaml here"])
        defer { try? FileManager.default.removeItem(at: empty) }
        let result = CapturedConsole.run(["check", "-c", Self.emptySettings, "-s", empty.path])
        #expect(result.status == 1)
        #expect(result.err.contains("no model files"))
    }

    @Test func explicitSettingsFileMustExistButDefaultMayNot() {
        let result = CapturedConsole.run(["check", "-c", "/nonexistent/bulkhead.yaml", "-s", Fixtures.exampleSegments])
        #expect(result.status == 1)
        #expect(result.err.contains("cannot read settings"))
    }

    @Test func renderRefusesAnInvalidModelAndPrintsNothingOnStdout() throws {
        let directory = try Self.segments(["a.yaml": "zones: [oops]\n"])
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = CapturedConsole.run(["render", "-c", Self.emptySettings, "-s", directory.path])
        #expect(result.status == 1)
        #expect(result.out.isEmpty)
        #expect(result.err.contains("a.yaml:1:8: error:"))
    }

    @Test func flagsOverrideTheSettingsFile() throws {
        let directory = try Self.segments(["bulkhead.yaml": "segments: segs\nhooks: [forward]\nfailsafe: []\npolicy: audit\n",
                                           "segs/m.yaml": "zones:\n  a: {owner: x, addresses: [198.18.0.1]}\n"])
        defer { try? FileManager.default.removeItem(at: directory) }
        let settings = directory.appendingPathComponent("bulkhead.yaml").path
        let fromFile = CapturedConsole.run(["render", "-c", settings])
        #expect(fromFile.status == 0, "\(fromFile.err)")
        #expect(fromFile.out.contains("chain forward") && !fromFile.out.contains("chain input"))
        #expect(fromFile.out.contains("log prefix") && !fromFile.out.contains("failsafe"))
        let overridden = CapturedConsole.run(["render", "-c", settings, "--hooks", "input", "--policy", "enforce", "--failsafe", "tcp/2222"])
        #expect(overridden.out.contains("chain input") && !overridden.out.contains("chain forward"))
        #expect(overridden.out.contains("elements = { 2222 }") && !overridden.out.contains("log prefix"))
    }
}
