import BulkheadCLI
import BulkheadCore
import BulkheadNetlink
import BulkheadTestSupport
import Foundation
import Testing

/// `bulkhead apply` against the kernel: what it builds equals what `nft -f` builds from `bulkhead render`,
/// re-applying is a no-op, model changes go in as deltas, failed transactions change nothing, and the
/// ruleset generation is honoured. Every test works in network namespaces of its own.
@Suite(.enabled(if: KernelTestSupport.available, "needs root, nft and ip"))
struct DataplaneTests {
    // MARK: - 1. apply == nft -f of render; plan empty; apply twice is a no-op

    /// Applies `segments` with `flags` in one namespace and loads the rendered script with `nft -f` in another,
    /// then compares the two listings and checks plan, drift and a second apply.
    func checkApplyMatchesRender(segments: String, flags: [String], lock: Bool, label: String) throws {
        let applied = try Netns("apply"), loaded = try Netns("nftf")
        defer { applied.destroy(); loaded.destroy() }
        let state = try TempDir("state")
        defer { state.remove() }
        let common = ["-s", segments] + flags
        let dataplane = ["--netns", applied.name, "--lock", lock ? "on" : "off"]

        let first = bulkhead(["apply"] + common + dataplane + ["--state", state.path])
        try #require(first.status == 0, "\(label): first apply failed: \(first)")
        #expect(first.out.contains("in one transaction"), "\(label): \(first.out)")
        #expect(!first.out.contains("full replace"), "\(label): creating the table is not a replace: \(first.out)")

        let plan = bulkhead(["plan"] + common + dataplane)
        #expect(plan.status == 0, "\(label): plan right after apply should be empty: \(plan)")
        #expect(plan.out.contains("nothing to do"), "\(label): \(plan.out)")
        let planJSON = bulkhead(["plan", "--json"] + common + dataplane)
        let report = try PlanReport.parse(planJSON.out)
        #expect(report.changes.isEmpty && report.operations == 0, "\(label): \(report.changes.prefix(10))")

        let render = bulkhead(["render"] + common)
        try #require(render.status == 0, "\(label): render failed: \(render)")
        try loaded.loadScript(render.out)

        let ours = try applied.listTable(), theirs = try loaded.listTable()
        #expect(Listing.withoutCounterValues(theirs) == Listing.renderedTable(render.out), "\(label): nft -f listing differs from the script")
        // The other direction: the table nft -f made decodes to exactly the compiled one (no flags: lock off).
        let adopted = bulkhead(["plan"] + common + ["--netns", loaded.name, "--lock", "off"])
        #expect(adopted.status == 0, "\(label): plan against the nft -f table: \(adopted.out.prefix(3000))")
        // A one-shot apply leaves the table unowned: no `# progname` after the header.
        #expect(Listing.header(ours) == "table inet bulkhead {", "\(label): \(Listing.header(ours))")
        if lock {
            // Persistent (NFT_TABLE_F_PERSIST) and orphaned: nft 1.0.6 has no name for the flag.
            #expect(Listing.flagsLine(ours) == "\tflags ", "\(label): flags line \(String(describing: Listing.flagsLine(ours)))")
            let normalized = Listing.normalized(ours), expected = Listing.withoutCounterValues(theirs)
            #expect(normalized == expected, "\(label): apply and nft -f disagree:\n\(firstDifference(normalized, expected))")
        } else {
            #expect(Listing.flagsLine(ours) == nil, "\(label): lock off must not set table flags")
            let normalized = Listing.withoutCounterValues(ours), expected = Listing.withoutCounterValues(theirs)
            #expect(normalized == expected, "\(label): apply and nft -f disagree:\n\(firstDifference(normalized, expected))")
        }

        // Apply again: nothing to do, and the ruleset generation does not move.
        let session = try NftablesSession(networkNamespace: applied.name)
        let before = try session.generation()
        let second = bulkhead(["apply"] + common + dataplane + ["--state", state.path])
        #expect(second.status == 0, "\(label): second apply: \(second)")
        #expect(second.out.contains("nothing to do"), "\(label): second apply should be a no-op: \(second.out)")
        #expect(try session.generation() == before, "\(label): a no-op apply must not commit anything")
        #expect(try applied.listTable() == ours, "\(label): the second apply changed the listing")

        // The record names the generation and drift agrees that nothing moved.
        let record = try #require(try StateDirectory(path: state.path).loadApplied())
        #expect(record.generation == before)
        let drift = bulkhead(["drift", "--netns", applied.name, "--state", state.path])
        #expect(drift.status == 0, "\(label): drift right after apply: \(drift)")
    }

