import BulkheadCore
import CNftnl
#if canImport(Glibc)
import Glibc
#endif

/// The nf_tables operations Bulkhead needs, over one netlink socket: read the generation, dump and
/// decode a table, and commit a transaction atomically. Nothing else in the project talks to the kernel.
public final class NftablesSession: RulesetBackend, @unchecked Sendable {
    let socket: NetlinkSocket
    /// Protocol family constant of the managed table.
    private let family: TableFamily
    private let tableName: String

    /// Opens a socket in the named network namespace (`/run/netns/NAME`), or the current one.
    public init(networkNamespace: String? = nil, family: TableFamily = ObjectNames.tableFamily, table: String = ObjectNames.table) throws {
        socket = try withNetworkNamespace(networkNamespace) { try NetlinkSocket() }
        self.family = family
        tableName = table
    }

    /// Our netlink port id: what NFTA_TABLE_OWNER shows for a table this session owns.
    public var ownerID: UInt32 { socket.portID }

    /// The current ruleset generation (NFT_MSG_GETGEN).
    public func generation() throws -> UInt32 {
        var result: UInt32?
        try request(type: K.NFT_MSG_GETGEN, family: K.NFPROTO_UNSPEC, flags: K.NLM_F_REQUEST, what: "reading the ruleset generation",
                    payload: { _ in }) { nlh in
            let gen = try NftGeneration()
            if nftnl_gen_nlmsg_parse(nlh, gen.pointer) >= 0 { result = nftnl_gen_get_u32(gen.pointer, K.GEN_ID) }
        }
        guard let result else { throw NetlinkError("reading the ruleset generation: no answer", errno: EPROTO) }
        return result
    }

    /// Reads our table and the list of tables consistently: the generation is read before and after,
    /// and the dump repeated (a bounded number of times) if something committed in between.
    public func read(attempts: Int = 10) throws -> LiveState {
        var lastError: Error?
        for _ in 0..<attempts {
            let before = try generation()
            do {
                let tables = try dumpTables()
                let ours = tables.first { $0.family == family && $0.name == tableName }
                let table = try ours.map { try readTable($0) }
                let after = try generation()
                guard after == before else { continue }
                return LiveState(table: table, generation: before, summary: ours,
                                 otherTables: tables.filter { !($0.family == family && $0.name == tableName) })
            } catch let error as NetlinkError where error.errno == EINTR || error.errno == ENOENT {
                // A dump interrupted by a concurrent change, or an object deleted mid-dump: read again.
                lastError = error
                continue
            }
        }
        throw lastError ?? NetlinkError("reading the ruleset: it kept changing during \(attempts) attempts", errno: EAGAIN)
    }

    /// Sends `operations` as one transaction. With `generation`, the kernel refuses it (ERESTART)
    /// if the ruleset changed since that generation was read.
    public func commit(_ operations: [RulesetOperation], generation: UInt32?) throws -> CommitResult {
        let batch = try BatchEncoder.encode(operations, family: family, table: tableName, generation: generation,
                                            firstSequence: socket.sequence())
        socket.reserveSequences(through: batch.lastSequence)
        try socket.send(batch.bytes, what: "the transaction (\(batch.messageCount) messages, \(batch.bytes.count) bytes)")
        // The kernel processes the batch inside sendmsg: any refusal is already queued, one error ACK
        // per refused message, and then nothing of the batch was committed.
        var failures: [NetlinkError] = []
        while let datagram = try socket.receive(blocking: false) {
            for (header, message) in MessageHeader.split(datagram) where header.type == K.NLMSG_ERROR {
                let code = Int32(bitPattern: message.u32(at: message.startIndex + MessageHeader.size))
                guard code != 0 else { continue }
                let object = batch.objects[header.sequence] ?? "message \(header.sequence)"
                failures.append(NetlinkError(object + Self.extendedAckMessage(message), errno: -code))
            }
        }
        if let first = failures.first {
            if failures.count > 1 {
                throw NetlinkError(failures.map { "\($0.context): \(String(cString: strerror($0.errno)))" }.joined(separator: "; "),
                                   errno: first.errno)
            }
            throw first
        }
        return CommitResult(messages: batch.messageCount, bytes: batch.bytes.count, generation: try self.generation())
    }

