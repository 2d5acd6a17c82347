import BulkheadCore
import CNftnl
#if canImport(Glibc)
import Glibc
#endif

/// A change notification from nf_tables (multicast group NFNLGRP_NFTABLES).
public enum NftablesEvent: Sendable, Hashable {
    /// An object of a table was created, changed or deleted (the table named by the message).
    case objectChanged(family: UInt8, table: String, messageType: UInt16)
    /// A transaction was committed: its generation and the process that committed it.
    case newGeneration(id: UInt32, pid: UInt32, processName: String)
    /// The kernel dropped notifications (ENOBUFS): only a full check can tell what happened.
    case overrun
}

/// A netlink socket subscribed to nf_tables change events in one network namespace.
public final class NftablesEventSocket: @unchecked Sendable {
    private let socket: NetlinkSocket

    /// Subscribes in `/run/netns/NAME`, or the current namespace.
    public init(networkNamespace: String? = nil) throws {
        socket = try withNetworkNamespace(networkNamespace) { try NetlinkSocket() }
        try socket.join(group: K.NFNLGRP_NFTABLES)
        _ = fcntl(socket.fd, F_SETFL, fcntl(socket.fd, F_GETFL) | O_NONBLOCK)
    }

    /// The descriptor to watch for readability.
    public var fileDescriptor: Int32 { socket.fd }

    /// Every event queued now, without blocking.
    public func drain() -> [NftablesEvent] {
        var events: [NftablesEvent] = []
        while true {
            let datagram: ArraySlice<UInt8>?
            do {
                datagram = try socket.receive(blocking: false)
            } catch let error as NetlinkError where error.errno == ENOBUFS {
                events.append(.overrun)
                continue
            } catch {
                events.append(.overrun)
                return events
            }
            guard let datagram else { return events }
            for (header, message) in MessageHeader.split(datagram) {
                if let event = Self.parse(header, message) { events.append(event) }
            }
        }
    }

    /// Decodes one notification. Every nf_tables object message names its table in attribute 1
    /// (NFTA_TABLE_NAME, NFTA_CHAIN_TABLE, NFTA_RULE_TABLE, NFTA_SET_TABLE, NFTA_SET_ELEM_LIST_TABLE).
    static func parse(_ header: MessageHeader, _ message: ArraySlice<UInt8>) -> NftablesEvent? {
        guard header.type >> 8 == UInt16(K.NFNL_SUBSYS_NFTABLES) else { return nil }
        let type = header.type & 0xff
        let start = message.startIndex + MessageHeader.size
        guard message.endIndex >= start + 4 else { return nil }
        let family = message[start]
        let attributes = NetlinkAttributes(message, from: start + 4)
        func bigEndian(_ kind: UInt16) -> UInt32? {
            guard let bytes = attributes[kind], bytes.count == 4 else { return nil }
            return bytes.reduce(0) { $0 << 8 | UInt32($1) }
        }
        if type == K.NFT_MSG_NEWGEN & 0xff {
            // NFTA_GEN_ID = 1, NFTA_GEN_PROC_PID = 2, NFTA_GEN_PROC_NAME = 3
            return .newGeneration(id: bigEndian(1) ?? 0, pid: bigEndian(2) ?? 0, processName: attributes.string(3) ?? "?")
        }
        guard let table = attributes.string(1) else { return nil }
        return .objectChanged(family: family, table: table, messageType: type)
    }
}
