import BulkheadCore
import CNftnl
#if canImport(Glibc)
import Glibc
#endif

/// A transaction ready to send: one buffer (batch begin, messages, batch end) and which object
/// each sequence number stands for, so that an error ACK can name the object the kernel refused.
struct EncodedBatch {
    var bytes: [UInt8] = []
    var objects: [UInt32: String] = [:]
    var messageCount = 0
    /// The last sequence number the batch uses (its batch-end message).
    var lastSequence: UInt32 = 0
}

/// Encodes planned operations into the netlink messages nft itself would send for them.
struct BatchEncoder {
    let family: UInt16
    let table: String
    /// Room for one message: rules and element chunks stay far below it.
    private var scratch = [CChar](repeating: 0, count: 256 * 1024)
    private var batch = EncodedBatch()
    private var nextSetID: UInt32 = 1
    private var setIDs: [String: UInt32] = [:]
    private var sequence: UInt32

    init(family: TableFamily, table: String, firstSequence: UInt32) {
        self.family = BatchEncoder.protocolFamily(family)
        self.table = table
        sequence = firstSequence
    }

    static func protocolFamily(_ family: TableFamily) -> UInt16 {
        switch family {
        case .ip: return K.NFPROTO_IPV4
        case .ip6: return K.NFPROTO_IPV6
        case .inet: return K.NFPROTO_INET
        case .arp: return K.NFPROTO_ARP
        case .bridge: return K.NFPROTO_BRIDGE
        case .netdev: return K.NFPROTO_NETDEV
        }
    }

    /// The whole batch for `operations`; `generation` (when given) makes the kernel refuse the batch
    /// with ERESTART if the ruleset changed since it was read.
    static func encode(_ operations: [RulesetOperation], family: TableFamily, table: String, generation: UInt32?,
                       firstSequence: UInt32) throws -> EncodedBatch {
        var encoder = BatchEncoder(family: family, table: table, firstSequence: firstSequence)
        encoder.begin(generation: generation)
        for operation in operations { try encoder.append(operation) }
        encoder.end()
        return encoder.batch
    }

    private mutating func nextSequence() -> UInt32 {
        sequence &+= 1
        return sequence
    }

    /// Builds one nf_tables message (header, then `payload`) in the scratch buffer and appends it to the batch.
    private mutating func message(object: String, sequence seq: UInt32? = nil, type: UInt16, flags: UInt16,
                                  _ payload: (UnsafeMutablePointer<nlmsghdr>) -> Void) {
        let seq = seq ?? nextSequence()
        let family = self.family
        appendRaw(object: object, sequence: seq) { buffer in
            guard let nlh = nftnl_nlmsg_build_hdr(buffer, type, family, flags, seq) else { return nil }
            payload(nlh)
            return nlh
        }
    }

    /// Copies one message built by `build` into the batch.
    private mutating func appendRaw(object: String, sequence seq: UInt32,
                                    _ build: (UnsafeMutablePointer<CChar>) -> UnsafeMutablePointer<nlmsghdr>?) {
        let bytes = scratch.withUnsafeMutableBufferPointer { buffer -> [UInt8] in
            guard let base = buffer.baseAddress, let header = build(base) else { return [] }
            let length = Int(header.pointee.nlmsg_len)
            return Array(UnsafeRawBufferPointer(start: base, count: (length + 3) & ~3))
        }
        batch.bytes += bytes
        batch.objects[seq] = object
        batch.messageCount += 1
    }

    private mutating func begin(generation: UInt32?) {
        let seq = nextSequence()
        appendRaw(object: "transaction", sequence: seq) { buffer in
            let header = nftnl_batch_begin(buffer, seq)
            if let header, let generation {
                mnl_attr_put_u32(header, K.NFNL_BATCH_GENID, generation.bigEndian)
            }
            return header
        }
        batch.objects[seq] = "transaction (the ruleset changed since it was read)"
    }

    private mutating func end() {
        let seq = nextSequence()
        batch.lastSequence = seq
        appendRaw(object: "transaction end", sequence: seq) { buffer in nftnl_batch_end(buffer, seq) }
    }

