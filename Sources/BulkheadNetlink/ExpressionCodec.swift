import BulkheadCore
import CNftnl
#if canImport(Glibc)
import Glibc
#endif

/// Converts rule expressions between ruleset values and libnftnl expressions, attribute for attribute
/// what nft sets, so that the kernel holds the bytecode nft would have generated.
enum ExpressionCodec {
    /// A new libnftnl expression; the caller hands it to a rule, which then owns it.
    static func encode(_ expression: Expression, setIDs: [String: UInt32]) throws -> OpaquePointer {
        func make(_ name: String) throws -> OpaquePointer {
            guard let expr = nftnl_expr_alloc(name) else { throw NetlinkError("cannot allocate expression \(name)", errno: ENOMEM) }
            return expr
        }
        switch expression {
        case .meta(let key, let dreg):
            let expr = try make("meta")
            nftnl_expr_set_u32(expr, K.META_KEY, key.rawValue)
            nftnl_expr_set_u32(expr, K.META_DREG, dreg)
            return expr
        case .ct(let key, let dreg):
            let expr = try make("ct")
            nftnl_expr_set_u32(expr, K.CT_KEY, key.rawValue)
            nftnl_expr_set_u32(expr, K.CT_DREG, dreg)
            return expr
        case .payload(let base, let offset, let length, let dreg):
            let expr = try make("payload")
            nftnl_expr_set_u32(expr, K.PAYLOAD_DREG, dreg)
            nftnl_expr_set_u32(expr, K.PAYLOAD_BASE, base.rawValue)
            nftnl_expr_set_u32(expr, K.PAYLOAD_OFFSET, offset)
            nftnl_expr_set_u32(expr, K.PAYLOAD_LEN, length)
            return expr
        case .cmp(let op, let sreg, let data):
            let expr = try make("cmp")
            nftnl_expr_set_u32(expr, K.CMP_SREG, sreg)
            nftnl_expr_set_u32(expr, K.CMP_OP, op.rawValue)
            data.withUnsafeBytes { _ = nftnl_expr_set(expr, K.CMP_DATA, $0.baseAddress, UInt32($0.count)) }
            return expr
        case .bitwise(let sreg, let dreg, let length, let mask, let xor):
            let expr = try make("bitwise")
            nftnl_expr_set_u32(expr, K.BITWISE_SREG, sreg)
            nftnl_expr_set_u32(expr, K.BITWISE_DREG, dreg)
            nftnl_expr_set_u32(expr, K.BITWISE_LEN, length)
            mask.withUnsafeBytes { _ = nftnl_expr_set(expr, K.BITWISE_MASK, $0.baseAddress, UInt32($0.count)) }
            xor.withUnsafeBytes { _ = nftnl_expr_set(expr, K.BITWISE_XOR, $0.baseAddress, UInt32($0.count)) }
            return expr
        case .lookup(let set, let sreg, let dreg, let inverted):
            let expr = try make("lookup")
            nftnl_expr_set_u32(expr, K.LOOKUP_SREG, sreg)
            if let dreg { nftnl_expr_set_u32(expr, K.LOOKUP_DREG, dreg) }
            nftnl_expr_set_str(expr, K.LOOKUP_SET, set)
            if let id = setIDs[set] { nftnl_expr_set_u32(expr, K.LOOKUP_SET_ID, id) }
            if inverted { nftnl_expr_set_u32(expr, K.LOOKUP_FLAGS, K.NFT_LOOKUP_F_INV) }
            return expr
        case .immediateVerdict(let verdict):
            let expr = try make("immediate")
            nftnl_expr_set_u32(expr, K.IMM_DREG, Registers.verdict)
            nftnl_expr_set_u32(expr, K.IMM_VERDICT, UInt32(bitPattern: BatchEncoder.verdictCode(verdict)))
            if let target = verdict.target { nftnl_expr_set_str(expr, K.IMM_CHAIN, target) }
            return expr
        case .counter:
            return try make("counter")
        case .log(let prefix):
            let expr = try make("log")
            if let prefix { nftnl_expr_set_str(expr, K.LOG_PREFIX, prefix) }
            return expr
        case .unknown(let name, _):
            throw NetlinkError("cannot encode the unmodelled expression '\(name)'", errno: EINVAL)
        }
    }

