import BulkheadCore
import Testing

// MARK: - Helpers

private func parsedPrefix(_ text: String) throws -> IPPrefix {
    try IPPrefix.parse(text).get()
}

private func addressValue(_ text: String) throws -> UInt128 {
    try #require(IPAddress.parse(text)).value
}

/// Flattens `(prefix, label)` texts and shows the result as `range = label` lines.
private func flattened(_ items: [(String, String)], _ family: AddressFamily) throws -> [String] {
    let input = try items.map { (prefix: try parsedPrefix($0.0), label: $0.1) }
    return PrefixFlattening.flatten(input, family: family).map { "\($0.range) = \($0.label)" }
}

private func unioned(_ items: [String]) throws -> [String] {
    try PrefixFlattening.union(items.map { AddressRange(try parsedPrefix($0)) }).map(\.description)
}

/// The prefix of `length` bits that contains `value`.
private func enclosing(_ value: UInt128, length: Int, family: AddressFamily) -> IPPrefix {
    let hostBits = family.bits - length
    let network = hostBits == 128 ? 0 : (value >> UInt128(hostBits)) << UInt128(hostBits)
    return IPPrefix(address: IPAddress(family: family, value: network), length: length)
}

/// Longest-prefix match by brute force; among identical prefixes the later one wins.
private func referenceLabel(_ value: UInt128, in prefixes: [(prefix: IPPrefix, label: Int)]) -> Int? {
    var best: (length: Int, label: Int)?
    for item in prefixes where item.prefix.first <= value && value <= item.prefix.last {
        if best == nil || item.prefix.length >= best?.length ?? 0 { best = (item.prefix.length, item.label) }
    }
    return best?.label
}

private func lookup(_ value: UInt128, in ranges: [LabelledRange<Int>]) -> Int? {
    ranges.first { $0.range.first <= value && value <= $0.range.last }?.label
}

// MARK: - Flattening by hand

