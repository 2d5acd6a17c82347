import BulkheadCLI
import BulkheadCore
import BulkheadNetlink
import Foundation
import Testing

/// Someone changes the applied table with nft: `drift` must report exactly that (exit 2, the right object
/// and kind in --json), `plan` must see it, and `apply` must heal it back to the listing it had.
/// Each case runs in its own namespace on the example model (hooks input, output, forward).
@Suite(.enabled(if: KernelTestSupport.available, "needs root, nft and ip"))
struct TamperTests {
    /// One change drift should report: the object string and the kind, optionally text in its live/expected forms.
    struct Expected: Sendable, CustomStringConvertible {
        var object: String
        var change: String
        var live: String? = nil
        var expected: String? = nil
        var description: String { "\(change) \(object)" }
    }

    /// One way of tampering with the table, and what drift must make of it.
    struct Tamper: Sendable, CustomTestStringConvertible {
        var name: String
        /// With lock on (the default) the table is persistent and, after a one-shot apply, unowned:
        /// anyone may change it, which is what these cases do.
        var lock = true
        /// False for changes outside our table (not drift).
        var isDrift = true
        /// When the table cannot be healed in place.
        var healsByReplace = false
        /// The exact number of changes drift reports; nil: as many as `run` returns.
        var count: Int? = 1
        /// Changes the table with nft and returns what drift must report (given the compiled table).
        var run: @Sendable (Netns, Table) throws -> [Expected]
        var testDescription: String { name }
    }

    static let flags = ["--hooks", "input,output,forward"]
    static let prefix = "inet bulkhead"

