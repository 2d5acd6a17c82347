/// One difference between the expected table and the live one, for people: what object, what
/// happened to it, and both forms in nft syntax.
public struct RulesetChange: Sendable, Hashable, Codable {
    /// Added: live has it, expected not. Removed: expected has it, live not. Changed: both, different.
    public enum Kind: String, Sendable, Hashable, Codable {
        case added, removed, changed
    }

    /// The object, e.g. `chain inet bulkhead input`, `rule inet bulkhead input handle 7`, `element zone.src.v4 198.18.0.0/24`.
    public var object: String
    public var change: Kind
    public var expected: String?
    public var live: String?

    public init(object: String, change: Kind, expected: String? = nil, live: String? = nil) {
        self.object = object
        self.change = change
        self.expected = expected
        self.live = live
    }
}

/// Compares tables object by object. Counter values and rule handles are state, not configuration:
/// they never make two tables differ.
public enum RulesetDiff {
    /// Every difference between `expected` and `live`; nil stands for a missing table.
    public static func changes(expected: Table?, live: Table?) -> [RulesetChange] {
        switch (expected, live) {
        case (nil, nil):
            return []
        case (let expected?, nil):
            return [RulesetChange(object: tableName(expected), change: .removed, expected: "table with \(expected.chains.count) chains and \(expected.sets.count) sets")]
        case (nil, let live?):
            return [RulesetChange(object: tableName(live), change: .added, live: "table with \(live.chains.count) chains and \(live.sets.count) sets")]
        case (let expected?, let live?):
            return tableChanges(expected, live)
        }
    }

    static func tableName(_ table: Table) -> String { "table \(table.family.rawValue) \(table.name)" }

