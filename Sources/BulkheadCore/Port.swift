/// A transport protocol a flow may name.
public enum TransportProtocol: String, Sendable, Hashable, CaseIterable, Comparable {
    case tcp, udp, icmp

    /// IANA protocol number as used by `meta l4proto` (icmp means ICMPv4 here).
    public var number: UInt8 {
        switch self {
        case .tcp: return 6
        case .udp: return 17
        case .icmp: return 1
        }
    }

    public static func < (a: TransportProtocol, b: TransportProtocol) -> Bool {
        a.rank < b.rank
    }

    private var rank: Int {
        switch self {
        case .tcp: return 0
        case .udp: return 1
        case .icmp: return 2
        }
    }
}

/// One entry of a `ports:` list or a service: `tcp/5432`, `tcp/8000-8100`, `udp/53`, `icmp`.
public struct PortSpec: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var proto: TransportProtocol
    /// Inclusive port range; nil for icmp (which means echo, v4 and v6).
    public var ports: ClosedRange<UInt16>?

    public init(_ proto: TransportProtocol, _ ports: ClosedRange<UInt16>? = nil) {
        self.proto = proto
        self.ports = ports
    }

    public static func < (a: PortSpec, b: PortSpec) -> Bool {
        (a.proto, a.ports?.lowerBound ?? 0, a.ports?.upperBound ?? 0) < (b.proto, b.ports?.lowerBound ?? 0, b.ports?.upperBound ?? 0)
    }

    public var description: String {
        guard let ports else { return proto.rawValue }
        if ports.lowerBound == ports.upperBound { return "\(proto.rawValue)/\(ports.lowerBound)" }
        return "\(proto.rawValue)/\(ports.lowerBound)-\(ports.upperBound)"
    }

    /// Parses the textual form, explaining what is wrong when it cannot.
    public static func parse(_ text: String) -> Result<PortSpec, PortSpecError> {
        if text == "icmp" { return .success(PortSpec(.icmp)) }
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let protoText = String(parts[0])
        guard let proto = TransportProtocol(rawValue: protoText) else {
            if parts.count == 1, let number = UInt32(text) {
                return .failure(.missingProtocol(text, number))
            }
            return .failure(.unknownProtocol(text, protoText))
        }
        if proto == .icmp { return .failure(.icmpHasNoPorts(text)) }
        guard parts.count == 2, !parts[1].isEmpty else { return .failure(.missingPort(text)) }
        let bounds = parts[1].split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        var numbers: [UInt16] = []
        for bound in bounds {
            guard !bound.isEmpty, bound.count <= 6, bound.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let value = Int(bound) else {
                return .failure(.notANumber(text, String(bound)))
            }
            guard (1...65535).contains(value) else { return .failure(.outOfRange(text, value)) }
            numbers.append(UInt16(value))
        }
        let low = numbers[0], high = numbers.last ?? numbers[0]
        guard low <= high else { return .failure(.reversedRange(text)) }
        return .success(PortSpec(proto, low...high))
    }
}

/// Why a port entry could not be read.
public enum PortSpecError: Error, Hashable, CustomStringConvertible {
    case missingProtocol(String, UInt32)
    case unknownProtocol(String, String)
    case icmpHasNoPorts(String)
    case missingPort(String)
    case notANumber(String, String)
    case outOfRange(String, Int)
    case reversedRange(String)

    public var description: String {
        switch self {
        case .missingProtocol(let text, let number):
            return "'\(text)' has no protocol; write 'tcp/\(number)' or 'udp/\(number)'"
        case .unknownProtocol(let text, let proto):
            return "'\(text)': unknown protocol '\(proto)' (expected tcp/PORT, udp/PORT or icmp)"
                + Suggestion.didYouMean(proto, among: TransportProtocol.allCases.map(\.rawValue))
        case .icmpHasNoPorts(let text):
            return "'\(text)': icmp has no ports; write just 'icmp'"
        case .missingPort(let text):
            return "'\(text)' has no port; write PROTOCOL/PORT or PROTOCOL/FIRST-LAST"
        case .notANumber(let text, let part):
            return "'\(text)': '\(part)' is not a port number"
        case .outOfRange(let text, let value):
            return "'\(text)': port \(value) is out of range (1 to 65535)"
        case .reversedRange(let text):
            return "'\(text)': the range's first port is greater than its last"
        }
    }
}
