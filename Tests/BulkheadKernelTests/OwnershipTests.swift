import BulkheadCLI
import BulkheadCore
import BulkheadNetlink
import Foundation
import Testing

/// The ownership lock (NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST): while a session that applied with lock on
/// keeps its socket open nobody else may change the table; when it goes the table stays, unowned, and
/// the next apply re-claims it.
@Suite(.enabled(if: KernelTestSupport.available, "needs root, nft and ip"))
struct OwnershipTests {
    static let ownerFlag: UInt32 = 0x2
    static let persistFlag: UInt32 = 0x4

    /// Our table's summary as the kernel lists it.
    func summary(_ namespace: Netns) throws -> TableSummary? {
        try NftablesSession(networkNamespace: namespace.name).dumpTables().first { $0.family == .inet && $0.name == "bulkhead" }
    }

    /// Applies with lock on through a session it keeps open, and checks what others can and cannot do meanwhile.
    func holdLockAndCheck(_ namespace: Netns, table: Table, segments: String, state: String) throws {
        let session = try NftablesSession(networkNamespace: namespace.name)
        let outcome = try Reconciler(backend: session, lock: true).apply(table)
        #expect(outcome.commit != nil)

        let owned = try #require(try summary(namespace))
        #expect(owned.flags & Self.ownerFlag != 0 && owned.flags & Self.persistFlag != 0, "flags 0x\(String(owned.flags, radix: 16))")
        #expect(owned.ownerPortID == session.ownerID, "owner \(String(describing: owned.ownerPortID)), our port \(session.ownerID)")
        let listing = try namespace.listTable()
        #expect(Listing.header(listing).contains("# progname"), "an owned table names its owner: \(Listing.header(listing))")
        #expect(Listing.flagsLine(listing)?.contains("owner") == true, "\(String(describing: Listing.flagsLine(listing)))")

        // nft (another process) may not touch it: EPERM.
        for command in [["add", "rule", "inet", "bulkhead", "input", "tcp", "dport", "4444", "accept"],
                        ["delete", "table", "inet", "bulkhead"],
                        ["add", "element", "inet", "bulkhead", "zone.src.v4", "{ 198.18.200.0/24 : jump from.web }"]] {
            let failure = #expect(throws: CommandFailure.self, "nft \(command.joined(separator: " "))") {
                try namespace.exec(["nft"] + command)
            }
            #expect(failure?.output.contains("Operation not permitted") == true, "\(String(describing: failure))")
        }
        // Neither may another netlink socket of this very process, nor a CLI apply that has something to change...
        let other = try NftablesSession(networkNamespace: namespace.name)
        let error = #expect(throws: NetlinkError.self) {
            _ = try Reconciler(backend: other, lock: true).apply(try compiledTable(segments: segments, failsafe: []))
        }
        #expect(error?.errno == EPERM, "\(String(describing: error))")
        let refused = bulkhead(["apply", "-s", segments, "--failsafe", "none", "--netns", namespace.name, "--state", state])
        #expect(refused.status == 1 && refused.err.contains("Operation not permitted"), "\(refused)")
        // ...while reading is fine: plan and drift work, and see no difference.
        #expect(bulkhead(["plan", "-s", segments, "--netns", namespace.name]).status == 0)
        #expect(try namespace.listTable() == listing, "the refused changes left traces")
        withExtendedLifetime(session) {}
    }

    @Test("a held lock refuses nft; released, the table persists unowned; a one-shot apply re-claims it and leaves it persistent")
    func ownershipLock() throws {
        let namespace = try Netns("lock")
        defer { namespace.destroy() }
        let state = try TempDir("lock")
        defer { state.remove() }
        let segments = ModelFixture.exampleSegments
        let table = try compiledTable(segments: segments)

        try holdLockAndCheck(namespace, table: table, segments: segments, state: state.path)

        // The session is gone: the table stays, persistent and orphaned.
        let orphaned = try #require(try summary(namespace), "the table vanished with its owner")
        #expect(orphaned.flags & Self.ownerFlag == 0 && orphaned.flags & Self.persistFlag != 0, "flags 0x\(String(orphaned.flags, radix: 16))")
        #expect(orphaned.ownerPortID == nil)
        let listing = try namespace.listTable()
        #expect(Listing.header(listing) == "table inet bulkhead {", "\(Listing.header(listing))")
        #expect(Listing.flagsLine(listing) == "\tflags ", "nft 1.0.6 prints an orphaned persistent table with an empty flags line")
        #expect(listing.contains("chain input"))

        // Now anyone may change it...
        try namespace.nft("add", "rule", "inet", "bulkhead", "input", "tcp", "dport", "4444", "accept")
        // ...and a one-shot CLI apply re-claims it in the transaction that heals it.
        let apply = bulkhead(["apply", "-s", segments, "--netns", namespace.name, "--state", state.path])
        #expect(apply.status == 0 && apply.out.contains("in one transaction") && !apply.out.contains("full replace"), "\(apply)")
        let after = try #require(try summary(namespace))
        #expect(after.flags & Self.ownerFlag == 0 && after.flags & Self.persistFlag != 0, "flags 0x\(String(after.flags, radix: 16))")
        #expect(after.ownerPortID == nil)
        #expect(try !namespace.listTable().contains("4444"))
        #expect(bulkhead(["drift", "--netns", namespace.name, "--state", state.path]).status == 0)

        // Switching the lock off replaces the table (the persist bit is fixed at creation), in one transaction;
        // switching it back on does the same.
        let off = ["-s", segments, "--netns", namespace.name, "--lock", "off"]
        let plannedOff = try PlanReport.parse(bulkhead(["plan", "--json"] + off).out)
        #expect(plannedOff.fullReplace && plannedOff.changes.map(\.object) == ["table inet bulkhead"], "\(plannedOff.changes)")
        let unlocked = bulkhead(["apply", "--state", state.path] + off)
        #expect(unlocked.status == 0 && unlocked.out.contains("full replace"), "\(unlocked)")
        #expect(try summary(namespace)?.flags == 0)
        #expect(Listing.flagsLine(try namespace.listTable()) == nil)
        let relocked = bulkhead(["apply", "-s", segments, "--netns", namespace.name, "--state", state.path])
        #expect(relocked.status == 0 && relocked.out.contains("full replace"), "\(relocked)")
        #expect(try summary(namespace)?.flags == Self.persistFlag)
    }
}
