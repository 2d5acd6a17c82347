import BulkheadCLI
import BulkheadCore
import Foundation
import Testing

enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static var exampleSegments: String { repository.appendingPathComponent("segments").path }

    /// Compares `text` with a golden file; `BULKHEAD_UPDATE_GOLDEN=1 swift test` rewrites the files instead.
    static func expectGolden(_ text: String, _ name: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
        let url = directory.appendingPathComponent("golden").appendingPathComponent(name)
        if ProcessInfo.processInfo.environment["BULKHEAD_UPDATE_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        let golden = try String(contentsOf: url, encoding: .utf8)
        #expect(text == golden, "output differs from golden file \(name); rerun with BULKHEAD_UPDATE_GOLDEN=1 to accept",
                sourceLocation: sourceLocation)
    }
}

/// Captures what a CLI run prints.
final class CapturedConsole: @unchecked Sendable {
    private let lock = NSLock()
    private var outText = "", errText = ""
    var out: String { lock.withLock { outText } }
    var err: String { lock.withLock { errText } }

    var console: Console {
        Console(out: { text in self.lock.withLock { self.outText += text } },
                err: { text in self.lock.withLock { self.errText += text } })
    }

    /// Runs `bulkhead ARGS` and returns the exit status and output.
    static func run(_ arguments: [String]) -> (status: Int32, out: String, err: String) {
        let captured = CapturedConsole()
        let status = BulkheadCommandLine.run(arguments, console: captured.console)
        return (status, captured.out, captured.err)
    }
}

@Suite struct GoldenRenderTests {
    /// The example model with default settings, all hooks, and audit mode.
    @Test(arguments: [
        (["--hooks", "input"], "example-input.nft"),
        (["--hooks", "input,output,forward"], "example-all-hooks.nft"),
        (["--hooks", "input,output", "--policy", "audit", "--failsafe", "none"], "example-audit.nft"),
    ])
    func exampleRendersAsGolden(flags: [String], golden: String) throws {
        let rendered = CapturedConsole.run(["render", "-s", Fixtures.exampleSegments, "-c",
                                            Fixtures.directory.appendingPathComponent("empty-settings.yaml").path] + flags)
        #expect(rendered.status == 0, "\(rendered.err)")
        #expect(rendered.err.isEmpty, "the example model must load without warnings: \(rendered.err)")
        try Fixtures.expectGolden(rendered.out, golden)
    }

    @Test func renderIsDeterministic() {
        let args = ["render", "-s", Fixtures.exampleSegments, "--hooks", "input,output,forward",
                    "-c", Fixtures.directory.appendingPathComponent("empty-settings.yaml").path]
        #expect(CapturedConsole.run(args).out == CapturedConsole.run(args).out)
    }
}

@Suite struct RuleTextTests {
    @Test func builderShapesReadAsNftSyntax() {
        let cases: [(Rule, String)] = [
            (RuleBuilder.ctState(ConntrackState.established | ConntrackState.related, .accept), "ct state established,related accept"),
            (RuleBuilder.ctState(ConntrackState.invalid, .drop), "ct state invalid drop"),
            (RuleBuilder.loopback(input: true), "iif \"lo\" accept"),
            (RuleBuilder.loopback(input: false), "oif \"lo\" accept"),
            (RuleBuilder.icmpTypeInSet(.ipv4, set: "icmp.essential", .accept), "icmp type @icmp.essential accept"),
            (RuleBuilder.icmpTypeInSet(.ipv6, set: "x", .accept), "icmpv6 type @x accept"),
            (RuleBuilder.echoRequest(.ipv4, counter: true, .accept), "icmp type echo-request counter accept"),
            (RuleBuilder.echoRequest(.ipv6, counter: false, .accept), "icmpv6 type echo-request accept"),
            (RuleBuilder.destinationPortInSet(.tcp, set: "svc.web.tcp", counter: true, .accept, comment: "flow a (f.yaml:3)"),
             "tcp dport @svc.web.tcp counter accept comment \"flow a (f.yaml:3)\""),
            (RuleBuilder.destinationPortInSet(.udp, set: "s", counter: false, .drop), "udp dport @s drop"),
            (RuleBuilder.addressVerdictMap(.ipv4, source: true, map: "zone.src.v4"), "ip saddr vmap @zone.src.v4"),
            (RuleBuilder.addressVerdictMap(.ipv6, source: false, map: "m"), "ip6 daddr vmap @m"),
            (RuleBuilder.addressInSet(.ipv4, source: false, set: "zoned.v4", logPrefix: nil, .drop), "ip daddr @zoned.v4 counter drop"),
            (RuleBuilder.addressInSet(.ipv6, source: true, set: "e", logPrefix: "audit: ", .accept),
             "ip6 saddr @e counter log prefix \"audit: \" accept"),
            (RuleBuilder.verdict(.jump("x")), "jump x"),
        ]
        for (rule, text) in cases {
            #expect(RuleText.describe(rule) == text)
        }
    }

    @Test func foreignShapesReadAsNftSyntaxOrRawBytecode() {
        // `tcp dport 22 drop`, as nft encodes it: readable.
        let dport = Rule([
            .meta(key: .l4proto, dreg: 1), .cmp(op: .eq, sreg: 1, data: [6]),
            .payload(base: .transport, offset: 2, length: 2, dreg: 1), .cmp(op: .eq, sreg: 1, data: [0, 22]),
            .immediateVerdict(.drop),
        ])
        #expect(RuleText.describe(dport) == "tcp dport 22 drop")
        let saddr = Rule([
            .meta(key: .nfproto, dreg: 1), .cmp(op: .eq, sreg: 1, data: [2]),
            .payload(base: .network, offset: 12, length: 4, dreg: 1), .cmp(op: .neq, sreg: 1, data: [198, 18, 0, 1]),
            .counter, .immediateVerdict(.accept),
        ])
        #expect(RuleText.describe(saddr) == "ip saddr != 198.18.0.1 counter accept")
        // A payload read with no protocol context cannot be named: shown as bytecode, never guessed.
        let unnamed = Rule([.payload(base: .transport, offset: 2, length: 2, dreg: 1), .cmp(op: .eq, sreg: 1, data: [0, 22]),
                            .immediateVerdict(.accept)])
        #expect(RuleText.describe(unnamed)
                == "[ payload load 2b @ transport header + 2 => reg 1 ] [ cmp eq reg 1 0x00001600 ] [ immediate reg 0 accept ]")
        let unknown = Rule([.unknown(name: "quota", attributes: ["bytes 100"]), .immediateVerdict(.drop)], comment: "hand-made")
        #expect(RuleText.describe(unknown) == "[ quota bytes 100 ] [ immediate reg 0 drop ] comment \"hand-made\"")
    }

    @Test func commentsAreMadeSafeAndShort() {
        #expect(CommentText.fit("say \"hi\"\nthere") == "say 'hi' there")
        #expect(CommentText.fit("team\u{0}x\ty\u{7f}") == "team x y ")
        let long = String(repeating: "é", count: 200)
        let fitted = CommentText.fit(long)
        #expect(fitted.utf8.count <= CommentText.maximumBytes)
        #expect(fitted.hasSuffix("..."))
    }
}
