import BulkheadCore
import CNftnl

/// libnftnl objects with one owner each: every wrapper frees its pointer in deinit.

final class NftTable {
    let pointer: OpaquePointer
    init() throws {
        guard let pointer = nftnl_table_alloc() else { throw NetlinkError("out of memory (nftnl_table_alloc)", errno: 12) }
        self.pointer = pointer
    }
    deinit { nftnl_table_free(pointer) }
}

final class NftChain {
    let pointer: OpaquePointer
    init() throws {
        guard let pointer = nftnl_chain_alloc() else { throw NetlinkError("out of memory (nftnl_chain_alloc)", errno: 12) }
        self.pointer = pointer
    }
    deinit { nftnl_chain_free(pointer) }
}

final class NftRule {
    let pointer: OpaquePointer
    init() throws {
        guard let pointer = nftnl_rule_alloc() else { throw NetlinkError("out of memory (nftnl_rule_alloc)", errno: 12) }
        self.pointer = pointer
    }
    deinit { nftnl_rule_free(pointer) }
}

final class NftSet {
    let pointer: OpaquePointer
    init() throws {
        guard let pointer = nftnl_set_alloc() else { throw NetlinkError("out of memory (nftnl_set_alloc)", errno: 12) }
        self.pointer = pointer
    }
    deinit { nftnl_set_free(pointer) }
}

final class NftGeneration {
    let pointer: OpaquePointer
    init() throws {
        guard let pointer = nftnl_gen_alloc() else { throw NetlinkError("out of memory (nftnl_gen_alloc)", errno: 12) }
        self.pointer = pointer
    }
    deinit { nftnl_gen_free(pointer) }
}

/// Userdata TLVs (type u8, length u8, value) as libnftnl lays them out, built with its own buffer.
enum Userdata {
    /// NFT_USERDATA_MAXLEN
    static let capacity: UInt32 = 256

    /// A buffer with the given entries: strings NUL-terminated, numbers as host-order u32.
    static func build(_ entries: [(type: UInt8, value: Value)]) -> [UInt8]? {
        guard !entries.isEmpty, let buffer = nftnl_udata_buf_alloc(capacity) else { return nil }
        defer { nftnl_udata_buf_free(buffer) }
        for (type, value) in entries {
            switch value {
            case .string(let text): _ = nftnl_udata_put_strz(buffer, type, text)
            case .u32(let number): _ = nftnl_udata_put_u32(buffer, type, number)
            }
        }
        let length = Int(nftnl_udata_buf_len(buffer))
        guard let data = nftnl_udata_buf_data(buffer) else { return nil }
        return Array(UnsafeRawBufferPointer(start: data, count: length))
    }

    enum Value {
        case string(String)
        case u32(UInt32)
    }

    /// The NUL-terminated string stored under `type`, if any.
    static func string(_ bytes: [UInt8], type: UInt8) -> String? {
        entries(bytes).first { $0.type == type }.map { value in
            String(decoding: value.value.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// The TLVs of a userdata blob, in order; a malformed tail is ignored.
    static func entries(_ bytes: [UInt8]) -> [(type: UInt8, value: ArraySlice<UInt8>)] {
        var result: [(UInt8, ArraySlice<UInt8>)] = []
        var index = 0
        while index + 2 <= bytes.count {
            let type = bytes[index], length = Int(bytes[index + 1])
            guard index + 2 + length <= bytes.count else { break }
            result.append((type, bytes[(index + 2)..<(index + 2 + length)]))
            index += 2 + length
        }
        return result
    }
}
