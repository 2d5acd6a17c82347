import Foundation
import Testing

/// Kernel tests need root, `ip` and `nft`; without them they are skipped, not failed.
enum KernelTestSupport {
    static var available: Bool {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/nft")
            && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip")
    }

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static var probeScript: String { fixtures.appendingPathComponent("probe.py").path }
}

/// A command that failed, with what it printed.
struct CommandFailure: Error, CustomStringConvertible {
    var command: [String]
    var status: Int32
    var output: String
    var description: String { "`\(command.joined(separator: " "))` exited \(status): \(output)" }
}

/// Runs external commands for the tests (the product itself never does).
enum Shell {
    /// Runs a command to completion; throws with its output when it fails.
    @discardableResult
    static func run(_ arguments: [String], input: String? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        let stdin = Pipe()
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try stdin.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw CommandFailure(command: arguments, status: process.terminationStatus, output: text)
        }
        return text
    }
}

/// A test host: a network namespace with one interface on the lab's bridge.
struct LabHost: Hashable {
    var name: String
    var namespace: String
    var ipv4: String
    var ipv6: String
}

/// A set of namespaces wired to one bridge, created by a test and always removed by it.
/// Addresses come from 198.18.0.0/15 and 2001:db8::/32 only; there is no route out.
final class NamespaceLab: @unchecked Sendable {
    let switchNamespace: String
    private(set) var hosts: [LabHost] = []
    private var namespaces: [Netns] = []
    private var servers: [Process] = []

    init() throws {
        let bridge = try Netns("sw")
        namespaces.append(bridge)
        switchNamespace = bridge.name
        try Shell.run(["ip", "-n", switchNamespace, "link", "add", "br0", "type", "bridge"])
        try Shell.run(["ip", "-n", switchNamespace, "link", "set", "br0", "up"])
    }

    deinit { destroy() }


    /// Adds a host with the given addresses (IPv4 in a /16, IPv6 in a /64) on the bridge.
    @discardableResult
    func addHost(_ name: String, ipv4: String, ipv6: String) throws -> LabHost {
        let created = try Netns(name)
        namespaces.append(created)
        let namespace = created.name
        let port = "p\(hosts.count)"
        try Shell.run(["ip", "-n", switchNamespace, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", namespace])
        try Shell.run(["ip", "-n", switchNamespace, "link", "set", port, "master", "br0", "up"])
        try Shell.run(["ip", "-n", namespace, "addr", "add", "\(ipv4)/16", "dev", "eth0"])
        try Shell.run(["ip", "-n", namespace, "addr", "add", "\(ipv6)/64", "dev", "eth0", "nodad"])
        try Shell.run(["ip", "-n", namespace, "link", "set", "eth0", "up"])
        let host = LabHost(name: name, namespace: namespace, ipv4: ipv4, ipv6: ipv6)
        hosts.append(host)
        return host
    }

    /// Runs a command inside a host's namespace.
    @discardableResult
    func exec(_ host: LabHost, _ arguments: [String], input: String? = nil) throws -> String {
        try Shell.run(["ip", "netns", "exec", host.namespace] + arguments, input: input)
    }

    /// Loads an nft script into a host with `nft -f -`.
    func loadRuleset(_ script: String, into host: LabHost) throws {
        try exec(host, ["nft", "-f", "-"], input: script)
    }

    /// Starts TCP listeners on `ports` in every host and waits until they are bound.
    func startListeners(ports: [Int]) throws {
        for host in hosts {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["ip", "netns", "exec", host.namespace, "python3", KernelTestSupport.probeScript, "serve",
                                 ports.map(String.init).joined(separator: ",")]
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            servers.append(process)
            let line = output.fileHandleForReading.availableData
            guard String(decoding: line, as: UTF8.self).contains("ready") else {
                throw CommandFailure(command: process.arguments ?? [], status: -1, output: "listener did not start")
            }
        }
    }

    /// From every source host at once, opens all its target connections at once; returns, per source host name,
    /// "ADDR PORT" → "connected" | "timeout" | "refused" | "error:...".
    func probe(_ plan: [(source: LabHost, targets: [(address: String, port: Int)])], timeout: Double) throws -> [String: [String: String]] {
        var running: [(LabHost, Process, Pipe)] = []
        for (source, targets) in plan {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["ip", "netns", "exec", source.namespace, "python3", KernelTestSupport.probeScript, "connect",
                                 String(timeout)] + targets.flatMap { [$0.address, String($0.port)] }
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            running.append((source, process, output))
        }
        var results: [String: [String: String]] = [:]
        for (source, process, output) in running {
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw CommandFailure(command: process.arguments ?? [], status: process.terminationStatus,
                                     output: String(decoding: data, as: UTF8.self))
            }
            results[source.name] = try JSONDecoder().decode([String: String].self, from: data)
        }
        return results
    }

    /// Stops listeners and deletes every namespace this lab made; safe to call twice.
    func destroy() {
        for server in servers where server.isRunning {
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
        }
        servers.removeAll()
        for namespace in namespaces.reversed() { namespace.destroy() }
        namespaces.removeAll()
    }
}