    static let cases: [Tamper] = [
        Tamper(name: "rule appended to input") { namespace, table in
            try namespace.nft("add", "rule", "inet", "bulkhead", "input", "tcp", "dport", "4444", "accept")
            let handle = try namespace.ruleHandle(chain: "input", containing: "dport 4444")
            let position = try #require(table.chain(named: "input")).rules.count + 1
            return [Expected(object: "rule \(prefix) input handle \(handle) (position \(position))", change: "added", live: "tcp dport 4444 accept")]
        },
        Tamper(name: "rule inserted first in input") { namespace, _ in
            try namespace.nft("insert", "rule", "inet", "bulkhead", "input", "tcp", "dport", "4444", "accept")
            let handle = try namespace.ruleHandle(chain: "input", containing: "dport 4444")
            return [Expected(object: "rule \(prefix) input handle \(handle) (position 1)", change: "added")]
        },
        Tamper(name: "rule deleted from input by handle") { namespace, _ in
            let handle = try namespace.ruleHandle(chain: "input", containing: "ct state invalid drop")
            try namespace.nft("delete", "rule", "inet", "bulkhead", "input", "handle", handle)
            return [Expected(object: "rule \(prefix) input position 2", change: "removed", expected: "ct state invalid drop")]
        },
        Tamper(name: "rule replaced in input by handle") { namespace, _ in
            let handle = try namespace.ruleHandle(chain: "input", containing: "ct state invalid drop")
            try namespace.nft("replace", "rule", "inet", "bulkhead", "input", "handle", handle, "ct", "state", "invalid", "accept")
            let replaced = try namespace.ruleHandle(chain: "input", containing: "ct state invalid accept")
            return [Expected(object: "rule \(prefix) input handle \(replaced) (position 2)", change: "changed",
                             live: "ct state invalid accept", expected: "ct state invalid drop")]
        },
        Tamper(name: "rule comment changed in place", count: 1) { namespace, _ in
            let handle = try namespace.ruleHandle(chain: "input", containing: "ct state invalid drop")
            try namespace.nft("replace", "rule", "inet", "bulkhead", "input", "handle", handle, "ct", "state", "invalid", "drop",
                              "comment", "\"edited by hand\"")
            let replaced = try namespace.ruleHandle(chain: "input", containing: "edited by hand")
            return [Expected(object: "rule \(prefix) input handle \(replaced) (position 2)", change: "changed", live: "edited by hand")]
        },
        Tamper(name: "chain pair.app.db flushed", count: nil) { namespace, table in
            try namespace.nft("flush", "chain", "inet", "bulkhead", "pair.app.db")
            let rules = try #require(table.chain(named: "pair.app.db")).rules
            try #require(!rules.isEmpty)
            return (1...rules.count).map { Expected(object: "rule \(prefix) pair.app.db position \($0)", change: "removed") }
        },
        Tamper(name: "base chain policy set to accept") { namespace, _ in
            try namespace.nft("chain", "inet", "bulkhead", "input", "{ policy accept; }")
            return [Expected(object: "chain \(prefix) input", change: "changed", live: "policy accept;", expected: "policy drop;")]
        },
        Tamper(name: "element added to a verdict map") { namespace, _ in
            try namespace.nft("add", "element", "inet", "bulkhead", "zone.src.v4", "{ 198.18.200.0/24 : jump from.web }")
            return [Expected(object: "element \(prefix) zone.src.v4 198.18.200.0/24 : jump from.web", change: "added")]
        },
        Tamper(name: "element removed from a verdict map") { namespace, _ in
            try namespace.nft("delete", "element", "inet", "bulkhead", "zone.src.v4", "{ 198.18.10.0/24 }")
            return [Expected(object: "element \(prefix) zone.src.v4 198.18.10.0/24 : jump from.web", change: "removed")]
        },
        Tamper(name: "element removed from an interval set") { namespace, _ in
            try namespace.nft("delete", "element", "inet", "bulkhead", "zoned.v4", "{ 198.18.30.0/26 }")
            return [Expected(object: "element \(prefix) zoned.v4 198.18.30.0/26", change: "removed")]
        },
        Tamper(name: "element removed from a hash set") { namespace, _ in
            try namespace.nft("delete", "element", "inet", "bulkhead", "icmp.essential", "{ time-exceeded }")
            return [Expected(object: "element \(prefix) icmp.essential time-exceeded", change: "removed")]
        },
        Tamper(name: "element's verdict changed (same range, other zone)") { namespace, _ in
            try namespace.loadScript("""
            delete element inet bulkhead zone.src.v4 { 198.18.10.0/24 }
            add element inet bulkhead zone.src.v4 { 198.18.10.0/24 : jump from.app }

            """)
            return [Expected(object: "element \(prefix) zone.src.v4 198.18.10.0/24 : jump from.web", change: "changed",
                             live: "198.18.10.0/24 : jump from.app")]
        },
        Tamper(name: "whole table deleted") { namespace, _ in
            try namespace.nft("delete", "table", "inet", "bulkhead")
            return [Expected(object: "table \(prefix)", change: "removed")]
        },
        Tamper(name: "foreign table added (not drift)", isDrift: false, count: 0) { namespace, _ in
            try namespace.loadScript("""
            table ip foreign {
                chain input { type filter hook input priority 10; policy accept; }
            }

            """)
            return []
        },
        Tamper(name: "chain added and jumped to from input", count: 2) { namespace, _ in
            try namespace.nft("add", "chain", "inet", "bulkhead", "evil")
            try namespace.nft("insert", "rule", "inet", "bulkhead", "input", "jump", "evil")
            let handle = try namespace.ruleHandle(chain: "input", containing: "jump evil")
            return [Expected(object: "chain \(prefix) evil", change: "added"),
                    Expected(object: "rule \(prefix) input handle \(handle) (position 1)", change: "added", live: "jump evil")]
        },
        Tamper(name: "map added whose element jumps to an added chain (delete the map before the chain)", count: 2) { namespace, _ in
            try namespace.loadScript("""
            add chain inet bulkhead evil
            add map inet bulkhead evilmap { type ipv4_addr : verdict; elements = { 198.18.0.1 : jump evil } }

            """)
            return [Expected(object: "map \(prefix) evilmap", change: "added"), Expected(object: "chain \(prefix) evil", change: "added")]
        },
        Tamper(name: "rule with an expression bulkhead does not model (limit)") { namespace, table in
            try namespace.nft("add", "rule", "inet", "bulkhead", "input", "limit", "rate", "10/second", "accept")
            let handle = try namespace.ruleHandle(chain: "input", containing: "limit rate")
            let position = try #require(table.chain(named: "input")).rules.count + 1
            return [Expected(object: "rule \(prefix) input handle \(handle) (position \(position))", change: "added", live: "limit")]
        },
        Tamper(name: "chain model deleted") { namespace, _ in
            try namespace.loadScript("""
            flush chain inet bulkhead model
            delete chain inet bulkhead model

            """)
            return [Expected(object: "chain \(prefix) model", change: "removed")]
        },
        Tamper(name: "base chain recreated at another priority", healsByReplace: true, count: nil) { namespace, table in
            try namespace.loadScript("""
            flush chain inet bulkhead input
            delete chain inet bulkhead input
            add chain inet bulkhead input { type filter hook input priority 10; policy drop; }

            """)
            let rules = try #require(table.chain(named: "input")).rules.count
            return [Expected(object: "chain \(prefix) input", change: "changed", live: "priority 10")]
                + (1...rules).map { Expected(object: "rule \(prefix) input position \($0)", change: "removed") }
        },
        Tamper(name: "table made dormant (lock off; a persistent table refuses it)", lock: false, healsByReplace: true) { namespace, _ in
            try namespace.nft("add", "table", "inet", "bulkhead", "{ flags dormant; }")
            return [Expected(object: "table \(prefix)", change: "changed", live: "flags 0x1")]
        },
    ]

