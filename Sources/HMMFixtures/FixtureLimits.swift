/// The limits a fixture must stay within, checked while parsing so that no fixture,
/// however malformed or hostile, can trap hmmkit or make it allocate without bound:
/// every number is range-checked before the model does arithmetic or sizes an array
/// with it. Each limit is far above what a real test needs.
public enum FixtureLimits {
    /// Bytes of fixture text (the whole file).
    public static let fileBytes = 16 << 20
    /// Characters on one line (a long `data=[...]` list included).
    public static let lineLength = 1 << 20
    /// Steps in one fixture.
    public static let steps = 100_000
    /// Pages of one region or file (512 MiB of 4 KiB pages).
    public static let pagesPerMapping = 1 << 17
    /// Pages of all mmaps and files of a fixture together (the model keeps state per page).
    public static let totalPages = 1 << 20
    /// Tokens of all `data=[...]` lists together: `[0x1*131072]` is a short line, so without
    /// this a 16 MiB file of such writes could ask for a hundred GiB.
    public static let dataTokens = 1 << 22
    /// Largest region, fd and file number (`r1023`, `f1023`, `F1023`).
    public static let largestID = 1023
    /// Largest NUMA node number (`nodes`, `local-node`, `mbind`, `move-pages`).
    public static let largestNode = 14
    /// Largest device minor (test_hmm makes four).
    public static let largestDevice = 3
    /// Largest `misalign=` (bytes into the first page).
    public static let largestMisalign = 4095

    /// One line per limit, for `hmmkit fixture --help` and the README.
    public static var summary: String {
        """
        file \(fileBytes) bytes, line \(lineLength) characters, \(steps) steps; \
        \(pagesPerMapping) pages per region or file, \(totalPages) pages in all, \(dataTokens) data tokens in all; \
        ids r/f/F 0...\(largestID); nodes 0...\(largestNode); devices 0...\(largestDevice); \
        misalign 0...\(largestMisalign); page numbers, counts and offsets 0...\(pagesPerMapping)
        """
    }
}