@Suite struct PrefixFlatteningTests {
    @Test(arguments: [
        // Nothing in, nothing out.
        ([], []),
        ([("10.0.0.0/8", "a")], ["10.0.0.0/8 = a"]),
        // A nested prefix punches a hole; the outer label continues after it.
        ([("10.0.0.0/8", "a"), ("10.1.0.0/16", "b")], ["10.0.0.0/16 = a", "10.1.0.0/16 = b", "10.2.0.0-10.255.255.255 = a"]),
        // Input order does not matter: the most specific prefix wins.
        ([("10.1.0.0/16", "b"), ("10.0.0.0/8", "a")], ["10.0.0.0/16 = a", "10.1.0.0/16 = b", "10.2.0.0-10.255.255.255 = a"]),
        // Three levels, and an inner prefix with the outer label merging with what follows.
        ([("10.0.0.0/8", "a"), ("10.1.0.0/16", "b"), ("10.1.1.0/24", "c"), ("10.1.255.0/24", "a")],
         ["10.0.0.0/16 = a", "10.1.0.0/24 = b", "10.1.1.0/24 = c", "10.1.2.0-10.1.254.255 = b", "10.1.255.0-10.255.255.255 = a"]),
        // Inner prefixes at the very start and the very end of their parent.
        ([("10.0.0.0/8", "a"), ("10.0.0.0/16", "b"), ("10.255.0.0/16", "c")],
         ["10.0.0.0/16 = b", "10.1.0.0-10.254.255.255 = a", "10.255.0.0/16 = c"]),
        // Adjacent ranges with the same label are merged, with different labels they are not.
        ([("10.0.0.0/25", "a"), ("10.0.0.128/25", "a")], ["10.0.0.0/24 = a"]),
        ([("10.0.0.0/25", "a"), ("10.0.0.128/25", "b")], ["10.0.0.0/25 = a", "10.0.0.128/25 = b"]),
        ([("10.0.2.0/23", "a"), ("10.0.0.0/24", "a"), ("10.0.1.0/24", "a")], ["10.0.0.0/22 = a"]),
        ([("10.0.0.0/24", "a"), ("10.0.1.0/24", "a"), ("10.0.2.0/24", "b"), ("10.0.3.0/24", "a")],
         ["10.0.0.0/23 = a", "10.0.2.0/24 = b", "10.0.3.0/24 = a"]),
        // A nested prefix with its parent's label disappears.
        ([("10.0.0.0/8", "a"), ("10.1.0.0/16", "a")], ["10.0.0.0/8 = a"]),
        // Uncovered gaps stay uncovered, even between equal labels.
        ([("10.0.0.0/24", "a"), ("10.0.2.0/24", "a")], ["10.0.0.0/24 = a", "10.0.2.0/24 = a"]),
        // Identical prefixes: the later one wins.
        ([("10.0.0.0/8", "a"), ("10.0.0.0/8", "b")], ["10.0.0.0/8 = b"]),
        ([("10.0.0.0/8", "a"), ("10.0.0.0/8", "b"), ("10.0.0.0/8", "a")], ["10.0.0.0/8 = a"]),
        // The top of the address space.
        ([("255.255.255.255/32", "a")], ["255.255.255.255 = a"]),
        ([("255.255.255.0/24", "a"), ("255.255.255.255/32", "b")], ["255.255.255.0-255.255.255.254 = a", "255.255.255.255 = b"]),
        ([("255.255.255.254/31", "a"), ("255.255.255.255", "a")], ["255.255.255.254/31 = a"]),
        ([("255.0.0.0/8", "a"), ("255.255.255.255/32", "b"), ("255.255.255.254/32", "b")],
         ["255.0.0.0-255.255.255.253 = a", "255.255.255.254/31 = b"]),
        // The bottom of the address space.
        ([("0.0.0.0/32", "a"), ("0.0.0.0/24", "b")], ["0.0.0.0 = a", "0.0.0.1-0.0.0.255 = b"]),
        // Everything, with holes everywhere including both ends.
        ([("0.0.0.0/0", "a")], ["0.0.0.0/0 = a"]),
        ([("0.0.0.0/0", "w"), ("10.0.0.0/8", "p"), ("192.168.0.0/16", "q"), ("0.0.0.0/8", "z"), ("255.255.255.255/32", "b")],
         ["0.0.0.0/8 = z", "1.0.0.0-9.255.255.255 = w", "10.0.0.0/8 = p", "11.0.0.0-192.167.255.255 = w",
          "192.168.0.0/16 = q", "192.169.0.0-255.255.255.254 = w", "255.255.255.255 = b"]),
        // Halves hiding the whole.
        ([("0.0.0.0/0", "a"), ("0.0.0.0/1", "b"), ("128.0.0.0/1", "c")], ["0.0.0.0/1 = b", "128.0.0.0/1 = c"]),
        // Only prefixes of the family asked for count.
        ([("10.0.0.0/8", "a"), ("2001:db8::/32", "b"), ("::/0", "c")], ["10.0.0.0/8 = a"]),
    ] as [([(String, String)], [String])])
    func flattenIPv4(input: [(String, String)], expected: [String]) throws {
        #expect(try flattened(input, .ipv4) == expected)
    }