    @Test("apply of the example model builds exactly what nft -f of its render builds (lock off and on)")
    func exampleModelMatchesRender() throws {
        let flags = ["--hooks", "input,output,forward"]
        try checkApplyMatchesRender(segments: ModelFixture.exampleSegments, flags: flags, lock: false, label: "segments/ lock off")
        try checkApplyMatchesRender(segments: ModelFixture.exampleSegments, flags: flags, lock: true, label: "segments/ lock on")
    }

    @Test("audit mode: apply builds what nft -f builds, and the log rules read back as applied (plan empty, no drift)")
    func auditModeMatchesRenderAndReadsBack() throws {
        try checkApplyMatchesRender(segments: ModelFixture.exampleSegments, flags: ["--hooks", "input,output,forward", "--policy", "audit"],
                                    lock: true, label: "segments/ audit")
    }

    /// Generated models with varied settings: hooks, failsafe ports (audit mode has its own test).
    static let generatedCases: [(seed: UInt64, zones: Int, flows: Int, flags: [String])] = [
        (11, 3, 4, []),
        (12, 5, 8, ["--hooks", "input,output"]),
        (13, 8, 12, ["--hooks", "input,output,forward"]),
        (14, 6, 10, ["--hooks", "forward"]),
        (15, 10, 16, ["--hooks", "input,output,forward", "--failsafe", "udp/53"]),
        (16, 4, 6, ["--failsafe", "none"]),
        (17, 12, 20, ["--hooks", "output", "--failsafe", "tcp/22,tcp/2222-2230,udp/68"]),
        (18, 9, 14, ["--hooks", "input,forward"]),
    ]

    @Test("apply of generated models builds exactly what nft -f of their render builds", arguments: 0..<8)
    func generatedModelMatchesRender(index: Int) throws {
        let spec = Self.generatedCases[index]
        var rng = SeededGenerator(seed: spec.seed)
        let model = RandomModel.make(zones: spec.zones, flows: spec.flows, using: &rng)
        let directory = try TempDir("model\(index)")
        defer { directory.remove() }
        try directory.write("segments/model.yaml", RandomModel.yaml(model))
        let check = bulkhead(["check", "-s", "\(directory.path)/segments"])
        try #require(check.status == 0, "generated model \(spec.seed) is invalid: \(check)")
        try checkApplyMatchesRender(segments: "\(directory.path)/segments", flags: spec.flags, lock: true,
                                    label: "seed \(spec.seed) \(spec.flags.joined(separator: " "))")
    }

    // MARK: - Successive model changes, applied incrementally against the real kernel

    /// A random prefix in RandomModel's region (198.18.0.0/22, 2001:db8::/118), not in `used`.
    static func freshPrefix(_ used: inout Set<IPPrefix>, _ rng: inout SeededGenerator) -> IPPrefix {
        while true {
            let family: AddressFamily = Bool.random(using: &rng) ? .ipv4 : .ipv6
            let hostBits = Int.random(in: 0...9, using: &rng)
            let offset = (UInt128.random(in: 0..<1024, using: &rng) >> UInt128(hostBits)) << UInt128(hostBits)
            let base = family == .ipv4 ? RandomModel.ipv4Base : RandomModel.ipv6Base
            let prefix = IPPrefix(address: IPAddress(family: family, value: base + offset), length: family.bits - hostBits)
            if used.insert(prefix).inserted { return prefix }
        }
    }

    /// Changes a few zones' addresses, flows' endpoints and inline ports, and one service's ports, without
    /// adding or removing YAML lines (source locations, and with them every comment, stay put).
    static func mutate(_ model: Model, _ rng: inout SeededGenerator) -> Model {
        var model = model
        for _ in 0..<2 {
            let index = Int.random(in: 0..<model.zones.count, using: &rng)
            var used = Set(model.zones.enumerated().filter { $0.offset != index }.flatMap(\.element.addresses))
            model.zones[index].addresses = (0..<Int.random(in: 1...3, using: &rng)).map { _ in freshPrefix(&used, &rng) }
        }
        func endpoints() -> [Endpoint] {
            if Int.random(in: 0..<6, using: &rng) == 0 { return [.world] }
            return Array(Set((0..<Int.random(in: 1...2, using: &rng)).map { _ in
                Endpoint.zone(model.zones[Int.random(in: 0..<model.zones.count, using: &rng)].name)
            })).sorted()
        }
        for _ in 0..<2 {
            let index = Int.random(in: 0..<model.flows.count, using: &rng)
            model.flows[index].from = endpoints()
            model.flows[index].to = endpoints()
            if model.flows[index].portSource == .inline {
                model.flows[index].ports = Array(RandomModel.candidatePorts.shuffled(using: &rng).prefix(Int.random(in: 1...3, using: &rng)))
            }
        }
        if !model.services.isEmpty {
            let index = Int.random(in: 0..<model.services.count, using: &rng)
            let ports = Array(RandomModel.candidatePorts.shuffled(using: &rng).prefix(Int.random(in: 1...3, using: &rng)))
            model.services[index].ports = ports
            for flow in model.flows.indices where model.flows[flow].portSource == .service(model.services[index].name) {
                model.flows[flow].ports = ports
            }
        }
        return model
    }

