import BulkheadCore
#if canImport(Glibc)
import Glibc
#endif

/// An in-memory nf_tables for pure tests: applies transactions all-or-nothing with the kernel's
/// ordering rules (references must exist when a message arrives; referenced objects cannot be
/// deleted; intervals cannot overlap; persist cannot be toggled), and honours the generation.
public final class FakeKernel: RulesetBackend, @unchecked Sendable {
    public var table: Table?
    public private(set) var currentGeneration: UInt32 = 1
    public private(set) var commits: [[RulesetOperation]] = []
    /// Runs before the next commit is checked (to simulate someone else committing in between).
    public var beforeNextCommit: ((FakeKernel) -> Void)?

    public init(table: Table? = nil) { self.table = table }

    public let ownerID: UInt32 = 1

    public func generation() throws -> UInt32 { currentGeneration }

    /// How many times the table was read (dumped).
    public private(set) var reads = 0

    public func read(attempts: Int) throws -> LiveState {
        reads += 1
        return try snapshot()
    }

    private func snapshot() throws -> LiveState {
        LiveState(table: table, generation: currentGeneration,
                  summary: table.map { TableSummary(family: $0.family, name: $0.name, flags: $0.flags, ownerPortID: nil, comment: $0.comment) },
                  otherTables: [])
    }

    /// Changes the table outside any transaction, as another process would, moving the generation.
    public func tamper(_ change: (inout Table) -> Void) {
        guard var current = table else { return }
        change(&current)
        table = current
        currentGeneration += 1
    }

    public func commit(_ operations: [RulesetOperation], generation expected: UInt32?) throws -> CommitResult {
        if let hook = beforeNextCommit {
            beforeNextCommit = nil
            hook(self)
        }
        if let expected, expected != currentGeneration { throw NetlinkError("transaction", errno: 85) }
        var working = table
        for operation in operations { try apply(operation, to: &working) }
        table = working
        currentGeneration += 1
        commits.append(operations)
        return CommitResult(messages: operations.count + 2, bytes: 0, generation: currentGeneration)
    }

    private func fail(_ what: String, _ code: Int32) -> NetlinkError { NetlinkError(what, errno: code) }

    private func apply(_ operation: RulesetOperation, to working: inout Table?) throws {
        if case .addTable(let header) = operation {
            if var current = working {
                if current.flags & 0x4 != header.flags & 0x4 { throw fail("table: persist cannot change", EOPNOTSUPP) }
                current.flags = header.flags & ~0x2
                working = current
            } else {
                working = Table(family: header.family, name: header.name, flags: header.flags & ~0x2, comment: header.comment)
            }
            return
        }
        if case .deleteTable = operation {
            guard working != nil else { throw fail("delete table", ENOENT) }
            working = nil
            return
        }
        guard var current = working else { throw fail("\(operation): no table", ENOENT) }
        defer { working = current }
        switch operation {
        case .addTable, .deleteTable:
            break
        case .addChain(let chain):
            if let index = current.chains.firstIndex(where: { $0.name == chain.name }) {
                guard current.chains[index].base?.hook == chain.base?.hook else { throw fail("chain \(chain.name)", EEXIST) }
                current.chains[index].base = chain.base
            } else {
                current.chains.append(Chain(name: chain.name, base: chain.base, comment: chain.comment))
            }
        case .flushChain(let name):
            guard let index = current.chains.firstIndex(where: { $0.name == name }) else { throw fail("flush \(name)", ENOENT) }
            current.chains[index].rules = []
        case .deleteChain(let name):
            guard let index = current.chains.firstIndex(where: { $0.name == name }) else { throw fail("delete \(name)", ENOENT) }
            guard current.chains[index].rules.isEmpty, !references(current, chain: name) else { throw fail("delete \(name)", EBUSY) }
            current.chains.remove(at: index)
        case .addSet(let set):
            if current.set(named: set.name) == nil { current.sets.append(set.with(elements: [])) }
        case .deleteSet(let name):
            guard let index = current.sets.firstIndex(where: { $0.name == name }) else { throw fail("delete set \(name)", ENOENT) }
            let used = current.chains.contains { $0.rules.contains { $0.expressions.contains { expression in
                if case .lookup(let set, _, _, _) = expression { return set == name }
                return false
            } } }
            guard !used else { throw fail("delete set \(name)", EBUSY) }
            current.sets.remove(at: index)
        case .addElements(let batch):
            guard let index = current.sets.firstIndex(where: { $0.name == batch.name }) else { throw fail("elements of \(batch.name)", ENOENT) }
            var elements = current.sets[index].elements
            for element in batch.elements {
                if let target = element.verdict?.target, current.chain(named: target) == nil { throw fail("element -> \(target)", ENOENT) }
                if elements.contains(element) { continue }
                let end = element.keyEnd ?? element.key
                if elements.contains(where: { other in
                    !(end.lexicographicallyPrecedes(other.key) || (other.keyEnd ?? other.key).lexicographicallyPrecedes(element.key))
                }) { throw fail("element of \(batch.name) overlaps", EEXIST) }
                elements.append(element)
            }
            current.sets[index] = current.sets[index].with(elements: elements)
        case .deleteElements(let batch):
            guard let index = current.sets.firstIndex(where: { $0.name == batch.name }) else { throw fail("elements of \(batch.name)", ENOENT) }
            var elements = current.sets[index].elements
            for element in batch.elements {
                guard let position = elements.firstIndex(where: { $0.rangeKey == element.rangeKey }) else {
                    throw fail("delete element of \(batch.name)", ENOENT)
                }
                elements.remove(at: position)
            }
            current.sets[index] = current.sets[index].with(elements: elements)
        case .addRule(let chain, let rule):
            guard let index = current.chains.firstIndex(where: { $0.name == chain }) else { throw fail("rule in \(chain)", ENOENT) }
            for expression in rule.expressions {
                if case .lookup(let set, _, _, _) = expression, current.set(named: set) == nil { throw fail("rule uses \(set)", ENOENT) }
                if case .immediateVerdict(let verdict) = expression, let target = verdict.target, current.chain(named: target) == nil {
                    throw fail("rule jumps to \(target)", ENOENT)
                }
            }
            current.chains[index].rules.append(rule)
        }
    }

    private func references(_ table: Table, chain name: String) -> Bool {
        table.sets.contains { $0.elements.contains { $0.verdict?.target == name } }
            || table.chains.contains { $0.rules.contains { $0.expressions.contains { $0 == .immediateVerdict(.jump(name)) || $0 == .immediateVerdict(.goto(name)) } } }
    }
}
