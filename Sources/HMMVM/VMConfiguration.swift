import HMMGuest

/// The shape of a test VM and the QEMU command line for it (pure: testable without QEMU).
public struct VMConfiguration: Sendable, Equatable {
    public enum Accelerator: String, Sendable { case kvm, tcg }

    /// What the user asks for: KVM if it works here (remembered per machine), or one of them.
    public enum AcceleratorChoice: String, Sendable, CaseIterable { case auto, kvm, tcg }

    /// Transparent huge pages at boot (`transparent_hugepage=`).
    public enum THPAtBoot: String, Sendable, CaseIterable { case always, madvise, never }

    /// How CPUs and memory are spread over the two NUMA nodes.
    public enum NodeShape: String, Sendable, CaseIterable {
        /// Node 0: every CPU and 2 GiB; node 1: 512 MiB and no CPU (the SPM range in node 0).
        case memoryOnlyNode = "memory-only-node"
        /// One CPU and 1 GiB per node, the SPM range in node 1: the shape of a virtme-ng
        /// guest with `--numa 1G,cpus=0 --numa 1G,cpus=1`, a machine hmmkit did not shape.
        case cpuPerNode = "cpu-per-node"
    }

    /// What the guest boots into.
    public enum GuestRoot: Sendable, Equatable {
        /// The payload's initramfs with this boot's archive appended (one file, `-initrd`);
        /// the guest reports back over a third serial line into `channelLog`.
        case initramfs(path: String, channelLog: String)
        /// The host's `/` read-only over 9p, the kernel's modules and a writable exchange
        /// directory beside it; scripts/vm-init is PID 1. Only for trusted kernels (hmmkit's own
        /// builds, a CI kernel under comparison): the guest can read the host's files.
        case hostRoot(modulesDirectory: String, exchangeDirectory: String, initPath: String)
    }

    public var bzImage: String
    public var guestRoot: GuestRoot
    public var accelerator: Accelerator = .tcg
    public var thp: THPAtBoot = .madvise
    public var nodeShape: NodeShape = .memoryOnlyNode
    public var cpus = 2
    /// TCG only: whether the vCPUs take turns on one host thread or run side by side
    /// (``tcgThreading(forKernelConfig:)`` picks it for the kernel being booted).
    public var tcgThreading: TCGThreading = .oneThread
    /// TCG only: QEMU's `-icount shift=N`. Guest time then counts executed instructions
    /// (2^N ns each) instead of the host's clock, so a benchmark's figures no longer move
    /// with the host's load; what an instruction costs on the host is left out.
    public var instructionCountShift: Int?

    /// Each node's memory and its CPUs' part of the -numa option, from the shape.
    var nodes: [(mib: Int, cpus: String?)] {
        switch nodeShape {
        case .memoryOnlyNode: [(2048, "0-\(cpus - 1)"), (512, nil)]
        case .cpuPerNode: [(1024, "0"), (1024, "1-\(cpus - 1)")]
        }
    }
    /// Reserved special-purpose memory (memmap=SIZE$ADDR) for the device-coherent devices.
    public var spmBase: UInt64 = 0x4000_0000
    public var spmMiB = 512
    public var hugePages = 16
    public var consoleLog: String
    public var ktapLog: String
    public var extraKernelArguments: [String] = []

    public init(bzImage: String, guestRoot: GuestRoot, consoleLog: String, ktapLog: String) {
        self.bzImage = bzImage
        self.guestRoot = guestRoot
        self.consoleLog = consoleLog
        self.ktapLog = ktapLog
    }

    /// The reserved range test_hmm's device-coherent devices use.
    public var spmRange: SPMRange { SPMRange(base: spmBase, bytes: UInt64(spmMiB) << 20) }

    /// The two SPM addresses test_hmm needs: each device gets half of the range.
    public var spmModuleParameters: [(String, String)] {
        zip(["spm_addr_dev0", "spm_addr_dev1"], spmRange.deviceAddresses.map(hex)).map { ($0, $1) }
    }

    public var kernelCommandLine: String {
        var args = ["console=ttyS0", "earlyprintk=serial,ttyS0"]
        switch guestRoot {
        case .initramfs:
            args += ["rdinit=\(GuestLayout.initLink)", "8250.nr_uarts=3"]
        case let .hostRoot(_, _, initPath):
            args += ["root=hmmroot", "rootfstype=9p", "rootflags=trans=virtio,version=9p2000.L,msize=262144,cache=loose", "ro",
                     "init=\(initPath)", "8250.nr_uarts=2"]
        }
        args += [
            // Not System RAM, so test_hmm can claim it as device-coherent memory.
            "memmap=\(spmMiB)M$\(hex(spmBase))",
            "hugepages=\(hugePages)",
            "transparent_hugepage=\(thp.rawValue)",
            // A panic ends the VM at once (QEMU -no-reboot) instead of hanging it.
            "panic=-1", "oops=continue", "printk.devkmsg=on",
            "tsc=reliable", "no_hash_pointers",
            // The CPU's RDRAND seeds the kernel's RNG at once. 6.1 does not credit it by default
            // (6.2 and later do), and Swift's runtime blocks in getrandom() for its hash seed
            // until the RNG is ready: /init waited a second for "crng init done" on 6.1.
            "random.trust_cpu=on",
            // Every process maps its executable and libraries at the same addresses. QEMU's TCG
            // finds the code it already translated by virtual address, so hmmkit's second
            // process (the guest command after /init, each `bench suite` round) reuses the
            // translations of the first instead of translating the same code again.
            "norandmaps",
        ]
        args += extraKernelArguments
        return args.joined(separator: " ")
    }