    @Test("successive model changes apply in place, and each time the kernel holds what nft -f of that model's render holds",
          arguments: [101, 202, 303] as [UInt64])
    func successiveModelChangesApplyInPlace(seed: UInt64) throws {
        let applied = try Netns("seq"), loaded = try Netns("seq-nft")
        defer { applied.destroy(); loaded.destroy() }
        let directory = try TempDir("seq")
        defer { directory.remove() }
        let segments = "\(directory.path)/segments", state = try directory.subdirectory("state")
        let flags = ["--hooks", "input,output,forward"]
        var rng = SeededGenerator(seed: seed)
        var model = RandomModel.make(zones: 8, flows: 12, using: &rng)
        let lines = RandomModel.yaml(model).split(separator: "\n").count
        var changedSteps = 0

        for step in 0..<12 {
            if step > 0 { model = Self.mutate(model, &rng) }
            let yaml = RandomModel.yaml(model)
            #expect(yaml.split(separator: "\n").count == lines, "the mutation must keep every line in place")
            try directory.write("segments/model.yaml", yaml)
            let check = bulkhead(["check", "-s", segments])
            try #require(check.status == 0, "seed \(seed) step \(step): invalid model: \(check.err)")

            let apply = bulkhead(["apply", "-s", segments] + flags + ["--netns", applied.name, "--state", state])
            try #require(apply.status == 0, "seed \(seed) step \(step): \(apply)")
            #expect(!apply.out.contains("full replace"), "seed \(seed) step \(step): no comment changed, so no replace: \(apply.out)")
            if apply.out.contains("in one transaction") { changedSteps += 1 }
            let plan = bulkhead(["plan", "-s", segments] + flags + ["--netns", applied.name])
            #expect(plan.status == 0, "seed \(seed) step \(step): plan after apply: \(plan.out.prefix(3000))")
            #expect(bulkhead(["drift", "--netns", applied.name, "--state", state]).status == 0, "seed \(seed) step \(step): drift after apply")

            let render = bulkhead(["render", "-s", segments] + flags)
            try #require(render.status == 0)
            try loaded.loadScript(render.out)
            // Object for object (nft lists objects in creation order, which incremental applies change).
            let ours = Listing.blocks(Listing.normalized(try applied.listTable()))
            let theirs = Listing.blocks(Listing.withoutCounterValues(try loaded.listTable()))
            #expect(ours.count > 10, "the listing should hold many objects: \(ours.keys)")
            let onlyOurs = Set(ours.keys).subtracting(theirs.keys), onlyTheirs = Set(theirs.keys).subtracting(ours.keys)
            #expect(onlyOurs.isEmpty && onlyTheirs.isEmpty, "seed \(seed) step \(step): objects only in ours \(onlyOurs), only in nft's \(onlyTheirs)")
            for (name, block) in ours where theirs[name] != nil && theirs[name] != block {
                Issue.record("seed \(seed) step \(step): \(name) differs from nft -f's:\n\(firstDifference(block, theirs[name] ?? ""))")
            }
        }
        #expect(changedSteps >= 9, "only \(changedSteps) of 12 steps changed anything")
    }

