/// Names of the objects in the table, in one place so that the compiler, reports and tests agree.
public enum ObjectNames {
    public static let tableFamily = TableFamily.inet
    public static let table = "bulkhead"
    /// The chain whose rule names the model digest.
    public static let modelChain = "model"

    static func fromChain(_ zone: String) -> String { "from.\(zone)" }
    static func toChain(_ zone: String) -> String { "to.\(zone)" }
    static func pairChain(_ from: String, _ to: String) -> String { "pair.\(from).\(to)" }
    static func sourceZoneMap(_ family: AddressFamily) -> String { "zone.src.\(family.suffix)" }
    static func destinationZoneMap(_ family: AddressFamily) -> String { "zone.dst.\(family.suffix)" }
    static func destinationsOfZone(_ zone: String, _ family: AddressFamily) -> String { "from.\(zone).dst.\(family.suffix)" }
    static func zonedSet(_ family: AddressFamily) -> String { "zoned.\(family.suffix)" }
    static func egressDenySet(_ family: AddressFamily) -> String { "egress-deny.\(family.suffix)" }
    static func servicePorts(_ service: String, _ proto: TransportProtocol) -> String { "svc.\(service).\(proto.rawValue)" }
    static func flowPorts(_ flow: String, _ proto: TransportProtocol) -> String { "flow.\(flow).\(proto.rawValue)" }
    static func failsafePorts(_ proto: TransportProtocol) -> String { "failsafe.\(proto.rawValue)" }
    static func essentialICMP(_ family: AddressFamily) -> String { family == .ipv4 ? "icmp.essential" : "icmpv6.essential" }
}

/// Compiles a validated model and the host settings into the one nftables table that enforces them.
///
/// Shape (per packet a fixed number of set lookups, whatever the model's size):
/// base chain → `zone.src` verdict map (source interval → `from.S`) → `from.S.dst` map (destination
/// interval → `pair.S.D`, whose rules test the flows' port sets); `zone.dst` (→ `to.D`) holds flows from
/// world; the base chain then drops what is restricted (`zoned`, `egress-deny`) and accepts the rest.
public struct Compiler {
    public let model: Model
    public let settings: Settings

    public init(model: Model, settings: Settings) {
        self.model = model
        self.settings = settings
    }

    /// ICMPv4 types every host needs (RFC 792/1191): destination-unreachable, time-exceeded, parameter-problem.
    static let essentialICMPv4: [UInt8] = [3, 11, 12]
    /// ICMPv6 types every host needs (RFC 4890): errors, MLD, and neighbour and router discovery.
    static let essentialICMPv6: [UInt8] = [1, 2, 3, 4, 130, 131, 132, 133, 134, 135, 136, 143]

    /// The flows that apply between two endpoints, grouped the way chains are.
    private struct FlowBuckets {
        var worldToWorld: [Flow] = []
        var fromWorld: [String: [Flow]] = [:]
        var toWorld: [String: [Flow]] = [:]
        var pairs: [String: [String: [Flow]]] = [:]
    }

