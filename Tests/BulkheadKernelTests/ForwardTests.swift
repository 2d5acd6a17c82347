import BulkheadCore
import BulkheadTestSupport
import Foundation
import Testing

/// A router namespace between two subnets enforces the model on the forward hook: traffic into a
/// zone needs a flow, and hosts of an `egress: deny` zone may only open connections a flow allows.
@Suite(.enabled(if: KernelTestSupport.available, "needs root, nft and ip"))
struct ForwardTests {
    static let segments = KernelTestSupport.fixtures.appendingPathComponent("router-segments").path
    static let ports = [22, 80, 443, 8080]

    @Test("a router enforces the model on forwarded traffic, both directions, IPv4 and IPv6")
    func routerEnforcesTheModel() throws {
        let namespaces = try ["left", "router", "right"].map { try Netns($0) }
        defer { namespaces.forEach { $0.destroy() } }
        let left = namespaces[0].name, router = namespaces[1].name, right = namespaces[2].name
        for namespace in namespaces {
            // No duplicate address detection: link-local addresses would stay tentative for a second,
            // and neighbour discovery across the router with them.
            try namespace.exec(["sysctl", "-q", "-w", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"])
        }
        // left (198.18.2.2-3) -- router (198.18.2.1 | 198.18.3.1) -- right (198.18.3.2-3); no default routes.
        try Shell.run(["ip", "-n", router, "link", "add", "l0", "type", "veth", "peer", "name", "eth0", "netns", left])
        try Shell.run(["ip", "-n", router, "link", "add", "r0", "type", "veth", "peer", "name", "eth0", "netns", right])
        let wiring: [(String, String, [String])] = [
            (router, "l0", ["198.18.2.1/24", "2001:db8:2::1/64"]), (router, "r0", ["198.18.3.1/24", "2001:db8:3::1/64"]),
            (left, "eth0", ["198.18.2.2/24", "198.18.2.3/24", "2001:db8:2::2/64", "2001:db8:2::3/64"]),
            (right, "eth0", ["198.18.3.2/24", "198.18.3.3/24", "2001:db8:3::2/64", "2001:db8:3::3/64"]),
        ]
        for (namespace, device, addresses) in wiring {
            for address in addresses {
                try Shell.run(["ip", "-n", namespace, "addr", "add", address, "dev", device] + (address.contains(":") ? ["nodad"] : []))
            }
            try Shell.run(["ip", "-n", namespace, "link", "set", device, "up"])
        }
        try Shell.run(["ip", "-n", left, "route", "add", "198.18.3.0/24", "via", "198.18.2.1"])
        try Shell.run(["ip", "-n", left, "-6", "route", "add", "2001:db8:3::/64", "via", "2001:db8:2::1"])
        try Shell.run(["ip", "-n", right, "route", "add", "198.18.2.0/24", "via", "198.18.3.1"])
        try Shell.run(["ip", "-n", right, "-6", "route", "add", "2001:db8:2::/64", "via", "2001:db8:3::1"])
        try Shell.run(["ip", "netns", "exec", router, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"])

        var listeners: [Process] = []
        defer { for process in listeners { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() } }
        for namespace in [left, right] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["ip", "netns", "exec", namespace, "python3", KernelTestSupport.probeScript, "serve",
                                 Self.ports.map(String.init).joined(separator: ",")]
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            listeners.append(process)
            #expect(String(decoding: output.fileHandleForReading.availableData, as: UTF8.self).contains("ready"))
        }

        // Wait until both families route end to end (neighbour discovery on three links), before any firewall.
        for (from, to) in [("198.18.2.2", "198.18.3.2"), ("2001:db8:2::2", "2001:db8:3::2")] {
            var ready = false
            for _ in 0..<50 where !ready {
                let output = try Shell.run(["ip", "netns", "exec", left, "python3", KernelTestSupport.probeScript, "connect", "0.2",
                                            "--from", from.contains(":") ? "198.18.2.2" : from, from.contains(":") ? from : "2001:db8:2::2",
                                            to, "443"])
                ready = output.contains("connected")
            }
            #expect(ready, "no route from \(from) to \(to)")
        }

        let state = try TempDir("forward-state")
        let applied = bulkhead(["apply", "-s", Self.segments, "-c", "/dev/null", "--hooks", "forward", "--netns", router,
                                "--state", state.path, "--lock", "off"])
        #expect(applied.status == 0, "\(applied)")

        let model = try #require(SegmentLoader.load(directory: Self.segments).model)
        var settings = Settings()
        settings.hooks = [.forward]
        let oracle = ModelOracle(model: model, settings: settings)
        // Every (source address, destination address, port), from each side to the other.
        let sides: [(namespace: String, addresses: [(String, String)], peers: [(String, String)])] = [
            (left, [("198.18.2.2", "2001:db8:2::2"), ("198.18.2.3", "2001:db8:2::3")],
             [("198.18.3.2", "2001:db8:3::2"), ("198.18.3.3", "2001:db8:3::3")]),
            (right, [("198.18.3.2", "2001:db8:3::2"), ("198.18.3.3", "2001:db8:3::3")],
             [("198.18.2.2", "2001:db8:2::2"), ("198.18.2.3", "2001:db8:2::3")]),
        ]
        var failures: [String] = [], total = 0, allowed = 0
        for side in sides {
            for source in side.addresses {
                let targets = side.peers.flatMap { peer in Self.ports.flatMap { [(peer.0, $0), (peer.1, $0)] } }
                let output = try Shell.run(["ip", "netns", "exec", side.namespace, "python3", KernelTestSupport.probeScript,
                                            "connect", "1.0", "--from", source.0, source.1] + targets.flatMap { [$0.0, String($0.1)] })
                let outcomes = try JSONDecoder().decode([String: String].self, from: Data(output.utf8))
                for (address, port) in targets {
                    let from = try #require(IPAddress.parse(address.contains(":") ? source.1 : source.0))
                    let to = try #require(IPAddress.parse(address))
                    let expected = oracle.allows(TestPacket(source: from, destination: to, kind: .tcp(port: UInt16(port))), at: .forward)
                    let outcome = outcomes["\(address) \(port)"] ?? "missing"
                    total += 1
                    if expected { allowed += 1 }
                    if outcome != (expected ? "connected" : "timeout") {
                        failures.append("\(from) -> \(address) tcp/\(port): expected \(expected ? "connected" : "timeout"), got \(outcome)")
                    }
                }
            }
        }
        #expect(failures.isEmpty, Comment(rawValue: failures.joined(separator: "\n")))
        // Allowed and denied both occur: clients reach servers on 80 and 443 only, admins on 22 and 443,
        // unzoned hosts are reachable except from the egress-deny clients, and nobody reaches the left side.
        #expect(allowed >= 10 && allowed <= total - 10, "\(allowed) of \(total) allowed")
        print("forward hook: \(total) routed connections (\(allowed) allowed) match the model")
    }
}