    @Test("a line added to one zone (a description) keeps the apply incremental: no full replace")
    func shiftedSourceLinesDoNotReplaceTheTable() throws {
        let namespace = try Netns("shift")
        defer { namespace.destroy() }
        let directory = try TempDir("shift")
        defer { directory.remove() }
        let modelFile = try directory.write("segments/model.yaml", Self.deltaModel)
        let segments = "\(directory.path)/segments"
        let state = try directory.subdirectory("state")
        let first = bulkhead(["apply", "-s", segments, "--netns", namespace.name, "--state", state])
        try #require(first.status == 0, "\(first)")

        // A description documents zone web; it changes nothing in the ruleset's semantics, but the zones
        // after it move one line down, and chain and set comments carry file:line.
        let edited = Self.deltaModel.replacingOccurrences(of: "  web:\n", with: "  web:\n    description: reverse proxies\n")
        try Data(edited.utf8).write(to: URL(fileURLWithPath: modelFile))
        let session = try NftablesSession(networkNamespace: namespace.name)
        let (_, plan, changes) = try Reconciler(backend: session, lock: true).plan(try compiledTable(segments: segments))
        let replace = plan.isFullReplace
        let sample = changes.prefix(4).map { "\($0.change) \($0.object): \($0.expected ?? "") -> \($0.live ?? "")" }
        #expect(!replace, "a line shift replaces the whole table (\(plan.operations.count) operations), resetting every counter; differences: \(sample)")
    }

    // MARK: - Decoding: what the kernel holds reads back as exactly the compiled value

    /// One zone with `count` disjoint /32s (every other address from 198.18.64.0), plus IPv6 ones.
    static func manyAddressModel(count: Int) -> String {
        var addresses: [String] = []
        for index in 0..<count {
            let value = 0xC612_4000 + UInt32(index) * 2
            addresses.append("\(value >> 24).\((value >> 16) & 255).\((value >> 8) & 255).\(value & 255)")
            addresses.append("2001:db8:5::\(String(index * 2 + 1, radix: 16))")
        }
        return """
        zones:
          many:
            owner: team-test
            addresses: [\(addresses.joined(separator: ", "))]
          app:
            owner: team-test
            addresses: [198.18.20.0/24]
        services:
          pg: [tcp/5432]
        flows:
          - from: app
            to: many
            service: pg
          - from: many
            to: app
            service: pg

        """
    }

    @Test("a table read back over netlink equals the compiled table value, element for element (sets that span several dump messages too)",
          arguments: [4, 1500])
    func readBackEqualsCompiled(addresses: Int) throws {
        let namespace = try Netns("readback")
        defer { namespace.destroy() }
        let directory = try TempDir("readback")
        defer { directory.remove() }
        try directory.write("segments/model.yaml", Self.manyAddressModel(count: addresses))
        let segments = "\(directory.path)/segments"
        let table = try compiledTable(segments: segments)

        let session = try NftablesSession(networkNamespace: namespace.name)
        let reconciler = Reconciler(backend: session, lock: false)
        let outcome = try reconciler.apply(table)
        #expect(outcome.commit != nil)
        let live = try #require(try session.read(attempts: 10).table)
        let desired = reconciler.desired(table)
        for set in desired.sets {
            let read = try #require(live.set(named: set.name), "set \(set.name) missing")
            #expect(read.elements.count == set.elements.count,
                    "\(set.name): \(set.elements.count) elements compiled, \(read.elements.count) read back")
            let same = read.elements == set.elements  // (not inside #expect, which would print every element)
            #expect(same, "\(set.name): elements read back differ: \(elementDifference(set.elements, read.elements))")
        }
        let sameChains = live.chains == desired.chains
        #expect(sameChains, "chains read back differ from the compiled ones")

