import BulkheadCore
import BulkheadTestSupport
import Foundation
import Testing

@Suite struct IntervalEncodingTests {
    static func port(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xff)] }

    /// The exact start/end layout nft 1.0.6 sends for `{ 5432, 8000-8100, 65000-65535 }` (captured from nft).
    @Test func matchesNftsLayout() {
        let elements = [SetElement(key: Self.port(5432)), SetElement(key: Self.port(8000), keyEnd: Self.port(8100)),
                        SetElement(key: Self.port(65000), keyEnd: Self.port(65535))]
        let wire = IntervalEncoding.encode(elements, interval: true)
        #expect(wire == [
            WireElement(key: [0, 0], isIntervalEnd: true),
            WireElement(key: Self.port(5432), isIntervalEnd: false), WireElement(key: Self.port(5433), isIntervalEnd: true),
            WireElement(key: Self.port(8000), isIntervalEnd: false), WireElement(key: Self.port(8101), isIntervalEnd: true),
            WireElement(key: Self.port(65000), isIntervalEnd: false, isOpenInterval: true),
        ])
        // The kernel dumps in descending order; decoding does not care.
        #expect(IntervalEncoding.decode(wire.reversed(), interval: true) == elements.sorted())
    }

    @Test func adjacentRangesShareAKeyAndARangeFromZeroHasNoLeadingEnd() {
        let elements = [SetElement(key: Self.port(0), keyEnd: Self.port(10), verdict: .jump("a")),
                        SetElement(key: Self.port(11), keyEnd: Self.port(20), verdict: .jump("b"))]
        let wire = IntervalEncoding.encode(elements, interval: true)
        #expect(wire.first == WireElement(key: [0, 0], isIntervalEnd: false, verdict: .jump("a")))
        #expect(wire.filter { $0.key == Self.port(11) }.count == 2)
        #expect(IntervalEncoding.decode(wire.shuffled(), interval: true) == elements)
    }

    /// Any disjoint set of ranges survives encode → (kernel order) → decode.
    @Test func randomRangesRoundTrip() {
        var rng = SeededGenerator(seed: 42)
        for _ in 0..<500 {
            var cursor = Int.random(in: 0...3, using: &rng)
            var elements: [SetElement] = []
            while cursor <= 255, elements.count < 8 {
                let end = min(255, cursor + Int.random(in: 0...6, using: &rng))
                let verdict: Verdict? = Bool.random(using: &rng) ? .jump("c\(Int.random(in: 0...2, using: &rng))") : nil
                elements.append(SetElement(key: [UInt8(cursor)], keyEnd: [UInt8(end)], verdict: verdict))
                cursor = end + 1 + Int.random(in: 0...3, using: &rng)
            }
            let wire = IntervalEncoding.encode(elements, interval: true)
            #expect(IntervalEncoding.decode(wire.shuffled(using: &rng), interval: true) == elements.sorted())
        }
    }
}