    /// The kernel's own explanation from an extended ACK (NLMSGERR_ATTR_MSG), if it sent one.
    static func extendedAckMessage(_ message: ArraySlice<UInt8>) -> String {
        let start = message.startIndex
        guard message.count >= MessageHeader.size + 4 + MessageHeader.size else { return "" }
        let flags = message.u16(at: start + 6)
        guard flags & 0x200 != 0 else { return "" }  // NLM_F_ACK_TLVS
        // After the error code comes the original message (whole unless NLM_F_CAPPED), then TLVs.
        var offset = start + MessageHeader.size + 4
        let originalLength = Int(message.u32(at: offset))
        offset += flags & 0x100 != 0 ? MessageHeader.size : (originalLength + 3) & ~3
        // NLMSGERR_ATTR_MSG = 1
        guard let text = NetlinkAttributes(message, from: offset).string(1), !text.isEmpty else { return "" }
        return " (kernel: \(text))"
    }

    // MARK: - Dumps

    /// Sends one request and hands every reply message to `handle` until the dump (or answer) ends.
    private func request(type: UInt16, family: UInt16, flags: UInt16, what: String,
                         payload: (UnsafeMutablePointer<nlmsghdr>) -> Void,
                         handle: (UnsafePointer<nlmsghdr>) throws -> Void) throws {
        let seq = socket.sequence()
        var buffer = [CChar](repeating: 0, count: 4096)
        let bytes = buffer.withUnsafeMutableBufferPointer { raw -> [UInt8] in
            guard let base = raw.baseAddress, let nlh = nftnl_nlmsg_build_hdr(base, type, family, flags, seq) else { return [] }
            payload(nlh)
            return Array(UnsafeRawBufferPointer(start: base, count: Int(nlh.pointee.nlmsg_len)))
        }
        try socket.send(bytes, what: what)
        let isDump = flags & K.NLM_F_DUMP != 0
        while true {
            guard let datagram = try socket.receive() else { continue }
            for (header, message) in MessageHeader.split(datagram) {
                guard header.sequence == seq else { continue }
                if header.type == K.NLMSG_DONE { return }
                if header.type == K.NLMSG_ERROR {
                    let code = Int32(bitPattern: message.u32(at: message.startIndex + MessageHeader.size))
                    if code == 0 { return }
                    throw NetlinkError(what, errno: -code)
                }
                if header.flags & UInt16(NLM_F_DUMP_INTR) != 0 { throw NetlinkError(what, errno: EINTR) }
                try message.withUnsafeBytes { raw in
                    guard let base = raw.baseAddress else { return }
                    try handle(base.assumingMemoryBound(to: nlmsghdr.self))
                }
                if !isDump { return }
            }
        }
    }

    /// Every table in the namespace.
    public func dumpTables() throws -> [TableSummary] {
        var tables: [TableSummary] = []
        try request(type: K.NFT_MSG_GETTABLE, family: K.NFPROTO_UNSPEC, flags: K.NLM_F_REQUEST | K.NLM_F_DUMP,
                    what: "listing tables", payload: { _ in }) { nlh in
            let object = try NftTable()
            guard nftnl_table_nlmsg_parse(nlh, object.pointer) >= 0,
                  let namePointer = nftnl_table_get_str(object.pointer, K.TABLE_NAME),
                  let family = Self.tableFamily(UInt16(nftnl_table_get_u32(object.pointer, K.TABLE_FAMILY))) else { return }
            let owner = nftnl_table_is_set(object.pointer, K.TABLE_OWNER) ? nftnl_table_get_u32(object.pointer, K.TABLE_OWNER) : nil
            tables.append(TableSummary(family: family, name: String(cString: namePointer),
                                       flags: nftnl_table_get_u32(object.pointer, K.TABLE_FLAGS), ownerPortID: owner,
                                       comment: Self.userdata(object.pointer, K.TABLE_USERDATA, nftnl_table_get_data)
                                           .flatMap { Userdata.string($0, type: K.UDATA_TABLE_COMMENT) }))
        }
        return tables
    }

    static func tableFamily(_ value: UInt16) -> TableFamily? {
        switch value {
        case K.NFPROTO_IPV4: return .ip
        case K.NFPROTO_IPV6: return .ip6
        case K.NFPROTO_INET: return .inet
        case K.NFPROTO_ARP: return .arp
        case K.NFPROTO_BRIDGE: return .bridge
        case K.NFPROTO_NETDEV: return .netdev
        default: return nil
        }
    }

