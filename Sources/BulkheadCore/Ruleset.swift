/// nftables values as plain Swift data. The compiler produces them and the netlink layer decodes the
/// kernel's tables into them, so comparing desired and live state is value comparison.

/// An nftables address family.
public enum TableFamily: String, Sendable, Hashable, Codable, CaseIterable {
    case ip, ip6, inet, arp, bridge, netdev
}

/// A verdict: what a rule, a chain policy or a verdict-map element decides.
public enum Verdict: Sendable, Hashable, Codable, CustomStringConvertible {
    case accept, drop, `continue`, `return`
    case jump(String)
    case goto(String)

    /// nft syntax.
    public var description: String {
        switch self {
        case .accept: return "accept"
        case .drop: return "drop"
        case .continue: return "continue"
        case .return: return "return"
        case .jump(let chain): return "jump \(chain)"
        case .goto(let chain): return "goto \(chain)"
        }
    }

    /// Reads nft's words back (`accept`, `jump from.web`).
    public init?(text: String) {
        let words = text.split(separator: " ", maxSplits: 1).map(String.init)
        switch (words.first, words.count) {
        case ("accept", 1): self = .accept
        case ("drop", 1): self = .drop
        case ("continue", 1): self = .continue
        case ("return", 1): self = .return
        case ("jump", 2): self = .jump(words[1])
        case ("goto", 2): self = .goto(words[1])
        default: return nil
        }
    }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let verdict = Verdict(text: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a verdict: \(text)"))
        }
        self = verdict
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// The chain a jump or goto leads to.
    public var target: String? {
        switch self {
        case .jump(let chain), .goto(let chain): return chain
        default: return nil
        }
    }
}

/// A register number as nftables numbers them (0 = verdict register, 1..4 = 128-bit registers).
public typealias Register = UInt32

/// Registers by their kernel names.
public enum Registers {
    /// NFT_REG_VERDICT
    public static let verdict: Register = 0
    /// NFT_REG_1
    public static let reg1: Register = 1
}

/// Keys of the `meta` expression that Bulkhead emits or recognises, with their kernel values (enum nft_meta_keys).
public enum MetaKey: UInt32, Sendable, Hashable, Codable {
    case len = 0, protocolKey = 1, priority = 2, mark = 3, iif = 4, oif = 5, iifname = 6, oifname = 7
    case iiftype = 8, oiftype = 9, skuid = 10, skgid = 11, nftrace = 12, rtclassid = 13, secmark = 14
    case nfproto = 15, l4proto = 16

    /// The word nft uses.
    public var name: String {
        switch self {
        case .len: return "length"
        case .protocolKey: return "protocol"
        case .priority: return "priority"
        case .mark: return "mark"
        case .iif: return "iif"
        case .oif: return "oif"
        case .iifname: return "iifname"
        case .oifname: return "oifname"
        case .iiftype: return "iiftype"
        case .oiftype: return "oiftype"
        case .skuid: return "skuid"
        case .skgid: return "skgid"
        case .nftrace: return "nftrace"
        case .rtclassid: return "rtclassid"
        case .secmark: return "secmark"
        case .nfproto: return "nfproto"
        case .l4proto: return "l4proto"
        }
    }
}

/// Keys of the `ct` expression (enum nft_ct_keys) that Bulkhead emits or recognises.
public enum ConntrackKey: UInt32, Sendable, Hashable, Codable {
    case state = 0, direction = 1, status = 2, mark = 3

    /// The word nft uses.
    public var name: String {
        switch self {
        case .state: return "state"
        case .direction: return "direction"
        case .status: return "status"
        case .mark: return "mark"
        }
    }
}

/// Where a payload expression reads (enum nft_payload_bases).
public enum PayloadBase: UInt32, Sendable, Hashable, Codable {
    case link = 0, network = 1, transport = 2, inner = 3

    /// The words `nft --debug=netlink` uses.
    public var name: String {
        switch self {
        case .link: return "link"
        case .network: return "network"
        case .transport: return "transport"
        case .inner: return "inner"
        }
    }
}

/// Comparison operators of the `cmp` expression (enum nft_cmp_ops).
public enum CmpOp: UInt32, Sendable, Hashable, Codable {
    case eq = 0, neq = 1, lt = 2, lte = 3, gt = 4, gte = 5