@Suite struct TransactionPlanTests {
    static func compile(_ yaml: String, hooks: [FilterHook] = [.input]) throws -> Table {
        let result = SegmentLoader.load(sources: [SegmentSource(path: "m.yaml", relativePath: "m.yaml", bytes: Array(yaml.utf8))])
        var settings = Settings()
        settings.hooks = hooks
        return Compiler(model: try #require(result.model, "\(result.diagnostics)"), settings: settings).compile(digest: "sha256:test")
    }

    static let base = """
    zones:
      web: {owner: a, addresses: [198.18.1.0/24]}
      db: {owner: b, addresses: [198.18.2.0/24]}
    flows:
      - {name: web-db, from: web, to: db, ports: [tcp/5432]}
    """

    @Test func equalTablesNeedNothing() throws {
        let table = try Self.compile(Self.base)
        #expect(TransactionPlan.make(desired: table, live: table, ownerFlag: 2).isEmpty)
        #expect(RulesetDiff.changes(expected: table, live: table).isEmpty)
    }

    @Test func anAddressChangeTouchesOnlyElements() throws {
        let before = try Self.compile(Self.base)
        let after = try Self.compile(Self.base.replacingOccurrences(of: "198.18.2.0/24", with: "198.18.2.0/24, 198.18.9.9"))
        let plan = TransactionPlan.make(desired: after, live: before)
        #expect(!plan.isEmpty && !plan.isFullReplace)
        for operation in plan.operations {
            switch operation {
            case .addElements, .deleteElements: continue
            default: Issue.record("unexpected operation \(operation)")
            }
        }
    }

    @Test func aPortChangeTouchesOnlyThatFlowsSet() throws {
        let before = try Self.compile(Self.base)
        let after = try Self.compile(Self.base.replacingOccurrences(of: "tcp/5432", with: "tcp/5433"))
        let plan = TransactionPlan.make(desired: after, live: before)
        #expect(plan.operations.count == 2)
        #expect(plan.operations.allSatisfy {
            if case .addElements(let set) = $0 { return set.name == "flow.web-db.tcp" }
            if case .deleteElements(let set) = $0 { return set.name == "flow.web-db.tcp" }
            return false
        })
    }

    @Test func aRuleChangeRebuildsOnlyItsChain() throws {
        let before = try Self.compile(Self.base)
        var after = before
        let index = try #require(after.chains.firstIndex { $0.name == "pair.web.db" })
        after.chains[index].rules[0].comment = "changed"
        let plan = TransactionPlan.make(desired: after, live: before)
        #expect(plan.operations.first == .flushChain("pair.web.db"))
        #expect(plan.operations.dropFirst().allSatisfy { if case .addRule(let chain, _) = $0 { return chain == "pair.web.db" }; return false })
    }

    /// A set whose definition changed is recreated with the chains that look it up, not the table.
    @Test func aChangedSetIsRecreatedWithItsChains() throws {
        let before = try Self.compile(Self.base)
        var after = before
        let index = try #require(after.sets.firstIndex { $0.name == "flow.web-db.tcp" })
        after.sets[index].comment = "another comment"
        let plan = TransactionPlan.make(desired: after, live: before)
        #expect(!plan.isFullReplace)
        let flush = try #require(plan.operations.firstIndex(of: .flushChain("pair.web.db")))
        let delete = try #require(plan.operations.firstIndex(of: .deleteSet("flow.web-db.tcp")))
        let rule = try #require(plan.operations.firstIndex { if case .addRule("pair.web.db", _) = $0 { return true }; return false })
        #expect(flush < delete && delete < rule)
        #expect(!plan.operations.contains { if case .flushChain(let name) = $0 { return name != "pair.web.db" }; return false })
    }

    /// Moving lines in the YAML changes comments' file:line; that must stay a small change.
    @Test func movedLinesDoNotReplaceTheTable() throws {
        let before = try Self.compile(Self.base)
        let after = try Self.compile(Self.base.replacingOccurrences(of: "zones:\n", with: "# a new comment line\nzones:\n"))
        let plan = TransactionPlan.make(desired: after, live: before)
        #expect(!plan.isEmpty && !plan.isFullReplace)
    }

    /// What the kernel cannot change in place replaces the table, still in one transaction.
    @Test func unchangeableDifferencesReplaceTheTable() throws {
        let before = try Self.compile(Self.base)
        var persistent = before
        persistent.flags = 4
        let plan = TransactionPlan.make(desired: persistent, live: before)
        #expect(plan.isFullReplace)
        #expect(plan.operations.first == .deleteTable(family: .inet, name: "bulkhead"))
        var renamed = before
        renamed.chains[0].comment = "another comment"
        #expect(TransactionPlan.make(desired: renamed, live: before).isFullReplace)
    }

    @Test func ownershipIsClaimedFirstOnlyWhenSomethingChanges() throws {
        let before = try Self.compile(Self.base)
        let after = try Self.compile(Self.base.replacingOccurrences(of: "tcp/5432", with: "tcp/5433"))
        let plan = TransactionPlan.make(desired: after, live: before, ownerFlag: 2)
        guard case .addTable(let header)? = plan.operations.first else { Issue.record("no claim"); return }
        #expect(header.flags & 2 == 2)
        #expect(TransactionPlan.make(desired: before, live: before, ownerFlag: 2).isEmpty)
    }

    /// Between any two random models the plan, run by a kernel-like fake that enforces ordering and
    /// reference rules, turns one table into the other exactly.
    @Test(arguments: 0..<3)
    func randomModelChangesConverge(seed: Int) throws {
        var rng = SeededGenerator(seed: UInt64(1000 + seed))
        var settings = Settings()
        settings.hooks = [.input, .output, .forward]
        for _ in 0..<25 {
            let first = Compiler(model: RandomModel.make(zones: Int.random(in: 0...10, using: &rng), flows: Int.random(in: 0...15, using: &rng), using: &rng),
                                 settings: settings).compile(digest: "sha256:a")
            let second = Compiler(model: RandomModel.make(zones: Int.random(in: 0...10, using: &rng), flows: Int.random(in: 0...15, using: &rng), using: &rng),
                                  settings: settings).compile(digest: "sha256:b")
            let kernel = FakeKernel()
            let reconciler = Reconciler(backend: kernel, lock: true)
            _ = try reconciler.apply(first)
            // The report restricted to what the plan touches equals the full comparison.
            let planned = try reconciler.plan(second)
            let full = RulesetDiff.changes(expected: reconciler.desired(second), live: kernel.table)
            #expect(Set(planned.changes) == Set(full))
            #expect(RulesetDiff.changes(expected: reconciler.desired(first), live: kernel.table).isEmpty)
            let outcome = try reconciler.apply(second)
            #expect(RulesetDiff.changes(expected: reconciler.desired(second), live: kernel.table).isEmpty,
                    "\(RulesetDiff.changes(expected: reconciler.desired(second), live: kernel.table).prefix(3))")
            #expect(try reconciler.plan(second).plan.isEmpty)
            #expect(outcome.commit != nil || first == second)
        }
    }
}

