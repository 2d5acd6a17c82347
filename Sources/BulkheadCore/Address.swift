#if canImport(Glibc)
import Glibc
#endif

/// IPv4 or IPv6.
public enum AddressFamily: String, Sendable, Hashable, CaseIterable, Comparable {
    case ipv4, ipv6

    /// Address width in bits.
    public var bits: Int { self == .ipv4 ? 32 : 128 }
    /// Address width in bytes.
    public var byteCount: Int { bits / 8 }
    /// The highest address of the family.
    public var maxValue: UInt128 { self == .ipv4 ? UInt128(UInt32.max) : UInt128.max }
    /// Short suffix used in set names (`zone.src.v4`).
    public var suffix: String { self == .ipv4 ? "v4" : "v6" }

    public static func < (a: AddressFamily, b: AddressFamily) -> Bool { a == .ipv4 && b == .ipv6 }
}

/// An IP address as a number in its family's range.
public struct IPAddress: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var family: AddressFamily
    public var value: UInt128

    public init(family: AddressFamily, value: UInt128) {
        self.family = family
        self.value = value
    }

    public static func < (a: IPAddress, b: IPAddress) -> Bool { (a.family, a.value) < (b.family, b.value) }

    /// Parses a dotted-quad IPv4 or an IPv6 address with the C library's `inet_pton`.
    public static func parse(_ text: String) -> IPAddress? {
        // `inet_pton` sees a C string: an embedded NUL (YAML's "\0") would silently cut the text short.
        guard !text.utf8.contains(0) else { return nil }
        if text.contains(":") {
            var raw = in6_addr()
            guard inet_pton(AF_INET6, text, &raw) == 1 else { return nil }
            let bytes = withUnsafeBytes(of: &raw) { Array($0) }
            return IPAddress(family: .ipv6, bytes: bytes)
        }
        var raw = in_addr()
        guard inet_pton(AF_INET, text, &raw) == 1 else { return nil }
        let bytes = withUnsafeBytes(of: &raw) { Array($0) }
        return IPAddress(family: .ipv4, bytes: bytes)
    }

    /// Builds an address from network-order bytes (4 or 16 of them).
    public init(family: AddressFamily, bytes: [UInt8]) {
        var value: UInt128 = 0
        for byte in bytes { value = value << 8 | UInt128(byte) }
        self.init(family: family, value: value)
    }

    /// Network-order bytes, as they appear in packets and set keys.
    public var bytes: [UInt8] {
        (0..<family.byteCount).reversed().map { UInt8(truncatingIfNeeded: value >> (UInt128($0) * 8)) }
    }

    /// Canonical text (`inet_ntop`: RFC 5952 for IPv6).
    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        var raw = bytes
        let ok = raw.withUnsafeMutableBytes { source in
            inet_ntop(family == .ipv4 ? AF_INET : AF_INET6, source.baseAddress, &buffer, socklen_t(buffer.count)) != nil
        }
        guard ok else { return "?" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// An address prefix such as `198.51.100.0/24` or `2001:db8::/64`; a bare address is a full-length prefix.
public struct IPPrefix: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var address: IPAddress
    public var length: Int

    public init(address: IPAddress, length: Int) {
        self.address = address
        self.length = length
    }

    public var family: AddressFamily { address.family }
    /// The first address covered.
    public var first: UInt128 { address.value }
    /// The last address covered.
    public var last: UInt128 { address.value | hostMask }

    var hostMask: UInt128 {
        let hostBits = family.bits - length
        return hostBits == 0 ? 0 : (hostBits == 128 ? UInt128.max : (UInt128(1) << UInt128(hostBits)) - 1)
    }

    /// True when `other` lies entirely inside this prefix.
    public func contains(_ other: IPPrefix) -> Bool {
        family == other.family && length <= other.length && first <= other.first && other.last <= last
    }

    public static func < (a: IPPrefix, b: IPPrefix) -> Bool { (a.address, a.length) < (b.address, b.length) }

    public var description: String {
        length == family.bits ? address.description : "\(address)/\(length)"
    }

    /// Why a prefix could not be read.
    public enum ParseError: Error, Hashable, CustomStringConvertible {
        case invalidAddress(String)
        case invalidLength(String, max: Int)
        case hostBitsSet(String, network: String)

        public var description: String {
            switch self {
            case .invalidAddress(let text):
                return "'\(text)' is not an IPv4 or IPv6 address"
            case .invalidLength(let text, let max):
                return "'\(text)' has an invalid prefix length (must be 0 to \(max))"
            case .hostBitsSet(let text, let network):
                return "'\(text)' has host bits set; did you mean '\(network)'?"
            }
        }
    }

    /// Parses `ADDRESS` or `ADDRESS/LENGTH`; host bits must be zero.
    public static func parse(_ text: String) -> Result<IPPrefix, ParseError> {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress.parse(String(parts[0])) else { return .failure(.invalidAddress(text)) }
        var length = address.family.bits
        if parts.count == 2 {
            let digits = parts[1]
            guard !digits.isEmpty, digits.count <= 3, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
                  digits == "0" || !digits.hasPrefix("0"),
                  let parsed = Int(digits), parsed <= address.family.bits else {
                return .failure(.invalidLength(text, max: address.family.bits))
            }
            length = parsed
        }
        let prefix = IPPrefix(address: address, length: length)
        if address.value & prefix.hostMask != 0 {
            let network = IPPrefix(address: IPAddress(family: address.family, value: address.value & ~prefix.hostMask),
                                   length: length)
            return .failure(.hostBitsSet(text, network: network.description))
        }
        return .success(prefix)
    }
}

/// An inclusive range of addresses of one family; what interval sets hold.
public struct AddressRange: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var family: AddressFamily
    public var first: UInt128
    public var last: UInt128

    public init(family: AddressFamily, first: UInt128, last: UInt128) {
        self.family = family
        self.first = first
        self.last = last
    }

    public init(_ prefix: IPPrefix) {
        self.init(family: prefix.family, first: prefix.first, last: prefix.last)
    }

    public static func < (a: AddressRange, b: AddressRange) -> Bool { (a.family, a.first, a.last) < (b.family, b.first, b.last) }

    /// The prefix this range is exactly, if it is one.
    public var asPrefix: IPPrefix? {
        let size = last &- first
        // A prefix covers 2^k addresses starting at a multiple of 2^k: size+1 is a power of two.
        guard size & (size &+ 1) == 0, first & size == 0 else { return nil }
        let hostBits = size == UInt128.max ? 128 : (size &+ 1).trailingZeroBitCount
        return IPPrefix(address: IPAddress(family: family, value: first), length: family.bits - hostBits)
    }

    /// nft's notation: a prefix where the range is one, else `first-last`.
    public var description: String {
        if let prefix = asPrefix { return prefix.description }
        return "\(IPAddress(family: family, value: first))-\(IPAddress(family: family, value: last))"
    }
}