    /// Userdata bytes of a libnftnl object, through its `get_data` function.
    private static func userdata(_ object: OpaquePointer, _ attribute: UInt16,
                                 _ get: (OpaquePointer?, UInt16, UnsafeMutablePointer<UInt32>?) -> UnsafeRawPointer?) -> [UInt8]? {
        var length: UInt32 = 0
        guard let pointer = get(object, attribute, &length), length > 0 else { return nil }
        return Array(UnsafeRawBufferPointer(start: pointer, count: Int(length)))
    }

    /// Chains, sets with their elements, and rules of one table, as ruleset values.
    private func readTable(_ summary: TableSummary) throws -> Table {
        let protocolFamily = BatchEncoder.protocolFamily(summary.family)
        var chains: [Chain] = []
        try request(type: K.NFT_MSG_GETCHAIN, family: protocolFamily, flags: K.NLM_F_REQUEST | K.NLM_F_DUMP,
                    what: "listing chains of \(summary.name)", payload: { _ in }) { nlh in
            let object = try NftChain()
            guard nftnl_chain_nlmsg_parse(nlh, object.pointer) >= 0,
                  let table = nftnl_chain_get_str(object.pointer, K.CHAIN_TABLE), String(cString: table) == summary.name,
                  let name = nftnl_chain_get_str(object.pointer, K.CHAIN_NAME) else { return }
            var base: BaseChainSpec?
            if nftnl_chain_is_set(object.pointer, K.CHAIN_HOOKNUM), let hook = ChainHook(rawValue: nftnl_chain_get_u32(object.pointer, K.CHAIN_HOOKNUM)) {
                let type = nftnl_chain_get_str(object.pointer, K.CHAIN_TYPE).map { String(cString: $0) } ?? "filter"
                let policy = BatchEncoder.verdict(code: Int32(bitPattern: nftnl_chain_get_u32(object.pointer, K.CHAIN_POLICY)), chain: nil) ?? .accept
                base = BaseChainSpec(type: type, hook: hook, priority: nftnl_chain_get_s32(object.pointer, K.CHAIN_PRIO), policy: policy)
            }
            let comment = Self.userdata(object.pointer, K.CHAIN_USERDATA, nftnl_chain_get_data)
                .flatMap { Userdata.string($0, type: K.UDATA_CHAIN_COMMENT) }
            chains.append(Chain(name: String(cString: name), base: base, comment: comment))
        }

        var sets: [NamedSet] = []
        try request(type: K.NFT_MSG_GETSET, family: protocolFamily, flags: K.NLM_F_REQUEST | K.NLM_F_DUMP,
                    what: "listing sets of \(summary.name)", payload: { nlh in
                        if let filter = try? NftSet() {
                            nftnl_set_set_str(filter.pointer, K.SET_TABLE, summary.name)
                            nftnl_set_nlmsg_build_payload(nlh, filter.pointer)
                        }
                    }) { nlh in
            let object = try NftSet()
            guard nftnl_set_nlmsg_parse(nlh, object.pointer) >= 0,
                  let table = nftnl_set_get_str(object.pointer, K.SET_TABLE), String(cString: table) == summary.name,
                  let name = nftnl_set_get_str(object.pointer, K.SET_NAME) else { return }
            let flags = nftnl_set_is_set(object.pointer, K.SET_FLAGS) ? nftnl_set_get_u32(object.pointer, K.SET_FLAGS) : 0
            let keyType = SetKeyType(typeID: nftnl_set_get_u32(object.pointer, K.SET_KEY_TYPE),
                                     length: Int(nftnl_set_get_u32(object.pointer, K.SET_KEY_LEN)))
            let isMap = flags & K.NFT_SET_MAP != 0
            let comment = Self.userdata(object.pointer, K.SET_USERDATA, nftnl_set_get_data)
                .flatMap { Userdata.string($0, type: K.UDATA_SET_COMMENT) }
            let setName = String(cString: name)
            sets.append(NamedSet(name: setName, keyType: keyType, isInterval: flags & K.NFT_SET_INTERVAL != 0,
                                 isVerdictMap: isMap, comment: comment, elements: []))
        }
        for index in sets.indices {
            sets[index].elements = try readElements(table: summary.name, family: protocolFamily, set: sets[index].name,
                                                    interval: sets[index].isInterval)
        }

        var rulesByChain: [String: [Rule]] = [:]
        try request(type: K.NFT_MSG_GETRULE, family: protocolFamily, flags: K.NLM_F_REQUEST | K.NLM_F_DUMP,
                    what: "listing rules of \(summary.name)", payload: { nlh in
                        if let filter = try? NftRule() {
                            nftnl_rule_set_str(filter.pointer, K.RULE_TABLE, summary.name)
                            nftnl_rule_nlmsg_build_payload(nlh, filter.pointer)
                        }
                    }) { nlh in
            let object = try NftRule()
            guard nftnl_rule_nlmsg_parse(nlh, object.pointer) >= 0,
                  let table = nftnl_rule_get_str(object.pointer, K.RULE_TABLE), String(cString: table) == summary.name,
                  let chain = nftnl_rule_get_str(object.pointer, K.RULE_CHAIN) else { return }
            var expressions: [Expression] = []
            if let iterator = nftnl_expr_iter_create(object.pointer) {
                defer { nftnl_expr_iter_destroy(iterator) }
                while let expr = nftnl_expr_iter_next(iterator) { expressions.append(ExpressionCodec.decode(expr)) }
            }
            let comment = Self.userdata(object.pointer, K.RULE_USERDATA, nftnl_rule_get_data)
                .flatMap { Userdata.string($0, type: K.UDATA_RULE_COMMENT) }
            rulesByChain[String(cString: chain), default: []].append(
                Rule(expressions, comment: comment, handle: nftnl_rule_get_u64(object.pointer, K.RULE_HANDLE)))
        }
        for index in chains.indices { chains[index].rules = rulesByChain[chains[index].name] ?? [] }

        return Table(family: summary.family, name: summary.name, flags: summary.flags & ~K.NFT_TABLE_F_OWNER,
                     comment: summary.comment, sets: sets, chains: chains)
    }

