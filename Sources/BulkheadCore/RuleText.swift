/// Reads rule bytecode back as nft syntax, the way `nft list ruleset` does: registers are followed
/// symbolically and protocol dependencies that nft adds implicitly are folded away. Anything it does not
/// recognise exactly is shown as raw bytecode rather than guessed, so a report never misstates a rule.
public enum RuleText {
    /// nft syntax for the rule (with its comment), or raw bytecode in brackets when the shape is unfamiliar.
    public static func describe(_ rule: Rule) -> String {
        var text = statements(rule.expressions) ?? rawBytecode(rule.expressions)
        if let comment = rule.comment { text += " comment \"\(comment)\"" }
        return text
    }

    /// `nft --debug=netlink`-style bytecode, one bracket per expression.
    public static func rawBytecode(_ expressions: [Expression]) -> String {
        expressions.map { "[ \(bytecode($0)) ]" }.joined(separator: " ")
    }

    // MARK: - Symbolic evaluation

    private indirect enum Operand: Equatable {
        case meta(MetaKey)
        case ct(ConntrackKey)
        case payload(PayloadBase, offset: UInt32, length: UInt32)
        case masked(Operand, mask: [UInt8], xor: [UInt8])
    }

    private enum Statement {
        case match(Operand, CmpOp, [UInt8])
        case lookup(Operand, set: String, isMap: Bool, inverted: Bool)
        case counter
        case log(String?)
        case verdict(Verdict)
    }

    private static func statements(_ expressions: [Expression]) -> String? {
        var registers: [Register: Operand] = [:]
        var statements: [Statement] = []
        for expression in expressions {
            switch expression {
            case .meta(let key, let dreg): registers[dreg] = .meta(key)
            case .ct(let key, let dreg): registers[dreg] = .ct(key)
            case .payload(let base, let offset, let length, let dreg): registers[dreg] = .payload(base, offset: offset, length: length)
            case .bitwise(let sreg, let dreg, _, let mask, let xor):
                guard let operand = registers[sreg] else { return nil }
                registers[dreg] = .masked(operand, mask: mask, xor: xor)
            case .cmp(let op, let sreg, let data):
                guard let operand = registers[sreg] else { return nil }
                statements.append(.match(operand, op, data))
            case .lookup(let set, let sreg, let dreg, let inverted):
                guard let operand = registers[sreg], dreg == nil || dreg == Registers.verdict else { return nil }
                statements.append(.lookup(operand, set: set, isMap: dreg != nil, inverted: inverted))
            case .counter: statements.append(.counter)
            case .log(let prefix): statements.append(.log(prefix))
            case .immediateVerdict(let verdict): statements.append(.verdict(verdict))
            case .unknown: return nil
            }
        }
        return render(statements)
    }

    /// Protocol context while reading statements left to right.
    private struct Context {
        var family: UInt8?
        var familyIndex: Int?
        var transport: UInt8?
        var transportIndex: Int?
    }

    private static func render(_ statements: [Statement]) -> String? {
        var context = Context()
        var words: [String?] = []
        for (index, statement) in statements.enumerated() {
            switch statement {
            case .match(.meta(.nfproto), .eq, let data) where data.count == 1:
                context.family = data[0]
                context.familyIndex = index
                words.append("meta nfproto \(familyName(data[0]))")
            case .match(.meta(.l4proto), .eq, let data) where data.count == 1:
                context.transport = data[0]
                context.transportIndex = index
                words.append("meta l4proto \(protocolName(data[0]))")
            case .match(.masked(.ct(.state), let mask, let xor), .neq, let data)
                where mask.count == 4 && xor.allSatisfy({ $0 == 0 }) && data.count == 4 && hostUInt32(data) == 0:
                guard let states = conntrackStates(hostUInt32(mask)) else { return nil }
                words.append("ct state \(states)")
            case .match(let operand, let op, let data):
                guard let (field, kind) = name(operand, &context, &words),
                      let text = value(data, kind: kind, op: op) else { return nil }
                words.append("\(field) \(text)")
            case .lookup(let operand, let set, let isMap, let inverted):
                guard let (field, _) = name(operand, &context, &words) else { return nil }
                words.append("\(field) \(isMap ? "vmap " : "")\(inverted ? "!= " : "")@\(set)")
            case .counter:
                words.append("counter")
            case .log(let prefix):
                words.append(prefix.map { "log prefix \"\($0)\"" } ?? "log")
            case .verdict(let verdict):
                words.append(verdict.description)
            }
        }
        let text = words.compactMap { $0 }.joined(separator: " ")
        return text.isEmpty ? nil : text
    }

