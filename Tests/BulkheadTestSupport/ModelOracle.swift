import BulkheadCore

/// A packet opening a connection, as the tests describe one.
public struct TestPacket: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        case tcp(port: UInt16)
        case udp(port: UInt16)
        /// ICMP or ICMPv6 echo request, by the address family.
        case echoRequest
    }

    public var source: IPAddress
    public var destination: IPAddress
    public var kind: Kind

    public init(source: IPAddress, destination: IPAddress, kind: Kind) {
        self.source = source
        self.destination = destination
        self.kind = kind
    }

    public var description: String {
        let what: String
        switch kind {
        case .tcp(let port): what = "tcp/\(port)"
        case .udp(let port): what = "udp/\(port)"
        case .echoRequest: what = "echo-request"
        }
        return "\(source) -> \(destination) \(what)"
    }
}

/// The model's documented semantics restated directly (longest prefix wins, world, default deny into
/// zones, egress: deny, failsafe, audit), with no shared code with the compiler: the reference that
/// compiled rulesets are checked against.
public struct ModelOracle: Sendable {
    public let model: Model
    public let settings: Settings

    public init(model: Model, settings: Settings) {
        self.model = model
        self.settings = settings
    }

    /// The zone whose most specific prefix contains `address`, or nil when only world does.
    public func zone(of address: IPAddress) -> Zone? {
        var best: (zone: Zone, length: Int)?
        for zone in model.zones {
            for prefix in zone.addresses where prefix.family == address.family {
                let covers = prefix.first <= address.value && address.value <= prefix.last
                if covers, prefix.length > (best?.length ?? -1) { best = (zone, prefix.length) }
            }
        }
        return best?.zone
    }

    /// True when some flow allows this packet between these zones.
    public func flowAllows(_ packet: TestPacket, from source: Zone?, to destination: Zone?) -> Bool {
        model.flows.contains { flow in
            let fromMatches = flow.from.contains(.world) || source.map { flow.from.contains(.zone($0.name)) } ?? false
            let toMatches = flow.to.contains(.world) || destination.map { flow.to.contains(.zone($0.name)) } ?? false
            return fromMatches && toMatches && Self.portsMatch(flow.ports, packet.kind)
        }
    }

    static func portsMatch(_ ports: [PortSpec], _ kind: TestPacket.Kind) -> Bool {
        ports.contains { spec in
            switch (spec.proto, kind) {
            case (.tcp, .tcp(let port)), (.udp, .udp(let port)): return spec.ports?.contains(port) ?? false
            case (.icmp, .echoRequest): return true
            default: return false
            }
        }
    }

    /// Whether a new connection passes the filter of one hook.
    public func allows(_ packet: TestPacket, at hook: FilterHook) -> Bool {
        guard settings.hooks.contains(hook), settings.policy == .enforce else { return true }
        if hook == .input, Self.portsMatch(settings.failsafe, packet.kind) { return true }
        let source = zone(of: packet.source), destination = zone(of: packet.destination)
        let restricted: Bool
        switch hook {
        case .input: restricted = destination != nil
        case .output: restricted = source?.egress == .deny
        case .forward: restricted = destination != nil || source?.egress == .deny
        }
        return !restricted || flowAllows(packet, from: source, to: destination)
    }
}