    @Test("drift reports a hand-made change exactly and apply heals it", arguments: cases)
    func driftDetectsAndApplyHeals(_ tamper: Tamper) throws {
        let namespace = try Netns("tamper")
        defer { namespace.destroy() }
        let state = try TempDir("tamper")
        defer { state.remove() }
        let segments = ModelFixture.exampleSegments
        let model = ["-s", segments] + Self.flags + ["--lock", tamper.lock ? "on" : "off", "--netns", namespace.name]
        let apply = ["apply"] + model + ["--state", state.path]
        let drift = ["drift", "--netns", namespace.name, "--state", state.path]

        let first = bulkhead(apply)
        try #require(first.status == 0, "\(first)")
        let original = Listing.withoutCounterValues(try namespace.listTable())
        try #require(bulkhead(drift).status == 0)

        let table = try compiledTable(segments: segments, hooks: [.input, .output, .forward])
        let expected = try tamper.run(namespace, table)

        // drift, as JSON and as text.
        let json = bulkhead(drift + ["--json"])
        #expect(json.status == (tamper.isDrift ? 2 : 0), "\(json)")
        let report = try DriftReport.parse(json.out)
        #expect(report.drift == tamper.isDrift)
        for change in expected {
            let match = report.changes.first { $0.object == change.object && $0.change == change.change }
            #expect(match != nil, "drift should report '\(change)'; it reported \(report.changes)")
            if let match, let live = change.live {
                #expect(match.live?.contains(live) == true, "\(change): live form \(String(describing: match.live)) lacks '\(live)'")
            }
            if let match, let text = change.expected {
                #expect(match.expected?.contains(text) == true, "\(change): expected form \(String(describing: match.expected)) lacks '\(text)'")
            }
        }
        if let count = tamper.count {
            #expect(report.changes.count == count, "drift reported \(report.changes)")
        } else {
            #expect(report.changes.count == expected.count, "drift reported \(report.changes)")
        }
        let text = bulkhead(drift)
        #expect(text.status == json.status)
        if tamper.isDrift { #expect(text.out.contains("DRIFT"), "\(text.out)") }

        // plan sees the same difference (the model has not changed).
        let plan = bulkhead(["plan"] + model)
        #expect(plan.status == (tamper.isDrift ? 2 : 0), "\(plan)")

        // apply heals it, in place unless the change cannot be undone in place.
        let heal = bulkhead(apply)
        #expect(heal.status == 0, "apply did not heal: \(heal)")
        if tamper.isDrift {
            #expect(heal.out.contains("in one transaction"), "\(heal.out)")
            #expect(heal.out.contains("full replace") == tamper.healsByReplace, "\(heal.out)")
        } else {
            #expect(heal.out.contains("nothing to do"), "\(heal.out)")
        }
        #expect(bulkhead(drift).status == 0, "drift after the heal: \(bulkhead(drift))")
        #expect(bulkhead(["plan"] + model).status == 0, "plan after the heal")
        let healed = Listing.withoutCounterValues(try namespace.listTable())
        #expect(healed == original, "the healed table differs from the applied one:\n\(firstDifference(original, healed))")

        if !tamper.isDrift {
            // Other tables are listed, and left alone.
            #expect(report.otherTables == ["ip foreign"], "\(report.otherTables)")
            #expect(try namespace.nft("list", "tables").contains("table ip foreign"))
            #expect(text.out.contains("ip foreign"), "\(text.out)")
        }
    }
}