    private var qualified: String { "inet \(table)" }

    mutating func append(_ operation: RulesetOperation) throws {
        switch operation {
        case .addTable(let value):
            let object = try NftTable()
            nftnl_table_set_str(object.pointer, K.TABLE_NAME, table)
            nftnl_table_set_u32(object.pointer, K.TABLE_FAMILY, UInt32(family))
            nftnl_table_set_u32(object.pointer, K.TABLE_FLAGS, value.flags)
            if let comment = value.comment, let data = Userdata.build([(K.UDATA_TABLE_COMMENT, .string(comment))]) {
                data.withUnsafeBytes { _ = nftnl_table_set_data(object.pointer, K.TABLE_USERDATA, $0.baseAddress, UInt32($0.count)) }
            }
            message(object: "table \(qualified)", type: K.NFT_MSG_NEWTABLE, flags: K.NLM_F_REQUEST) { nlh in nftnl_table_nlmsg_build_payload(nlh, object.pointer) }
        case .deleteTable:
            let object = try NftTable()
            nftnl_table_set_str(object.pointer, K.TABLE_NAME, table)
            nftnl_table_set_u32(object.pointer, K.TABLE_FAMILY, UInt32(family))
            message(object: "table \(qualified) (delete)", type: K.NFT_MSG_DELTABLE, flags: K.NLM_F_REQUEST) { nlh in nftnl_table_nlmsg_build_payload(nlh, object.pointer) }
        case .addChain(let chain):
            let object = try chainObject(chain.name)
            if let base = chain.base {
                nftnl_chain_set_str(object.pointer, K.CHAIN_TYPE, base.type)
                nftnl_chain_set_u32(object.pointer, K.CHAIN_POLICY, UInt32(bitPattern: Self.verdictCode(base.policy)))
                nftnl_chain_set_u32(object.pointer, K.CHAIN_HOOKNUM, base.hook.rawValue)
                nftnl_chain_set_s32(object.pointer, K.CHAIN_PRIO, base.priority)
            }
            if let comment = chain.comment, let data = Userdata.build([(K.UDATA_CHAIN_COMMENT, .string(comment))]) {
                data.withUnsafeBytes { _ = nftnl_chain_set_data(object.pointer, K.CHAIN_USERDATA, $0.baseAddress, UInt32($0.count)) }
            }
            message(object: "chain \(qualified) \(chain.name)", type: K.NFT_MSG_NEWCHAIN, flags: K.NLM_F_REQUEST | K.NLM_F_CREATE) { nlh in nftnl_chain_nlmsg_build_payload(nlh, object.pointer) }
        case .flushChain(let name):
            let object = try NftRule()
            nftnl_rule_set_str(object.pointer, K.RULE_TABLE, table)
            nftnl_rule_set_str(object.pointer, K.RULE_CHAIN, name)
            nftnl_rule_set_u32(object.pointer, K.RULE_FAMILY, UInt32(family))
            message(object: "chain \(qualified) \(name) (flush)", type: K.NFT_MSG_DELRULE, flags: K.NLM_F_REQUEST) { nlh in nftnl_rule_nlmsg_build_payload(nlh, object.pointer) }
        case .deleteChain(let name):
            let object = try chainObject(name)
            message(object: "chain \(qualified) \(name) (delete)", type: K.NFT_MSG_DELCHAIN, flags: K.NLM_F_REQUEST) { nlh in nftnl_chain_nlmsg_build_payload(nlh, object.pointer) }
        case .addSet(let set):
            let object = try setObject(set.name)
            var flags: UInt32 = 0
            if set.isInterval { flags |= K.NFT_SET_INTERVAL }
            if set.isVerdictMap { flags |= K.NFT_SET_MAP }
            nftnl_set_set_u32(object.pointer, K.SET_FLAGS, flags)
            nftnl_set_set_u32(object.pointer, K.SET_KEY_TYPE, set.keyType.typeID)
            nftnl_set_set_u32(object.pointer, K.SET_KEY_LEN, UInt32(set.keyType.length))
            if set.isVerdictMap {
                nftnl_set_set_u32(object.pointer, K.SET_DATA_TYPE, K.NFT_DATA_VERDICT)
                nftnl_set_set_u32(object.pointer, K.SET_DATA_LEN, 0)
            }
            let id = nextSetID
            nextSetID += 1
            setIDs[set.name] = id
            nftnl_set_set_u32(object.pointer, K.SET_ID, id)
            // What nft 1.0.6 records: key byte order big-endian (2), and for verdict maps the data byte
            // order (invalid, 0) and data interval (0), then the comment.
            var entries: [(UInt8, Userdata.Value)] = [(K.UDATA_SET_KEYBYTEORDER, .u32(2))]
            if set.isVerdictMap {
                entries += [(K.UDATA_SET_DATABYTEORDER, .u32(0)), (Self.UDATA_SET_DATA_INTERVAL, .u32(0))]
            }
            if let comment = set.comment { entries.append((K.UDATA_SET_COMMENT, .string(comment))) }
            if let data = Userdata.build(entries) {
                data.withUnsafeBytes { _ = nftnl_set_set_data(object.pointer, K.SET_USERDATA, $0.baseAddress, UInt32($0.count)) }
            }
            message(object: "\(set.kindName) \(qualified) \(set.name)", type: K.NFT_MSG_NEWSET, flags: K.NLM_F_REQUEST | K.NLM_F_CREATE) { nlh in nftnl_set_nlmsg_build_payload(nlh, object.pointer) }
        case .deleteSet(let name):
            let object = try setObject(name)
            message(object: "set \(qualified) \(name) (delete)", type: K.NFT_MSG_DELSET, flags: K.NLM_F_REQUEST) { nlh in nftnl_set_nlmsg_build_payload(nlh, object.pointer) }
        case .addElements(let set):
            try appendElements(set, delete: false)
        case .deleteElements(let set):
            try appendElements(set, delete: true)
        case .addRule(let chain, let rule):
            let object = try NftRule()
            nftnl_rule_set_str(object.pointer, K.RULE_TABLE, table)
            nftnl_rule_set_str(object.pointer, K.RULE_CHAIN, chain)
            nftnl_rule_set_u32(object.pointer, K.RULE_FAMILY, UInt32(family))
            for expression in rule.expressions {
                nftnl_rule_add_expr(object.pointer, try ExpressionCodec.encode(expression, setIDs: setIDs))
            }
            if let comment = rule.comment, let data = Userdata.build([(K.UDATA_RULE_COMMENT, .string(comment))]) {
                data.withUnsafeBytes { _ = nftnl_rule_set_data(object.pointer, K.RULE_USERDATA, $0.baseAddress, UInt32($0.count)) }
            }
            let description = "rule in chain \(qualified) \(chain): \(RuleText.describe(rule))"
            message(object: description, type: K.NFT_MSG_NEWRULE, flags: K.NLM_F_REQUEST | K.NLM_F_CREATE | K.NLM_F_APPEND) { nlh in nftnl_rule_nlmsg_build_payload(nlh, object.pointer) }
        }
    }

