import HMMModel
import HMMSystem
import HMMUAPI

/// Emits a standalone C test on the kernel's kselftest harness that replays a fixture with
/// the model's expectations as asserts.
///
/// Build it inside a kernel tree: `gcc -I tools/testing/selftests -I . file.c -lpthread`
/// (it includes `kselftest_harness.h` and `lib/test_hmm_uapi.h`). Regions live in one
/// PROT_NONE arena, each at a 2 MiB-aligned slot, so page indices and THP blocks match the
/// model. Child steps run in a forked child that reports failures through its exit status.
/// Steps the model marks as hazards are compiled only with `-DHMMKIT_RUN_HAZARDS`.
/// Where the envelope allows several results the C code accepts any of them but, unlike the
/// Swift replayer, cannot make later expectations follow the branch the kernel took.
public struct CSelftestEmitter {
    public var testName: String

    public init(testName: String = "fixture") {
        self.testName = testName.map { $0.isLetter || $0.isNumber ? $0 : "_" }.reduce(into: "") { $0.append($1) }
    }

    public func emit(_ fixture: Fixture) -> String {
        var model = fixture.makeModel()
        // Arena layout: every region id that appears gets a 512-page aligned slot.
        var spans: [Int: Int] = [:]
        var maxPages = 1
        var files = Set<Int>()
        var fdsParent = Set<Int>()
        var fdsChild = Set<Int>()
        var inChild = false
        for st in fixture.steps {
            switch st.action {
            case let .mmap(r, pages, _, _, _, _): spans[r] = pages
            case let .mremap(range, to): spans[to] = range.count
            case let .fileCreate(f, _): files.insert(f)
            case .fork: inChild = true
            case .exitChild: inChild = false
            case let .open(fd, _): if inChild { fdsChild.insert(fd) } else { fdsParent.insert(fd) }
            default: break
            }
            if case let .ioctl(c) = st.action, c.command != .flags { maxPages = max(maxPages, c.range.count) }
            switch st.action {
            case let .movePages(r, _), let .queryNodes(r): maxPages = max(maxPages, r.count)
            default: break
            }
        }
        var slot: [Int: Int] = [:]
        var offset = 0
        for r in spans.keys.sorted() {
            slot[r] = offset
            offset += ((spans[r]! + 511) / 512 + 1) * 512
        }
        let arenaPages = max(offset, 512)
        let maxFile = (files.max() ?? -1) + 1
        let maxFd = max(fdsParent.max() ?? -1, fdsChild.max() ?? -1) + 1

        var o = Self.prelude(fixture, testName: testName)
        o += "TEST_F(hmmkit, \(testName))\n{\n"
        o += "\tconst size_t P = self->page;\n"
        o += "\tuint64_t cpages = 0, faults = 0;\n\tint ret = 0;\n\t(void)cpages; (void)faults; (void)ret;\n"
        o += "\tunsigned char *buf = malloc(\(maxPages) * P);\n\tunsigned char *snap = malloc(\(maxPages));\n"
        o += "\tvoid **pages = malloc(\(maxPages) * sizeof(void *));\n\tint *status = malloc(\(maxPages) * sizeof(int));\n"
        o += "\tint fd[\(max(maxFd, 1))], file[\(max(maxFile, 1))];\n"
        o += "\tfor (int i = 0; i < \(max(maxFd, 1)); i++) fd[i] = -1;\n\t(void)file; (void)pages; (void)status; (void)snap;\n"
        o += "\tASSERT_NE(buf, NULL);\n"
        o += "\tunsigned char *raw = mmap(NULL, (\(arenaPages) + 512) * P, PROT_NONE, "
        o += "MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);\n"
        o += "\tASSERT_NE(raw, MAP_FAILED);\n"
        o += "\tunsigned char *arena = (unsigned char *)(((uintptr_t)raw + 512 * P - 1) & ~(uintptr_t)(512 * P - 1));\n"
        o += "\tpid_t pid = -1;\n\tint wstatus = 0;\n\t(void)pid; (void)wstatus;\n\n"

        inChild = false
        for (i, st) in fixture.steps.enumerated() {
            let env = model.violation(of: st.action) == nil ? model.step(st.action) : nil
            let ind = inChild ? "\t\t" : "\t"
            let check = inChild ? "HK_CHILD_CHECK" : "ASSERT_TRUE"
            o += "\(ind)/* step \(i + 1): \(Syntax.action(st.action).replacingStars) */\n"
            guard let env else {
                o += "\(ind)/* precondition violated: step skipped */\n"
                continue
            }
            let hazard = env.hazard != nil
            if hazard { o += "#ifdef HMMKIT_RUN_HAZARDS\n\(ind)/* HAZARD: \(env.hazard!.replacingStars) */\n" }
            for n in env.notes { o += "\(ind)/* note: \(n.replacingStars) */\n" }
            let fdv = inChild ? "cfd" : "fd"
            func addr(_ r: Int, _ p: Int) -> String { "(arena + (\(slot[r] ?? 0) + \(p)) * P)" }
            func errnoCheck(_ expr: String) -> String {
                let alts = env.outcomes.map { $0.errno == 0 ? "\(expr) == 0" : "\(expr) == -\(Errno.name($0.errno))" }
                return "\(ind)\(check)(\(alts.joined(separator: " || ")));\n"
            }
            switch st.action {
            case let .mmap(r, pages, prot, kind, f, off):
                let protC = prot == .none ? "PROT_NONE" : prot == .read ? "PROT_READ" : "PROT_READ | PROT_WRITE"
                var flags = kind.isShared ? "MAP_SHARED" : "MAP_PRIVATE"
                if !kind.isFileBacked { flags += " | MAP_ANONYMOUS" }
                if kind == .hugetlb { flags += " | MAP_HUGETLB" }
                let fdExpr = kind.isFileBacked ? "file[\(f!)]" : "-1"
                o += "\(ind)if (mmap(\(addr(r, 0)), \(pages) * P, \(protC), \(flags) | MAP_FIXED, \(fdExpr), \(off) * P) == MAP_FAILED) {\n"
                o += kind == .hugetlb ? "\(ind)\tSKIP(return, \"no huge pages for MAP_HUGETLB\");\n" : "\(ind)\t\(check)(0);\n"
                o += "\(ind)}\n"
            case let .munmap(r):
                o += "\(ind)\(check)(munmap(\(addr(r.region, r.first)), \(r.count) * P) == 0);\n"
            case let .mprotect(r, prot):
                let protC = prot == .none ? "PROT_NONE" : prot == .read ? "PROT_READ" : "PROT_READ | PROT_WRITE"
                o += errnoCheck("hk_sys(mprotect(\(addr(r.region, r.first)), \(r.count) * P, \(protC)))")
            case let .mremap(r, to):
                o += "\(ind)\(check)(mremap(\(addr(r.region, r.first)), \(r.count) * P, \(r.count) * P, "
                o += "MREMAP_MAYMOVE | MREMAP_FIXED, \(addr(to, 0))) != MAP_FAILED);\n"
            case let .madvise(r, adv):
                let a = ["dontneed": "MADV_DONTNEED", "free": "MADV_FREE",
                         "hugepage": "MADV_HUGEPAGE", "nohugepage": "MADV_NOHUGEPAGE"][adv.rawValue]!
                o += errnoCheck("hk_sys(madvise(\(addr(r.region, r.first)), \(r.count) * P, \(a)))")
            case let .cpuRead(r, p):
                o += "\(ind)\(check)(\(Self.tokenCondition("\(addr(r, p))", env.primary.tokens!, 0)));\n"
            case let .cpuWrite(r, p, t):
                o += "\(ind)hk_fill(\(addr(r, p)), P, 0x\(String(t, radix: 16))ULL);\n"
            case .fork:
                o += "\tpid = fork();\n\tASSERT_GE(pid, 0);\n\tif (pid == 0) {\n"
                o += "\t\tint cfd[\(max(maxFd, 1))];\n\t\tfor (int i = 0; i < \(max(maxFd, 1)); i++) cfd[i] = -1;\n\t\t(void)cfd;\n"
                inChild = true
            case .exitChild:
                o += "\t\t_exit(0);\n\t}\n\tASSERT_EQ(waitpid(pid, &wstatus, 0), pid);\n"
                o += "\tASSERT_TRUE(WIFEXITED(wstatus));\n\tASSERT_EQ(WEXITSTATUS(wstatus), 0);\n"
                inChild = false
            case let .fileCreate(f, pages):
                o += "\(ind)file[\(f)] = open(\"/tmp\", O_TMPFILE | O_EXCL | O_RDWR, 0600);\n\(ind)\(check)(file[\(f)] >= 0);\n"
                o += "\(ind)\(check)(ftruncate(file[\(f)], \(pages) * P) == 0);\n"
            case let .fileWrite(f, p, t):
                o += "\(ind)hk_fill(buf, P, 0x\(String(t, radix: 16))ULL);\n"
                o += "\(ind)\(check)(pwrite(file[\(f)], buf, P, \(p) * P) == (ssize_t)P);\n"
            case let .fileTruncate(f, pages):
                o += "\(ind)\(check)(ftruncate(file[\(f)], \(pages) * P) == 0);\n"
            case let .filePunchHole(f, first, count):
                o += "\(ind)\(check)(fallocate(file[\(f)], FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, \(first) * P, \(count) * P) == 0);\n"
            case let .open(f, minor):
                o += "\(ind)\(fdv)[\(f)] = hk_open(\(minor));\n"
                if minor >= 2 && !inChild { o += "\(ind)if (\(fdv)[\(f)] < 0)\n\(ind)\tSKIP(return, \"DEVICE_COHERENT not available\");\n" }
                o += "\(ind)\(check)(\(fdv)[\(f)] >= 0);\n"
                if !inChild { o += "\(ind)self->fds[\(f)] = fd[\(f)];\n" }
            case let .close(f):
                o += "\(ind)\(check)(close(\(fdv)[\(f)]) == 0);\n\(ind)\(fdv)[\(f)] = -1;\n"
                if !inChild { o += "\(ind)self->fds[\(f)] = -1;\n" }
            case let .ioctl(c):
                let req = fixture.profile.uapi.request(for: c.command)
                    ?? UAPIGeneration.v6_19.request(for: c.command)!
                let npages = c.command == .flags ? "\(c.range.count)" : "\(c.range.count)"
                if c.command == .write {
                    for (k, t) in c.data.enumerated() { o += "\(ind)hk_fill(buf + \(k) * P, P, 0x\(String(t, radix: 16))ULL);\n" }
                }
                let target = c.command == .snapshot ? "snap" : "buf"
                o += "\(ind)ret = hk_cmd(\(fdv)[\(c.fd)], 0x\(String(req, radix: 16))UL, "
                o += "\(addr(c.range.region, c.range.first)) + \(c.misalign), \(target), \(npages), &cpages, &faults);\n"
                o += errnoCheck("ret")
                if let ok = env.outcome(errno: 0) {
                    o += "\(ind)if (ret == 0) {\n"
                    if let cp = ok.cpages { o += "\(ind)\t\(check)(cpages == \(cp));\n" }
                    if let f = ok.faults {
                        o += f.lowerBound == f.upperBound ? "\(ind)\t\(check)(faults == \(f.lowerBound));\n"
                            : "\(ind)\t\(check)(faults >= \(f.lowerBound) && faults <= \(f.upperBound));\n"
                    }
                    if let t = ok.tokens {
                        o += "\(ind)\tstatic const uint64_t want_\(i + 1)[] = { \(Self.rows(t)) };\n"
                        o += "\(ind)\t\(check)(hk_check_pages(buf, P, \(t.count), want_\(i + 1)));\n"
                    }
                    if let s = ok.snapshot {
                        o += "\(ind)\tstatic const uint64_t want_\(i + 1)[] = { \(Self.rows(s.asUInt64)) };\n"
                        o += "\(ind)\t\(check)(hk_check_bytes(snap, \(s.count), want_\(i + 1)));\n"
                    }
                    o += "\(ind)}\n"
                }
            case let .mbind(r, node):
                o += errnoCheck("hk_mbind(\(addr(r.region, r.first)), \(r.count) * P, \(node))")
            case let .movePages(r, node):
                o += Self.movePages(r, node: node, env: env, ind: ind, check: check, step: i + 1, addr: addr)
            case let .queryNodes(r):
                o += Self.movePages(r, node: -1, env: env, ind: ind, check: check, step: i + 1, addr: addr)
            }
            if hazard { o += "#endif\n" }
        }
        o += "\tfree(buf);\n\tfree(snap);\n\tfree(pages);\n\tfree(status);\n}\n\nTEST_HARNESS_MAIN\n"
        return o
    }

