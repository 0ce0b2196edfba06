/// hmm-tests' buffer contents as page tokens.
///
/// The kernel selftest fills buffers with 32-bit ints such as `ptr[i] = i`, `-i` or
/// `i + round`: on every page an arithmetic run `start, start + stride, ...` (wrapping).
/// hmmkit's kselftest-named tests keep that data, so the model (which only sees opaque
/// tokens) is given one token per page that names its run. Token `0` stays "all zero";
/// any other run token has the top bit set, with `stride` in bits 32...62 and `start` in
/// bits 0...31.
public struct IntRun: Hashable, Sendable, CustomStringConvertible {
    public var start: Int32
    public var stride: Int32

    public init(start: Int32, stride: Int32) {
        self.start = start
        self.stride = stride
    }

    static let tag: UInt64 = 1 << 63

    public var token: UInt64 {
        if start == 0 && stride == 0 { return 0 }
        return Self.tag | UInt64(UInt32(bitPattern: stride) & 0x7FFF_FFFF) << 32 | UInt64(UInt32(bitPattern: start))
    }

    /// The run a token names; nil for a token that is not a run token.
    public init?(token: UInt64) {
        if token == 0 { self.init(start: 0, stride: 0); return }
        guard token & Self.tag != 0 else { return nil }
        // Strides are small (±1 in hmm-tests); bit 62 is the sign of the 31-bit field.
        let raw = UInt32(truncatingIfNeeded: token >> 32) & 0x7FFF_FFFF
        let stride = raw & 0x4000_0000 != 0 ? Int32(bitPattern: raw | 0x8000_0000) : Int32(bitPattern: raw)
        self.init(start: Int32(bitPattern: UInt32(truncatingIfNeeded: token)), stride: stride)
    }

    /// Page `page` of the whole-buffer pattern `ptr[i] = offset + stride * i`, with
    /// `intsPerPage` ints on a page.
    public static func page(_ page: Int, offset: Int32, stride: Int32, intsPerPage: Int) -> IntRun {
        IntRun(start: offset &+ stride &* Int32(truncatingIfNeeded: page * intsPerPage), stride: stride)
    }

    public var description: String {
        token == 0 ? "zero" : "ints \(start), \(start &+ stride), ..."
    }

    /// Writes the run a token names into `buffer` (whole ints only).
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer, token: UInt64) {
        (IntRun(token: token) ?? IntRun(start: 0, stride: 0)).write(into: buffer)
    }

    /// Writes `start, start + stride, ...` into `buffer`'s whole ints.
    public func write(into buffer: UnsafeMutableRawBufferPointer) {
        var value = start
        for i in 0..<buffer.count / 4 {
            buffer.storeBytes(of: value, toByteOffset: i * 4, as: Int32.self)
            value &+= stride
        }
    }

    /// The run token `page` holds, or nil when its ints are no arithmetic run a token can
    /// name (corruption, torn data, another pattern).
    ///
    /// Two ints per 64-bit load, four loads per pass, no early exit and no vector
    /// instructions: QEMU's TCG emulates each SSE instruction at several times the cost of
    /// a scalar one, and ends a translation block at every branch. The vectorised one-int
    /// loop this replaces took 3.0 µs a page in a TCG guest, this 1.4 µs (natively 75 ns
    /// against 250 ns: nothing next to the syscall that brought the page).
    public static func decode(_ page: UnsafeRawBufferPointer) -> UInt64? {
        let count = page.count / 4
        guard count >= 2, let base = page.baseAddress else { return nil }
        let first = base.loadUnaligned(as: UInt32.self)
        let stride = base.loadUnaligned(fromByteOffset: 4, as: UInt32.self) &- first
        let run = IntRun(start: Int32(bitPattern: first), stride: Int32(bitPattern: stride))
        // A stride outside the 31-bit field cannot be named; no selftest pattern has one.
        guard run.stride >= -(1 << 30) && run.stride < (1 << 30) else { return nil }
        // Word k holds ints 2k (low half) and 2k + 1 (high half).
        func word(_ even: UInt32, _ odd: UInt32) -> UInt64 { UInt64(even) | UInt64(odd) << 32 }
        let step = stride &* 2
        var even = first
        var odd = first &+ stride
        var differs: UInt64 = 0
        var pass = base
        let passes = count / 8
        for _ in 0..<passes {
            let d = (pass.loadUnaligned(as: UInt64.self) ^ word(even, odd))
                | (pass.loadUnaligned(fromByteOffset: 8, as: UInt64.self) ^ word(even &+ step, odd &+ step))
                | (pass.loadUnaligned(fromByteOffset: 16, as: UInt64.self) ^ word(even &+ step &* 2, odd &+ step &* 2))
                | (pass.loadUnaligned(fromByteOffset: 24, as: UInt64.self) ^ word(even &+ step &* 3, odd &+ step &* 3))
            // Rotating the accumulator makes it no reduction LLVM's vectorisers take on.
            differs = (differs << 1 | differs >> 63) | d
            even &+= step &* 4
            odd &+= step &* 4
            pass += 32
        }
        var value = even
        for i in (passes * 8)..<count {
            differs |= UInt64(base.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self) ^ value)
            value &+= stride
        }
        return differs == 0 ? run.token : nil
    }
}

/// How a runner turns page tokens into bytes and back: fixtures use ``PageContent``
/// (every word of every page distinct); hmmkit's kselftest-named tests use ``IntRun``
/// (hmm-tests' own int patterns).
public enum PageCodec: Sendable {
    case mixed
    case intRuns

    public func fill(_ buffer: UnsafeMutableRawBufferPointer, token: UInt64) {
        switch self {
        case .mixed: PageContent.fill(buffer, token: token)
        case .intRuns: IntRun.fill(buffer, token: token)
        }
    }

    public func decode(_ page: UnsafeRawBufferPointer) -> UInt64? {
        switch self {
        case .mixed: PageContent.decode(page)
        case .intRuns: IntRun.decode(page)
        }
    }

    public func bytes(token: UInt64, pageSize: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: pageSize)
        out.withUnsafeMutableBytes { fill($0, token: token) }
        return out
    }

    /// A token as a person reads it in a report.
    public func describe(_ token: UInt64) -> String {
        switch self {
        case .mixed: "0x" + String(token, radix: 16)
        case .intRuns: IntRun(token: token).map(\.description) ?? "0x" + String(token, radix: 16)
        }
    }
}