    /// The guest's memory: the nodes' sum.
    public var memoryMiB: Int { nodes.reduce(0) { $0 + $1.mib } }

    /// The NUMA nodes as QEMU options (each node's memory backend, then the node).
    public var numaArguments: [String] {
        nodes.enumerated().flatMap { id, node in
            ["-object", "memory-backend-ram,id=mem\(id),size=\(node.mib)M",
             "-numa", "node,nodeid=\(id)," + (node.cpus.map { "cpus=\($0)," } ?? "") + "memdev=mem\(id)"]
        }
    }

    /// How QEMU's TCG runs the guest's vCPUs.
    public enum TCGThreading: String, Sendable, Equatable {
        /// In turn on one host thread (`thread=single`).
        case oneThread = "single"
        /// Each on a host thread of its own (`thread=multi`), side by side on the host's cores.
        case threadPerVCPU = "multi"
    }

    /// A thread per vCPU only for a kernel whose configuration says it does not rewrite its
    /// own live code with jump labels; one thread for any other, and when the configuration
    /// is unknown. With a thread per vCPU a vCPU sometimes ran the int3 that text_poke_bp
    /// leaves in place during a live patch after the patch had finished, and the kernel
    /// oopsed at boot ("Oops: int3" at sched_clock_cpu+0x9, right after sched_clock_init_late
    /// flipped the __sched_clock_stable static key; twice on 6.12.118 with the distro config).
    /// One thread cannot run one vCPU while another rewrites its code. hmmkit's own
    /// configuration has no jump labels (tinyconfig's default): its static keys are plain
    /// branches, and nothing patches live text after boot. There a second vCPU runs the
    /// reference model beside the test, as a second CPU does under KVM.
    public static func tcgThreading(forKernelConfig text: String?) -> TCGThreading {
        guard let text else { return .oneThread }
        return text.split(whereSeparator: \.isNewline).contains("# CONFIG_JUMP_LABEL is not set") ? .threadPerVCPU : .oneThread
    }

    /// `-accel` under TCG. `-icount` counts one stream of instructions: it needs one thread.
    public var tcgAccelerator: String {
        "tcg,thread=" + (instructionCountShift == nil ? tcgThreading : .oneThread).rawValue
    }

    /// Whether the guest's CPUs take turns on one host thread: a second thread in the guest
    /// then overlaps nothing (the guest is told so: ``BootPlan/modelThreadVariable``).
    public var vCPUsTakeTurns: Bool {
        accelerator == .tcg && (tcgThreading == .oneThread || instructionCountShift != nil)
    }

    /// The vCPU under TCG: QEMU's `max` model without ERMS and FSRM. With them the kernel
    /// clears every new page with `rep stosb` and copies to and from user space with
    /// `rep movsb`, and TCG runs a `rep` string instruction one element per iteration: a
    /// byte at a time. Without them it clears and copies 8 bytes per iteration (or in
    /// unrolled loops), and glibc's memcpy and memset take their vector loops. On 6.12.118
    /// (2 cores, one VM, alternating rounds) hm-tests went from 5.8 s to 3.9 s and hmmkit's
    /// suite from 8.6 s to 6.4 s; clear_page_erms alone had been a fifth of hm-tests' samples.
    public static let tcgCPU = "max,-erms,-fsrm"

    public var qemuArguments: [String] {
        var a: [String] = []
        switch accelerator {
        case .kvm: a += ["-accel", "kvm", "-cpu", "host"]
        case .tcg:
            a += ["-accel", tcgAccelerator, "-cpu", Self.tcgCPU]
            if let shift = instructionCountShift { a += ["-icount", "shift=\(shift)"] }
        }
        a += ["-machine", "pc", "-smp", "\(cpus)", "-m", "\(memoryMiB)M"] + numaArguments
        a += ["-kernel", bzImage, "-append", kernelCommandLine,
              "-display", "none", "-no-reboot", "-nodefaults", "-no-user-config",
              "-chardev", "file,id=console,path=\(consoleLog)",
              "-serial", "chardev:console",
              "-chardev", "file,id=ktap,path=\(ktapLog)",
              "-serial", "chardev:ktap",
              "-device", "virtio-rng-pci"]
        switch guestRoot {
        case let .initramfs(path, channelLog):
            a += ["-initrd", path, "-chardev", "file,id=channel,path=\(channelLog)", "-serial", "chardev:channel"]
        case let .hostRoot(modulesDirectory, exchangeDirectory, _):
            a += ["-fsdev", "local,id=root,path=/,security_model=none,readonly=on,multidevs=remap",
                  "-device", "virtio-9p-pci,fsdev=root,mount_tag=hmmroot",
                  "-fsdev", "local,id=mods,path=\(modulesDirectory),security_model=none,readonly=on",
                  "-device", "virtio-9p-pci,fsdev=mods,mount_tag=hmmmods",
                  "-fsdev", "local,id=out,path=\(exchangeDirectory),security_model=none",
                  "-device", "virtio-9p-pci,fsdev=out,mount_tag=hmmout"]
        }
        return a
    }
}

func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
