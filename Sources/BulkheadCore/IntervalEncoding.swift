/// One element as the kernel's interval sets store it: a key that starts a range, or (flag
/// NFT_SET_ELEM_INTERVAL_END) the first key after one.
public struct WireElement: Sendable, Hashable {
    public var key: [UInt8]
    public var isIntervalEnd: Bool
    public var verdict: Verdict?
    /// nft marks a range that runs to the top of the key space (it has no end element) in userdata.
    public var isOpenInterval: Bool = false

    public init(key: [UInt8], isIntervalEnd: Bool, verdict: Verdict? = nil, isOpenInterval: Bool = false) {
        self.key = key
        self.isIntervalEnd = isIntervalEnd
        self.verdict = verdict
        self.isOpenInterval = isOpenInterval
    }
}

/// Converts between ranges and the kernel's start/end representation of interval sets, the way nft does:
/// a leading end element at key 0 when no range starts there, an end element at `last + 1` after each
/// range unless the range runs to the maximum key. Adjacent ranges share a key (end and start).
public enum IntervalEncoding {
    public static func encode(_ elements: [SetElement], interval: Bool) -> [WireElement] {
        guard interval else { return elements.map { WireElement(key: $0.key, isIntervalEnd: false, verdict: $0.verdict) } }
        var wire: [WireElement] = []
        let sorted = elements.sorted()
        if let first = sorted.first, first.key.contains(where: { $0 != 0 }) {
            wire.append(WireElement(key: [UInt8](repeating: 0, count: first.key.count), isIntervalEnd: true))
        }
        for element in sorted {
            let last = element.keyEnd ?? element.key
            if let next = increment(last) {
                wire.append(WireElement(key: element.key, isIntervalEnd: false, verdict: element.verdict))
                wire.append(WireElement(key: next, isIntervalEnd: true))
            } else {
                wire.append(WireElement(key: element.key, isIntervalEnd: false, verdict: element.verdict, isOpenInterval: true))
            }
        }
        return wire
    }

    /// Rebuilds ranges from a dump, in any order.
    public static func decode(_ wire: [WireElement], interval: Bool) -> [SetElement] {
        guard interval else { return wire.map { SetElement(key: $0.key, verdict: $0.verdict) } }
        // Ascending by key; at equal keys an end closes the previous range before a start opens the next.
        let sorted = wire.sorted { a, b in
            a.key == b.key ? (a.isIntervalEnd && !b.isIntervalEnd) : a.key.lexicographicallyPrecedes(b.key)
        }
        var result: [SetElement] = []
        var open: WireElement?
        for element in sorted {
            if element.isIntervalEnd {
                if let start = open, let last = decrement(element.key) {
                    result.append(SetElement(key: start.key, keyEnd: last, verdict: start.verdict))
                }
                open = nil
            } else {
                if let start = open {
                    // Two starts in a row: the first range ran up to just before this one.
                    if let last = decrement(element.key) { result.append(SetElement(key: start.key, keyEnd: last, verdict: start.verdict)) }
                }
                open = element
            }
        }
        if let start = open {
            result.append(SetElement(key: start.key, keyEnd: [UInt8](repeating: 0xff, count: start.key.count), verdict: start.verdict))
        }
        return result
    }

    /// The big-endian key plus one; nil past the maximum.
    static func increment(_ key: [UInt8]) -> [UInt8]? {
        var result = key
        for index in result.indices.reversed() {
            if result[index] == 0xff {
                result[index] = 0
            } else {
                result[index] += 1
                return result
            }
        }
        return nil
    }

    /// The big-endian key minus one; nil below zero.
    static func decrement(_ key: [UInt8]) -> [UInt8]? {
        var result = key
        for index in result.indices.reversed() {
            if result[index] == 0 {
                result[index] = 0xff
            } else {
                result[index] -= 1
                return result
            }
        }
        return nil
    }
}
