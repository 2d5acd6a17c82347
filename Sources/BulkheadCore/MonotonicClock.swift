#if canImport(Glibc)
import Glibc
#endif

/// Seconds on the monotonic clock, for durations (apply times, latencies, load-test deadlines).
public enum MonotonicClock {
    public static func seconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
