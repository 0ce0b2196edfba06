import HMMKernel
import HMMSystem
import HMMUAPI

#if canImport(Glibc)
import Glibc
#endif

/// migrate_vma throughput as a driver developer compares it across kernels: system memory
/// to device memory and back, for each device type, over base pages and THP-backed memory,
/// beside memcpy of the same size in the same process (the machine's own yardstick).
///
/// To the device is HMM_DMIRROR_MIGRATE_TO_DEV, which in test_hmm also copies the migrated
/// data back to the caller for checking: that copy is part of what it measures, on every
/// kernel alike. Back is HMM_DMIRROR_MIGRATE_TO_SYS (or CPU faults where the kernel lacks it).
public enum MigrationBenchmark {
    public enum Backing: String, Sendable, CaseIterable {
        case basePages = "4k"
        case transparentHugePages = "thp"
    }

    public enum Direction: String, Sendable, CaseIterable {
        case toDevice = "to-device"
        case toSystem = "to-system"
    }

    public struct Case: Hashable, Sendable {
        public var device: DeviceMemoryType
        public var backing: Backing
        public var mebibytes: Int
        public var direction: Direction

        /// `bench.migrate.<device>.<backing>.<size>MiB.<direction>`: one KTAP test per case.
        public var name: String {
            let device = device == .devicePrivate ? "private" : "coherent"
            return "bench.migrate.\(device).\(backing.rawValue).\(mebibytes)MiB.\(direction.rawValue)"
        }
    }

    public struct Figure: Sendable {
        public var benchmarkCase: Case
        /// Seconds per round; empty when it could not run.
        public var seconds: [Double] = []
        public var memcpySeconds: [Double] = []
        /// Why a round failed (the kernel refused, or moved fewer pages than asked).
        public var failure: String?
        /// How the way back was taken when MIGRATE_TO_SYS does not exist.
        public var note: String?

        public var medianSeconds: Double? { median(seconds) }
        public var gibibytesPerSecond: Double? {
            medianSeconds.map { Double(benchmarkCase.mebibytes) / 1024 / $0 }
        }
        /// memcpy's time over this operation's: 1.0 means as fast as memcpy.
        public var fractionOfMemcpy: Double? {
            guard let op = medianSeconds, let copy = median(memcpySeconds), op > 0 else { return nil }
            return copy / op
        }
    }

    /// Runs one size for one device and backing (both directions), `warmup` untimed rounds
    /// then `rounds` timed ones. The caller has checked the device exists (`minor` is one of its).
    public static func measure(device: DeviceMemoryType, minor: Int, generation: UAPIGeneration, backing: Backing,
                               mebibytes: Int, rounds: Int, warmup: Int = 1) -> [Figure] {
        var toDevice = Figure(benchmarkCase: Case(device: device, backing: backing, mebibytes: mebibytes, direction: .toDevice))
        var toSystem = Figure(benchmarkCase: Case(device: device, backing: backing, mebibytes: mebibytes, direction: .toSystem))
        let bytes = mebibytes << 20
        let pages = bytes / Machine.pageSize
        let mirror: DmirrorDevice
        do { mirror = try DmirrorDevice(minor: minor, generation: generation) } catch {
            toDevice.failure = "\(error)"; toSystem.failure = "\(error)"
            return [toDevice, toSystem]
        }
        let readBack = DeviceBuffer(bytes: bytes)
        let source = DeviceBuffer(bytes: bytes)
        let target = DeviceBuffer(bytes: bytes)
        memset(source.base, 0x5a, bytes)
        memset(target.base, 0, bytes)
        for round in -warmup..<rounds {
            // memcpy first, in the same round, so both see the same machine load.
            let copyStart = monotonicSeconds()
            memcpy(target.base, source.base, bytes)
            let copySeconds = monotonicSeconds() - copyStart
            do {
                let address = try VirtualMemory.reserveSlot(bytes: bytes)
                defer { try? VirtualMemory.unmap(at: address, bytes: bytes) }
                try VirtualMemory.map(at: address, bytes: bytes, protection: .readWrite, backing: .privateAnonymous)
                try VirtualMemory.advise(at: address, bytes: bytes, backing == .transparentHugePages ? .hugePage : .noHugePage)
                VirtualMemory.store(at: address, bytes: bytes) { memset($0.baseAddress!, Int32(round + 2), bytes) }

                let start = monotonicSeconds()
                let there = try mirror.perform(.migrateToDevice, address: address, pages: UInt64(pages), buffer: readBack.address)
                let middle = monotonicSeconds()
                guard there.cpages == UInt64(pages) else {
                    toDevice.failure = "round \(round + 1): moved \(there.cpages) of \(pages) pages to the device"
                    break
                }
                if round >= 0 {
                    toDevice.seconds.append(middle - start)
                    toDevice.memcpySeconds.append(copySeconds)
                }

                let backStart = monotonicSeconds()
                do {
                    let back = try mirror.perform(.migrateToSystem, address: address, pages: UInt64(pages))
                    guard back.cpages == UInt64(pages) else {
                        toSystem.failure = "round \(round + 1): moved \(back.cpages) of \(pages) pages back"
                        break
                    }
                } catch .unsupported {
                    // Fault every page back with a CPU read, as a process touching its data would.
                    toSystem.note = "CPU faults (this kernel has no MIGRATE_TO_SYS)"
                    _ = VirtualMemory.load(at: address, bytes: bytes) { raw in
                        stride(from: 0, to: bytes, by: Machine.pageSize).reduce(0) { $0 &+ Int(raw[$1]) }
                    }
                }
                if round >= 0 {
                    toSystem.seconds.append(monotonicSeconds() - backStart)
                    toSystem.memcpySeconds.append(copySeconds)
                }
            } catch {
                let message = "round \(round + 1): \(error)"
                if toDevice.seconds.count <= max(round, 0) { toDevice.failure = message } else { toSystem.failure = message }
                break
            }
        }
        return [toDevice, toSystem]
    }
}

/// The middle value (the mean of the middle two for an even count); nil when empty.
public func median(_ values: [Double]) -> Double? {
    guard !values.isEmpty else { return nil }
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}