    /// The table for this model and these settings. With a `digest`, the table carries it in the
    /// comment of the one rule of chain `model` (table comments cannot be updated in place; rules can).
    public func compile(digest: String? = nil) -> Table {
        var sets: [NamedSet] = []
        var chains: [Chain] = []
        let buckets = bucketFlows()
        let families = AddressFamily.allCases
        let flattened = Dictionary(uniqueKeysWithValues: families.map { family in
            (family, PrefixFlattening.flatten(model.zones.flatMap { zone in zone.addresses.map { (prefix: $0, label: zone.name) } },
                                              family: family))
        })

        // Fixed sets.
        sets.append(NamedSet(name: ObjectNames.essentialICMP(.ipv4), keyType: .icmpType, isInterval: false,
                             comment: "ICMP types networks need", elements: Self.essentialICMPv4.map { SetElement(key: [$0]) }))
        sets.append(NamedSet(name: ObjectNames.essentialICMP(.ipv6), keyType: .icmpv6Type, isInterval: false,
                             comment: "ICMPv6 types networks need (RFC 4890)", elements: Self.essentialICMPv6.map { SetElement(key: [$0]) }))
        let failsafeProtocols = settings.hooks.contains(.input) ? portProtocols(settings.failsafe) : []
        for proto in failsafeProtocols {
            sets.append(portSet(ObjectNames.failsafePorts(proto), settings.failsafe, proto,
                                comment: "failsafe ports (\(settings.failsafeOrigin))"))
        }

        // Port sets: one per service and protocol, one per inline flow and protocol.
        var emittedPortSets: Set<String> = []
        for flow in model.flows {
            for proto in portProtocols(flow.ports) {
                let name = portSetName(flow, proto)
                guard emittedPortSets.insert(name).inserted else { continue }
                let comment: String
                if case .service(let service) = flow.portSource, let declared = model.services.first(where: { $0.name == service }) {
                    comment = "service \(service) (\(declared.location.shortDescription))"
                } else {
                    comment = "ports of flow \(flow.name) (\(flow.location.shortDescription))"
                }
                sets.append(portSet(name, flow.ports, proto, comment: comment))
            }
        }

        // Zone dispatch maps and restriction sets.
        let sourceZones = Set(buckets.toWorld.keys).union(buckets.pairs.keys)
        let destinationZones = Set(buckets.fromWorld.keys)
        let egressDenyZones = Set(model.zones.filter { $0.egress == .deny }.map(\.name))
        var sourceMaps: [AddressFamily: String] = [:]
        var destinationMaps: [AddressFamily: String] = [:]
        var zonedSets: [AddressFamily: String] = [:]
        var egressSets: [AddressFamily: String] = [:]
        for family in families {
            let ranges = flattened[family] ?? []
            let source = ranges.filter { sourceZones.contains($0.label) }
            if !source.isEmpty {
                let name = ObjectNames.sourceZoneMap(family)
                sets.append(addressMap(name, family, source.map { ($0.range, Verdict.jump(ObjectNames.fromChain($0.label))) },
                                       comment: "source address to the zone it belongs to"))
                sourceMaps[family] = name
            }
            let destination = ranges.filter { destinationZones.contains($0.label) }
            if !destination.isEmpty {
                let name = ObjectNames.destinationZoneMap(family)
                sets.append(addressMap(name, family, destination.map { ($0.range, Verdict.jump(ObjectNames.toChain($0.label))) },
                                       comment: "destination address to the zone it belongs to"))
                destinationMaps[family] = name
            }
            if !ranges.isEmpty, settings.hooks.contains(where: { $0 == .input || $0 == .forward }) {
                let name = ObjectNames.zonedSet(family)
                sets.append(addressSet(name, family, PrefixFlattening.union(ranges.map(\.range)),
                                       comment: "every address in a zone: traffic into them is denied unless a flow allows it"))
                zonedSets[family] = name
            }
            let denying = ranges.filter { egressDenyZones.contains($0.label) }.map(\.range)
            if !denying.isEmpty, settings.hooks.contains(where: { $0 == .output || $0 == .forward }) {
                let name = ObjectNames.egressDenySet(family)
                sets.append(addressSet(name, family, PrefixFlattening.union(denying),
                                       comment: "addresses of zones with egress: deny"))
                egressSets[family] = name
            }
        }

        // Base chains.
        for hook in settings.hooks {
            chains.append(baseChain(hook, buckets: buckets, sourceMaps: sourceMaps, destinationMaps: destinationMaps,
                                    zonedSets: zonedSets, egressSets: egressSets, restrictsEgress: !egressDenyZones.isEmpty))
        }

        // Per-zone chains and their destination maps.
        for zone in model.zones where sourceZones.contains(zone.name) {
            var rules = (buckets.toWorld[zone.name] ?? []).flatMap(flowRules)
            let destinations = buckets.pairs[zone.name] ?? [:]
            for family in families {
                let ranges = (flattened[family] ?? []).filter { destinations[$0.label] != nil }
                guard !ranges.isEmpty else { continue }
                let name = ObjectNames.destinationsOfZone(zone.name, family)
                sets.append(addressMap(name, family, ranges.map { ($0.range, Verdict.goto(ObjectNames.pairChain(zone.name, $0.label))) },
                                       comment: "zones that zone \(zone.name) may reach"))
                rules.append(RuleBuilder.addressVerdictMap(family, source: false, map: name, comment: "dispatch on destination zone"))
            }
            chains.append(Chain(name: ObjectNames.fromChain(zone.name), comment: zoneComment("traffic from zone", zone), rules: rules))
        }
        for zone in model.zones {
            guard let flows = buckets.fromWorld[zone.name] else { continue }
            chains.append(Chain(name: ObjectNames.toChain(zone.name), comment: zoneComment("traffic from world to zone", zone),
                                rules: flows.flatMap(flowRules)))
        }
        for source in model.zones {
            guard let destinations = buckets.pairs[source.name] else { continue }
            for destination in model.zones {
                guard let flows = destinations[destination.name] else { continue }
                chains.append(Chain(name: ObjectNames.pairChain(source.name, destination.name),
                                    comment: "flows from \(source.name) to \(destination.name)", rules: flows.flatMap(flowRules)))
            }
        }
        if let digest {
            chains.append(Chain(name: ObjectNames.modelChain, comment: "which model this table enforces (never jumped to)",
                                // A bare counter: a verdict here would make the kernel re-validate every jump
                                // in the table (100 ms on a 100k-element table) at each model change.
                                rules: [Rule([.counter], comment: "model \(digest)")]))
        }
        return Table(family: ObjectNames.tableFamily, name: ObjectNames.table,
                     comment: "managed by bulkhead: edit the segment model, not this table", sets: sets, chains: chains)
    }

