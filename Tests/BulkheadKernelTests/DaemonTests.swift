import BulkheadCore
import BulkheadTestSupport
import Foundation
import Testing

@Suite(.enabled(if: BuiltBinary.available, "needs root, nft, ip and the built bulkhead binary"))
struct DaemonTests {
    static let exampleSegments = BuiltBinary.repository.appendingPathComponent("segments").path

    /// The tampering the issue lists, each as an nft command and the object drift must name.
    static let tampers: [(name: String, command: [String], object: String, change: RulesetChange.Kind)] = [
        ("rule added", ["add", "rule", "inet", "bulkhead", "input", "tcp", "dport", "4444", "accept"], "rule inet bulkhead input", .added),
        ("policy flipped", ["chain", "inet", "bulkhead", "input", "{ policy accept; }"], "chain inet bulkhead input", .changed),
        ("element removed", ["delete", "element", "inet", "bulkhead", "zone.src.v4", "{ 198.18.10.0/24 }"],
         "element inet bulkhead zone.src.v4 198.18.10.0/24", .removed),
        ("table deleted", ["delete", "table", "inet", "bulkhead"], "table inet bulkhead", .removed),
    ]

    /// With drift heal: each tamper is detected at once, healed, counted, and its culprit named.
    @Test func tamperingIsDetectedNamedAndHealed() throws {
        let lab = try NamespaceLab()
        defer { lab.destroy() }
        let host = try lab.addHost("h", ipv4: "198.18.10.5", ipv6: "2001:db8:10::5")
        let daemon = try DaemonProcess(namespace: host.namespace, segments: Self.exampleSegments, extra: ["--lock", "off"])
        _ = try #require(daemon.waitForStatus { $0.lastApply != nil }, "daemon did not apply: \(daemon.log)")
        var latencies: [Double] = [], detections: [Double] = []
        for (index, tamper) in Self.tampers.enumerated() {
            let started = Date()
            try Shell.run(["ip", "netns", "exec", host.namespace, "nft"] + tamper.command)
            // The whole nft run (process start to exit) bounds the moment of the change from both sides.
            let status = try #require(daemon.waitForStatus { $0.heals == index + 1 }, "\(tamper.name) not healed: \(daemon.log)")
            latencies.append(Date().timeIntervalSince(started) * 1000)
            if let detection = status.lastDrift?.detectionLatencyMs { detections.append(detection) }
            let drift = try #require(status.lastDrift)
            #expect(drift.culprit?.name == "nft", "\(tamper.name): culprit \(String(describing: drift.culprit))")
            #expect(drift.healed)
            #expect(drift.changes.contains { $0.object.hasPrefix(tamper.object) && $0.change == tamper.change },
                    "\(tamper.name): \(drift.changes.map { "\($0.change) \($0.object)" })")
            #expect(!status.drift.present)
            // Healed means the kernel holds the applied table again.
            let listing = try nft(host.namespace, "list", "table", "inet", "bulkhead")
            #expect(!listing.contains("4444") && listing.contains("policy drop") && listing.contains("198.18.10.0/24 : jump from.web"))
        }
        let metrics = try String(contentsOfFile: daemon.metricsPath, encoding: .utf8)
        #expect(metrics.contains("bulkhead_heals_total 4") && metrics.contains("bulkhead_drift 0"))
        print("daemon drift latency over \(latencies.count) tampers: kernel event -> drift known (table read and diffed) median "
              + "\(String(format: "%.2f", median(detections))) ms; start of the tampering nft process -> healed status on disk median "
              + "\(String(format: "%.1f", median(latencies))) ms (max \(String(format: "%.1f", latencies.max() ?? 0)), nft's own run included)")
        #expect(daemon.stop().status == 0)
    }

    /// With drift report: reported with the culprit, and left as it is.
    @Test func reportModeLeavesTheDrift() throws {
        let lab = try NamespaceLab()
        defer { lab.destroy() }
        let host = try lab.addHost("h", ipv4: "198.18.10.6", ipv6: "2001:db8:10::6")
        let daemon = try DaemonProcess(namespace: host.namespace, segments: Self.exampleSegments, extra: ["--lock", "off", "--drift", "report"])
        _ = try #require(daemon.waitForStatus { $0.lastApply != nil })
        try nft(host.namespace, "add", "rule", "inet", "bulkhead", "input", "tcp", "dport", "4444", "accept")
        let status = try #require(daemon.waitForStatus { $0.drift.present }, "drift not reported: \(daemon.log)")
        #expect(status.drift.culprit?.name == "nft")
        #expect(status.heals == 0)
        #expect(status.drift.changes.map(\.change) == [.added])
        usleep(300_000)
        #expect(try nft(host.namespace, "list", "chain", "inet", "bulkhead", "input").contains("4444"))
        let metrics = try String(contentsOfFile: daemon.metricsPath, encoding: .utf8)
        #expect(metrics.contains("bulkhead_drift 1") && metrics.contains("bulkhead_drift_objects 1"))
        #expect(daemon.log.contains("BULKHEAD_EVENT=drift") && daemon.log.contains("BULKHEAD_CULPRIT_NAME=nft"))
        #expect(daemon.stop().status == 0)
    }

    /// With the lock on, hand edits fail in the first place; the table survives SIGTERM and kill -9,
    /// and a restart re-adopts (re-claims) it without a gap.
    @Test func lockedTableRefusesEditsAndOutlivesTheDaemon() throws {
        let lab = try NamespaceLab()
        defer { lab.destroy() }
        let host = try lab.addHost("h", ipv4: "198.18.10.7", ipv6: "2001:db8:10::7")
        let segments = try TempDir("segments")
        try segments.write("model.yaml", try String(contentsOfFile: Self.exampleSegments + "/zones.yaml", encoding: .utf8))
        var daemon = try DaemonProcess(namespace: host.namespace, segments: segments.path)
        _ = try #require(daemon.waitForStatus { $0.lastApply != nil })
        #expect(throws: CommandFailure.self) { try nft(host.namespace, "add", "rule", "inet", "bulkhead", "input", "accept") }
        #expect(throws: CommandFailure.self) { try nft(host.namespace, "delete", "table", "inet", "bulkhead") }
        // nft shows the owner (`flags owner`, `# progname`) while owned and an empty `flags` once orphaned.
        func contents() throws -> String {
            try nft(host.namespace, "list", "table", "inet", "bulkhead").split(separator: "\n")
                .filter { !$0.hasPrefix("\tflags") }.map { $0.replacingOccurrences(of: #" # progname \S+"#, with: "", options: .regularExpression) }
                .joined(separator: "\n")
        }
        let before = try contents()
        let stopped = daemon.stop(SIGKILL)
        #expect(stopped.status == SIGKILL)
        // Rules intact after kill -9.
        #expect(try contents() == before)
        daemon = try DaemonProcess(namespace: host.namespace, segments: segments.path)
        _ = try #require(daemon.waitForStatus { $0.model.digest != nil }, "\(daemon.log)")
        usleep(200_000)
        #expect(throws: CommandFailure.self) { try nft(host.namespace, "add", "rule", "inet", "bulkhead", "input", "accept") }
        let terminated = daemon.stop(SIGTERM)
        #expect(terminated.status == 0)
        #expect(terminated.seconds < 1.0, "SIGTERM took \(terminated.seconds) s")
        #expect(try nft(host.namespace, "list", "table", "inet", "bulkhead").contains("chain input"))
    }

    /// An invalid model written while running never replaces the valid one (packets prove it);
    /// fixing the file applies the new model, as a delta.
    @Test func invalidModelKeepsTheLastGoodOneUntilFixed() throws {
        let lab = try NamespaceLab()
        defer { lab.destroy() }
        let client = try lab.addHost("client", ipv4: "198.18.20.1", ipv6: "2001:db8:20::1")
        let server = try lab.addHost("server", ipv4: "198.18.20.2", ipv6: "2001:db8:20::2")
        try lab.startListeners(ports: [80, 8080])
        let segments = try TempDir("segments")
        let model = """
        zones:
          clients: {owner: a, addresses: [198.18.20.1, "2001:db8:20::1"]}
          servers: {owner: b, addresses: [198.18.20.2, "2001:db8:20::2"]}
        flows:
          - {name: web, from: clients, to: servers, ports: [tcp/80]}
        """
        try segments.write("model.yaml", model)
        let daemon = try DaemonProcess(namespace: server.namespace, segments: segments.path, extra: ["--lock", "off"])
        let first = try #require(daemon.waitForStatus { $0.lastApply != nil })
        func probe() throws -> [String: String] {
            try lab.probe([(client, [(server.ipv4, 80), (server.ipv4, 8080), (server.ipv6, 80), (server.ipv6, 8080)])], timeout: 1.0)["client"] ?? [:]
        }
        let allowed = ["198.18.20.2 80": "connected", "198.18.20.2 8080": "timeout", "2001:db8:20::2 80": "connected", "2001:db8:20::2 8080": "timeout"]
        #expect(try probe() == allowed)

        try segments.write("model.yaml", model + "\n  - {name: api, from: clients, to: servers, ports: [tcp/8080\n")
        let invalid = try #require(daemon.waitForStatus { !$0.model.valid }, "\(daemon.log)")
        #expect(invalid.model.errors.first?.hasPrefix(segments.path + "/model.yaml:7:") == true, "\(invalid.model.errors)")
        #expect(invalid.model.digest == first.model.digest)
        #expect(try probe() == allowed, "the last good model must still be enforced")

        try segments.write("model.yaml", model + "\n  - {name: api, from: clients, to: servers, ports: [tcp/8080]}\n")
        let fixed = try #require(daemon.waitForStatus { $0.model.valid && $0.applies == 2 }, "\(daemon.log)")
        #expect(fixed.model.digest != first.model.digest)
        // The new flow is a new pair rule, a set and its elements: a handful of objects, not the table.
        #expect((fixed.lastApply?.objectsChanged ?? 0) > 0 && (fixed.lastApply?.objectsChanged ?? 99) < 10)
        #expect(try probe() == ["198.18.20.2 80": "connected", "198.18.20.2 8080": "connected",
                                "2001:db8:20::2 80": "connected", "2001:db8:20::2 8080": "connected"])
        let metrics = try String(contentsOfFile: daemon.metricsPath, encoding: .utf8)
        #expect(metrics.contains("bulkhead_apply_total 2") && metrics.contains("bulkhead_model_valid 1"))
        #expect(daemon.stop().status == 0)
    }

    /// sd_notify: READY=1 after the first apply, RELOADING=1 and READY=1 around SIGHUP, STOPPING=1 on SIGTERM.
    @Test func notifiesSystemd() throws {
        let lab = try NamespaceLab()
        defer { lab.destroy() }
        let host = try lab.addHost("h", ipv4: "198.18.10.8", ipv6: "2001:db8:10::8")
        let scratch = try TempDir("notify")
        let socketPath = scratch.path + "/notify.sock"
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        #expect(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in socketPath.utf8.enumerated() where index < raw.count - 1 { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0)
        var received: [String] = []
        func collect(until expected: String, timeout: Double = 10) -> Bool {
            let deadline = Date().addingTimeInterval(timeout)
            var buffer = [UInt8](repeating: 0, count: 4096)
            while Date() < deadline {
                let count = recv(fd, &buffer, buffer.count, 0)
                if count > 0 {
                    received += String(decoding: buffer[0..<count], as: UTF8.self).split(separator: "\n").map(String.init)
                    if received.contains(expected) { return true }
                } else {
                    usleep(2000)
                }
            }
            return false
        }
        let daemon = try DaemonProcess(namespace: host.namespace, segments: Self.exampleSegments, extra: ["--lock", "off"],
                                       environment: ["NOTIFY_SOCKET": socketPath])
        #expect(collect(until: "READY=1"), "got \(received); log: \(daemon.log)")
        #expect(try nft(host.namespace, "list", "table", "inet", "bulkhead").contains("chain input"), "READY only after the first apply")
        received.removeAll()
        kill(daemon.process.processIdentifier, SIGHUP)
        #expect(collect(until: "READY=1"))
        #expect(received.first == "RELOADING=1", "\(received)")
        received.removeAll()
        let stopped = daemon.stop(SIGTERM)
        #expect(collect(until: "STOPPING=1", timeout: 1))
        #expect(stopped.status == 0 && stopped.seconds < 1.0)
        #expect(try nft(host.namespace, "list", "table", "inet", "bulkhead").contains("chain input"), "rules stay after SIGTERM")
    }

    /// A fleet: five hosts on a bridge, each running the daemon on the same model; real TCP
    /// connections across the fleet match the allow/deny matrix.
    @Test func fleetEnforcesTheModel() throws {
        let lab = try NamespaceLab()
        defer { lab.destroy() }
        let hosts = [("web1", "198.18.1.1", "2001:db8:1::1"), ("app1", "198.18.1.17", "2001:db8:1::11"),
                     ("db1", "198.18.1.33", "2001:db8:1::21"), ("mgmt1", "198.18.1.100", "2001:db8:1::64"),
                     ("out1", "198.18.1.200", "2001:db8:1::c8")]
        for host in hosts { try lab.addHost(host.0, ipv4: host.1, ipv6: host.2) }
        let ports = [22, 80, 5432, 8080, 9100]
        try lab.startListeners(ports: ports)
        let settingsPath = KernelTestSupport.fixtures.appendingPathComponent("lab-settings.yaml").path
        let segments = KernelTestSupport.fixtures.appendingPathComponent("lab-segments").path
        let daemons = try lab.hosts.map { host in
            try DaemonProcess(namespace: host.namespace, segments: segments, extra: ["-c", settingsPath])
        }
        for daemon in daemons { _ = try #require(daemon.waitForStatus { $0.lastApply != nil }, "\(daemon.log)") }

        let model = try #require(SegmentLoader.load(directory: segments).model)
        let settings = try #require(Settings.load(path: settingsPath, required: true).settings)
        let oracle = ModelOracle(model: model, settings: settings)
        var plan: [(source: LabHost, targets: [(address: String, port: Int)])] = []
        for source in lab.hosts {
            plan.append((source, lab.hosts.filter { $0 != source }.flatMap { destination in
                ports.flatMap { [(destination.ipv4, $0), (destination.ipv6, $0)] }
            }))
        }
        let outcomes = try lab.probe(plan, timeout: 1.5)
        var failures: [String] = [], allowed = 0, total = 0
        for (source, targets) in plan {
            for target in targets {
                let from = try #require(IPAddress.parse(target.address.contains(":") ? source.ipv6 : source.ipv4))
                let to = try #require(IPAddress.parse(target.address))
                let packet = TestPacket(source: from, destination: to, kind: .tcp(port: UInt16(target.port)))
                let expected = oracle.allows(packet, at: .output) && oracle.allows(packet, at: .input)
                let outcome = outcomes[source.name]?["\(target.address) \(target.port)"] ?? "missing"
                total += 1
                if expected { allowed += 1 }
                if outcome != (expected ? "connected" : "timeout") {
                    failures.append("\(source.name) -> \(target.address) tcp/\(target.port): expected \(expected ? "connected" : "timeout"), got \(outcome)")
                }
            }
        }
        #expect(failures.isEmpty, Comment(rawValue: failures.joined(separator: "\n")))
        #expect(allowed > 10 && allowed < total - 10)
        print("fleet: \(lab.hosts.count) hosts each running bulkhead, \(total) connections (\(allowed) allowed) match the model")
        for daemon in daemons { #expect(daemon.stop().status == 0) }
    }
}

@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze") && BuiltBinary.available,
                "needs systemd-analyze and the built binary"))
