/// The result files a run or `report convert`/`merge` writes: hmmkit results JSON, KCIDB,
/// JUnit and KTAP, each to its path when one is given, all together or none.
public struct ResultFiles: Sendable, Hashable {
    public var json: String?
    public var kcidb: String?
    public var junit: String?
    public var ktap: String?
    /// KCIDB origin: the CI system's name.
    public var origin: String
    /// KCIDB build the tests ran on (`origin:id`); without it a checkout and a build are written too.
    public var kcidbBuildID: String?

    public init(json: String? = nil, kcidb: String? = nil, junit: String? = nil, ktap: String? = nil, origin: String = "hmmkit",
                kcidbBuildID: String? = nil) {
        self.json = json
        self.kcidb = kcidb
        self.junit = junit
        self.ktap = ktap
        self.origin = origin
        self.kcidbBuildID = kcidbBuildID
    }

    /// Whether any file is asked for.
    public var requested: Bool { json != nil || kcidb != nil || junit != nil || ktap != nil }

    /// Writes every requested file, or (when one cannot be written) none of them.
    public func write(_ set: ResultSet) throws(ReportError) {
        var files: [(text: String, path: String)] = []
        if let json { files.append((set.jsonText, json)) }
        if let kcidb { files.append((try KCIDBWriter(origin: origin, buildID: kcidbBuildID).text(for: set), kcidb)) }
        if let junit { files.append((JUnitWriter().text(for: set), junit)) }
        if let ktap { files.append((set.ktapText, ktap)) }
        try AtomicFile.write(files)
    }
}
