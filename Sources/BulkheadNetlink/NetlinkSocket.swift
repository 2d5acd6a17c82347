import BulkheadCore
import CNftnl
#if canImport(Glibc)
import Glibc
#endif

/// Runs `body` with the calling thread inside the network namespace `/run/netns/NAME`, then
/// returns to the original one. Sockets opened inside stay bound to that namespace.
public func withNetworkNamespace<T>(_ name: String?, _ body: () throws -> T) throws -> T {
    guard let name else { return try body() }
    guard !name.contains("/"), !name.isEmpty else { throw NetlinkError("invalid network namespace name '\(name)'", errno: EINVAL) }
    let original = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
    guard original >= 0 else { throw NetlinkError("cannot open the current network namespace", errno: errno) }
    defer { close(original) }
    let target = open("/run/netns/\(name)", O_RDONLY | O_CLOEXEC)
    guard target >= 0 else { throw NetlinkError("cannot open network namespace /run/netns/\(name)", errno: errno) }
    defer { close(target) }
    guard CNftnl.setns(target, BULKHEAD_CLONE_NEWNET) == 0 else { throw NetlinkError("cannot enter network namespace \(name)", errno: errno) }
    defer { _ = CNftnl.setns(original, BULKHEAD_CLONE_NEWNET) }
    return try body()
}

/// One netfilter netlink socket (libmnl). Owns the socket and closes it on deinit.
final class NetlinkSocket {
    private let socket: OpaquePointer
    let portID: UInt32
    private var nextSequence: UInt32
    /// Receive buffer: large enough for any message the kernel sends in a dump.
    private var receiveBuffer = [UInt8](repeating: 0, count: 1 << 20)

    init() throws {
        guard let socket = mnl_socket_open2(K.NETLINK_NETFILTER, Int32(SOCK_CLOEXEC.rawValue)) else {
            throw NetlinkError("cannot open a netfilter netlink socket", errno: errno)
        }
        guard mnl_socket_bind(socket, 0, pid_t(MNL_SOCKET_AUTOPID)) == 0 else {
            let error = errno
            mnl_socket_close(socket)
            throw NetlinkError("cannot bind the netlink socket", errno: error)
        }
        self.socket = socket
        portID = mnl_socket_get_portid(socket)
        nextSequence = UInt32(truncatingIfNeeded: time(nil))
        // Dumps of large sets and the ACK stream of a large batch need room.
        var size: Int32 = 8 << 20
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size))
        var one: Int32 = 1
        // Extended ACKs carry the kernel's own error text and offending attribute.
        _ = setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { mnl_socket_close(socket) }

    var fd: Int32 { mnl_socket_get_fd(socket) }

    /// A fresh sequence number.
    func sequence() -> UInt32 {
        nextSequence &+= 1
        return nextSequence
    }

    /// Marks sequence numbers up to `last` as used (by a batch encoded elsewhere).
    func reserveSequences(through last: UInt32) {
        nextSequence = last
    }

    /// Subscribes to a multicast group (NFNLGRP_NFTABLES for change events).
    func join(group: UInt32) throws {
        var value = Int32(group)
        guard mnl_socket_setsockopt(socket, Int32(NETLINK_ADD_MEMBERSHIP), &value, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw NetlinkError("cannot join netlink group \(group)", errno: errno)
        }
    }

    /// Sends bytes as one datagram (one batch is one sendmsg, so the kernel sees all of it or none).
    func send(_ bytes: [UInt8], what: String) throws {
        var size = Int32(min(Int(Int32.max), bytes.count + 65536))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size))
        let sent = bytes.withUnsafeBytes { mnl_socket_sendto(socket, $0.baseAddress, $0.count) }
        guard sent == bytes.count else { throw NetlinkError("cannot send \(what)", errno: sent < 0 ? errno : EMSGSIZE) }
    }

    /// Receives one datagram (possibly several messages); nil when `blocking` is false and nothing is queued.
    func receive(blocking: Bool = true) throws -> ArraySlice<UInt8>? {
        while true {
            let count = receiveBuffer.withUnsafeMutableBytes { buffer in
                recv(fd, buffer.baseAddress, buffer.count, blocking ? 0 : Int32(MSG_DONTWAIT))
            }
            if count < 0 {
                if errno == EINTR { continue }
                if !blocking && (errno == EAGAIN || errno == EWOULDBLOCK) { return nil }
                throw NetlinkError("cannot receive from netlink", errno: errno)
            }
            return receiveBuffer[0..<count]
        }
    }
}

/// A netlink message header's fields, read from raw bytes.
struct MessageHeader {
    var length: Int
    var type: UInt16
    var flags: UInt16
    var sequence: UInt32

    static let size = 16

    /// Splits a datagram into its messages.
    static func split(_ datagram: ArraySlice<UInt8>) -> [(header: MessageHeader, payload: ArraySlice<UInt8>)] {
        var messages: [(MessageHeader, ArraySlice<UInt8>)] = []
        var offset = datagram.startIndex
        while offset + size <= datagram.endIndex {
            let length = Int(datagram.u32(at: offset))
            guard length >= size, offset + length <= datagram.endIndex else { break }
            let header = MessageHeader(length: length, type: datagram.u16(at: offset + 4), flags: datagram.u16(at: offset + 6),
                                       sequence: datagram.u32(at: offset + 8))
            messages.append((header, datagram[offset..<(offset + length)]))
            offset += (length + 3) & ~3
        }
        return messages
    }
}

/// The attributes of a netlink payload by type (the first of each), parsed by libmnl.
struct NetlinkAttributes {
    private(set) var values: [UInt16: ArraySlice<UInt8>] = [:]

    /// Parses the attributes in `message[offset...]`; a malformed tail ends the list.
    init(_ message: ArraySlice<UInt8>, from offset: Int) {
        guard offset < message.endIndex else { return }
        final class Collector {
            var ranges: [(type: UInt16, start: Int, length: Int)] = []
            let base: UnsafeRawPointer
            init(base: UnsafeRawPointer) { self.base = base }
        }
        let ranges: [(type: UInt16, start: Int, length: Int)] = message[offset...].withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return [] }
            let collector = Collector(base: base)
            _ = mnl_attr_parse_payload(base, raw.count, { attribute, context in
                guard let attribute, let context, let payload = mnl_attr_get_payload(attribute) else { return MNL_CB_OK }
                let collector = Unmanaged<Collector>.fromOpaque(context).takeUnretainedValue()
                collector.ranges.append((mnl_attr_get_type(attribute), collector.base.distance(to: UnsafeRawPointer(payload)),
                                         Int(mnl_attr_get_payload_len(attribute))))
                return MNL_CB_OK
            }, Unmanaged.passUnretained(collector).toOpaque())
            return collector.ranges
        }
        for range in ranges where values[range.type] == nil {
            values[range.type] = message[(offset + range.start)..<(offset + range.start + range.length)]
        }
    }

    subscript(type: UInt16) -> ArraySlice<UInt8>? { values[type] }

    /// A NUL-terminated string attribute.
    func string(_ type: UInt16) -> String? {
        values[type].map { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}

extension ArraySlice where Element == UInt8 {
    /// A host-order 32-bit value at an absolute index.
    func u32(at index: Int) -> UInt32 {
        withUnsafeBytes { $0.loadUnaligned(fromByteOffset: index - startIndex, as: UInt32.self) }
    }

    /// A host-order 16-bit value at an absolute index.
    func u16(at index: Int) -> UInt16 {
        withUnsafeBytes { $0.loadUnaligned(fromByteOffset: index - startIndex, as: UInt16.self) }
    }
}
