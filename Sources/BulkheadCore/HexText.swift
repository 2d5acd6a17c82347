extension String {
    /// The string with zeros in front up to `width` characters.
    public func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// Bytes as lowercase hex digits, two per byte.
func hexDigits<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
    bytes.map { String($0, radix: 16).leftPadded(to: 2) }.joined()
}