    /// The word `nft --debug=netlink` uses.
    public var name: String {
        switch self {
        case .eq: return "eq"
        case .neq: return "neq"
        case .lt: return "lt"
        case .lte: return "lte"
        case .gt: return "gt"
        case .gte: return "gte"
        }
    }
}

/// One bytecode expression of a rule, mirroring the kernel's expression types one to one.
/// Byte strings are exactly what goes over netlink (network order for packet data, host order for meta values).
public enum Expression: Sendable, Hashable, Codable {
    case meta(key: MetaKey, dreg: Register)
    case ct(key: ConntrackKey, dreg: Register)
    case payload(base: PayloadBase, offset: UInt32, length: UInt32, dreg: Register)
    case cmp(op: CmpOp, sreg: Register, data: [UInt8])
    case bitwise(sreg: Register, dreg: Register, length: UInt32, mask: [UInt8], xor: [UInt8])
    /// A set lookup; with `dreg` = verdict register it is a verdict-map lookup.
    case lookup(set: String, sreg: Register, dreg: Register?, inverted: Bool)
    case immediateVerdict(Verdict)
    /// A packet and byte counter. Its values are state, not configuration, so they are not part of the value.
    case counter
    case log(prefix: String?)
    /// An expression this project does not model, kept by name with its attributes in readable form
    /// so that hand-added rules still compare and show up in reports.
    case unknown(name: String, attributes: [String])
}

/// A rule: bytecode plus an optional comment (nftables userdata).
public struct Rule: Sendable, Hashable, Codable {
    public var expressions: [Expression]
    public var comment: String?
    /// The kernel's handle for a rule read back from it; bookkeeping, so it takes no part in equality.
    public var handle: UInt64?

    public init(_ expressions: [Expression], comment: String? = nil, handle: UInt64? = nil) {
        self.expressions = expressions
        self.comment = comment
        self.handle = handle
    }

    public static func == (a: Rule, b: Rule) -> Bool {
        a.expressions == b.expressions && a.comment == b.comment
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(expressions)
        hasher.combine(comment)
    }
}

/// Netfilter hooks a base chain can attach to (values of NF_INET_*).
public enum ChainHook: UInt32, Sendable, Hashable, Codable {
    case prerouting = 0, input = 1, forward = 2, output = 3, postrouting = 4, ingress = 5

    /// The word nft uses.
    public var name: String {
        switch self {
        case .prerouting: return "prerouting"
        case .input: return "input"
        case .forward: return "forward"
        case .output: return "output"
        case .postrouting: return "postrouting"
        case .ingress: return "ingress"
        }
    }
}

/// What makes a chain a base chain: its hook, type, priority and policy.
public struct BaseChainSpec: Sendable, Hashable, Codable {
    public var type: String
    public var hook: ChainHook
    public var priority: Int32
    public var policy: Verdict

    public init(type: String = "filter", hook: ChainHook, priority: Int32 = 0, policy: Verdict) {
        self.type = type
        self.hook = hook
        self.priority = priority
        self.policy = policy
    }
}

/// A chain and its rules in order.
public struct Chain: Sendable, Hashable, Codable {
    public var name: String
    public var base: BaseChainSpec?
    public var comment: String?
    public var rules: [Rule]

    public init(name: String, base: BaseChainSpec? = nil, comment: String? = nil, rules: [Rule] = []) {
        self.name = name
        self.base = base
        self.comment = comment
        self.rules = rules
    }
}

/// Key types of sets, with nft's type ids (enum datatypes in nft's datatype.h). Sets Bulkhead
/// does not create (found in a live table) keep their raw id and length.
public enum SetKeyType: Sendable, Hashable, Codable {
    case ipv4Address, ipv6Address, inetService, icmpType, icmpv6Type
    case other(typeID: UInt32, length: Int)

    /// The key type for nft's numeric id and key length.
    public init(typeID: UInt32, length: Int) {
        switch (typeID, length) {
        case (7, 4): self = .ipv4Address
        case (8, 16): self = .ipv6Address
        case (13, 2): self = .inetService
        case (14, 1): self = .icmpType
        case (29, 1): self = .icmpv6Type
        default: self = .other(typeID: typeID, length: length)
        }
    }

    /// nft's name for the type, as in `type ipv4_addr`.
    public var name: String {
        switch self {
        case .ipv4Address: return "ipv4_addr"
        case .ipv6Address: return "ipv6_addr"
        case .inetService: return "inet_service"
        case .icmpType: return "icmp_type"
        case .icmpv6Type: return "icmpv6_type"
        case .other(let typeID, let length): return "type-\(typeID)/\(length)"
        }
    }