    private func chainObject(_ name: String) throws -> NftChain {
        let object = try NftChain()
        nftnl_chain_set_str(object.pointer, K.CHAIN_TABLE, table)
        nftnl_chain_set_str(object.pointer, K.CHAIN_NAME, name)
        nftnl_chain_set_u32(object.pointer, K.CHAIN_FAMILY, UInt32(family))
        return object
    }

    private func setObject(_ name: String) throws -> NftSet {
        let object = try NftSet()
        nftnl_set_set_str(object.pointer, K.SET_TABLE, table)
        nftnl_set_set_str(object.pointer, K.SET_NAME, name)
        nftnl_set_set_u32(object.pointer, K.SET_FAMILY, UInt32(family))
        return object
    }

    /// Element lists go out in chunks below the 64 KiB attribute limit, all in this batch and,
    /// like nft, under one sequence number per set.
    private mutating func appendElements(_ set: NamedSet, delete: Bool) throws {
        let name = set.name
        // Deleting names each range by its start and end; the shared leading key-0 end stays.
        var wire = IntervalEncoding.encode(set.elements, interval: set.isInterval)
        if delete {
            wire = wire.filter { !($0.isIntervalEnd && $0.key.allSatisfy { $0 == 0 }) }.map { element in
                var copy = element
                copy.verdict = nil
                return copy
            }
        }
        let seq = nextSequence()
        var start = 0
        while start < wire.count {
            var size = 0, end = start
            while end < wire.count, size < 48 * 1024 {
                size += 48 + wire[end].key.count + (wire[end].verdict?.target?.utf8.count ?? 0)
                end += 1
            }
            let object = try setObject(name)
            if let id = setIDs[name] { nftnl_set_set_u32(object.pointer, K.SET_ID, id) }
            for element in wire[start..<end] {
                guard let item = nftnl_set_elem_alloc() else { throw NetlinkError("out of memory (nftnl_set_elem_alloc)", errno: ENOMEM) }
                element.key.withUnsafeBytes { _ = nftnl_set_elem_set(item, K.SET_ELEM_KEY, $0.baseAddress, UInt32($0.count)) }
                if element.isIntervalEnd { nftnl_set_elem_set_u32(item, K.SET_ELEM_FLAGS, K.NFT_SET_ELEM_INTERVAL_END) }
                if let verdict = element.verdict {
                    nftnl_set_elem_set_u32(item, K.SET_ELEM_VERDICT, UInt32(bitPattern: Self.verdictCode(verdict)))
                    if let target = verdict.target { nftnl_set_elem_set_str(item, K.SET_ELEM_CHAIN, target) }
                }
                if element.isOpenInterval, let data = Userdata.build([(Self.UDATA_SET_ELEM_FLAGS, .u32(Self.SET_ELEM_F_INTERVAL_OPEN))]) {
                    data.withUnsafeBytes { _ = nftnl_set_elem_set(item, K.SET_ELEM_USERDATA, $0.baseAddress, UInt32($0.count)) }
                }
                nftnl_set_elem_add(object.pointer, item)
            }
            let what = "\(delete ? "removing" : "adding") elements of set \(qualified) \(name)"
            message(object: what, sequence: seq, type: delete ? K.NFT_MSG_DELSETELEM : K.NFT_MSG_NEWSETELEM,
                    flags: delete ? K.NLM_F_REQUEST : K.NLM_F_REQUEST | K.NLM_F_CREATE) { nlh in
                nftnl_set_elems_nlmsg_build_payload(nlh, object.pointer)
            }
            start = end
        }
    }

