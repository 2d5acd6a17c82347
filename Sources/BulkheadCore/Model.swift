/// A set of addresses with an owner; every address belongs to at most one zone (the most specific prefix wins).
public struct Zone: Sendable, Hashable {
    /// Whether hosts of a zone may open connections no flow allows.
    public enum Egress: String, Sendable, Hashable {
        case allow, deny
    }

    public var name: String
    public var description: String?
    public var owner: String
    public var addresses: [IPPrefix]
    public var egress: Egress
    public var location: SourceLocation

    public init(name: String, description: String? = nil, owner: String, addresses: [IPPrefix],
                egress: Egress = .allow, location: SourceLocation) {
        self.name = name
        self.description = description
        self.owner = owner
        self.addresses = addresses
        self.egress = egress
        self.location = location
    }
}

/// A named list of ports that flows refer to.
public struct Service: Sendable, Hashable {
    public var name: String
    public var ports: [PortSpec]
    public var location: SourceLocation

    public init(name: String, ports: [PortSpec], location: SourceLocation) {
        self.name = name
        self.ports = ports
        self.location = location
    }
}

/// One side of a flow: a zone, or every address.
public enum Endpoint: Sendable, Hashable, Comparable, CustomStringConvertible {
    case world
    case zone(String)

    public var description: String {
        switch self {
        case .world: return "world"
        case .zone(let name): return name
        }
    }
}

/// An allowed connection: sources may open connections to destinations on these ports.
public struct Flow: Sendable, Hashable {
    /// Where a flow's ports come from.
    public enum PortSource: Sendable, Hashable {
        case service(String)
        case inline
    }

    public var name: String
    public var from: [Endpoint]
    public var to: [Endpoint]
    public var ports: [PortSpec]
    public var portSource: PortSource
    public var description: String?
    public var location: SourceLocation

    public init(name: String, from: [Endpoint], to: [Endpoint], ports: [PortSpec], portSource: PortSource,
                description: String? = nil, location: SourceLocation) {
        self.name = name
        self.from = from
        self.to = to
        self.ports = ports
        self.portSource = portSource
        self.description = description
        self.location = location
    }
}

/// A complete, validated segment model. Only the loader builds one, and only when there were no errors.
public struct Model: Sendable, Hashable {
    public var zones: [Zone]
    public var services: [Service]
    public var flows: [Flow]

    public init(zones: [Zone], services: [Service], flows: [Flow]) {
        self.zones = zones
        self.services = services
        self.flows = flows
    }

    /// The zone called `name`.
    public func zone(named name: String) -> Zone? { zones.first { $0.name == name } }
}

/// Names of zones and services: `[a-z][a-z0-9_-]{0,30}`; flows may be longer. Dots never occur, so they can separate names in nftables object names.
public enum ModelName {
    /// Longest name accepted.
    public static let maximumLength = 31
    /// Longest flow name accepted: default names (`<from>-to-<to>`) join two zone names.
    public static let maximumFlowNameLength = 63

    /// True when `name` is a valid zone, service or flow name.
    public static func isValid(_ name: String, maximumLength: Int = maximumLength) -> Bool {
        let scalars = Array(name.unicodeScalars)
        guard let first = scalars.first, scalars.count <= maximumLength, ("a"..."z").contains(first) else { return false }
        return scalars.dropFirst().allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" }
    }
}
