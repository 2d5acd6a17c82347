/// A labelled, disjoint address interval: what one element of an interval map holds.
public struct LabelledRange<Label: Hashable & Sendable>: Hashable, Sendable {
    public var range: AddressRange
    public var label: Label

    public init(range: AddressRange, label: Label) {
        self.range = range
        self.label = label
    }
}

/// Turns overlapping, labelled prefixes into disjoint intervals where the most specific prefix wins,
/// like a routing table lookup. nftables interval sets refuse overlaps, so this is what they hold.
public enum PrefixFlattening {
    /// Flattens prefixes of one family; adjacent intervals with the same label are merged.
    /// For two identical prefixes the later one in `prefixes` wins (the loader rejects that case for zones).
    public static func flatten<Label: Hashable & Sendable>(_ prefixes: [(prefix: IPPrefix, label: Label)],
                                                           family: AddressFamily) -> [LabelledRange<Label>] {
        let ordered = prefixes.enumerated()
            .filter { $0.element.prefix.family == family }
            .sorted { a, b in
                (a.element.prefix.first, a.element.prefix.length, a.offset)
                    < (b.element.prefix.first, b.element.prefix.length, b.offset)
            }
            .map(\.element)

        var output: [LabelledRange<Label>] = []
        func emit(_ first: UInt128, _ last: UInt128, _ label: Label) {
            guard first <= last else { return }
            if var previous = output.last, previous.label == label, previous.range.last &+ 1 == first, previous.range.last < last {
                previous.range.last = last
                output[output.count - 1] = previous
            } else {
                output.append(LabelledRange(range: AddressRange(family: family, first: first, last: last), label: label))
            }
        }

        // `cursor` is the first address not yet emitted; nil once the whole space has been emitted.
        var cursor: UInt128? = 0
        var stack: [(prefix: IPPrefix, label: Label)] = []
        func close(upTo end: UInt128, label: Label) {
            guard let start = cursor, start <= end else { return }
            emit(start, end, label)
            cursor = end == family.maxValue ? nil : end + 1
        }
        for item in ordered {
            while let top = stack.last, top.prefix.last < item.prefix.first {
                close(upTo: top.prefix.last, label: top.label)
                stack.removeLast()
            }
            if let top = stack.last, item.prefix.first > 0 {
                close(upTo: item.prefix.first - 1, label: top.label)
            }
            // Addresses before this prefix that no prefix covers are skipped.
            if let start = cursor, start < item.prefix.first { cursor = item.prefix.first }
            stack.append(item)
        }
        while let top = stack.popLast() {
            close(upTo: top.prefix.last, label: top.label)
        }
        return output
    }

    /// Merges prefixes into the fewest disjoint ranges covering the same addresses (for plain interval sets).
    public static func union(_ ranges: [AddressRange]) -> [AddressRange] {
        var result: [AddressRange] = []
        for range in ranges.sorted() {
            if var last = result.last, last.family == range.family, last.last == last.family.maxValue || range.first <= last.last + 1 {
                last.last = max(last.last, range.last)
                result[result.count - 1] = last
            } else {
                result.append(range)
            }
        }
        return result
    }
}