    /// The value for a libnftnl expression read from the kernel. Anything outside the modelled subset
    /// (other keys, write forms, extra attributes) becomes `.unknown` with libnftnl's own rendering.
    static func decode(_ expr: OpaquePointer) -> Expression {
        let name = nftnl_expr_get_str(expr, K.EXPR_NAME).map { String(cString: $0) } ?? "?"
        func u32(_ attribute: UInt16) -> UInt32? {
            nftnl_expr_is_set(expr, attribute) ? nftnl_expr_get_u32(expr, attribute) : nil
        }
        func data(_ attribute: UInt16) -> [UInt8]? {
            guard nftnl_expr_is_set(expr, attribute) else { return nil }
            var length: UInt32 = 0
            guard let pointer = nftnl_expr_get(expr, attribute, &length) else { return nil }
            return Array(UnsafeRawBufferPointer(start: pointer, count: Int(length)))
        }
        func string(_ attribute: UInt16) -> String? {
            guard nftnl_expr_is_set(expr, attribute), let pointer = nftnl_expr_get_str(expr, attribute) else { return nil }
            return String(cString: pointer)
        }
        let decoded: Expression?
        switch name {
        case "meta":
            if u32(K.META_SREG) == nil, let raw = u32(K.META_KEY), let key = MetaKey(rawValue: raw), let dreg = u32(K.META_DREG) {
                decoded = .meta(key: key, dreg: dreg)
            } else { decoded = nil }
        case "ct":
            if u32(K.CT_SREG) == nil, u32(K.CT_DIR) == nil, let raw = u32(K.CT_KEY), let key = ConntrackKey(rawValue: raw),
               let dreg = u32(K.CT_DREG) {
                decoded = .ct(key: key, dreg: dreg)
            } else { decoded = nil }
        case "payload":
            if u32(K.PAYLOAD_SREG) == nil, let dreg = u32(K.PAYLOAD_DREG), let rawBase = u32(K.PAYLOAD_BASE),
               let base = PayloadBase(rawValue: rawBase), let offset = u32(K.PAYLOAD_OFFSET), let length = u32(K.PAYLOAD_LEN) {
                decoded = .payload(base: base, offset: offset, length: length, dreg: dreg)
            } else { decoded = nil }
        case "cmp":
            if let sreg = u32(K.CMP_SREG), let rawOp = u32(K.CMP_OP), let op = CmpOp(rawValue: rawOp), let value = data(K.CMP_DATA) {
                decoded = .cmp(op: op, sreg: sreg, data: value)
            } else { decoded = nil }
        case "bitwise":
            // Only the boolean form (op 0, the kernel's default) is modelled.
            if (u32(K.BITWISE_OP) ?? 0) == 0, let sreg = u32(K.BITWISE_SREG), let dreg = u32(K.BITWISE_DREG),
               let length = u32(K.BITWISE_LEN), let mask = data(K.BITWISE_MASK), let xor = data(K.BITWISE_XOR) {
                decoded = .bitwise(sreg: sreg, dreg: dreg, length: length, mask: mask, xor: xor)
            } else { decoded = nil }
        case "lookup":
            if let set = string(K.LOOKUP_SET), let sreg = u32(K.LOOKUP_SREG) {
                let flags = u32(K.LOOKUP_FLAGS) ?? 0
                decoded = flags & ~K.NFT_LOOKUP_F_INV == 0
                    ? .lookup(set: set, sreg: sreg, dreg: u32(K.LOOKUP_DREG), inverted: flags & K.NFT_LOOKUP_F_INV != 0) : nil
            } else { decoded = nil }
        case "immediate":
            if u32(K.IMM_DREG) == Registers.verdict, let code = u32(K.IMM_VERDICT),
               let verdict = BatchEncoder.verdict(code: Int32(bitPattern: code), chain: string(K.IMM_CHAIN)) {
                decoded = .immediateVerdict(verdict)
            } else { decoded = nil }
        case "counter":
            decoded = .counter
        case "log":
            // The kernel reports the default level (4, warning) even when none was set; anything else is unmodelled.
            let others = [K.LOG_GROUP, K.LOG_SNAPLEN, K.LOG_QTHRESHOLD, K.LOG_FLAGS].contains { nftnl_expr_is_set(expr, $0) }
            decoded = others || (u32(K.LOG_LEVEL) ?? 4) != 4 ? nil : .log(prefix: string(K.LOG_PREFIX))
        default:
            decoded = nil
        }
        return decoded ?? .unknown(name: name, attributes: [describe(expr)])
    }

    /// libnftnl's bytecode text for one expression (`meta load mark => reg 1`).
    static func describe(_ expr: OpaquePointer) -> String {
        var buffer = [CChar](repeating: 0, count: 1024)
        let count = nftnl_expr_snprintf(&buffer, buffer.count, expr, K.OUTPUT_DEFAULT, 0)
        guard count > 0 else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            .trimmingCharacters(in: " ")
    }
}

extension String {
    /// Without leading and trailing occurrences of `character`.
    func trimmingCharacters(in character: Character) -> String {
        String(drop { $0 == character }.reversed().drop { $0 == character }.reversed())
    }
}