    private func bucketFlows() -> FlowBuckets {
        var buckets = FlowBuckets()
        for flow in model.flows {
            for from in flow.from {
                for to in flow.to {
                    switch (from, to) {
                    case (.world, .world): buckets.worldToWorld.append(flow)
                    case (.world, .zone(let d)): buckets.fromWorld[d, default: []].append(flow)
                    case (.zone(let s), .world): buckets.toWorld[s, default: []].append(flow)
                    case (.zone(let s), .zone(let d)): buckets.pairs[s, default: [:]][d, default: []].append(flow)
                    }
                }
            }
        }
        return buckets
    }

    private func baseChain(_ hook: FilterHook, buckets: FlowBuckets, sourceMaps: [AddressFamily: String],
                           destinationMaps: [AddressFamily: String], zonedSets: [AddressFamily: String],
                           egressSets: [AddressFamily: String], restrictsEgress: Bool) -> Chain {
        var rules: [Rule] = [
            RuleBuilder.ctState(ConntrackState.established | ConntrackState.related, .accept, comment: "return traffic of allowed connections"),
            RuleBuilder.ctState(ConntrackState.invalid, .drop, comment: "packets conntrack cannot place"),
        ]
        switch hook {
        case .input: rules.append(RuleBuilder.loopback(input: true, comment: "loopback"))
        case .output: rules.append(RuleBuilder.loopback(input: false, comment: "loopback"))
        case .forward: break
        }
        for family in AddressFamily.allCases {
            rules.append(RuleBuilder.icmpTypeInSet(family, set: ObjectNames.essentialICMP(family), .accept,
                                                   comment: "ICMP that networks need (RFC 4890)"))
        }
        if hook == .input {
            for proto in portProtocols(settings.failsafe) {
                rules.append(RuleBuilder.destinationPortInSet(proto, set: ObjectNames.failsafePorts(proto), counter: true, .accept,
                                                              comment: "failsafe: always open inbound"))
            }
        }
        // On output only egress-deny zones are restricted: without them there is nothing to evaluate.
        let evaluatesFlows = hook != .output || restrictsEgress
        if evaluatesFlows {
            rules += buckets.worldToWorld.flatMap(flowRules)
            for family in AddressFamily.allCases {
                if let map = sourceMaps[family] {
                    rules.append(RuleBuilder.addressVerdictMap(family, source: true, map: map, comment: "dispatch on source zone"))
                }
            }
            for family in AddressFamily.allCases {
                if let map = destinationMaps[family] {
                    rules.append(RuleBuilder.addressVerdictMap(family, source: false, map: map, comment: "flows from world"))
                }
            }
        }
        let denyVerdict: Verdict = settings.policy == .enforce ? .drop : .accept
        let logPrefix: String? = settings.policy == .enforce ? nil : "bulkhead audit deny: "
        if hook == .input || hook == .forward {
            for family in AddressFamily.allCases {
                guard let set = zonedSets[family] else { continue }
                rules.append(RuleBuilder.addressInSet(family, source: false, set: set, logPrefix: logPrefix, denyVerdict,
                                                      comment: "default deny: into a zone without a flow"))
            }
        }
        if hook == .output || hook == .forward {
            for family in AddressFamily.allCases {
                guard let set = egressSets[family] else { continue }
                rules.append(RuleBuilder.addressInSet(family, source: true, set: set, logPrefix: logPrefix, denyVerdict,
                                                      comment: "default deny: egress from an egress: deny zone"))
            }
        }
        rules.append(RuleBuilder.verdict(.accept, comment: "not restricted by the model"))
        let chainHook: ChainHook = switch hook {
        case .input: .input
        case .output: .output
        case .forward: .forward
        }
        return Chain(name: hook.rawValue, base: BaseChainSpec(hook: chainHook, priority: 0, policy: .drop),
                     comment: "bulkhead \(hook.rawValue) (\(settings.policy.rawValue))", rules: rules)
    }