@Suite struct ReconcilerTests {
    @Test func aStaleGenerationIsRetriedAfterReReading() throws {
        let table = try TransactionPlanTests.compile(TransactionPlanTests.base)
        let kernel = FakeKernel()
        let reconciler = Reconciler(backend: kernel, lock: false)
        _ = try reconciler.apply(table)
        // Someone deletes a chain's rules; and, just before our commit, someone else commits too.
        kernel.tamper { $0.chains[0].rules.removeLast() }
        kernel.beforeNextCommit = { $0.tamper { $0.chains[0].rules.removeFirst() } }
        let outcome = try reconciler.apply(table)
        #expect(outcome.retries == 1)
        #expect(RulesetDiff.changes(expected: table, live: kernel.table).isEmpty)
        #expect(kernel.commits.count == 2)
    }

    /// A table this process applied, at an unchanged generation, stands in for the live one: no dump.
    @Test func aKnownTableSkipsTheDumpUntilTheGenerationMoves() throws {
        let first = try TransactionPlanTests.compile(TransactionPlanTests.base)
        let second = try TransactionPlanTests.compile(TransactionPlanTests.base.replacingOccurrences(of: "tcp/5432", with: "tcp/5433"))
        let kernel = FakeKernel()
        let reconciler = Reconciler(backend: kernel, lock: false)
        let outcome = try reconciler.apply(first)
        let known = (outcome.applied, try #require(outcome.commit).generation)
        let reads = kernel.reads
        let next = try reconciler.apply(second, known: known)
        #expect(kernel.reads == reads)
        #expect(next.plan.operations.count == 2)
        #expect(RulesetDiff.changes(expected: second, live: kernel.table).isEmpty)
        // Someone else committed: the recorded table proves nothing any more.
        kernel.tamper { $0.chains[0].rules.removeLast() }
        _ = try reconciler.apply(second, known: (second, try #require(next.commit).generation))
        #expect(kernel.reads == reads + 1)
        #expect(RulesetDiff.changes(expected: second, live: kernel.table).isEmpty)
    }

    @Test func aRefusedTransactionChangesNothing() throws {
        let table = try TransactionPlanTests.compile(TransactionPlanTests.base)
        let kernel = FakeKernel()
        _ = try Reconciler(backend: kernel, lock: false).apply(table)
        let before = kernel.table
        #expect(throws: NetlinkError.self) {
            _ = try kernel.commit([.flushChain("input"), .addRule(chain: "input", Rule([.immediateVerdict(.jump("missing"))]))],
                                  generation: kernel.currentGeneration)
        }
        #expect(kernel.table == before)
    }
}

@Suite struct RulesetDiffTests {
    static let rules = (0..<5).map { Rule([.immediateVerdict(.accept)], comment: "r\($0)") }

    static func table(_ rules: [Rule]) -> Table {
        Table(family: .inet, name: "bulkhead", chains: [Chain(name: "input", rules: rules)])
    }

    @Test func anInsertedRuleIsOneAddedRuleWithItsHandle() {
        var live = Self.rules
        live.insert(Rule([.immediateVerdict(.drop)], handle: 42), at: 0)
        let changes = RulesetDiff.changes(expected: Self.table(Self.rules), live: Self.table(live))
        #expect(changes == [RulesetChange(object: "rule inet bulkhead input handle 42 (position 1)", change: .added, live: "drop")])
    }

    @Test func deletedAndReplacedRules() {
        var live = Self.rules
        live.remove(at: 2)
        #expect(RulesetDiff.changes(expected: Self.table(Self.rules), live: Self.table(live))
                == [RulesetChange(object: "rule inet bulkhead input position 3", change: .removed, expected: "accept comment \"r2\"")])
        live = Self.rules
        live[1] = Rule([.immediateVerdict(.drop)], handle: 7)
        #expect(RulesetDiff.changes(expected: Self.table(Self.rules), live: Self.table(live))
                == [RulesetChange(object: "rule inet bulkhead input handle 7 (position 2)", change: .changed,
                                  expected: "accept comment \"r1\"", live: "drop")])
    }