    static func movePages(_ r: PageRange, node: Int, env: Envelope, ind: String, check: String, step: Int,
                          addr: (Int, Int) -> String) -> String {
        var o = "\(ind)for (int i = 0; i < \(r.count); i++) pages[i] = \(addr(r.region, r.first)) + i * P;\n"
        o += "\(ind)\(check)(hk_move_pages(\(r.count), pages, \(node), status) == 0);\n"
        if let n = env.primary.nodes {
            o += "\(ind)static const uint64_t want_\(step)[] = { \(rows(n.asUInt64)) };\n"
            o += "\(ind)\(check)(hk_check_status(status, \(n.count), want_\(step)));\n"
        }
        return o
    }

    /// `n, v1, ..., vn` per page.
    static func rows(_ v: PageValues<UInt64>) -> String {
        var parts: [String] = []
        for i in 0..<v.count {
            let a = v.allowed(at: i)
            parts.append("\(a.count), " + a.map { "0x\(String($0, radix: 16))ULL" }.joined(separator: ", "))
        }
        return parts.joined(separator: ",\n\t\t\t")
    }

    static func tokenCondition(_ ptr: String, _ v: PageValues<UInt64>, _ i: Int) -> String {
        v.allowed(at: i).map { "hk_is(\(ptr), P, 0x\(String($0, radix: 16))ULL)" }.joined(separator: " || ")
    }

