import BulkheadCore

/// Interprets ruleset values the way the kernel does for the expressions Bulkhead emits: a fake
/// nftables for pure tests. It also counts rules visited, so tests can show the per-packet cost.
public struct RulesetEvaluator {
    public let table: Table

    public init(table: Table) { self.table = table }

    /// Why evaluation could not continue: a rule the evaluator does not model, or a missing object.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The verdict for the first packet of a new connection (conntrack state new, not loopback)
    /// at `hook`, and how many rules were looked at.
    public func verdict(for packet: TestPacket, hook: ChainHook) throws -> (verdict: Verdict, rulesVisited: Int) {
        guard let chain = table.chains.first(where: { $0.base?.hook == hook }), let base = chain.base else {
            return (.accept, 0)
        }
        var visited = 0
        let result = try run(chain.name, packet, &visited, depth: 0)
        return (result ?? base.policy, visited)
    }

    /// Runs a chain; nil means it ended without a final verdict (return to the caller).
    private func run(_ name: String, _ packet: TestPacket, _ visited: inout Int, depth: Int) throws -> Verdict? {
        guard depth < 16 else { throw Failure(description: "jump depth exceeded at \(name)") }
        guard let chain = table.chain(named: name) else { throw Failure(description: "no chain \(name)") }
        rules: for rule in chain.rules {
            visited += 1
            var registers: [Register: [UInt8]] = [:]
            for expression in rule.expressions {
                switch expression {
                case .meta(let key, let dreg):
                    registers[dreg] = try meta(key, packet)
                case .ct(.state, let dreg):
                    registers[dreg] = hostOrder(ConntrackState.new)
                case .payload(let base, let offset, let length, let dreg):
                    guard let bytes = payload(base, offset, length, packet) else { continue rules }
                    registers[dreg] = bytes
                case .bitwise(let sreg, let dreg, _, let mask, let xor):
                    let value = registers[sreg] ?? []
                    registers[dreg] = zip(zip(value, mask), xor).map { ($0.0 & $0.1) ^ $1 }
                case .cmp(let op, let sreg, let data):
                    let value = registers[sreg] ?? []
                    let equal = value == data
                    switch op {
                    case .eq: if !equal { continue rules }
                    case .neq: if equal { continue rules }
                    default: throw Failure(description: "cmp \(op) not modelled")
                    }
                case .lookup(let setName, let sreg, let dreg, let inverted):
                    guard let set = table.set(named: setName) else { throw Failure(description: "no set \(setName)") }
                    let key = registers[sreg] ?? []
                    let element = set.elements.first { element in
                        let end = element.keyEnd ?? element.key
                        return !key.lexicographicallyPrecedes(element.key) && !end.lexicographicallyPrecedes(key)
                    }
                    if dreg == Registers.verdict {
                        guard let verdict = element?.verdict else { continue rules }
                        if case .finish(let result) = try apply(verdict, packet, &visited, depth: depth) { return result }
                        continue rules
                    }
                    if (element != nil) == inverted { continue rules }
                case .counter, .log:
                    continue
                case .immediateVerdict(let verdict):
                    if case .finish(let result) = try apply(verdict, packet, &visited, depth: depth) { return result }
                    continue rules
                default:
                    throw Failure(description: "expression not modelled: \(expression)")
                }
            }
        }
        return nil
    }

    /// What a verdict does to the chain being run.
    private enum Step {
        /// Go on with the next rule.
        case next
        /// The chain is done: with a final verdict, or nil to return to its caller.
        case finish(Verdict?)
    }

    private func apply(_ verdict: Verdict, _ packet: TestPacket, _ visited: inout Int, depth: Int) throws -> Step {
        switch verdict {
        case .accept, .drop: return .finish(verdict)
        case .continue: return .next
        case .return: return .finish(nil)
        case .jump(let target):
            if let result = try run(target, packet, &visited, depth: depth + 1) { return .finish(result) }
            return .next
        case .goto(let target):
            return .finish(try run(target, packet, &visited, depth: depth + 1))
        }
    }

    private func meta(_ key: MetaKey, _ packet: TestPacket) throws -> [UInt8] {
        switch key {
        case .nfproto: return [packet.source.family == .ipv4 ? 2 : 10]
        case .l4proto:
            switch packet.kind {
            case .tcp: return [6]
            case .udp: return [17]
            case .echoRequest: return [packet.source.family == .ipv4 ? 1 : 58]
            }
        case .iif, .oif: return hostOrder(2)  // never loopback
        default: throw Failure(description: "meta \(key.name) not modelled")
        }
    }

    private func payload(_ base: PayloadBase, _ offset: UInt32, _ length: UInt32, _ packet: TestPacket) -> [UInt8]? {
        switch (base, packet.source.family, offset, length) {
        case (.network, .ipv4, 12, 4), (.network, .ipv6, 8, 16): return packet.source.bytes
        case (.network, .ipv4, 16, 4), (.network, .ipv6, 24, 16): return packet.destination.bytes
        case (.transport, _, 2, 2):
            switch packet.kind {
            case .tcp(let port), .udp(let port): return [UInt8(port >> 8), UInt8(port & 0xff)]
            case .echoRequest: return nil
            }
        case (.transport, _, 0, 1):
            if case .echoRequest = packet.kind { return [packet.source.family == .ipv4 ? 8 : 128] }
            return nil
        default: return nil
        }
    }

    private func hostOrder(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value) { Array($0) } }
}
