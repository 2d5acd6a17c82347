import BulkheadCore
import BulkheadTestSupport
import Testing

@Suite struct CompilerTests {
    static func settings(_ hooks: [FilterHook], policy: EnforcementPolicy = .enforce, failsafe: [PortSpec]? = nil) -> Settings {
        var settings = Settings()
        settings.hooks = hooks
        settings.policy = policy
        if let failsafe { settings.failsafe = failsafe }
        return settings
    }

    static let hookSets: [[FilterHook]] = [[.input], [.output], [.forward], [.input, .output, .forward]]

    /// The compiled ruleset, run by an interpreter, decides every packet exactly as the model's semantics say.
    @Test(arguments: 0..<4)
    func randomModelsAgreeWithTheOracle(round: Int) throws {
        var rng = SeededGenerator(seed: 0xB01D_FACE + UInt64(round))
        var checked = 0, accepted = 0
        for _ in 0..<40 {
            let model = RandomModel.make(zones: Int.random(in: 0...12, using: &rng), flows: Int.random(in: 0...20, using: &rng), using: &rng)
            let hooks = Self.hookSets[Int.random(in: 0..<Self.hookSets.count, using: &rng)]
            let settings = Self.settings(hooks, failsafe: Bool.random(using: &rng) ? [] : nil)
            let table = Compiler(model: model, settings: settings).compile()
            let evaluator = RulesetEvaluator(table: table)
            let oracle = ModelOracle(model: model, settings: settings)
            for _ in 0..<150 {
                let packet = RandomModel.packet(using: &rng)
                for hook in hooks {
                    let chainHook: ChainHook = hook == .input ? .input : (hook == .output ? .output : .forward)
                    let verdict = try evaluator.verdict(for: packet, hook: chainHook).verdict
                    let expected = oracle.allows(packet, at: hook)
                    #expect((verdict == .accept) == expected,
                            "\(hook) \(packet): ruleset says \(verdict), model says \(expected ? "accept" : "drop")\n\(RandomModel.yaml(model))")
                    checked += 1
                    if expected { accepted += 1 }
                }
            }
        }
        // Both outcomes occur often, so the agreement means something.
        #expect(accepted > checked / 10 && accepted < checked * 9 / 10)
    }

    /// Audit mode accepts everything the model would drop.
    @Test func auditAcceptsEverything() throws {
        var rng = SeededGenerator(seed: 7)
        let model = RandomModel.make(zones: 10, flows: 10, using: &rng)
        let table = Compiler(model: model, settings: Self.settings([.input, .output, .forward], policy: .audit)).compile()
        let evaluator = RulesetEvaluator(table: table)
        for _ in 0..<300 {
            let packet = RandomModel.packet(using: &rng)
            for hook in [ChainHook.input, .output, .forward] {
                #expect(try evaluator.verdict(for: packet, hook: hook).verdict == .accept)
            }
        }
        let dropRules = table.chains.flatMap(\.rules).filter { $0.expressions.last == .immediateVerdict(.drop) }
        #expect(dropRules.count == 3, "only 'ct state invalid drop' remains, once per base chain")
    }

    /// Per-packet work does not grow with the model: from 5 to 600 zones (and 3 flows per zone) the rules
    /// visited stay bounded. What a packet meets is a fixed number of set lookups plus the flows of its own
    /// zone pair and the world flows, which are rules of their own so that each keeps its comment and counter.
    @Test func perPacketCostDoesNotGrowWithTheModel() throws {
        var worst: [Int] = []
        for zones in [5, 60, 600] {
            var rng = SeededGenerator(seed: UInt64(zones))
            var model = RandomModel.make(zones: zones, flows: zones * 3, worldOneIn: 0, using: &rng)
            model.flows += RandomModel.make(zones: 0, flows: 3, using: &rng).flows.enumerated().map { index, flow in
                var flow = flow
                flow.name = "world\(index)"
                flow.portSource = .inline
                return flow
            }
            let table = Compiler(model: model, settings: Self.settings([.input, .forward])).compile()
            let evaluator = RulesetEvaluator(table: table)
            var maximum = 0
            for _ in 0..<2000 {
                maximum = max(maximum, try evaluator.verdict(for: RandomModel.packet(using: &rng), hook: .forward).rulesVisited)
            }
            worst.append(maximum)
        }
        // World flows and a pair's own flows add a few rules; nothing scales with zones or flows.
        #expect(worst.allSatisfy { $0 <= 40 }, "rules visited per packet: \(worst)")
    }

    /// Every reference resolves, interval sets are disjoint and sorted, names are unique, comments fit.
    @Test(arguments: 0..<3)
    func compiledTablesAreWellFormed(seed: Int) {
        var rng = SeededGenerator(seed: UInt64(seed) * 31 + 5)
        for _ in 0..<30 {
            let model = RandomModel.make(zones: Int.random(in: 0...30, using: &rng), flows: Int.random(in: 0...40, using: &rng), using: &rng)
            let table = Compiler(model: model, settings: Self.settings([.input, .output, .forward])).compile()
            let chainNames = Set(table.chains.map(\.name)), setNames = Set(table.sets.map(\.name))
            #expect(chainNames.count == table.chains.count)
            #expect(setNames.count == table.sets.count)
            for chain in table.chains {
                #expect((chain.comment?.utf8.count ?? 0) <= CommentText.maximumBytes)
                for rule in chain.rules {
                    #expect((rule.comment?.utf8.count ?? 0) <= CommentText.maximumBytes)
                    for expression in rule.expressions {
                        if case .lookup(let set, _, _, _) = expression { #expect(setNames.contains(set), "missing set \(set)") }
                        if case .immediateVerdict(let verdict) = expression, let target = verdict.target {
                            #expect(chainNames.contains(target))
                        }
                    }
                }
            }
            for set in table.sets {
                for element in set.elements {
                    if let target = element.verdict?.target { #expect(chainNames.contains(target), "missing chain \(target)") }
                    #expect(element.key.count == set.keyType.length)
                }
                for (a, b) in zip(set.elements, set.elements.dropFirst()) {
                    #expect((a.keyEnd ?? a.key).lexicographicallyPrecedes(b.key), "\(set.name): overlapping or unsorted elements")
                }
            }
        }
    }

    /// Overlapping zones: the source map sends each address to the zone of its most specific prefix.
    @Test func mostSpecificZoneWinsInTheSourceMap() throws {
        let result = SegmentLoader.load(sources: [SegmentSource(path: "m.yaml", relativePath: "m.yaml", bytes: Array("""
        zones:
          corp: {owner: it, addresses: [198.18.0.0/16]}
          db: {owner: data, addresses: [198.18.5.0/24]}
        flows:
          - {from: [corp, db], to: world, ports: [tcp/443]}
        """.utf8))])
        let model = try #require(result.model)
        #expect(result.diagnostics.count == 1 && result.diagnostics[0].severity == .warning)
        let table = Compiler(model: model, settings: Settings()).compile()
        let map = try #require(table.set(named: "zone.src.v4"))
        #expect(map.elements.map { TableText.element(.ipv4Address, $0) } == [
            "198.18.0.0-198.18.4.255 : jump from.corp",
            "198.18.5.0/24 : jump from.db",
            "198.18.6.0-198.18.255.255 : jump from.corp",
        ])
        #expect(table.set(named: "zoned.v4")?.elements.map { TableText.element(.ipv4Address, $0) } == ["198.18.0.0/16"])
    }

    /// Without egress: deny zones the output chain has nothing to evaluate.
    @Test func outputWithoutEgressDenyOnlyAcceptsAndKeepsHygiene() throws {
        var rng = SeededGenerator(seed: 3)
        var model = RandomModel.make(zones: 5, flows: 5, using: &rng)
        for index in model.zones.indices { model.zones[index].egress = .allow }
        let table = Compiler(model: model, settings: Self.settings([.output])).compile()
        let output = try #require(table.chain(named: "output"))
        #expect(output.rules.map(RuleText.describe).map { $0.components(before: " comment") } == [
            "ct state established,related accept", "ct state invalid drop", "oif \"lo\" accept",
            "icmp type @icmp.essential accept", "icmpv6 type @icmpv6.essential accept", "accept",
        ])
        #expect(output.base?.policy == .drop)
    }

    /// Repeated zones in a list do not repeat in the default name; a flow with both service and ports
    /// is an error but does not also make its service look unused.
    @Test func defaultNamesAndServiceUse() throws {
        let result = SegmentLoader.load(sources: [SegmentSource(path: "m.yaml", relativePath: "m.yaml", bytes: Array("""
        zones:
          web: {owner: x, addresses: [198.18.0.1]}
        services:
          http: [tcp/80]
        flows:
          - {from: [web, web], to: web, service: http}
          - {from: web, to: web, service: http, ports: [tcp/81]}
        """.utf8))])
        #expect(result.diagnostics.map(\.description) == ["m.yaml:7:26: error: flow has both 'service' and 'ports'; keep one"])
        let valid = SegmentLoader.load(sources: [SegmentSource(path: "m.yaml", relativePath: "m.yaml", bytes: Array("""
        zones:
          web: {owner: x, addresses: [198.18.0.1]}
        flows:
          - {from: [web, web], to: web, ports: [tcp/80]}
        """.utf8))])
        #expect(try #require(valid.model).flows.map(\.name) == ["web-to-web"])
    }

    /// Port lists are merged into disjoint ranges, because interval sets refuse overlaps.
    @Test func overlappingPortsAreMerged() throws {
        let result = SegmentLoader.load(sources: [SegmentSource(path: "m.yaml", relativePath: "m.yaml", bytes: Array("""
        zones:
          a: {owner: x, addresses: [198.18.0.1]}
        flows:
          - {name: web, from: world, to: a, ports: [tcp/80, tcp/81, tcp/8000-8100, tcp/8050, tcp/443, udp/53]}
        """.utf8))])
        let table = Compiler(model: try #require(result.model), settings: Settings()).compile()
        let tcp = try #require(table.set(named: "flow.web.tcp"))
        #expect(tcp.elements.map { TableText.element(.inetService, $0) } == ["80-81", "443", "8000-8100"])
        #expect(table.set(named: "flow.web.udp")?.elements.count == 1)
    }
}

extension String {
    /// The part before the first occurrence of `marker` (all of it when absent).
    func components(before marker: String) -> String {
        guard let range = range(of: marker) else { return self }
        return String(self[..<range.lowerBound])
    }
}

import Foundation