    /// C for `hk_fill`/`hk_is`: how a page holding a token looks (the fixture's `data`).
    static func tokenHelpers(_ data: PageCodec) -> String {
        switch data {
        case .mixed:
        return """
        /* Page contents as tokens: word i of token t is mix(t + i * golden), 0 for t == 0. */
        static inline uint64_t hk_mix(uint64_t z)
        {
        \tz = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        \tz = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        \treturn z ^ (z >> 31);
        }

        static inline uint64_t hk_word(uint64_t token, uint64_t i)
        {
        \treturn token ? hk_mix(token + i * 0x9E3779B97F4A7C15ULL) : 0;
        }

        static inline void hk_fill(void *p, size_t size, uint64_t token)
        {
        \tuint64_t *w = p;

        \tfor (size_t i = 0; i < size / 8; i++)
        \t\tw[i] = hk_word(token, i);
        }

        static inline int hk_is(const void *p, size_t size, uint64_t token)
        {
        \tconst uint64_t *w = p;

        \tfor (size_t i = 0; i < size / 8; i++)
        \t\tif (w[i] != hk_word(token, i))
        \t\t\treturn 0;
        \treturn 1;
        }


        """
        case .intRuns:
        return """
        /* Page contents as hmm-tests' int runs: token 0 is all zero; otherwise bit 63 is set,
           bits 32-62 hold the stride (31-bit two's complement) and bits 0-31 the first int. */
        static inline void hk_run(uint64_t token, int32_t *start, int32_t *stride)
        {
        \tuint32_t raw = (uint32_t)(token >> 32) & 0x7FFFFFFFu;

        \t*start = (int32_t)(uint32_t)token;
        \t*stride = (int32_t)((raw & 0x40000000u) ? (raw | 0x80000000u) : raw);
        }

        static inline void hk_fill(void *p, size_t size, uint64_t token)
        {
        \tint32_t *w = p, v, d;

        \thk_run(token, &v, &d);
        \tfor (size_t i = 0; i < size / 4; i++, v = (int32_t)((uint32_t)v + (uint32_t)d))
        \t\tw[i] = token ? v : 0;
        }

        static inline int hk_is(const void *p, size_t size, uint64_t token)
        {
        \tconst int32_t *w = p;
        \tint32_t v, d;

        \thk_run(token, &v, &d);
        \tfor (size_t i = 0; i < size / 4; i++, v = (int32_t)((uint32_t)v + (uint32_t)d))
        \t\tif (w[i] != (token ? v : 0))
        \t\t\treturn 0;
        \treturn 1;
        }

        """
        }
    }