        // The consequences users see: plan and drift right after an apply must be clean.
        let (_, plan, changes) = try reconciler.plan(table)
        let operations = plan.operations.count
        #expect(operations == 0, "plan right after apply: \(changes.count) differences: \(changes.prefix(5).map { "\($0.change) \($0.object)" })")
        let state = try TempDir("readback-state")
        defer { state.remove() }
        let apply = bulkhead(["apply", "-s", segments, "--netns", namespace.name, "--state", state.path, "--lock", "off"])
        #expect(apply.status == 0 && apply.out.contains("nothing to do"), "second apply: \(apply)")
        if apply.status == 0 {
            let drift = bulkhead(["drift", "--netns", namespace.name, "--state", state.path, "--json"])
            #expect(drift.status == 0, "drift right after apply: \(drift.out.prefix(2000))")
        }
    }

    // MARK: - 3. A model change applies only the delta; counters elsewhere survive

    static let deltaModel = """
    zones:
      web:
        owner: team-web
        addresses: [198.18.10.0/24]
      app:
        owner: team-app
        addresses: [198.18.20.0/24, 2001:db8:20::/64]
      db:
        owner: team-data
        addresses: [198.18.30.0/26]
      cache:
        owner: team-data
        addresses: [198.18.31.0/27]
    services:
      postgres: [tcp/5432]
      redis: [tcp/6379]
    flows:
      - name: public-web
        from: world
        to: web
        ports: [tcp/80]
      - from: web
        to: app
        ports: [tcp/8080]
      - from: app
        to: db
        service: postgres
      - from: app
        to: cache
        service: redis

    """

    /// Packets counted by the input chain's `ip daddr @zoned.v4 counter drop`, read with `nft -j`.
    func zonedDropPackets(_ namespace: Netns) throws -> Int {
        let counters = try NftJSON.ruleCounters(try namespace.nft("-j", "list", "chain", "inet", "bulkhead", "input"))
        let rule = try #require(counters.first { $0.text.contains("@zoned.v4") }, "no zoned.v4 counter in \(counters)")
        return rule.packets
    }

    /// The plan for the model now on disk, and the names of the chains it flushes and the sets whose elements it touches.
    func planFor(_ segments: String, _ namespace: Netns) throws -> (plan: TransactionPlan, flushed: Set<String>, elementSets: Set<String>) {
        let session = try NftablesSession(networkNamespace: namespace.name)
        let (_, plan, _) = try Reconciler(backend: session, lock: true).plan(try compiledTable(segments: segments))
        var flushed: Set<String> = [], elementSets: Set<String> = []
        for operation in plan.operations {
            switch operation {
            case .flushChain(let name): flushed.insert(name)
            case .addElements(let set), .deleteElements(let set): elementSets.insert(set.name)
            default: break
            }
        }
        return (plan, flushed, elementSets)
    }

    @Test("a model change applies only the delta (elements, or one chain's rules) and rule counters elsewhere survive")
    func modelChangeAppliesOnlyTheDelta() throws {
        let firewall = try Netns("fw"), client = try Netns("client")
        defer { firewall.destroy(); client.destroy() }
        try Shell.run(["ip", "-n", firewall.name, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", client.name])
        try firewall.exec(["ip", "addr", "add", "198.18.20.1/16", "dev", "eth0"])
        try client.exec(["ip", "addr", "add", "198.18.99.2/16", "dev", "eth0"])
        try firewall.exec(["ip", "link", "set", "eth0", "up"])
        try client.exec(["ip", "link", "set", "eth0", "up"])

        let directory = try TempDir("delta")
        defer { directory.remove() }
        let modelFile = try directory.write("segments/model.yaml", Self.deltaModel)
        let segments = "\(directory.path)/segments"
        let state = try directory.subdirectory("state")
        let apply = ["apply", "-s", segments, "--netns", firewall.name, "--state", state]
        let first = bulkhead(apply)
        try #require(first.status == 0, "\(first)")

        // An unzoned client opening a connection into zone app (no flow from world) hits the default deny.
        let probe = try client.exec(["python3", KernelTestSupport.probeScript, "connect", "0.5", "198.18.20.1", "5432"])
        #expect(probe.contains("timeout"), "the connection should be dropped: \(probe)")
        let counted = try zonedDropPackets(firewall)
        try #require(counted > 0, "the default-deny counter did not count the dropped SYN")

        // 1. A zone moves: only set elements change (plus the one rule naming the model digest).
        try Data(Self.deltaModel.replacingOccurrences(of: "198.18.31.0/27", with: "198.18.32.0/27").utf8)
            .write(to: URL(fileURLWithPath: modelFile))
        var (plan, flushed, elementSets) = try planFor(segments, firewall)
        #expect(!plan.isFullReplace)
        #expect(elementSets == ["zoned.v4", "from.app.dst.v4"], "element operations on \(elementSets)")
        #expect(flushed == [ObjectNames.modelChain], "chains flushed: \(flushed)")
        let allowed: Set<String> = ["addTable", "addElements", "deleteElements", "flushChain", "addRule"]
        #expect(plan.operations.allSatisfy { allowed.contains($0.kindName) }, "\(plan.operations.map(\.summary))")
        #expect(plan.operations.filter { if case .addRule(let chain, _) = $0 { chain != ObjectNames.modelChain } else { false } }.isEmpty,
                "only the model chain's rule may be re-added: \(plan.operations.map(\.summary))")
        let moved = bulkhead(apply)
        #expect(moved.status == 0 && moved.out.contains("in one transaction") && !moved.out.contains("full replace"), "\(moved)")
        #expect(try firewall.nft("list", "set", "inet", "bulkhead", "zoned.v4").contains("198.18.32.0/27"))
        #expect(try zonedDropPackets(firewall) >= counted, "the element-only change reset the input chain's counters")

        // 2. A flow gains a port through its service: elements of the service's port set only.
        try Data(Self.deltaModel.replacingOccurrences(of: "198.18.31.0/27", with: "198.18.32.0/27")
            .replacingOccurrences(of: "postgres: [tcp/5432]", with: "postgres: [tcp/5432, tcp/6432]").utf8)
            .write(to: URL(fileURLWithPath: modelFile))
        (plan, flushed, elementSets) = try planFor(segments, firewall)
        #expect(elementSets == ["svc.postgres.tcp"], "element operations on \(elementSets)")
        #expect(flushed == [ObjectNames.modelChain], "chains flushed: \(flushed)")
        #expect(plan.operations.allSatisfy { allowed.contains($0.kindName) }, "\(plan.operations.map(\.summary))")
        let ported = bulkhead(apply)
        #expect(ported.status == 0, "\(ported)")
        #expect(try firewall.nft("list", "set", "inet", "bulkhead", "svc.postgres.tcp").contains("6432"))
        #expect(try zonedDropPackets(firewall) >= counted, "the port change reset the input chain's counters")

        // 3. A new flow between two zones that already talk: that pair's chain is rebuilt, nothing else is flushed.
        try Data((Self.deltaModel.replacingOccurrences(of: "198.18.31.0/27", with: "198.18.32.0/27")
            .replacingOccurrences(of: "postgres: [tcp/5432]", with: "postgres: [tcp/5432, tcp/6432]")
            + "  - name: db-exporter\n    from: app\n    to: db\n    ports: [tcp/9187]\n").utf8)
            .write(to: URL(fileURLWithPath: modelFile))
        (plan, flushed, _) = try planFor(segments, firewall)
        #expect(!plan.isFullReplace)
        #expect(flushed == ["pair.app.db", ObjectNames.modelChain], "chains flushed: \(flushed)")
        let rebuiltChains = Set(plan.operations.compactMap { if case .addRule(let chain, _) = $0 { chain } else { nil } })
        #expect(rebuiltChains == ["pair.app.db", ObjectNames.modelChain], "rules added to \(rebuiltChains)")
        let flowed = bulkhead(apply)
        #expect(flowed.status == 0 && !flowed.out.contains("full replace"), "\(flowed)")
        #expect(try zonedDropPackets(firewall) >= counted, "rebuilding pair.app.db reset the input chain's counters")
        let plain = bulkhead(["plan", "-s", segments, "--netns", firewall.name])
        #expect(plain.status == 0, "plan after the delta applies: \(plain)")

        // Control: a change to the input chain's own rules rebuilds it, which does reset its counters,
        // so the checks above can tell a rebuilt chain from an untouched one.
        let session = try NftablesSession(networkNamespace: firewall.name)
        let (_, unsafePlan, _) = try Reconciler(backend: session, lock: true).plan(try compiledTable(segments: segments, failsafe: []))
        flushed = Set(unsafePlan.operations.compactMap { if case .flushChain(let name) = $0 { name } else { nil } })
        #expect(flushed.contains("input"))
        let rebuilt = bulkhead(apply + ["--failsafe", "none"])
        #expect(rebuilt.status == 0, "\(rebuilt)")
        #expect(try zonedDropPackets(firewall) == 0, "a rebuilt chain starts with fresh counters")
    }

    // MARK: - 4. A failing transaction changes nothing and names the object

    /// A copy of `set` holding only `elements`.
    static func elements(of set: NamedSet, _ elements: [SetElement]) -> NamedSet { set.with(elements: elements) }

    static func v4(_ text: String) -> [UInt8] { IPAddress.parse(text)!.bytes }

    @Test("a transaction the kernel refuses leaves the ruleset byte-identical, and the error names the refused object")
    func failedTransactionChangesNothing() throws {
        let namespace = try Netns("refuse")
        defer { namespace.destroy() }
        let state = try TempDir("refuse")
        defer { state.remove() }
        let applied = bulkhead(["apply", "-s", ModelFixture.exampleSegments, "--hooks", "input,output,forward", "--lock", "off",
                                "--netns", namespace.name, "--state", state.path])
        try #require(applied.status == 0, "\(applied)")

        let session = try NftablesSession(networkNamespace: namespace.name)
        let live = try #require(try session.read(attempts: 10).table)
        let sourceMap = try #require(live.set(named: "zone.src.v4"))
        let zoned = try #require(live.set(named: "zoned.v4"))
        // Valid on their own: a new source range, and rebuilding one chain.
        let newSource = Self.elements(of: sourceMap, [SetElement(key: Self.v4("198.18.222.0"), keyEnd: Self.v4("198.18.222.255"),
                                                                   verdict: .jump("from.web"))])
        let pairRules = try #require(live.chain(named: "pair.app.db")).rules
        let valid: [RulesetOperation] = [.addElements(newSource), .flushChain("pair.app.db")]
            + pairRules.map { .addRule(chain: "pair.app.db", Rule($0.expressions, comment: $0.comment)) }
        try #require(!pairRules.isEmpty)

        let cases: [(what: String, operations: [RulesetOperation], errno: Int32, names: String)] = [
            ("elements into a set that does not exist",
             valid + [.addElements(NamedSet(name: "no.such.set", keyType: .ipv4Address, isInterval: true,
                                            elements: [SetElement(key: Self.v4("198.18.223.0"), keyEnd: Self.v4("198.18.223.255"))]))],
             ENOENT, "no.such.set"),
            ("an element overlapping an existing interval (198.18.10.128/25 inside web's 198.18.10.0/24)",
             valid + [.addElements(Self.elements(of: zoned, [SetElement(key: Self.v4("198.18.10.128"), keyEnd: Self.v4("198.18.10.255"))]))],
             EEXIST, "zoned.v4"),
            ("a rule jumping to a chain that does not exist",
             valid + [.addRule(chain: "input", Rule([.immediateVerdict(.jump("no.such.chain"))], comment: "bad jump"))],
             ENOENT, "no.such.chain"),
            ("deleting a chain a map still jumps to",
             valid + [.flushChain("from.web"), .deleteChain("from.web")],
             EBUSY, "from.web"),
            ("removing an element that is not there",
             valid + [.deleteElements(Self.elements(of: zoned, [SetElement(key: Self.v4("198.18.250.0"), keyEnd: Self.v4("198.18.250.255"))]))],
             ENOENT, "zoned.v4"),
        ]
        for testCase in cases {
            let before = try namespace.nft("-a", "list", "ruleset")
            let generation = try session.generation()
            let error = #expect(throws: NetlinkError.self, "\(testCase.what)") {
                try session.commit(testCase.operations, generation: generation)
            }
            if let error {
                #expect(error.errno == testCase.errno, "\(testCase.what): errno \(error.errno) (\(error)), expected \(testCase.errno)")
                #expect(error.description.contains(testCase.names), "\(testCase.what): the error does not name \(testCase.names): \(error)")
            }
            let after = try namespace.nft("-a", "list", "ruleset")
            #expect(after == before, "\(testCase.what): the refused transaction changed the ruleset:\n\(firstDifference(before, after))")
            #expect(try session.generation() == generation, "\(testCase.what): a refused transaction moved the generation")
        }
        // The valid part alone goes through (so the refusals above came from the bad operation).
        let generation = try session.generation()
        let result = try session.commit(valid, generation: generation)
        #expect(result.generation == generation &+ 1)
        #expect(try namespace.nft("list", "map", "inet", "bulkhead", "zone.src.v4").contains("198.18.222.0/24"))
    }

    // MARK: - 5. Generations

    @Test("a commit planned against a stale generation is refused with ERESTART and changes nothing")
    func staleGenerationIsRefused() throws {
        let namespace = try Netns("stale")
        defer { namespace.destroy() }
        let state = try TempDir("stale")
        defer { state.remove() }
        let applied = bulkhead(["apply", "-s", ModelFixture.exampleSegments, "--netns", namespace.name, "--state", state.path])
        try #require(applied.status == 0, "\(applied)")

        let session = try NftablesSession(networkNamespace: namespace.name)
        let live = try session.read(attempts: 10)
        let sourceMap = try #require(live.table?.set(named: "zone.src.v4"))
        let operations: [RulesetOperation] = [.addElements(Self.elements(of: sourceMap, [
            SetElement(key: Self.v4("198.18.222.0"), keyEnd: Self.v4("198.18.222.255"), verdict: .jump("from.web")),
        ]))]
        // Someone else commits in between (in our table, so the refused change would land right next to theirs).
        try namespace.nft("add", "rule", "inet", "bulkhead", "input", "tcp", "dport", "4444", "accept")
        let before = try namespace.nft("-a", "list", "ruleset")
        let moved = try session.generation()
        #expect(moved != live.generation)

        let error = #expect(throws: NetlinkError.self) { try session.commit(operations, generation: live.generation) }
        #expect(error?.errno == Reconciler.ERESTART, "\(String(describing: error))")
        #expect(error?.description.contains("changed since it was read") == true, "\(String(describing: error))")
        #expect(try namespace.nft("-a", "list", "ruleset") == before)
        #expect(try session.generation() == moved)

        // With the current generation the same operations go through.
        let result = try session.commit(operations, generation: moved)
        #expect(result.generation == moved &+ 1)
        #expect(try namespace.nft("list", "map", "inet", "bulkhead", "zone.src.v4").contains("198.18.222.0/24"))
    }

    /// A backend that lets someone change the ruleset with nft right before the first commit goes out.
    final class InterferingBackend: RulesetBackend {
        let inner: NftablesSession
        let interfere: () throws -> Void
        private(set) var commits: [UInt32?] = []

        init(_ inner: NftablesSession, interfere: @escaping () throws -> Void) {
            self.inner = inner
            self.interfere = interfere
        }

        var ownerID: UInt32 { inner.ownerID }

        func generation() throws -> UInt32 { try inner.generation() }

        func read(attempts: Int) throws -> LiveState { try inner.read(attempts: attempts) }

        func commit(_ operations: [RulesetOperation], generation: UInt32?) throws -> CommitResult {
            commits.append(generation)
            if commits.count == 1 { try interfere() }
            return try inner.commit(operations, generation: generation)
        }
    }

    @Test("Reconciler.apply re-plans and succeeds when the ruleset changes between its read and its commit")
    func reconcilerRetriesAfterConcurrentChange() throws {
        let namespace = try Netns("retry")
        defer { namespace.destroy() }
        let state = try TempDir("retry")
        defer { state.remove() }
        let applied = bulkhead(["apply", "-s", ModelFixture.exampleSegments, "--netns", namespace.name, "--state", state.path])
        try #require(applied.status == 0, "\(applied)")

        // The desired table differs from the live one (no failsafe ports), so apply has something to commit;
        // right before it does, someone adds a map element and a rule with nft.
        let desired = try compiledTable(segments: ModelFixture.exampleSegments, failsafe: [])
        let backend = InterferingBackend(try NftablesSession(networkNamespace: namespace.name)) {
            try namespace.nft("add", "element", "inet", "bulkhead", "zone.src.v4", "{ 198.18.200.0/24 : jump from.web }")
            try namespace.nft("add", "rule", "inet", "bulkhead", "pair.app.db", "tcp", "dport", "4444", "accept")
        }
        let outcome = try Reconciler(backend: backend, lock: true).apply(desired)
        #expect(outcome.retries == 1)
        #expect(backend.commits.count == 2)
        #expect(backend.commits[0] != backend.commits[1], "the retry must carry the new generation: \(backend.commits)")
        #expect(outcome.commit != nil)

        // The second plan saw the interference and removed it along with applying the change.
        let session = try NftablesSession(networkNamespace: namespace.name)
        let (_, plan, changes) = try Reconciler(backend: session, lock: true).plan(desired)
        let operations = plan.operations.count
        #expect(operations == 0, "\(changes.map { "\($0.change) \($0.object)" })")
        #expect(try !namespace.nft("list", "map", "inet", "bulkhead", "zone.src.v4").contains("198.18.200.0/24"))
        #expect(try !namespace.nft("list", "chain", "inet", "bulkhead", "pair.app.db").contains("4444"))
        #expect(try !namespace.nft("list", "chain", "inet", "bulkhead", "input").contains("failsafe"))
    }
}

