#if canImport(Glibc)
import Glibc
#endif

/// A failure talking to the kernel, naming what failed and why.
public struct NetlinkError: Error, Sendable, CustomStringConvertible {
    /// What was being done or which object the kernel rejected.
    public var context: String
    public var errno: Int32

    public init(_ context: String, errno: Int32) {
        self.context = context
        self.errno = errno
    }

    public var description: String {
        var text = "\(context): \(String(cString: strerror(errno)))"
        if errno == EPERM || errno == EACCES {
            text += " (changing nftables needs CAP_NET_ADMIN: run as root or grant the capability"
                + "; a table locked by its owner also refuses other processes)"
        }
        return text
    }
}

/// A table as the kernel lists it, before its contents are read.
public struct TableSummary: Sendable, Hashable {
    public var family: TableFamily
    public var name: String
    /// NFT_TABLE_F_* with the owner bit; `ownerPortID` says who owns it while it is owned.
    public var flags: UInt32
    public var ownerPortID: UInt32?
    public var comment: String?

    public init(family: TableFamily, name: String, flags: UInt32, ownerPortID: UInt32?, comment: String?) {
        self.family = family
        self.name = name
        self.flags = flags
        self.ownerPortID = ownerPortID
        self.comment = comment
    }
}

/// One consistent reading of the kernel's state for our table.
public struct LiveState: Sendable {
    /// Our table, decoded into the same values the compiler produces; nil when it does not exist.
    public var table: Table?
    /// The ruleset generation the reading belongs to (unchanged from start to end of the dump).
    public var generation: UInt32
    /// Our table's summary (flags with the owner bit, owner port id).
    public var summary: TableSummary?
    /// Every other table in the namespace (not ours to manage, but worth knowing about).
    public var otherTables: [TableSummary]

    public init(table: Table?, generation: UInt32, summary: TableSummary?, otherTables: [TableSummary]) {
        self.table = table
        self.generation = generation
        self.summary = summary
        self.otherTables = otherTables
    }
}

/// What a committed transaction did.
public struct CommitResult: Sendable {
    public var messages: Int
    public var bytes: Int
    /// The generation the commit produced.
    public var generation: UInt32

    public init(messages: Int, bytes: Int, generation: UInt32) {
        self.messages = messages
        self.bytes = bytes
        self.generation = generation
    }
}

/// Where rulesets live: the kernel through netlink, or an in-memory fake in tests.
public protocol RulesetBackend: AnyObject {
    /// How the kernel names this backend as a table owner (the netlink port id).
    var ownerID: UInt32 { get }
    /// The current ruleset generation.
    func generation() throws -> UInt32
    /// One consistent reading of our table and the other tables.
    func read(attempts: Int) throws -> LiveState
    /// Commits `operations` as one transaction, refused with ERESTART if the generation moved.
    func commit(_ operations: [RulesetOperation], generation: UInt32?) throws -> CommitResult
}