    /// The rules that accept one flow: one per protocol (echo for icmp, v4 and v6).
    private func flowRules(_ flow: Flow) -> [Rule] {
        let comment = CommentText.fit("flow \(flow.name) (\(flow.location.shortDescription))")
        var rules: [Rule] = []
        for proto in portProtocols(flow.ports) {
            rules.append(RuleBuilder.destinationPortInSet(proto, set: portSetName(flow, proto), counter: true, .accept, comment: comment))
        }
        if flow.ports.contains(where: { $0.proto == .icmp }) {
            for family in AddressFamily.allCases {
                rules.append(RuleBuilder.echoRequest(family, counter: true, .accept, comment: comment))
            }
        }
        return rules
    }

    /// tcp and/or udp, in that order, when the list has ports of them.
    private func portProtocols(_ ports: [PortSpec]) -> [TransportProtocol] {
        [.tcp, .udp].filter { proto in ports.contains { $0.proto == proto } }
    }

    private func portSetName(_ flow: Flow, _ proto: TransportProtocol) -> String {
        if case .service(let service) = flow.portSource { return ObjectNames.servicePorts(service, proto) }
        return ObjectNames.flowPorts(flow.name, proto)
    }

    private func portSet(_ name: String, _ ports: [PortSpec], _ proto: TransportProtocol, comment: String) -> NamedSet {
        // Interval sets refuse overlapping elements, so ranges are merged first.
        var merged: [ClosedRange<UInt16>] = []
        for range in ports.filter({ $0.proto == proto }).compactMap(\.ports).sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = merged.last, Int(range.lowerBound) <= Int(last.upperBound) + 1 {
                merged[merged.count - 1] = last.lowerBound...max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        let elements = merged.map { SetElement(key: Self.bigEndian($0.lowerBound), keyEnd: Self.bigEndian($0.upperBound)) }
        return NamedSet(name: name, keyType: .inetService, isInterval: true, comment: CommentText.fit(comment), elements: elements)
    }

    private func addressMap(_ name: String, _ family: AddressFamily, _ entries: [(AddressRange, Verdict)], comment: String) -> NamedSet {
        NamedSet(name: name, keyType: family == .ipv4 ? .ipv4Address : .ipv6Address, isInterval: true, isVerdictMap: true,
                 comment: CommentText.fit(comment),
                 elements: entries.map { SetElement(key: Self.addressBytes($0.0.first, family), keyEnd: Self.addressBytes($0.0.last, family), verdict: $0.1) })
    }

    private func addressSet(_ name: String, _ family: AddressFamily, _ ranges: [AddressRange], comment: String) -> NamedSet {
        NamedSet(name: name, keyType: family == .ipv4 ? .ipv4Address : .ipv6Address, isInterval: true, comment: CommentText.fit(comment),
                 elements: ranges.map { SetElement(key: Self.addressBytes($0.first, family), keyEnd: Self.addressBytes($0.last, family)) })
    }

    private func zoneComment(_ what: String, _ zone: Zone) -> String {
        // No file:line here: the kernel cannot update a chain's comment, so it must not change when lines move.
        CommentText.fit("\(what) \(zone.name), owner \(zone.owner)")
    }

    static func bigEndian(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xff)] }

    static func addressBytes(_ value: UInt128, _ family: AddressFamily) -> [UInt8] {
        IPAddress(family: family, value: value).bytes
    }
}

/// Comments as nftables stores them: at most 128 bytes, no double quotes or control characters (nft has no escapes).
public enum CommentText {
    /// nft refuses longer comments (NFTNL_UDATA_COMMENT_MAXLEN).
    public static let maximumBytes = 128

    /// `text` made safe for an nft comment and cut at a character boundary to fit.
    public static func fit(_ text: String) -> String {
        let cleaned = String(String.UnicodeScalarView(text.unicodeScalars.map { scalar in
            if scalar == "\"" { return "'" }
            return scalar.properties.generalCategory == .control ? " " : scalar
        }))
        guard cleaned.utf8.count > maximumBytes else { return cleaned }
        var result = ""
        for character in cleaned {
            if result.utf8.count + character.utf8.count > maximumBytes - 3 { break }
            result.append(character)
        }
        return result + "..."
    }
}
