#if canImport(Glibc)
import Glibc
#endif

/// What `apply` did.
public struct ApplyOutcome: Sendable {
    /// The plan that was committed (empty when the table already matched).
    public var plan: TransactionPlan
    /// Objects that differed before the apply, object by object.
    public var changes: [RulesetChange]
    public var commit: CommitResult?
    /// Commits refused because the ruleset moved underneath (ERESTART) before one went through.
    public var retries: Int
    /// The table as it stands after the apply, for the state record.
    public var applied: Table
}

/// Makes the live table equal a desired one: read, diff, plan, commit with the generation read,
/// and on ERESTART (someone committed in between) read and plan again, a bounded number of times.
public struct Reconciler {
    public let backend: RulesetBackend
    public let lock: Bool

    /// Linux's ERESTART, the kernel's answer to a batch whose generation is stale.
    public static let ERESTART: Int32 = 85
    public static let maximumAttempts = 5

    public init(backend: RulesetBackend, lock: Bool) {
        self.backend = backend
        self.lock = lock
    }

    /// NFT_TABLE_F_PERSIST and NFT_TABLE_F_OWNER.
    public static let persistFlag: UInt32 = 0x4
    public static let ownerFlag: UInt32 = 0x2

    /// The desired table with the flags the lock setting asks for.
    public func desired(_ table: Table) -> Table {
        var table = table
        table.flags = lock ? Self.persistFlag : 0
        return table
    }

    /// What `apply` would do now. With `known` (a table this process applied and the generation its
    /// commit produced), an unchanged generation proves the kernel still holds exactly that table, and
    /// the dump (seconds for a large table) is skipped.
    public func plan(_ table: Table, known: (table: Table, generation: UInt32)? = nil) throws
        -> (live: LiveState, plan: TransactionPlan, changes: [RulesetChange]) {
        let desired = desired(table)
        let live: LiveState
        if let known, try backend.generation() == known.generation {
            live = LiveState(table: known.table, generation: known.generation, summary: nil, otherTables: [])
        } else {
            live = try backend.read(attempts: 10)
        }
        let plan = TransactionPlan.make(desired: desired, live: live.table, ownerFlag: lock ? Self.ownerFlag : 0)
        return (live, plan, Self.changes(desired: desired, live: live.table, plan: plan))
    }

    /// The object-by-object report of what `plan` changes. An incremental plan names the chains and sets
    /// it touches, so only those are compared: on a large table that is most of the planning time saved.
    static func changes(desired: Table, live: Table?, plan: TransactionPlan) -> [RulesetChange] {
        guard let live, !plan.isFullReplace, !plan.isEmpty else { return plan.isEmpty ? [] : RulesetDiff.changes(expected: desired, live: live) }
        var chains: Set<String> = [], sets: Set<String> = []
        for operation in plan.operations {
            switch operation {
            case .addChain(let chain): chains.insert(chain.name)
            case .flushChain(let name), .deleteChain(let name), .addRule(let name, _): chains.insert(name)
            case .addSet(let set), .addElements(let set), .deleteElements(let set): sets.insert(set.name)
            case .deleteSet(let name): sets.insert(name)
            case .addTable, .deleteTable: break
            }
        }
        func touched(_ table: Table) -> Table {
            var copy = table
            copy.chains = table.chains.filter { chains.contains($0.name) }
            copy.sets = table.sets.filter { sets.contains($0.name) }
            return copy
        }
        return RulesetDiff.changes(expected: touched(desired), live: touched(live))
    }

    /// Applies `table` in one transaction per attempt. With `keepOwnership` (the daemon), a locked table
    /// that this backend does not own yet is claimed even when nothing else differs.
    ///
    /// `known` is passed on to `plan`; when it stands in for the live table, ownership is as the last commit left it.
    public func apply(_ table: Table, keepOwnership: Bool = false, known: (table: Table, generation: UInt32)? = nil) throws -> ApplyOutcome {
        var retries = 0
        var known = known
        while true {
            var (live, plan, changes) = try self.plan(table, known: known)
            // After a refused commit the assumption is stale: read for real from now on.
            known = nil
            if plan.isEmpty, keepOwnership, lock, let summary = live.summary, live.table != nil, summary.ownerPortID != backend.ownerID {
                let header = Table(family: table.family, name: table.name, flags: Self.persistFlag | Self.ownerFlag, comment: table.comment)
                plan = TransactionPlan(operations: [.addTable(header)], isFullReplace: false)
                changes = []
            }
            if plan.isEmpty {
                return ApplyOutcome(plan: plan, changes: [], commit: nil, retries: retries, applied: desired(table))
            }
            do {
                let commit = try backend.commit(plan.operations, generation: live.generation)
                return ApplyOutcome(plan: plan, changes: changes, commit: commit, retries: retries, applied: desired(table))
            } catch let error as NetlinkError where error.errno == Self.ERESTART && retries + 1 < Self.maximumAttempts {
                retries += 1
            }
        }
    }
}