/// The first line where two texts differ, with a little context, for failure messages.
func firstDifference(_ a: String, _ b: String) -> String {
    let left = a.components(separatedBy: "\n"), right = b.components(separatedBy: "\n")
    for index in 0..<max(left.count, right.count) {
        let l = index < left.count ? left[index] : "<end>", r = index < right.count ? right[index] : "<end>"
        if l != r { return "line \(index + 1):\n  - \(l)\n  + \(r)" }
    }
    return "(no difference)"
}

/// Elements in one list and not the other (first few), for failure messages.
func elementDifference(_ expected: [SetElement], _ live: [SetElement]) -> String {
    var remaining = live
    var missing: [SetElement] = []
    for element in expected {
        if let index = remaining.firstIndex(of: element) { remaining.remove(at: index) } else { missing.append(element) }
    }
    func text(_ element: SetElement) -> String {
        let family: AddressFamily = element.key.count == 4 ? .ipv4 : .ipv6
        let start = element.key.count >= 4 ? IPAddress(family: family, bytes: element.key).description : "\(element.key)"
        let end = element.keyEnd.map { $0.count >= 4 ? IPAddress(family: family, bytes: $0).description : "\($0)" }
        return start + (end.map { "-\($0)" } ?? "") + (element.verdict.map { " : \($0)" } ?? "")
    }
    return "missing \(missing.prefix(5).map(text)), extra \(remaining.prefix(5).map(text)) (\(missing.count) missing, \(remaining.count) extra)"
}
