import BulkheadCore
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A small load tool for the packet-path benchmark: new TCP connections per second, and UDP
/// datagrams each from a fresh socket (so each is a new conntrack entry), bounded in time.
enum LoadGenerator {
    static func address(_ text: String, port: UInt16) -> sockaddr_in? {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, text, &address.sin_addr) == 1 else { return nil }
        return address
    }

    static func withSockaddr<T>(_ address: sockaddr_in, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        var copy = address
        return withUnsafePointer(to: &copy) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }

    /// Accepts TCP connections and counts UDP datagrams on `port` for `seconds`; prints the UDP count.
    static func serve(port: UInt16, seconds: Double) -> Int {
        guard let any = address("0.0.0.0", port: port) else { return 0 }
        let tcp = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let udp = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(tcp, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var buffer: Int32 = 16 << 20
        setsockopt(udp, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, socklen_t(MemoryLayout<Int32>.size))
        guard withSockaddr(any, { bind(tcp, $0, $1) }) == 0, withSockaddr(any, { bind(udp, $0, $1) }) == 0, listen(tcp, 4096) == 0 else {
            return -1
        }
        let deadline = MonotonicClock.seconds() + seconds
        let datagrams = Atomic<Int>(0)
        print("ready")
        fflush(nil)
        DispatchQueue.concurrentPerform(iterations: 3) { worker in
            var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
            if worker == 0 {
                setsockopt(udp, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                var byte = [UInt8](repeating: 0, count: 64)
                while MonotonicClock.seconds() < deadline {
                    if recv(udp, &byte, byte.count, 0) > 0 { datagrams.add(1, ordering: .relaxed) }
                }
            } else {
                setsockopt(tcp, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                while MonotonicClock.seconds() < deadline {
                    let client = accept(tcp, nil, nil)
                    if client >= 0 { close(client) }
                }
            }
        }
        close(tcp)
        close(udp)
        return datagrams.load(ordering: .relaxed)
    }

    /// Opens as many TCP connections (closed with a reset, so no TIME_WAIT) as `threads` can in
    /// `seconds`; returns successful connections per second.
    static func tcp(to host: String, port: UInt16, seconds: Double, threads: Int) -> Double {
        guard let target = address(host, port: port) else { return 0 }
        return rate(seconds: seconds, threads: threads) {
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            return withSockaddr(target, { connect(fd, $0, $1) }) == 0
        }
    }

    /// Sends one datagram from a fresh socket (a new source port) per packet for `seconds`; returns packets sent per second.
    static func udp(to host: String, port: UInt16, seconds: Double, threads: Int) -> Double {
        guard let target = address(host, port: port) else { return 0 }
        let payload = [UInt8](repeating: 7, count: 32)
        return rate(seconds: seconds, threads: threads) {
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            defer { close(fd) }
            return payload.withUnsafeBytes { bytes in
                withSockaddr(target, { sendto(fd, bytes.baseAddress, bytes.count, 0, $0, $1) }) > 0
            }
        }
    }

    /// Runs `attempt` in a loop on `threads` threads for `seconds`; returns successes per second.
    private static func rate(seconds: Double, threads: Int, _ attempt: @Sendable () -> Bool) -> Double {
        let succeeded = Atomic<Int>(0)
        let start = MonotonicClock.seconds(), deadline = start + seconds
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            var local = 0
            while MonotonicClock.seconds() < deadline {
                if attempt() { local += 1 }
            }
            succeeded.add(local, ordering: .relaxed)
        }
        return Double(succeeded.load(ordering: .relaxed)) / (MonotonicClock.seconds() - start)
    }
}
