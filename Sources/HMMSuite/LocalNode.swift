import HMMFixtures
import HMMKernel
import HMMModel

/// Where a test's steps must run so that the model's `local-node` holds on this machine.
///
/// Pages faulted in without a memory policy come from the node of the CPU that faults
/// them. The model is told one local node; the test's thread is pinned to that node's
/// CPUs, so the scheduler cannot move it to another node half-way (in a guest with one
/// CPU per node it would, and pages would land on either node).
public enum LocalNodePlacement: Equatable, Sendable {
    /// Nothing to pin: no NUMA here, or the model assumes no local node.
    case anywhere
    /// Run on `cpus`, the CPUs of `node`.
    case pinned(node: Int, cpus: [Int])

    /// The first node with both CPUs and memory (where a test process allocates), or nil.
    public static func home(among nodes: [NumaNode]) -> LocalNodePlacement? {
        nodes.first { !$0.cpus.isEmpty && $0.memoryBytes > 0 }.map { .pinned(node: $0.id, cpus: $0.cpus) }
    }

    public var node: Int? {
        if case let .pinned(node, _) = self { return node }
        return nil
    }

    /// The node's lowest CPU alone. A fixture's steps run on one CPU because the kernel's
    /// answer may depend on which CPU ran the step before: per-CPU LRU batches
    /// (`folio_batch_add_and_move`: MADV_FREE's lazyfree batch, `folio_activate`) hold a
    /// reference on a folio that stays on the LRU, and `migrate_device_unmap` drains only
    /// its own CPU's batches (`lru_add_drain`), so `migrate_vma_check_page` refused a folio
    /// another CPU's batch held and MIGRATE_TO_DEV left it behind (fuzz seeds 1160, 1327).
    public var oneCPU: LocalNodePlacement {
        guard case let .pinned(node, cpus) = self, let first = cpus.min() else { return self }
        return .pinned(node: node, cpus: [first])
    }

    /// Pins the calling thread (and what it forks or starts later). A machine that will not
    /// run this thread on those CPUs (a cpuset without them) cannot hold the model's local
    /// node: the test SKIPs with the reason rather than fail.
    public func apply() throws(TestSkip) {
        guard case let .pinned(node, cpus) = self else { return }
        do { try Machine.pinCurrentThread(to: cpus) } catch {
            throw TestSkip("cannot run on node \(node)'s CPUs \(cpus) to keep the model's local node: \(error)")
        }
    }

    /// A fixture's `local-node` on this machine: that node's CPUs when it has any; else
    /// another node with CPUs if the fixture's expectations stay the same with it as the
    /// local node (the fixture is then replayed under it); else why the fixture cannot run
    /// here (a SKIP reason). `nodes` empty: no NUMA facts, so nothing can be pinned; the
    /// fixture runs as is only when it assumes node 0, the one node of such a machine.
    public static func forFixture(_ fixture: Fixture, nodes: [NumaNode]) -> Result<(LocalNodePlacement, Fixture), PlacementSkip> {
        guard let wanted = fixture.environment.localNode else { return .success((.anywhere, fixture)) }
        if nodes.isEmpty {
            return wanted == 0 ? .success((.anywhere, fixture))
                : .failure(PlacementSkip("fixture assumes local node \(wanted), and this machine reports no NUMA nodes"))
        }
        if let own = nodes.first(where: { $0.id == wanted && !$0.cpus.isEmpty && $0.memoryBytes > 0 }) {
            return .success((.pinned(node: wanted, cpus: own.cpus), fixture))
        }
        let withCPUs = nodes.filter { !$0.cpus.isEmpty && $0.memoryBytes > 0 }
        for candidate in withCPUs {
            var moved = fixture
            moved.environment.localNode = candidate.id
            if moved.sameExpectations(as: fixture) {
                return .success((.pinned(node: candidate.id, cpus: candidate.cpus), moved))
            }
        }
        let have = withCPUs.isEmpty ? "no node has both CPUs and memory"
            : "CPUs with memory are on node(s) \(withCPUs.map { String($0.id) }.joined(separator: ", "))"
        return .failure(PlacementSkip("fixture assumes processes allocate from node \(wanted) (local-node \(wanted)), "
                                      + "but node \(wanted) has no CPUs here (\(have)), "
                                      + "and its expected results differ with another local node"))
    }
}

public struct PlacementSkip: Error, Equatable, Sendable {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
}