    /// nft's numeric type id, stored in the set's key type attribute.
    public var typeID: UInt32 {
        switch self {
        case .ipv4Address: return 7
        case .ipv6Address: return 8
        case .inetService: return 13
        case .icmpType: return 14
        case .icmpv6Type: return 29
        case .other(let typeID, _): return typeID
        }
    }

    /// Key length in bytes.
    public var length: Int {
        switch self {
        case .ipv4Address: return 4
        case .ipv6Address: return 16
        case .inetService: return 2
        case .icmpType, .icmpv6Type: return 1
        case .other(_, let length): return length
        }
    }
}

/// One element of a set or map: a key or an inclusive key range, and for verdict maps a verdict.
public struct SetElement: Sendable, Hashable, Comparable, Codable {
    /// First key, network order.
    public var key: [UInt8]
    /// Last key (inclusive) for ranges in interval sets; nil for a single key.
    public var keyEnd: [UInt8]?
    public var verdict: Verdict?

    public init(key: [UInt8], keyEnd: [UInt8]? = nil, verdict: Verdict? = nil) {
        self.key = key
        self.keyEnd = keyEnd == key ? nil : keyEnd
        self.verdict = verdict
    }

    private enum CodingKeys: String, CodingKey { case key, end, verdict }

    /// Keys travel as hex strings: compact and readable in state files.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func bytes(_ text: String) throws -> [UInt8] {
            let digits = Array(text.utf8)
            guard digits.count % 2 == 0 else { throw DecodingError.dataCorruptedError(forKey: .key, in: container, debugDescription: "odd hex") }
            return try stride(from: 0, to: digits.count, by: 2).map { index in
                guard let byte = UInt8(String(decoding: digits[index...(index + 1)], as: UTF8.self), radix: 16) else {
                    throw DecodingError.dataCorruptedError(forKey: .key, in: container, debugDescription: "not hex: \(text)")
                }
                return byte
            }
        }
        let key = try bytes(try container.decode(String.self, forKey: .key))
        let end = try container.decodeIfPresent(String.self, forKey: .end).map(bytes)
        self.init(key: key, keyEnd: end, verdict: try container.decodeIfPresent(Verdict.self, forKey: .verdict))
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(hexDigits(key), forKey: .key)
        try container.encodeIfPresent(keyEnd.map { hexDigits($0) }, forKey: .end)
        try container.encodeIfPresent(verdict, forKey: .verdict)
    }

    public static func < (a: SetElement, b: SetElement) -> Bool {
        a.key.lexicographicallyPrecedes(b.key)
            || (a.key == b.key && (a.keyEnd ?? a.key).lexicographicallyPrecedes(b.keyEnd ?? b.key))
    }
}

/// A named set, or a verdict map when `isVerdictMap` is set.
public struct NamedSet: Sendable, Hashable, Codable {
    public var name: String
    public var keyType: SetKeyType
    public var isInterval: Bool
    public var isVerdictMap: Bool
    public var comment: String?
    /// Kept sorted by key so that equal sets are equal values.
    public var elements: [SetElement]

    public init(name: String, keyType: SetKeyType, isInterval: Bool, isVerdictMap: Bool = false,
                comment: String? = nil, elements: [SetElement]) {
        self.name = name
        self.keyType = keyType
        self.isInterval = isInterval
        self.isVerdictMap = isVerdictMap
        self.comment = comment
        self.elements = elements.sorted()
    }
}

/// A table with its sets and chains, in creation order.
public struct Table: Sendable, Hashable, Codable {
    public var family: TableFamily
    public var name: String
    /// NFT_TABLE_F_* bits; the netlink layer sets ownership flags, the compiler leaves them 0.
    public var flags: UInt32 = 0
    public var comment: String?
    public var sets: [NamedSet]
    public var chains: [Chain]

    public init(family: TableFamily, name: String, flags: UInt32 = 0, comment: String? = nil,
                sets: [NamedSet] = [], chains: [Chain] = []) {
        self.family = family
        self.name = name
        self.flags = flags
        self.comment = comment
        self.sets = sets
        self.chains = chains
    }

    /// The chain called `name`.
    public func chain(named name: String) -> Chain? { chains.first { $0.name == name } }
    /// The set or map called `name`.
    public func set(named name: String) -> NamedSet? { sets.first { $0.name == name } }
}