    /// Kernel verdict codes.
    static func verdictCode(_ verdict: Verdict) -> Int32 {
        switch verdict {
        case .accept: return K.NF_ACCEPT
        case .drop: return K.NF_DROP
        case .continue: return K.NFT_CONTINUE
        case .return: return K.NFT_RETURN
        case .jump: return K.NFT_JUMP
        case .goto: return K.NFT_GOTO
        }
    }

    /// The verdict for a kernel code and chain name.
    static func verdict(code: Int32, chain: String?) -> Verdict? {
        switch code {
        case K.NF_ACCEPT: return .accept
        case K.NF_DROP: return .drop
        case K.NFT_CONTINUE: return .continue
        case K.NFT_RETURN: return .return
        case K.NFT_JUMP: return chain.map { .jump($0) }
        case K.NFT_GOTO: return chain.map { .goto($0) }
        default: return nil
        }
    }

    /// NFTNL_UDATA_SET_DATA_INTERVAL, NFTNL_UDATA_SET_ELEM_FLAGS and NFTNL_SET_ELEM_F_INTERVAL_OPEN.
    static let UDATA_SET_DATA_INTERVAL = UInt8(NFTNL_UDATA_SET_DATA_INTERVAL.rawValue)
    static let UDATA_SET_ELEM_FLAGS = UInt8(NFTNL_UDATA_SET_ELEM_FLAGS.rawValue)
    static let SET_ELEM_F_INTERVAL_OPEN: UInt32 = 1
}
