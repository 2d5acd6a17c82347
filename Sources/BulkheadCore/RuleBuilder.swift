/// Builds the exact bytecode `nft` generates for the few rule shapes Bulkhead uses,
/// so that `nft list ruleset` reads our rules back as plain nft syntax.
public enum RuleBuilder {
    /// NFPROTO_IPV4 / NFPROTO_IPV6 as `meta nfproto` compares them.
    static func nfproto(_ family: AddressFamily) -> UInt8 { family == .ipv4 ? 2 : 10 }

    /// IPPROTO_ICMP / IPPROTO_ICMPV6.
    static func icmpProtocol(_ family: AddressFamily) -> UInt8 { family == .ipv4 ? 1 : 58 }

    /// ICMP echo-request type for the family (8 or 128).
    static func echoRequest(_ family: AddressFamily) -> UInt8 { family == .ipv4 ? 8 : 128 }

    /// A 32-bit value in host byte order, as meta and ct values travel.
    static func hostOrder(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value) { Array($0) } }

    /// `meta nfproto ipv4|ipv6` (the dependency nft adds in inet tables).
    static func matchFamily(_ family: AddressFamily) -> [Expression] {
        [.meta(key: .nfproto, dreg: Registers.reg1), .cmp(op: .eq, sreg: Registers.reg1, data: [nfproto(family)])]
    }

    /// `meta l4proto N`.
    static func matchL4(_ proto: UInt8) -> [Expression] {
        [.meta(key: .l4proto, dreg: Registers.reg1), .cmp(op: .eq, sreg: Registers.reg1, data: [proto])]
    }

    /// Offset of the source (`saddr`) or destination address in the network header.
    static func addressOffset(_ family: AddressFamily, source: Bool) -> UInt32 {
        switch (family, source) {
        case (.ipv4, true): return 12
        case (.ipv4, false): return 16
        case (.ipv6, true): return 8
        case (.ipv6, false): return 24
        }
    }

    /// `ct state established,related accept` and friends: `ct state` masked with `states`, nonzero.
    public static func ctState(_ states: UInt32, _ verdict: Verdict, comment: String? = nil) -> Rule {
        Rule([
            .ct(key: .state, dreg: Registers.reg1),
            .bitwise(sreg: Registers.reg1, dreg: Registers.reg1, length: 4, mask: hostOrder(states), xor: hostOrder(0)),
            .cmp(op: .neq, sreg: Registers.reg1, data: hostOrder(0)),
            .immediateVerdict(verdict),
        ], comment: comment)
    }

    /// `iif "lo" accept` (input) or `oif "lo" accept` (output); the loopback device is ifindex 1 in every namespace.
    public static func loopback(input: Bool, comment: String? = nil) -> Rule {
        Rule([
            .meta(key: input ? .iif : .oif, dreg: Registers.reg1),
            .cmp(op: .eq, sreg: Registers.reg1, data: hostOrder(1)),
            .immediateVerdict(.accept),
        ], comment: comment)
    }

    /// `icmp type @set accept` or `icmpv6 type @set accept`.
    public static func icmpTypeInSet(_ family: AddressFamily, set: String, _ verdict: Verdict, comment: String? = nil) -> Rule {
        Rule(matchFamily(family) + matchL4(icmpProtocol(family)) + [
            .payload(base: .transport, offset: 0, length: 1, dreg: Registers.reg1),
            .lookup(set: set, sreg: Registers.reg1, dreg: nil, inverted: false),
            .immediateVerdict(verdict),
        ], comment: comment)
    }

    /// `icmp type echo-request counter accept` or its ICMPv6 twin.
    public static func echoRequest(_ family: AddressFamily, counter: Bool, _ verdict: Verdict, comment: String? = nil) -> Rule {
        Rule(matchFamily(family) + matchL4(icmpProtocol(family)) + [
            .payload(base: .transport, offset: 0, length: 1, dreg: Registers.reg1),
            .cmp(op: .eq, sreg: Registers.reg1, data: [echoRequest(family)]),
        ] + (counter ? [.counter] : []) + [.immediateVerdict(verdict)], comment: comment)
    }

    /// `tcp dport @set counter accept` (or udp).
    public static func destinationPortInSet(_ proto: TransportProtocol, set: String, counter: Bool, _ verdict: Verdict,
                                            comment: String? = nil) -> Rule {
        Rule(matchL4(proto.number) + [
            .payload(base: .transport, offset: 2, length: 2, dreg: Registers.reg1),
            .lookup(set: set, sreg: Registers.reg1, dreg: nil, inverted: false),
        ] + (counter ? [.counter] : []) + [.immediateVerdict(verdict)], comment: comment)
    }

    /// `ip saddr vmap @map` / `ip6 daddr vmap @map`.
    public static func addressVerdictMap(_ family: AddressFamily, source: Bool, map: String, comment: String? = nil) -> Rule {
        Rule(matchFamily(family) + [
            .payload(base: .network, offset: addressOffset(family, source: source), length: UInt32(family.byteCount),
                     dreg: Registers.reg1),
            .lookup(set: map, sreg: Registers.reg1, dreg: Registers.verdict, inverted: false),
        ], comment: comment)
    }

    /// `ip daddr @set counter drop` (or with `log prefix "..."` before the verdict, for audit mode).
    public static func addressInSet(_ family: AddressFamily, source: Bool, set: String, logPrefix: String?, _ verdict: Verdict,
                                    comment: String? = nil) -> Rule {
        Rule(matchFamily(family) + [
            .payload(base: .network, offset: addressOffset(family, source: source), length: UInt32(family.byteCount),
                     dreg: Registers.reg1),
            .lookup(set: set, sreg: Registers.reg1, dreg: nil, inverted: false),
            .counter,
        ] + (logPrefix.map { [.log(prefix: $0)] } ?? []) + [.immediateVerdict(verdict)], comment: comment)
    }

    /// A rule that is only a verdict (`accept`).
    public static func verdict(_ verdict: Verdict, comment: String? = nil) -> Rule {
        Rule([.immediateVerdict(verdict)], comment: comment)
    }
}

/// Conntrack state bits as `ct state` tests them (NF_CT_STATE_*_BIT).
public enum ConntrackState {
    public static let invalid: UInt32 = 1
    public static let established: UInt32 = 2
    public static let related: UInt32 = 4
    public static let new: UInt32 = 8
    public static let untracked: UInt32 = 64
}