    private func readElements(table: String, family: UInt16, set name: String, interval: Bool) throws -> [SetElement] {
        let holder = try NftSet()
        nftnl_set_set_str(holder.pointer, K.SET_TABLE, table)
        nftnl_set_set_str(holder.pointer, K.SET_NAME, name)
        var wire: [WireElement] = []
        try request(type: K.NFT_MSG_GETSETELEM, family: family, flags: K.NLM_F_REQUEST | K.NLM_F_DUMP,
                    what: "listing elements of set \(name)", payload: { nlh in
                        nftnl_set_elems_nlmsg_build_payload(nlh, holder.pointer)
                    }) { nlh in
            let object = try NftSet()
            guard nftnl_set_elems_nlmsg_parse(nlh, object.pointer) >= 0,
                  let iterator = nftnl_set_elems_iter_create(object.pointer) else { return }
            defer { nftnl_set_elems_iter_destroy(iterator) }
            // libnftnl's iter_next returns the current element and then advances: it alone walks the list.
            while let element = nftnl_set_elems_iter_next(iterator) {
                var length: UInt32 = 0
                let key = nftnl_set_elem_get(element, K.SET_ELEM_KEY, &length)
                    .map { Array(UnsafeRawBufferPointer(start: $0, count: Int(length))) } ?? []
                let flags = nftnl_set_elem_is_set(element, K.SET_ELEM_FLAGS) ? nftnl_set_elem_get_u32(element, K.SET_ELEM_FLAGS) : 0
                var verdict: Verdict?
                if nftnl_set_elem_is_set(element, K.SET_ELEM_VERDICT) {
                    let chain = nftnl_set_elem_is_set(element, K.SET_ELEM_CHAIN)
                        ? nftnl_set_elem_get_str(element, K.SET_ELEM_CHAIN).map { String(cString: $0) } : nil
                    verdict = BatchEncoder.verdict(code: Int32(bitPattern: nftnl_set_elem_get_u32(element, K.SET_ELEM_VERDICT)), chain: chain)
                }
                wire.append(WireElement(key: key, isIntervalEnd: flags & K.NFT_SET_ELEM_INTERVAL_END != 0, verdict: verdict))
            }
        }
        return IntervalEncoding.decode(wire, interval: interval)
    }
}
