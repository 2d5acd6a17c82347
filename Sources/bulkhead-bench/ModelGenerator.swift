import BulkheadCore

/// Writes a valid, fleet-sized segments directory: zones with disjoint CIDRs (IPv4 /29s inside
/// 198.18.0.0/15 and IPv6 /64s inside 2001:db8::/32, alternating), flows between random zone pairs
/// on random TCP ports, and a few services. Files are split so each stays far below the size limit.
struct ModelGenerator {
    var zones: Int
    var cidrsPerZone: Int
    var flows: Int
    var portsPerFlow: Int
    var seed: UInt64

    /// The generated files: relative path and YAML text.
    func files() -> [(path: String, text: String)] {
        var rng = SeededGenerator(seed: seed)
        var files: [(String, String)] = []
        var lines: [String] = []
        func flush(_ name: String) {
            if lines.count > 1 { files.append((name, lines.joined(separator: "\n") + "\n")) }
            lines = []
        }
        for zone in 0..<zones {
            if zone % 200 == 0 {
                flush("zones/zones-\(String(zone / 200).leftPadded(to: 4)).yaml")
                lines = ["zones:"]
            }
            var addresses: [String] = []
            for index in 0..<cidrsPerZone {
                // Blocks are interleaved across zones so that a zone's prefixes are never adjacent
                // (adjacent ones would merge into one interval and make the model look smaller).
                let v4Block = (index / 2) * zones + zone, v6Block = v4Block
                if index % 2 == 0 {
                    let value = UInt32(0xC612_0000) + UInt32(v4Block) * 8
                    addresses.append("\(value >> 24).\((value >> 16) & 0xff).\((value >> 8) & 0xff).\(value & 0xff)/29")
                } else {
                    addresses.append("2001:db8:\(String(v6Block >> 16, radix: 16)):\(String(v6Block & 0xffff, radix: 16))::/64")
                }
            }
            lines.append("  z\(zone):")
            lines.append("    owner: team-\(zone % 50)")
            lines.append("    addresses: [\(addresses.map { "\"\($0)\"" }.joined(separator: ", "))]")
            if zone % 10 == 9 { lines.append("    egress: deny") }
        }
        flush("zones/zones-\(String(zones / 200).leftPadded(to: 4)).yaml")
        files.append(("services.yaml", "services:\n  web: [tcp/80, tcp/443]\n  dns: [udp/53, tcp/53]\n  ssh: [tcp/22]\n"))
        var seen: Set<String> = []
        for flow in 0..<flows {
            if flow % 2000 == 0 {
                flush("flows/flows-\(String(flow / 2000).leftPadded(to: 4)).yaml")
                lines = ["flows:"]
            }
            var from = 0, to = 0, key = ""
            repeat {
                from = Int.random(in: 0..<zones, using: &rng)
                to = Int.random(in: 0..<zones, using: &rng)
                key = "\(from)-\(to)"
            } while seen.contains(key) && seen.count < zones * zones
            seen.insert(key)
            lines.append("  - name: f\(flow)")
            lines.append("    from: z\(from)")
            lines.append("    to: z\(to)")
            switch flow % 10 {
            case 0: lines.append("    service: web")
            case 1: lines.append("    service: dns")
            case 2: lines.append("    service: ssh")
            default:
                let ports = (0..<portsPerFlow).map { _ in "tcp/\(Int.random(in: 1024...60000, using: &rng))" }
                lines.append("    ports: [\(ports.joined(separator: ", "))]")
            }
        }
        flush("flows/flows-\(String(flows / 2000).leftPadded(to: 4)).yaml")
        return files
    }
}