struct SystemdUnitTests {
    /// The unit passes `systemd-analyze verify` and rates 2.0 or better in `systemd-analyze security`.
    @Test func unitIsValidAndHardened() throws {
        let scratch = try TempDir("unit")
        let unit = try String(contentsOf: BuiltBinary.repository.appendingPathComponent("systemd/bulkhead.service"), encoding: .utf8)
            .replacingOccurrences(of: "/usr/local/bin/bulkhead", with: BuiltBinary.bulkhead)
        try scratch.write("bulkhead.service", unit)
        let path = scratch.path + "/bulkhead.service"
        try Shell.run(["systemd-analyze", "verify", path])
        let security = try Shell.run(["systemd-analyze", "security", "--offline=true", path])
        let line = try #require(security.split(separator: "\n").first { $0.contains("Overall exposure level") })
        let score = try #require(line.split(separator: " ").compactMap { Double($0) }.first)
        print("systemd-analyze security: \(line)")
        #expect(score <= 2.0)
        for required in ["Type=notify", "WatchdogSec=", "ExecReload=", "Restart=on-failure", "CapabilityBoundingSet=CAP_NET_ADMIN",
                         "NoNewPrivileges=yes", "ProtectSystem=strict", "RestrictAddressFamilies=AF_NETLINK AF_UNIX",
                         "SystemCallFilter=@system-service", "StateDirectory=bulkhead", "RuntimeDirectory=bulkhead"] {
            #expect(unit.contains(required), "unit lacks \(required)")
        }
    }
}