    static func prelude(_ f: Fixture, testName: String) -> String {
        """
        // SPDX-License-Identifier: GPL-2.0
        /*
         * Generated by hmmkit from a fixture: profile \(f.profile.name), seed \(f.seed.map(String.init) ?? "none"),
         * thp \(f.environment.thp.rawValue), devices \(f.environment.devices.map(String.init).joined(separator: " ")).
         * Build in a kernel tree: gcc -I tools/testing/selftests -I . <this file> -lpthread
         */
        #define _GNU_SOURCE
        #include <errno.h>
        #include <fcntl.h>
        #include <stdint.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <unistd.h>
        #include <sys/ioctl.h>
        #include <sys/mman.h>
        #include <sys/syscall.h>
        #include <sys/types.h>
        #include <sys/wait.h>
        #include <linux/falloc.h>
        #include "kselftest_harness.h"
        #include <lib/test_hmm_uapi.h>

        #define HK_CHILD_CHECK(cond) do { if (!(cond)) { \\
        \t\tfprintf(stderr, "child check failed at %s:%d: %s\\n", __FILE__, __LINE__, #cond); \\
        \t\t_exit(1); } } while (0)

        \(tokenHelpers(f.data))/* want: per page a count n then n allowed tokens. */
        static inline int hk_check_pages(const unsigned char *buf, size_t P, size_t n, const uint64_t *want)
        {
        \tfor (size_t i = 0; i < n; i++) {
        \t\tuint64_t k = *want++;
        \t\tint ok = 0;

        \t\tfor (uint64_t j = 0; j < k; j++)
        \t\t\tok |= hk_is(buf + i * P, P, want[j]);
        \t\twant += k;
        \t\tif (!ok) {
        \t\t\tfprintf(stderr, "page %zu: unexpected contents\\n", i);
        \t\t\treturn 0;
        \t\t}
        \t}
        \treturn 1;
        }

        static inline int hk_check_bytes(const unsigned char *b, size_t n, const uint64_t *want)
        {
        \tfor (size_t i = 0; i < n; i++) {
        \t\tuint64_t k = *want++;
        \t\tint ok = 0;

        \t\tfor (uint64_t j = 0; j < k; j++)
        \t\t\tok |= b[i] == want[j];
        \t\twant += k;
        \t\tif (!ok) {
        \t\t\tfprintf(stderr, "snapshot byte %zu: 0x%02x unexpected\\n", i, b[i]);
        \t\t\treturn 0;
        \t\t}
        \t}
        \treturn 1;
        }

        static inline int hk_check_status(const int *s, size_t n, const uint64_t *want)
        {
        \tfor (size_t i = 0; i < n; i++) {
        \t\tuint64_t k = *want++;
        \t\tint ok = 0;

        \t\tfor (uint64_t j = 0; j < k; j++)
        \t\t\tok |= (int64_t)s[i] == (int64_t)want[j];
        \t\twant += k;
        \t\tif (!ok) {
        \t\t\tfprintf(stderr, "move_pages status %zu: %d unexpected\\n", i, s[i]);
        \t\t\treturn 0;
        \t\t}
        \t}
        \treturn 1;
        }

        static inline int hk_sys(int ret)
        {
        \treturn ret ? -errno : 0;
        }

        static inline int hk_cmd(int fd, unsigned long req, void *addr, void *ptr, uint64_t npages,
        \t\t  uint64_t *cpages, uint64_t *faults)
        {
        \tstruct hmm_dmirror_cmd cmd = {
        \t\t.addr = (uintptr_t)addr, .ptr = (uintptr_t)ptr, .npages = npages,
        \t};
        \tint ret;

        \tdo {
        \t\tret = ioctl(fd, req, &cmd);
        \t} while (ret && errno == EINTR);
        \tif (ret)
        \t\treturn -errno;
        \t*cpages = cmd.cpages;
        \t*faults = cmd.faults;
        \treturn 0;
        }

        static inline int hk_open(int minor)
        {
        \tchar path[64];

        \tsnprintf(path, sizeof(path), "/dev/hmm_dmirror%d", minor);
        \treturn open(path, O_RDWR);
        }

        static inline int hk_mbind(void *addr, size_t len, int node)
        {
        \tunsigned long mask[4] = { 0 };

        \tmask[node / 64] = 1UL << (node % 64);
        \treturn hk_sys(syscall(__NR_mbind, addr, len, 2 /* MPOL_BIND */, mask, 256, 0));
        }

        /* node < 0: query only. */
        static inline int hk_move_pages(unsigned long n, void **pages, int node, int *status)
        {
        \tint *nodes = NULL;

        \tif (node >= 0) {
        \t\tnodes = malloc(n * sizeof(int));
        \t\tfor (unsigned long i = 0; i < n; i++)
        \t\t\tnodes[i] = node;
        \t}
        \tlong ret = syscall(__NR_move_pages, 0, n, pages, nodes, status, 2 /* MPOL_MF_MOVE */);
        \tfree(nodes);
        \treturn ret < 0 ? -errno : (int)ret;
        }

        FIXTURE(hmmkit) {
        \tsize_t page;
        \tint fds[16];
        };

        FIXTURE_SETUP(hmmkit)
        {
        \tself->page = sysconf(_SC_PAGE_SIZE);
        \tfor (int i = 0; i < 16; i++)
        \t\tself->fds[i] = -1;
        }

        FIXTURE_TEARDOWN(hmmkit)
        {
        \tfor (int i = 0; i < 16; i++)
        \t\tif (self->fds[i] >= 0)
        \t\t\tclose(self->fds[i]);
        }


        """
    }
}

extension PageValues where T == UInt8 {
    var asUInt64: PageValues<UInt64> {
        var out = PageValues<UInt64>(primary.map { UInt64($0) })
        for i in 0..<count { for v in allowed(at: i).dropFirst() { out.allow(UInt64(v), at: i) } }
        return out
    }
}

extension PageValues where T == Int32 {
    var asUInt64: PageValues<UInt64> {
        var out = PageValues<UInt64>(primary.map { UInt64(bitPattern: Int64($0)) })
        for i in 0..<count { for v in allowed(at: i).dropFirst() { out.allow(UInt64(bitPattern: Int64(v)), at: i) } }
        return out
    }
}

extension String {
    /// Safe inside a C comment.
    var replacingStars: String {
        var out = ""
        var prev: Character = " "
        for c in self {
            if prev == "*" && c == "/" { out.append(" ") }
            if prev == "/" && c == "*" { out.append(" ") }
            out.append(c)
            prev = c
        }
        return out
    }
}
