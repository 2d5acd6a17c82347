/// One step of a transaction, in the order the kernel must see it.
public enum RulesetOperation: Sendable, Hashable {
    /// Create the table (or, for an existing one, update its flags and comment).
    case addTable(Table)
    case deleteTable(family: TableFamily, name: String)
    /// Create a chain without rules (rules follow as `addRule`); for an existing base chain, updates its policy.
    case addChain(Chain)
    case flushChain(String)
    case deleteChain(String)
    /// Create a set without elements (they follow as `addElements`).
    case addSet(NamedSet)
    case deleteSet(String)
    /// Add these elements to the existing set (the value names the set and carries only the elements to add).
    case addElements(NamedSet)
    /// Remove these elements from the set.
    case deleteElements(NamedSet)
    case addRule(chain: String, Rule)
}

/// The operations that turn the live table into the desired one, in one transaction.
public struct TransactionPlan: Sendable, Hashable {
    public var operations: [RulesetOperation]
    /// True when the plan deletes and recreates the whole table (still one transaction).
    public var isFullReplace: Bool

    public var isEmpty: Bool { operations.isEmpty }

    /// Plans the smallest transaction: element changes touch only elements; a chain is rebuilt only
    /// when its rules differ; a set whose definition changed (its comment names a moved line, say) is
    /// recreated together with the chains that look it up. What cannot change in place at all (table
    /// flags or comment, a chain's hook, priority or comment) falls back to replacing the table, atomically.
    ///
    /// `ownerFlag` (NFT_TABLE_F_OWNER, or 0) is added to the table's flags in every non-empty plan: creating
    /// the table owned, or re-claiming an orphaned persistent one, before anything else in the transaction.
    public static func make(desired: Table, live: Table?, ownerFlag: UInt32 = 0) -> TransactionPlan {
        var owned = header(desired)
        owned.flags |= ownerFlag
        guard let live else { return TransactionPlan(operations: create(desired, header: owned), isFullReplace: false) }
        if needsReplace(desired: desired, live: live) {
            return TransactionPlan(operations: [.deleteTable(family: desired.family, name: desired.name)] + create(desired, header: owned),
                                   isFullReplace: true)
        }
        var operations: [RulesetOperation] = []
        let liveChains = Dictionary(live.chains.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let desiredChains = Set(desired.chains.map(\.name))
        let liveSets = Dictionary(live.sets.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let desiredSets = Set(desired.sets.map(\.name))
        let recreatedSets = Set(desired.sets.filter { set in liveSets[set.name].map { !$0.hasSameDefinition(as: set) } ?? false }.map(\.name))
        // Chains to flush and refill: rules differ, or a rule looks up a set that is recreated.
        let rebuilt = Set(desired.chains.filter { chain in
            guard let existing = liveChains[chain.name] else { return false }
            return existing.rules != chain.rules || (!recreatedSets.isEmpty && !existing.lookedUpSets.isDisjoint(with: recreatedSets))
        }.map(\.name))
        let obsoleteChains = live.chains.filter { !desiredChains.contains($0.name) }

        // New chains first: rules and map elements may jump to them.
        for chain in desired.chains where liveChains[chain.name] == nil {
            operations.append(.addChain(Chain(name: chain.name, base: chain.base, comment: chain.comment)))
        }
        for set in desired.sets where !recreatedSets.contains(set.name) {
            guard let existing = liveSets[set.name] else {
                operations += createSet(set)
                continue
            }
            // Elements are kept sorted, so an unchanged set is one linear comparison, no hashing.
            if existing.elements == set.elements { continue }
            let delta = ElementDelta(expected: set.elements, live: existing.elements)
            let stale = delta.stale, missing = delta.missing
            if !stale.isEmpty { operations.append(.deleteElements(set.with(elements: stale))) }
            if !missing.isEmpty { operations.append(.addElements(set.with(elements: missing))) }
        }
        for chain in desired.chains {
            if let existing = liveChains[chain.name], existing.base?.policy != chain.base?.policy {
                operations.append(.addChain(Chain(name: chain.name, base: chain.base, comment: chain.comment)))
            }
        }
        // Empty what must be refilled (and what goes away), so recreated sets are no longer looked up.
        for chain in desired.chains where rebuilt.contains(chain.name) { operations.append(.flushChain(chain.name)) }
        for chain in obsoleteChains where !chain.rules.isEmpty { operations.append(.flushChain(chain.name)) }
        for set in desired.sets where recreatedSets.contains(set.name) {
            operations.append(.deleteSet(set.name))
            operations += createSet(set)
        }
        for chain in desired.chains where liveChains[chain.name] == nil || rebuilt.contains(chain.name) {
            operations += chain.rules.map { .addRule(chain: chain.name, $0) }
        }
        // What is no longer wanted goes last, each once nothing refers to it: emptied chains release
        // the sets their rules look up; deleted maps release the chains their elements jump to.
        for set in live.sets where !desiredSets.contains(set.name) { operations.append(.deleteSet(set.name)) }
        for chain in obsoleteChains { operations.append(.deleteChain(chain.name)) }
        if ownerFlag != 0, !operations.isEmpty { operations.insert(.addTable(owned), at: 0) }
        return TransactionPlan(operations: operations, isFullReplace: false)
    }

    /// Operations that create `table` from nothing, starting with `header` (the table's own attributes).
    static func create(_ table: Table, header: Table) -> [RulesetOperation] {
        var operations: [RulesetOperation] = [.addTable(header)]
        operations += table.chains.map { .addChain(Chain(name: $0.name, base: $0.base, comment: $0.comment)) }
        operations += table.sets.flatMap(createSet)
        for chain in table.chains { operations += chain.rules.map { .addRule(chain: chain.name, $0) } }
        return operations
    }

    static func createSet(_ set: NamedSet) -> [RulesetOperation] {
        [.addSet(set.with(elements: []))] + (set.elements.isEmpty ? [] : [.addElements(set)])
    }

    static func header(_ table: Table) -> Table {
        Table(family: table.family, name: table.name, flags: table.flags, comment: table.comment)
    }

    /// Differences the kernel cannot apply in place and that no smaller change can mend: table flags
    /// (persist is fixed at creation) and comments (the kernel ignores updates to them), a chain's
    /// hook, type, priority or comment.
    static func needsReplace(desired: Table, live: Table) -> Bool {
        if desired.flags != live.flags || desired.comment != live.comment { return true }
        let liveChains = Dictionary(live.chains.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for chain in desired.chains {
            guard let existing = liveChains[chain.name] else { continue }
            if existing.comment != chain.comment || (existing.base == nil) != (chain.base == nil)
                || existing.base?.hook != chain.base?.hook || existing.base?.priority != chain.base?.priority
                || existing.base?.type != chain.base?.type {
                return true
            }
        }
        return false
    }
}

extension NamedSet {
    /// The same set definition holding `elements`.
    public func with(elements: [SetElement]) -> NamedSet {
        var copy = self
        copy.elements = elements.sorted()
        return copy
    }
}

extension Chain {
    /// Names of the sets and maps this chain's rules look up.
    var lookedUpSets: Set<String> {
        Set(rules.flatMap { rule in
            rule.expressions.compactMap { expression -> String? in
                if case .lookup(let set, _, _, _) = expression { return set }
                return nil
            }
        })
    }
}