    /// How a value of a field is written.
    private enum ValueKind {
        case port, address(AddressFamily), icmpType(AddressFamily), interface, number
    }

    /// The nft name of an operand; folds away the dependency matches it implies.
    private static func name(_ operand: Operand, _ context: inout Context, _ words: inout [String?]) -> (String, ValueKind)? {
        switch operand {
        case .meta(let key):
            if key == .iif || key == .oif { return (key.name, .interface) }
            return ("meta \(key.name)", .number)
        case .ct(let key):
            return ("ct \(key.name)", .number)
        case .payload(.network, let offset, let length):
            guard let family = context.family, let index = context.familyIndex else { return nil }
            let fields: [UInt8: [(UInt32, UInt32, String)]] = [2: [(12, 4, "ip saddr"), (16, 4, "ip daddr")],
                                                               10: [(8, 16, "ip6 saddr"), (24, 16, "ip6 daddr")]]
            guard let field = fields[family]?.first(where: { $0.0 == offset && $0.1 == length }) else { return nil }
            words[index] = nil
            return (field.2, .address(family == 2 ? .ipv4 : .ipv6))
        case .payload(.transport, let offset, let length):
            guard let proto = context.transport, let index = context.transportIndex else { return nil }
            switch (proto, offset, length) {
            case (6, 0, 2), (17, 0, 2), (6, 2, 2), (17, 2, 2):
                words[index] = nil
                return ("\(protocolName(proto)) \(offset == 0 ? "sport" : "dport")", .port)
            case (1, 0, 1), (58, 0, 1):
                let family: AddressFamily = proto == 1 ? .ipv4 : .ipv6
                // nft adds `meta nfproto` before ICMP in inet tables and hides it again.
                if let familyIndex = context.familyIndex, context.family == RuleBuilder.nfproto(family) { words[familyIndex] = nil }
                words[index] = nil
                return (proto == 1 ? "icmp type" : "icmpv6 type", .icmpType(family))
            default:
                return nil
            }
        default:
            return nil
        }
    }

    private static func value(_ data: [UInt8], kind: ValueKind, op: CmpOp) -> String? {
        let prefix: String
        switch op {
        case .eq: prefix = ""
        case .neq: prefix = "!= "
        case .lt: prefix = "< "
        case .lte: prefix = "<= "
        case .gt: prefix = "> "
        case .gte: prefix = ">= "
        }
        switch kind {
        case .port where data.count == 2:
            return prefix + "\(UInt16(data[0]) << 8 | UInt16(data[1]))"
        case .address(let family) where data.count == family.byteCount:
            return prefix + IPAddress(family: family, bytes: data).description
        case .icmpType(let family) where data.count == 1:
            return prefix + icmpTypeName(data[0], family)
        case .interface where data.count == 4:
            let index = hostUInt32(data)
            return prefix + (index == 1 ? "\"lo\"" : "\(index)")
        case .number where data.count <= 4:
            return prefix + "\(data.count == 4 ? hostUInt32(data) : data.reversed().reduce(0) { $0 << 8 | UInt32($1) })"
        default:
            return nil
        }
    }