    @Test func handlesAndCountersAreNotDifferences() {
        let live = Self.rules.enumerated().map { Rule($0.element.expressions, comment: $0.element.comment, handle: UInt64($0.offset + 10)) }
        #expect(RulesetDiff.changes(expected: Self.table(Self.rules), live: Self.table(live)).isEmpty)
    }

    @Test func elementAndTableChanges() {
        var expected = Self.table([])
        expected.sets = [NamedSet(name: "m", keyType: .ipv4Address, isInterval: true, isVerdictMap: true,
                                  elements: [SetElement(key: [198, 18, 0, 0], keyEnd: [198, 18, 0, 255], verdict: .jump("input"))])]
        var live = expected
        live.sets[0].elements = [SetElement(key: [198, 18, 0, 0], keyEnd: [198, 18, 0, 255], verdict: .jump("other"))]
        #expect(RulesetDiff.changes(expected: expected, live: live).map(\.change) == [.changed])
        #expect(RulesetDiff.changes(expected: expected, live: nil).map(\.object) == ["table inet bulkhead"])
    }
}

@Suite struct StateAndDigestTests {
    @Test func sha256MatchesKnownVectors() {
        #expect(SHA256.hex([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(Array(String(repeating: "a", count: 1000).utf8))
                == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    @Test func digestsChangeWithContentAndPath() {
        let a = SegmentSource(path: "x/a.yaml", relativePath: "a.yaml", bytes: Array("zones: {}".utf8))
        var b = a
        b.relativePath = "b.yaml"
        #expect(ModelDigest.of([a]) != ModelDigest.of([b]))
        #expect(ModelDigest.of([a]) == ModelDigest.of([a]))
        #expect(ModelDigest.of([a]).hasPrefix("sha256:") && ModelDigest.of([a]).count == 71)
    }

    @Test func appliedRecordsRoundTripThroughTheStateDirectory() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bulkhead-state-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let table = try TransactionPlanTests.compile(TransactionPlanTests.base, hooks: [.input, .output, .forward])
        let state = StateDirectory(path: directory + "/nested")
        #expect(try state.loadApplied() == nil)
        let record = AppliedRecord(modelDigest: "sha256:x", source: "segments", appliedAt: StateDirectory.timestamp(), generation: 7,
                                   objectsChanged: 3, table: table)
        try state.saveApplied(record)
        let loaded = try #require(try state.loadApplied())
        #expect(loaded.table == table)
        #expect(loaded.generation == 7 && loaded.modelDigest == "sha256:x")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory + "/nested").sorted()
        #expect(names == ["applied-summary.json", "applied.json"], "no temporary files are left behind")
        let summary = try #require(try state.loadSummary())
        #expect(summary.generation == 7 && summary.modelDigest == "sha256:x" && summary.appliedAt == record.appliedAt)
    }
}