    private static func tableChanges(_ expected: Table, _ live: Table) -> [RulesetChange] {
        var changes: [RulesetChange] = []
        let prefix = "\(expected.family.rawValue) \(expected.name)"
        if expected.comment != live.comment || expected.flags != live.flags {
            changes.append(RulesetChange(object: tableName(expected), change: .changed,
                                         expected: tableHeader(expected), live: tableHeader(live)))
        }
        let liveSets = Dictionary(live.sets.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let expectedSets = Dictionary(expected.sets.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for set in expected.sets {
            guard let other = liveSets[set.name] else {
                changes.append(RulesetChange(object: "\(set.kindName) \(prefix) \(set.name)", change: .removed,
                                             expected: TableText.describe(set).joined(separator: "\n")))
                continue
            }
            changes += setChanges(set, other, prefix: prefix)
        }
        for set in live.sets where expectedSets[set.name] == nil {
            changes.append(RulesetChange(object: "\(set.kindName) \(prefix) \(set.name)", change: .added,
                                         live: TableText.describe(set).joined(separator: "\n")))
        }

        let liveChains = Dictionary(live.chains.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let expectedChains = Dictionary(expected.chains.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for chain in expected.chains {
            guard let other = liveChains[chain.name] else {
                changes.append(RulesetChange(object: "chain \(prefix) \(chain.name)", change: .removed,
                                             expected: TableText.describe(chain).joined(separator: "\n")))
                continue
            }
            if chain.base != other.base || chain.comment != other.comment {
                changes.append(RulesetChange(object: "chain \(prefix) \(chain.name)", change: .changed,
                                             expected: chainHeader(chain), live: chainHeader(other)))
            }
            changes += ruleChanges(chain.rules, other.rules, chain: "\(prefix) \(chain.name)")
        }
        for chain in live.chains where expectedChains[chain.name] == nil {
            changes.append(RulesetChange(object: "chain \(prefix) \(chain.name)", change: .added,
                                         live: TableText.describe(chain).joined(separator: "\n")))
        }
        return changes
    }

    private static func setChanges(_ expected: NamedSet, _ live: NamedSet, prefix: String) -> [RulesetChange] {
        var changes: [RulesetChange] = []
        let object = "\(expected.kindName) \(prefix) \(expected.name)"
        if !expected.hasSameDefinition(as: live) {
            changes.append(RulesetChange(object: object, change: .changed,
                                         expected: setHeader(expected), live: setHeader(live)))
        }
        // Elements are kept sorted, so an unchanged set is one linear comparison, no hashing.
        if expected.elements == live.elements { return changes }
        let delta = ElementDelta(expected: expected.elements, live: live.elements)
        for (element, other) in delta.differingExpected {
            let text = TableText.element(expected.keyType, element)
            if let other {
                changes.append(RulesetChange(object: "element \(prefix) \(expected.name) \(text)", change: .changed,
                                             expected: text, live: TableText.element(live.keyType, other)))
            } else {
                changes.append(RulesetChange(object: "element \(prefix) \(expected.name) \(text)", change: .removed, expected: text))
            }
        }
        for element in delta.onlyLive {
            let text = TableText.element(live.keyType, element)
            changes.append(RulesetChange(object: "element \(prefix) \(expected.name) \(text)", change: .added, live: text))
        }
        return changes
    }

    /// Rule differences by longest common subsequence, so that one inserted or deleted rule is
    /// reported as exactly that, with its handle and position.
    static func ruleChanges(_ expected: [Rule], _ live: [Rule], chain: String) -> [RulesetChange] {
        guard expected != live else { return [] }
        let n = expected.count, m = live.count
        var table = [[Int]](repeating: [Int](repeating: 0, count: m + 1), count: n + 1)
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                table[i][j] = expected[i] == live[j] ? table[i + 1][j + 1] + 1 : max(table[i + 1][j], table[i][j + 1])
            }
        }
        var removed: [(Int, Rule)] = [], added: [(Int, Rule)] = []
        var i = 0, j = 0
        while i < n || j < m {
            if i < n, j < m, expected[i] == live[j] {
                i += 1
                j += 1
            } else if j < m, i == n || table[i][j + 1] >= table[i + 1][j] {
                added.append((j, live[j]))
                j += 1
            } else {
                removed.append((i, expected[i]))
                i += 1
            }
        }
        var changes: [RulesetChange] = []
        // A rule removed and one added at the same position read best as one replaced rule.
        var addedByPosition = Dictionary(added.map { ($0.0, $0.1) }, uniquingKeysWith: { first, _ in first })
        for (position, rule) in removed {
            if let replacement = addedByPosition.removeValue(forKey: position) {
                changes.append(RulesetChange(object: "rule \(chain) \(ruleIdentity(replacement, position))", change: .changed,
                                             expected: RuleText.describe(rule), live: RuleText.describe(replacement)))
            } else {
                changes.append(RulesetChange(object: "rule \(chain) position \(position + 1)", change: .removed,
                                             expected: RuleText.describe(rule)))
            }
        }
        for (position, rule) in added where addedByPosition[position] != nil {
            changes.append(RulesetChange(object: "rule \(chain) \(ruleIdentity(rule, position))", change: .added,
                                         live: RuleText.describe(rule)))
        }
        return changes
    }

    private static func ruleIdentity(_ rule: Rule, _ position: Int) -> String {
        if let handle = rule.handle { return "handle \(handle) (position \(position + 1))" }
        return "position \(position + 1)"
    }

    static func tableHeader(_ table: Table) -> String {
        var parts = ["table \(table.family.rawValue) \(table.name)"]
        if table.flags != 0 { parts.append("flags 0x\(String(table.flags, radix: 16))") }
        if let comment = table.comment { parts.append("comment \"\(comment)\"") }
        return parts.joined(separator: " ")
    }

    static func chainHeader(_ chain: Chain) -> String {
        oneLine(TableText.describe(Chain(name: chain.name, base: chain.base, comment: chain.comment, rules: [])))
    }

    static func setHeader(_ set: NamedSet) -> String {
        oneLine(TableText.describe(set.with(elements: [])))
    }

    /// An nft block folded onto one line: `chain input { type filter hook input priority filter; policy drop; }`.
    static func oneLine(_ lines: [String]) -> String {
        lines.map { String($0.trimmingSpaces) }.filter { !$0.isEmpty }.joined(separator: " ")
    }
}

extension NamedSet {
    /// `set` or `map`, as nft names the object.
    public var kindName: String { isVerdictMap ? "map" : "set" }

    /// Same name, key type, flags and comment: elements aside, the two are interchangeable.
    public func hasSameDefinition(as other: NamedSet) -> Bool {
        name == other.name && keyType == other.keyType && isInterval == other.isInterval
            && isVerdictMap == other.isVerdictMap && comment == other.comment
    }
}

/// How the elements of two versions of a set differ, matched by key range: what the plan must
/// remove and add, and what the report lists.
struct ElementDelta {
    /// Expected elements that live lacks (paired with nil) or holds differently (paired with the live one), in order.
    private(set) var differingExpected: [(element: SetElement, live: SetElement?)] = []
    /// Live elements whose key range expected does not have, in order.
    private(set) var onlyLive: [SetElement] = []

    init(expected: [SetElement], live: [SetElement]) {
        let liveByKey = Dictionary(live.map { ($0.rangeKey, $0) }, uniquingKeysWith: { first, _ in first })
        let expectedKeys = Set(expected.map(\.rangeKey))
        for element in expected {
            let other = liveByKey[element.rangeKey]
            if other != element { differingExpected.append((element, other)) }
        }
        onlyLive = live.filter { !expectedKeys.contains($0.rangeKey) }
    }

    /// Live elements to remove: those expected does not have, and those it holds differently.
    var stale: [SetElement] { differingExpected.compactMap(\.live) + onlyLive }
    /// Expected elements to add.
    var missing: [SetElement] { differingExpected.map(\.element) }
}

extension SetElement {
    /// The key range alone, which identifies an element within its set.
    public var rangeKey: [UInt8] { key + [0xff] + (keyEnd ?? key) }
}