    private static func hostUInt32(_ data: [UInt8]) -> UInt32 {
        data.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
    }

    static func familyName(_ value: UInt8) -> String {
        switch value {
        case 2: return "ipv4"
        case 10: return "ipv6"
        default: return "\(value)"
        }
    }

    static func protocolName(_ value: UInt8) -> String {
        switch value {
        case 1: return "icmp"
        case 6: return "tcp"
        case 17: return "udp"
        case 58: return "ipv6-icmp"
        default: return "\(value)"
        }
    }

    /// nft's names for ICMP and ICMPv6 types.
    static func icmpTypeName(_ value: UInt8, _ family: AddressFamily) -> String {
        let v4: [UInt8: String] = [0: "echo-reply", 3: "destination-unreachable", 5: "redirect", 8: "echo-request",
                                   9: "router-advertisement", 10: "router-solicitation", 11: "time-exceeded",
                                   12: "parameter-problem", 13: "timestamp-request", 14: "timestamp-reply"]
        let v6: [UInt8: String] = [1: "destination-unreachable", 2: "packet-too-big", 3: "time-exceeded", 4: "parameter-problem",
                                   128: "echo-request", 129: "echo-reply", 130: "mld-listener-query", 131: "mld-listener-report",
                                   132: "mld-listener-done", 133: "nd-router-solicit", 134: "nd-router-advert",
                                   135: "nd-neighbor-solicit", 136: "nd-neighbor-advert", 137: "nd-redirect",
                                   143: "mld2-listener-report"]
        return (family == .ipv4 ? v4 : v6)[value] ?? "\(value)"
    }

    /// Conntrack state bits in nft's words, in nft's order.
    static func conntrackStates(_ mask: UInt32) -> String? {
        let names: [(UInt32, String)] = [(ConntrackState.invalid, "invalid"), (ConntrackState.established, "established"),
                                         (ConntrackState.related, "related"), (ConntrackState.new, "new"),
                                         (ConntrackState.untracked, "untracked")]
        var rest = mask
        var words: [String] = []
        for (bit, name) in names where mask & bit != 0 {
            words.append(name)
            rest &= ~bit
        }
        return rest == 0 && !words.isEmpty ? words.joined(separator: ",") : nil
    }

    // MARK: - Raw bytecode

    static func bytecode(_ expression: Expression) -> String {
        switch expression {
        case .meta(let key, let dreg): return "meta load \(key.name) => reg \(dreg)"
        case .ct(let key, let dreg): return "ct load \(key.name) => reg \(dreg)"
        case .payload(let base, let offset, let length, let dreg):
            return "payload load \(length)b @ \(base.name) header + \(offset) => reg \(dreg)"
        case .cmp(let op, let sreg, let data): return "cmp \(op.name) reg \(sreg) \(hexWords(data))"
        case .bitwise(let sreg, let dreg, _, let mask, let xor):
            return "bitwise reg \(dreg) = ( reg \(sreg) & \(hexWords(mask)) ) ^ \(hexWords(xor))"
        case .lookup(let set, let sreg, let dreg, let inverted):
            return "lookup reg \(sreg) set \(set)" + (dreg.map { " dreg \($0)" } ?? "") + (inverted ? " 0x1" : "")
        case .immediateVerdict(let verdict): return "immediate reg 0 \(verdict)"
        case .counter: return "counter"
        case .log(let prefix): return "log" + (prefix.map { " prefix \($0)" } ?? "")
        case .unknown(let name, let attributes): return ([name] + attributes).joined(separator: " ")
        }
    }

    /// Data as nft prints it: 32-bit words in host order.
    static func hexWords(_ data: [UInt8]) -> String {
        stride(from: 0, to: data.count, by: 4).map { start in
            let word = data[start..<min(start + 4, data.count)].enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
            return "0x" + String(word, radix: 16).leftPadded(to: 8)
        }.joined(separator: " ")
    }
}
