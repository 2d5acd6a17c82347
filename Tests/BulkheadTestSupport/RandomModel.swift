import BulkheadCore

/// Random but valid models inside a small address region, with nested prefixes, world flows,
/// lists of zones, services and inline ports: food for property tests.
public enum RandomModel {
    /// IPv4 region the zones live in: 198.18.0.0/22 (1024 addresses).
    public static let ipv4Base: UInt128 = 0xC612_0000
    /// IPv6 region: 2001:db8::/118.
    public static let ipv6Base: UInt128 = UInt128(0x2001_0db8) << 96
    static let regionBits = 10

    public static let candidatePorts: [PortSpec] = [
        PortSpec(.tcp, 22...22), PortSpec(.tcp, 80...80), PortSpec(.tcp, 443...443), PortSpec(.tcp, 5432...5432),
        PortSpec(.tcp, 8000...8010), PortSpec(.udp, 53...53), PortSpec(.udp, 123...123), PortSpec(.icmp),
    ]

    /// A model with `zones` zones and `flows` flows; each flow endpoint is `world` with probability 1/`worldOneIn`
    /// (0: never).
    public static func make(zones zoneCount: Int, flows flowCount: Int, worldOneIn: Int = 6,
                            using rng: inout SeededGenerator) -> Model {
        var used: Set<IPPrefix> = []
        var zones: [Zone] = []
        for index in 0..<zoneCount {
            var addresses: [IPPrefix] = []
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let family: AddressFamily = Bool.random(using: &rng) ? .ipv4 : .ipv6
                let length = family.bits - Int.random(in: 0...(regionBits - 1), using: &rng)
                let hostBits = family.bits - length
                let offset = (UInt128.random(in: 0..<(UInt128(1) << UInt128(regionBits)), using: &rng) >> UInt128(hostBits)) << UInt128(hostBits)
                let base = family == .ipv4 ? ipv4Base : ipv6Base
                let prefix = IPPrefix(address: IPAddress(family: family, value: base + offset), length: length)
                if used.insert(prefix).inserted { addresses.append(prefix) }
            }
            zones.append(Zone(name: "z\(index)", owner: "team-\(index % 3)", addresses: addresses,
                              egress: Int.random(in: 0..<4, using: &rng) == 0 ? .deny : .allow, location: location(index + 1)))
        }
        let services = (0..<3).map { index in
            Service(name: "svc\(index)", ports: Array(candidatePorts.shuffled(using: &rng).prefix(Int.random(in: 1...3, using: &rng))),
                    location: location(500 + index))
        }
        var flows: [Flow] = []
        func endpoints() -> [Endpoint] {
            if zones.isEmpty || (worldOneIn > 0 && Int.random(in: 0..<worldOneIn, using: &rng) == 0) { return [.world] }
            let count = Int.random(in: 1...2, using: &rng)
            return Array(Set((0..<count).map { _ in Endpoint.zone(zones[Int.random(in: 0..<zones.count, using: &rng)].name) })).sorted()
        }
        for index in 0..<flowCount {
            let useService = Bool.random(using: &rng)
            let service = services[Int.random(in: 0..<services.count, using: &rng)]
            let ports = useService ? service.ports
                : Array(candidatePorts.shuffled(using: &rng).prefix(Int.random(in: 1...3, using: &rng)))
            flows.append(Flow(name: "f\(index)", from: endpoints(), to: endpoints(), ports: ports,
                              portSource: useService ? .service(service.name) : .inline, location: location(1000 + index)))
        }
        let usedServices = Set(flows.compactMap { flow -> String? in
            if case .service(let name) = flow.portSource { return name }
            return nil
        })
        return Model(zones: zones, services: services.filter { usedServices.contains($0.name) }, flows: flows)
    }

    /// A random address in the region (or just outside it, so that some belong to no zone).
    public static func address(_ family: AddressFamily, using rng: inout SeededGenerator) -> IPAddress {
        let base = family == .ipv4 ? ipv4Base : ipv6Base
        let span = UInt128(1) << UInt128(regionBits + 1)
        return IPAddress(family: family, value: base + UInt128.random(in: 0..<span, using: &rng))
    }

    /// A random new-connection packet between two random addresses of one family.
    public static func packet(using rng: inout SeededGenerator) -> TestPacket {
        let family: AddressFamily = Bool.random(using: &rng) ? .ipv4 : .ipv6
        let kinds: [TestPacket.Kind] = [.tcp(port: 22), .tcp(port: 80), .tcp(port: 443), .tcp(port: 5432), .tcp(port: 8005),
                                        .tcp(port: 9999), .udp(port: 53), .udp(port: 68), .udp(port: 123), .echoRequest]
        return TestPacket(source: address(family, using: &rng), destination: address(family, using: &rng),
                          kind: kinds[Int.random(in: 0..<kinds.count, using: &rng)])
    }

    /// The model as YAML, one file, as a user would write it.
    public static func yaml(_ model: Model) -> String {
        var lines = ["zones:"]
        for zone in model.zones {
            lines.append("  \(zone.name):")
            lines.append("    owner: \(zone.owner)")
            lines.append("    addresses: [\(zone.addresses.map(\.description).joined(separator: ", "))]")
            if zone.egress == .deny { lines.append("    egress: deny") }
        }
        if !model.services.isEmpty {
            lines.append("services:")
            for service in model.services {
                lines.append("  \(service.name): [\(service.ports.map(\.description).joined(separator: ", "))]")
            }
        }
        lines.append("flows:")
        for flow in model.flows {
            lines.append("  - name: \(flow.name)")
            lines.append("    from: [\(flow.from.map(\.description).joined(separator: ", "))]")
            lines.append("    to: [\(flow.to.map(\.description).joined(separator: ", "))]")
            switch flow.portSource {
            case .service(let name): lines.append("    service: \(name)")
            case .inline: lines.append("    ports: [\(flow.ports.map(\.description).joined(separator: ", "))]")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func location(_ line: Int) -> SourceLocation {
        SourceLocation(path: "generated.yaml", relativePath: "generated.yaml", mark: .init(line: line, column: 3))
    }
}

import BulkheadYAML
