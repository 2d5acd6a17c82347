import BulkheadCLI
import BulkheadCore
import BulkheadTestSupport
import Foundation
import Testing

/// Runs the CLI in-process and returns what it printed on stdout; throws when it fails.
func runCLI(_ arguments: [String]) throws -> String {
    let result = bulkhead(arguments)
    guard result.status == 0 else { throw CommandFailure(command: ["bulkhead"] + arguments, status: result.status, output: result.err) }
    return result.out
}

/// nft prints live counter values; the rendered script has bare `counter`s.
func normalizeCounters(_ listing: String) -> String {
    listing.replacingOccurrences(of: #"counter packets \d+ bytes \d+"#, with: "counter", options: .regularExpression)
}

@Suite(.enabled(if: KernelTestSupport.available, "needs root, nft and ip"))
struct MatrixTests {
    static let segments = KernelTestSupport.fixtures.appendingPathComponent("lab-segments").path
    static let settings = KernelTestSupport.fixtures.appendingPathComponent("lab-settings.yaml").path
    static let hosts: [(name: String, ipv4: String, ipv6: String)] = [
        ("web1", "198.18.1.1", "2001:db8:1::1"), ("web2", "198.18.1.2", "2001:db8:1::2"),
        ("app1", "198.18.1.17", "2001:db8:1::11"), ("db1", "198.18.1.33", "2001:db8:1::21"),
        ("db2", "198.18.1.34", "2001:db8:1::22"), ("ops1", "198.18.1.70", "2001:db8:1::46"),
        ("mgmt1", "198.18.1.100", "2001:db8:1::64"), ("out1", "198.18.1.200", "2001:db8:1::c8"),
    ]
    /// Ports every host listens on: failsafe, each flow's ports, and one no flow mentions.
    static let ports = [22, 80, 5432, 7, 8080, 9100]

    @Test("every allowed (host pair, port) connects and every other one times out, IPv4 and IPv6")
    func renderedRulesetEnforcesTheModel() throws {
        let lab = try NamespaceLab()
        defer { lab.destroy() }
        for host in Self.hosts { try lab.addHost(host.name, ipv4: host.ipv4, ipv6: host.ipv6) }
        try lab.startListeners(ports: Self.ports)

        let script = try runCLI(["render", "-s", Self.segments, "-c", Self.settings])
        for host in lab.hosts { try lab.loadRuleset(script, into: host) }

        // What the kernel holds is what we rendered, object for object.
        let listing = try lab.exec(lab.hosts[0], ["nft", "list", "table", "inet", "bulkhead"])
        let rendered = script.split(separator: "\n", omittingEmptySubsequences: false).drop { !$0.hasPrefix("table inet bulkhead {") }
        #expect(normalizeCounters(listing) == rendered.joined(separator: "\n"))

        try expectMatrixMatchesModel(lab, loadedWith: "nft -f")

        // Audit mode lets everything through (and logs what enforce would drop).
        let audit = try runCLI(["render", "-s", Self.segments, "-c", Self.settings, "--policy", "audit"])
        for host in lab.hosts { try lab.loadRuleset(audit, into: host) }
        let audited = try runMatrix(lab, expect: { _, _, _ in true })
        #expect(audited.failures.isEmpty, Comment(rawValue: "audit mode blocked:\n" + audited.failures.joined(separator: "\n")))
    }

    @Test("loaded with `bulkhead apply --netns` instead of nft -f, every host enforces the same allow/deny matrix")
    func appliedRulesetEnforcesTheModel() throws {
        let lab = try NamespaceLab()
        defer { lab.destroy() }
        for host in Self.hosts { try lab.addHost(host.name, ipv4: host.ipv4, ipv6: host.ipv6) }
        try lab.startListeners(ports: Self.ports)
        let state = try TempDir("matrix")
        defer { state.remove() }

        for host in lab.hosts {
            let output = try runCLI(["apply", "-s", Self.segments, "-c", Self.settings, "--netns", host.namespace,
                                     "--state", "\(state.path)/\(host.name)"])
            #expect(output.contains("in one transaction"), "\(host.name): \(output)")
        }
        // What apply built is what nft -f builds from the rendered script (the lock's flags line aside).
        let script = try runCLI(["render", "-s", Self.segments, "-c", Self.settings])
        let listing = try lab.exec(lab.hosts[0], ["nft", "list", "table", "inet", "bulkhead"])
        #expect(Listing.normalized(listing) == Listing.renderedTable(script))

        try expectMatrixMatchesModel(lab, loadedWith: "bulkhead apply")

        // Traffic moved counters, not configuration: every host is still as applied.
        for host in lab.hosts {
            let drift = bulkhead(["drift", "--netns", host.namespace, "--state", "\(state.path)/\(host.name)"])
            #expect(drift.status == 0, "\(host.name): \(drift)")
        }
    }

    /// Probes every host pair and port over IPv4 and IPv6 and compares with the model's oracle.
    func expectMatrixMatchesModel(_ lab: NamespaceLab, loadedWith: String) throws {
        let loaded = SegmentLoader.load(directory: Self.segments)
        let model = try #require(loaded.model)
        let settings = try #require(Settings.load(path: Self.settings, required: true).settings)
        #expect(settings.hooks == [.input, .output])
        let oracle = ModelOracle(model: model, settings: settings)
        // A connection must leave the sender (output hook) and reach the receiver (input hook).
        let mismatches = try runMatrix(lab, expect: { source, destination, port in
            guard let source = IPAddress.parse(source), let destination = IPAddress.parse(destination) else { return false }
            let packet = TestPacket(source: source, destination: destination, kind: .tcp(port: UInt16(port)))
            return oracle.allows(packet, at: .output) && oracle.allows(packet, at: .input)
        })
        #expect(mismatches.failures.isEmpty, Comment(rawValue: "\(loadedWith): \(mismatches.failures.count) of \(mismatches.total) connections disagree with the model:\n"
                + mismatches.failures.joined(separator: "\n")))
        // Both outcomes must occur, or the matrix proves nothing.
        #expect(mismatches.allowed > 50 && mismatches.denied > 50)
        print("end-to-end matrix (\(loadedWith)): \(mismatches.total) connections (\(mismatches.allowed) allowed, \(mismatches.denied) denied) over \(lab.hosts.count) hosts")
    }

    struct MatrixResult {
        var total = 0, allowed = 0, denied = 0
        var failures: [String] = []
    }

    /// Probes every (source, destination, port, family) and compares with `expect`.
    func runMatrix(_ lab: NamespaceLab, expect: (String, String, Int) -> Bool) throws -> MatrixResult {
        var plan: [(source: LabHost, targets: [(address: String, port: Int)])] = []
        for source in lab.hosts {
            var targets: [(address: String, port: Int)] = []
            for destination in lab.hosts where destination != source {
                for port in Self.ports {
                    targets.append((destination.ipv4, port))
                    targets.append((destination.ipv6, port))
                }
            }
            plan.append((source, targets))
        }
        let outcomes = try lab.probe(plan, timeout: 1.5)
        var result = MatrixResult()
        for (source, targets) in plan {
            for target in targets {
                let sourceAddress = target.address.contains(":") ? source.ipv6 : source.ipv4
                let expected = expect(sourceAddress, target.address, target.port)
                let outcome = outcomes[source.name]?["\(target.address) \(target.port)"] ?? "missing"
                result.total += 1
                if expected { result.allowed += 1 } else { result.denied += 1 }
                let destination = lab.hosts.first { $0.ipv4 == target.address || $0.ipv6 == target.address }?.name ?? "?"
                if outcome != (expected ? "connected" : "timeout") {
                    result.failures.append("  \(source.name) -> \(destination) \(target.address) tcp/\(target.port): expected \(expected ? "connected" : "timeout"), got \(outcome)")
                }
            }
        }
        return result
    }
}
