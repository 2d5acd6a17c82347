import BulkheadCLI
import BulkheadCore
import BulkheadNetlink
import Foundation
import Testing

/// A fleet-sized model: more than 100,000 set elements go in as one transaction, read back unchanged,
/// and the kernel holds what `nft -f` of the rendered script would hold.
@Suite(.enabled(if: KernelTestSupport.available, "needs root, nft and ip"))
struct LargeModelTests {
    static let zoneCount = 1000
    static let sourceZones = 10
    /// Per zone: 5 IPv4 /30s and 5 IPv6 /124s, none adjacent to another, so that no ranges merge.
    static let prefixesPerFamily = 5

    /// 1000 zones of 10 prefixes (inside 198.18.0.0/15 and 2001:db8:1::/64); one flow from the first 10 zones
    /// to every zone, so each of the 10 `from.zNNNN.dst.v4|v6` map pairs holds all 10,000 zone prefixes.
    static func yaml() -> String {
        var lines = ["zones:"]
        var serial = 0
        for zone in 0..<zoneCount {
            var addresses: [String] = []
            for _ in 0..<prefixesPerFamily {
                let v4 = 0xC612_0000 + UInt32(serial) * 8
                addresses.append("\(v4 >> 24).\((v4 >> 16) & 255).\((v4 >> 8) & 255).\(v4 & 255)/30")
                addresses.append("2001:db8:1::\(String(serial >> 11, radix: 16)):\(String((serial & 0x7ff) << 5, radix: 16))/124")
                serial += 1
            }
            lines.append("  \(name(zone)):")
            lines.append("    owner: team-\(zone % 17)")
            lines.append("    addresses: [\(addresses.joined(separator: ", "))]")
        }
        lines.append("services:")
        lines.append("  postgres: [tcp/5432]")
        lines.append("flows:")
        lines.append("  - name: fleet")
        lines.append("    from: [\((0..<sourceZones).map(name).joined(separator: ", "))]")
        lines.append("    to: [\((0..<zoneCount).map(name).joined(separator: ", "))]")
        lines.append("    service: postgres")
        return lines.joined(separator: "\n") + "\n"
    }

    /// Reads `nft -j` output on stdin and prints {"set name": element count}.
    static let countElements = """
    import json, sys
    objects = json.load(sys.stdin)["nftables"]
    print(json.dumps({o[k]["name"]: len(o[k].get("elem", [])) for o in objects for k in ("set", "map") if k in o}))
    """

    static func name(_ zone: Int) -> String { "z" + String(repeating: "0", count: 4 - String(zone).count) + String(zone) }

    @Test("a model with more than 100,000 set elements applies in one transaction and reads back unchanged")
    func largeModelAppliesInOneTransaction() throws {
        let directory = try TempDir("large")
        defer { directory.remove() }
        try directory.write("segments/fleet.yaml", Self.yaml())
        let segments = "\(directory.path)/segments"

        var clock = ContinuousClock.now
        let table = try compiledTable(segments: segments)
        let compileSeconds = seconds(since: clock)
        let dispatchElements = table.sets.filter { $0.name.hasPrefix("from.") }.reduce(0) { $0 + $1.elements.count }
        print("large model: \(Self.zoneCount) zones, \(table.chains.count) chains, \(table.sets.count) sets, "
              + "\(table.elementCount) elements (\(dispatchElements) in from.*.dst maps); compiled in \(String(format: "%.2f", compileSeconds)) s")
        try #require(table.elementCount >= 100_000)
        #expect(dispatchElements == Self.sourceZones * Self.zoneCount * Self.prefixesPerFamily * 2)

        let applied = try Netns("large"), loaded = try Netns("large-nft")
        defer { applied.destroy(); loaded.destroy() }

        // Apply through the library, holding the session: one commit, one generation step.
        try {
            let session = try NftablesSession(networkNamespace: applied.name)
            let reconciler = Reconciler(backend: session, lock: true)
            let before = try session.generation()
            clock = ContinuousClock.now
            let outcome = try reconciler.apply(table)
            let applySeconds = seconds(since: clock)
            let commit = try #require(outcome.commit)
            print("large model: apply (read, plan, encode, commit) took \(String(format: "%.2f", applySeconds)) s: "
                  + "\(outcome.plan.operations.count) operations in \(commit.messages) messages, \(commit.bytes) bytes")
            #expect(outcome.retries == 0)
            #expect(commit.generation == before &+ 1, "one transaction moves the generation by exactly one (\(before) -> \(commit.generation))")
            // Every chain, rule and element chunk went in this one batch.
            #expect(commit.messages >= table.chains.count + table.chains.reduce(0) { $0 + $1.rules.count } + table.sets.count)

            // Planning again reads the 100k elements back and finds nothing to do.
            clock = ContinuousClock.now
            let (_, plan, changes) = try reconciler.plan(table)
            print("large model: re-read and re-plan took \(String(format: "%.2f", seconds(since: clock))) s")
            let sample = changes.prefix(5).map { "\($0.change) \($0.object)" }
            let operations = plan.operations.count  // (not inside #expect, which would print the whole plan)
            #expect(operations == 0, "plan after applying the large model: \(operations) operations for \(changes.count) differences: \(sample)")
            #expect(try session.generation() == commit.generation)
        }()

        // nft's own element count per set equals the compiled one.
        // (Counted by python from `nft -j`: Foundation's JSON parser takes seconds for 15 MB.)
        let counted = try applied.exec(["sh", "-c", "nft -j list table inet bulkhead | python3 -c '\(Self.countElements)'"])
        let counts = try JSONDecoder().decode([String: Int].self, from: Data(counted.utf8))
        for set in table.sets {
            #expect(counts[set.name] == set.elements.count, "\(set.name): nft lists \(String(describing: counts[set.name])), compiled \(set.elements.count)")
        }
        #expect(counts.values.reduce(0, +) == table.elementCount)

        // The same model through nft -f, for comparison (printed, not asserted), and the same listing.
        let render = bulkhead(["render", "-s", segments])
        try #require(render.status == 0, "\(render.err)")
        clock = ContinuousClock.now
        try loaded.loadScript(render.out)
        print("large model: nft -f of the rendered script (\(render.out.utf8.count) bytes) took \(String(format: "%.2f", seconds(since: clock))) s")
        let ours = Listing.normalized(try applied.listTable()), theirs = Listing.withoutCounterValues(try loaded.listTable())
        #expect(ours == theirs, "apply and nft -f disagree:\n\(firstDifference(ours, theirs))")
    }
}