    @Test(arguments: [
        ([("::/0", "a")], ["::/0 = a"]),
        ([("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", "b")], ["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff = b"]),
        ([("::/0", "a"), ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", "b")],
         ["::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe = a", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff = b"]),
        ([("::/0", "a"), ("::/128", "b")], [":: = b", "::1-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff = a"]),
        ([("::/0", "a"), ("::/1", "b"), ("8000::/1", "c")], ["::/1 = b", "8000::/1 = c"]),
        ([("ffff::/16", "a"), ("ffff:ffff::/32", "a"), ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127", "b")],
         ["ffff::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffd = a", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127 = b"]),
        ([("2001:db8::/32", "a"), ("2001:db8:1::/48", "b"), ("10.0.0.0/8", "c")],
         ["2001:db8::/48 = a", "2001:db8:1::/48 = b", "2001:db8:2::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff = a"]),
    ] as [([(String, String)], [String])])
    func flattenIPv6(input: [(String, String)], expected: [String]) throws {
        #expect(try flattened(input, .ipv6) == expected)
    }

    @Test func outputRangesHaveTheRequestedFamily() throws {
        let input = [(prefix: try parsedPrefix("10.0.0.0/8"), label: 1), (prefix: try parsedPrefix("2001:db8::/32"), label: 2)]
        #expect(PrefixFlattening.flatten(input, family: .ipv4).map(\.range.family) == [.ipv4])
        #expect(PrefixFlattening.flatten(input, family: .ipv6).map(\.range.family) == [.ipv6])
        #expect(PrefixFlattening.flatten(input, family: .ipv6).map(\.label) == [2])
    }

    // MARK: Union

    @Test(arguments: [
        ([], []),
        (["10.0.0.0/25", "10.0.0.128/25"], ["10.0.0.0/24"]),
        (["10.0.0.0/8", "10.1.0.0/16"], ["10.0.0.0/8"]),
        (["10.1.0.0/16", "10.0.0.0/8"], ["10.0.0.0/8"]),
        (["10.0.0.0/24", "10.0.2.0/24"], ["10.0.0.0/24", "10.0.2.0/24"]),
        (["10.0.2.0/24", "10.0.0.0/24", "10.0.1.0/24"], ["10.0.0.0-10.0.2.255"]),
        (["10.0.0.0/24", "10.0.0.0/24"], ["10.0.0.0/24"]),
        // Families never merge, not even where IPv4's top meets IPv6's bottom.
        (["255.255.255.255/32", "::/128"], ["255.255.255.255", "::"]),
        (["::/0", "0.0.0.0/0"], ["0.0.0.0/0", "::/0"]),
        // Ranges ending at the top of the address space.
        (["255.255.255.0/24", "0.0.0.0/0"], ["0.0.0.0/0"]),
        (["255.255.255.128/25", "255.255.255.0/25", "1.2.3.4"], ["1.2.3.4", "255.255.255.0/24"]),
        (["::/0", "ffff::/16"], ["::/0"]),
        (["ffff::/16", "::/0"], ["::/0"]),
        (["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", "::1"],
         ["::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127"]),
    ] as [([String], [String])])
    func union(input: [String], expected: [String]) throws {
        #expect(try unioned(input) == expected)
    }

    @Test func unionOfRangesThatAreNotPrefixes() {
        let ranges = [
            AddressRange(family: .ipv4, first: 6, last: 9),
            AddressRange(family: .ipv4, first: 1, last: 5),
            AddressRange(family: .ipv4, first: 3, last: 4),
            AddressRange(family: .ipv4, first: 20, last: 30),
            AddressRange(family: .ipv4, first: 11, last: 19),
        ]
        #expect(PrefixFlattening.union(ranges) == [
            AddressRange(family: .ipv4, first: 1, last: 9),
            AddressRange(family: .ipv4, first: 11, last: 30),
        ])
    }

    // MARK: Against brute force

    /// Regions of 256 addresses to confine random prefixes to: the middle, the bottom and the top of each family.
    static let regions: [(AddressFamily, String)] = [
        (.ipv4, "198.18.0.0"), (.ipv4, "0.0.0.0"), (.ipv4, "255.255.255.0"),
        (.ipv6, "2001:db8::"), (.ipv6, "::"), (.ipv6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00"),
    ]

    @Test(arguments: regions)
    func flattenMatchesLongestPrefixMatch(family: AddressFamily, regionStart: String) throws {
        let base = try addressValue(regionStart)
        let regionLength = family.bits - 8
        var random = SeededGenerator(seed: UInt64(truncatingIfNeeded: base) &+ UInt64(family.bits))
        for round in 0..<250 {
            var prefixes: [(prefix: IPPrefix, label: Int)] = []
            for _ in 0..<Int.random(in: 0...14, using: &random) {
                let length = Int.random(in: regionLength...family.bits, using: &random)
                let value = base + UInt128(UInt8.random(in: 0...255, using: &random))
                prefixes.append((enclosing(value, length: length, family: family), Int.random(in: 0..<3, using: &random)))
            }
            // Sometimes prefixes larger than the region, up to the whole address space.
            for _ in 0..<max(0, Int.random(in: -2...2, using: &random)) {
                let length = Int.random(in: 0..<regionLength, using: &random)
                let item = (prefix: enclosing(base, length: length, family: family), label: Int.random(in: 0..<3, using: &random))
                prefixes.insert(item, at: Int.random(in: 0...prefixes.count, using: &random))
            }
            // And prefixes of the other family, which must be ignored.
            let other: AddressFamily = family == .ipv4 ? .ipv6 : .ipv4
            prefixes.append((enclosing(0, length: 0, family: other), 9))

            let output = PrefixFlattening.flatten(prefixes, family: family)
            let sameFamily = prefixes.filter { $0.prefix.family == family }

            // Sorted, disjoint, within the family, maximal.
            for item in output {
                #expect(item.range.family == family && item.range.first <= item.range.last && item.range.last <= family.maxValue)
            }
            for (a, b) in zip(output, output.dropFirst()) {
                #expect(a.range.last < b.range.first, "round \(round): unsorted or overlapping \(a.range) \(b.range)")
                #expect(!(a.range.last + 1 == b.range.first && a.label == b.label),
                        "round \(round): adjacent ranges with one label \(a.range) \(b.range)")
            }

            // Address by address in the region, and at every boundary anywhere.
            var probes = (0...255).map { base + UInt128($0) }
            probes += [0, family.maxValue]
            for item in output { probes += [item.range.first, item.range.last] }
            for item in output + sameFamily.map({ LabelledRange(range: AddressRange($0.prefix), label: $0.label) }) {
                if item.range.first > 0 { probes.append(item.range.first - 1) }
                if item.range.last < family.maxValue { probes.append(item.range.last + 1) }
            }
            var mismatches = 0
            for value in probes where lookup(value, in: output) != referenceLabel(value, in: sameFamily) {
                mismatches += 1
                if mismatches <= 3 {
                    let prefixText = prefixes.map { "\($0.prefix)=\($0.label)" }.joined(separator: " ")
                    Issue.record("round \(round): \(IPAddress(family: family, value: value)) is \(String(describing: lookup(value, in: output))), expected \(String(describing: referenceLabel(value, in: sameFamily))); input \(prefixText)")
                }
            }
            if mismatches > 0 { return }
            // Every output address is covered by some prefix: all ranges start and end on covered addresses,
            // and uncovered addresses have no label (checked above).
            #expect(output.allSatisfy { referenceLabel($0.range.first, in: sameFamily) != nil && referenceLabel($0.range.last, in: sameFamily) != nil })
        }
    }

    @Test(arguments: regions)
    func unionMatchesBruteForce(family: AddressFamily, regionStart: String) throws {
        let base = try addressValue(regionStart)
        var random = SeededGenerator(seed: UInt64(truncatingIfNeeded: base) ^ 0xD1CE)
        for round in 0..<200 {
            var ranges: [AddressRange] = []
            var covered = [Bool](repeating: false, count: 256)
            for _ in 0..<Int.random(in: 0...10, using: &random) {
                let length = Int.random(in: (family.bits - 8)...family.bits, using: &random)
                let prefix = enclosing(base + UInt128(UInt8.random(in: 0...255, using: &random)), length: length, family: family)
                ranges.append(AddressRange(prefix))
                for offset in Int(prefix.first - base)...Int(prefix.last - base) { covered[offset] = true }
            }
            let output = PrefixFlattening.union(ranges)
            for (a, b) in zip(output, output.dropFirst()) {
                #expect(a.last + 1 < b.first, "round \(round): \(a) and \(b) should have been merged or are unsorted")
            }
            var fromOutput = [Bool](repeating: false, count: 256)
            for range in output {
                #expect(range.family == family && range.first >= base && range.last <= base + 255)
                for value in range.first...range.last { fromOutput[Int(value - base)] = true }
            }
            #expect(fromOutput == covered, "round \(round)")
        }
    }
}

// MARK: - Ranges, prefixes and addresses

@Suite struct AddressRangeTests {
    @Test(arguments: [
        (AddressFamily.ipv4, "10.0.0.0", "10.255.255.255", "10.0.0.0/8"),
        (.ipv4, "10.0.0.1", "10.0.0.1", "10.0.0.1"),
        (.ipv4, "0.0.0.0", "255.255.255.255", "0.0.0.0/0"),
        (.ipv4, "0.0.0.0", "127.255.255.255", "0.0.0.0/1"),
        (.ipv4, "128.0.0.0", "255.255.255.255", "128.0.0.0/1"),
        (.ipv4, "255.255.255.255", "255.255.255.255", "255.255.255.255"),
        (.ipv4, "0.0.0.0", "0.0.0.0", "0.0.0.0"),
        (.ipv4, "10.0.0.2", "10.0.0.3", "10.0.0.2/31"),
        (.ipv6, "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::/0"),
        (.ipv6, "::", "7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::/1"),
        (.ipv6, "8000::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "8000::/1"),
        (.ipv6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
        (.ipv6, "2001:db8::", "2001:db8:0:0:ffff:ffff:ffff:ffff", "2001:db8::/64"),
    ])
    func rangesThatArePrefixes(family: AddressFamily, first: String, last: String, expected: String) throws {
        let range = AddressRange(family: family, first: try addressValue(first), last: try addressValue(last))
        let asPrefix = try #require(range.asPrefix)
        #expect(asPrefix == (try parsedPrefix(expected)))
        #expect(asPrefix.description == expected)
        #expect(range.description == expected)
        #expect(AddressRange(asPrefix) == range)
    }

    @Test(arguments: [
        (AddressFamily.ipv4, "10.0.0.1", "10.0.0.2"),
        (.ipv4, "10.0.0.0", "10.0.0.2"),
        (.ipv4, "10.0.0.4", "10.0.0.11"),
        (.ipv4, "0.0.0.0", "255.255.255.254"),
        (.ipv4, "0.0.0.1", "255.255.255.255"),
        (.ipv6, "::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
        (.ipv6, "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"),
        (.ipv6, "2001:db8::1", "2001:db8::2"),
    ])
    func rangesThatAreNotPrefixes(family: AddressFamily, first: String, last: String) throws {
        let range = AddressRange(family: family, first: try addressValue(first), last: try addressValue(last))
        #expect(range.asPrefix == nil)
        #expect(range.description == "\(first)-\(last)")
    }

    @Test func asPrefixAgreesWithBruteForce() {
        // Every range inside 10.0.0.0/27 (528 of them).
        for first in UInt128(0)...31 {
            for last in first...31 {
                let range = AddressRange(family: .ipv4, first: 0x0A00_0000 + first, last: 0x0A00_0000 + last)
                let size = last - first + 1
                let isPrefix = size.nonzeroBitCount == 1 && first % size == 0
                #expect((range.asPrefix != nil) == isPrefix, "\(range)")
                if let asPrefix = range.asPrefix {
                    #expect(asPrefix.first == range.first && asPrefix.last == range.last, "\(range)")
                }
            }
        }
    }

    @Test(arguments: [AddressFamily.ipv4, .ipv6])
    func randomPrefixesRoundTrip(family: AddressFamily) throws {
        var random = SeededGenerator(seed: family == .ipv4 ? 44 : 66)
        for _ in 0..<1000 {
            let length = Int.random(in: 0...family.bits, using: &random)
            let value = UInt128.random(in: 0...family.maxValue, using: &random)
            let original = enclosing(value, length: length, family: family)
            // Through an address range and back.
            #expect(AddressRange(original).asPrefix == original)
            // Through text and back.
            #expect(IPPrefix.parse(original.description) == .success(original), "\(original)")
            // The text of a prefix with its length is the same prefix, even at full length.
            #expect(IPPrefix.parse("\(original.address)/\(length)") == .success(original))
        }
    }
}

@Suite struct IPPrefixTextTests {
    @Test(arguments: [
        "10.0.0.0/8", "0.0.0.0/0", "255.255.255.255", "198.51.100.7", "198.51.100.0/24", "128.0.0.0/1",
        "2001:db8::/32", "::/0", "::", "::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe80::/10",
        "2001:db8:10::/64", "::ffff:198.51.100.0/120", "2001:db8::1:0:0:1",
    ])
    func canonicalTextRoundTrips(text: String) throws {
        #expect(try parsedPrefix(text).description == text)
    }

    @Test(arguments: [
        ("10.0.0.1/32", "10.0.0.1"),
        ("2001:0db8:0000::/32", "2001:db8::/32"),
        ("2001:DB8::/32", "2001:db8::/32"),
        ("2001:db8:0:0:0:0:0:1", "2001:db8::1"),
        ("2001:db8::1/128", "2001:db8::1"),
        ("0:0:0:0:0:0:0:0/0", "::/0"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
    ])
    func textIsNormalised(text: String, canonical: String) throws {
        #expect(try parsedPrefix(text).description == canonical)
    }

    @Test func prefixBounds() throws {
        let eight = try parsedPrefix("10.0.0.0/8")
        #expect(eight.family == .ipv4 && eight.length == 8)
        #expect(eight.first == (try addressValue("10.0.0.0")))
        #expect(eight.last == (try addressValue("10.255.255.255")))
        #expect(try parsedPrefix("0.0.0.0/0").last == UInt128(UInt32.max))
        #expect(try parsedPrefix("::/0").last == UInt128.max)
        #expect(try parsedPrefix("::/0").first == 0)
        #expect(try parsedPrefix("198.51.100.7").first == (try parsedPrefix("198.51.100.7")).last)
        #expect(eight.contains(try parsedPrefix("10.1.0.0/16")))
        #expect(eight.contains(eight))
        #expect(!(try parsedPrefix("10.1.0.0/16")).contains(eight))
        #expect(!eight.contains(try parsedPrefix("11.0.0.0/16")))
        #expect(!(try parsedPrefix("::/0")).contains(eight), "families never contain each other")
        #expect(!(try parsedPrefix("0.0.0.0/0")).contains(try parsedPrefix("::/128")))
    }

    @Test func addressBytes() throws {
        let v4 = try #require(IPAddress.parse("1.2.3.4"))
        #expect(v4.family == .ipv4 && v4.value == 0x0102_0304)
        #expect(v4.bytes == [1, 2, 3, 4])
        #expect(IPAddress(family: .ipv4, bytes: [1, 2, 3, 4]) == v4)
        let v6 = try #require(IPAddress.parse("2001:db8::ff"))
        #expect(v6.bytes == [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [0xFF])
        #expect(IPAddress(family: .ipv6, bytes: v6.bytes) == v6)
        let mapped = try #require(IPAddress.parse("::ffff:1.2.3.4"))
        #expect(mapped.family == .ipv6 && mapped.description == "::ffff:1.2.3.4")
        #expect(IPAddress.parse("1.2.3.4\u{0}") == nil)
        #expect(IPAddress.parse("") == nil)
    }

    @Test(arguments: [
        ("", IPPrefix.ParseError.invalidAddress("")),
        ("/8", .invalidAddress("/8")),
        ("10.0.0.0/33", .invalidLength("10.0.0.0/33", max: 32)),
        ("::/129", .invalidLength("::/129", max: 128)),
        ("10.0.0.0/08", .invalidLength("10.0.0.0/08", max: 32)),
        ("10.0.0.0/ 8", .invalidLength("10.0.0.0/ 8", max: 32)),
        ("10.0.0.0/1000", .invalidLength("10.0.0.0/1000", max: 32)),
        ("10.0.0.0/٨", .invalidLength("10.0.0.0/٨", max: 32)),
        ("10.0.0.1/8", .hostBitsSet("10.0.0.1/8", network: "10.0.0.0/8")),
        ("255.255.255.255/0", .hostBitsSet("255.255.255.255/0", network: "0.0.0.0/0")),
        ("::1/0", .hostBitsSet("::1/0", network: "::/0")),
        ("2001:db8::1/127", .hostBitsSet("2001:db8::1/127", network: "2001:db8::/127")),
    ])
    func parseErrors(text: String, error: IPPrefix.ParseError) {
        #expect(IPPrefix.parse(text) == .failure(error))
    }
}
