import Foundation
import HMMReport
import HMMSystem

/// How HTTP reaches the lab; a mock stands in for it in unit tests.
public protocol HTTPTransport: Sendable {
    func send(_ request: HTTPRequest) throws(LabError) -> HTTPResponse
}

public struct HTTPRequest: Sendable, Equatable {
    public enum Method: String, Sendable {
        case get = "GET"
        case post = "POST"
    }
    public var method: Method
    public var url: String
    public var headers: [String: String]
    public var body: Data?
}

public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    public var body: Data
    public init(status: Int, body: Data) {
        self.status = status
        self.body = body
    }
}

/// LAVA's REST API (v0.2): submit a job, read its state, fetch its log.
public struct LavaServer: Sendable {
    public var baseURL: String
    public var token: String?
    public var transport: any HTTPTransport

    public init(url: String, token: String?, transport: any HTTPTransport = CurlTransport()) throws(LabError) {
        var base = url
        while base.hasSuffix("/") { base.removeLast() }
        guard base.hasPrefix("http://") || base.hasPrefix("https://") else {
            throw LabError("--server \(url): need an http:// or https:// URL")
        }
        baseURL = base
        self.token = token
        self.transport = transport
    }

    public enum JobState: Sendable, Equatable {
        /// Submitted, scheduling, scheduled or running.
        case pending(String)
        /// Finished: LAVA's health (Complete, Incomplete, Canceled) and when it ran.
        case finished(health: String, seconds: Double?)
    }

    public func submit(definition: String) throws(LabError) -> Int {
        let body: Data
        do { body = try JSONSerialization.data(withJSONObject: ["definition": definition]) } catch {
            throw LabError("cannot encode the job definition: \(error)")
        }
        let reply = try call(.post, "/api/v0.2/jobs/", body: body)
        guard let ids = (try? JSONSerialization.jsonObject(with: reply)) as? [String: Any],
              let jobIDs = ids["job_ids"] as? [Int], let id = jobIDs.first else {
            throw LabError("\(baseURL): submit answered without a job id: \(Self.excerpt(reply))")
        }
        return id
    }

    public func state(of job: Int) throws(LabError) -> JobState {
        let reply = try call(.get, "/api/v0.2/jobs/\(job)/")
        guard let fields = (try? JSONSerialization.jsonObject(with: reply)) as? [String: Any],
              let state = fields["state"] as? String else {
            throw LabError("\(baseURL): job \(job): no state in \(Self.excerpt(reply))")
        }
        guard state == "Finished" else { return .pending(state) }
        let health = fields["health"] as? String ?? "Unknown"
        var seconds: Double?
        if let start = (fields["start_time"] as? String).flatMap(Timestamp.parse),
           let end = (fields["end_time"] as? String).flatMap(Timestamp.parse) {
            seconds = end.timeIntervalSince(start)
        }
        return .finished(health: health, seconds: seconds)
    }

    public func log(of job: Int) throws(LabError) -> String {
        String(decoding: try call(.get, "/api/v0.2/jobs/\(job)/logs/"), as: UTF8.self)
    }

    public func jobURL(_ job: Int) -> String { baseURL + "/scheduler/job/\(job)" }

    func call(_ method: HTTPRequest.Method, _ path: String, body: Data? = nil) throws(LabError) -> Data {
        var headers = ["Accept": "application/json"]
        if let token { headers["Authorization"] = "Token " + token }
        if body != nil { headers["Content-Type"] = "application/json" }
        let response = try transport.send(HTTPRequest(method: method, url: baseURL + path, headers: headers, body: body))
        guard (200..<300).contains(response.status) else {
            throw LabError("\(method.rawValue) \(baseURL + path): HTTP \(response.status): \(Self.excerpt(response.body))")
        }
        return response.body
    }

    static func excerpt(_ data: Data) -> String {
        let text = String(decoding: data.prefix(300), as: UTF8.self)
        return text.isEmpty ? "(empty)" : text.replacingOccurrences(of: "\n", with: " ")
    }
}

/// HTTP through curl(1): no TLS or HTTP stack linked into hmmkit. The token goes in a
/// header file (mode 0600), never on a command line other users can read.
public struct CurlTransport: HTTPTransport {
    public var executable = "/usr/bin/curl"
    public var timeoutSeconds = 120
    public init() {}

    public func send(_ request: HTTPRequest) throws(LabError) -> HTTPResponse {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("hmmkit-curl-\(UUID().uuidString)")
        do {
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: false,
                                                    attributes: [.posixPermissions: 0o700])
        } catch { throw LabError("cannot make a scratch directory for curl: \(error)") }
        defer { try? FileManager.default.removeItem(at: scratch) }
        let headerFile = scratch.appendingPathComponent("headers")
        let bodyFile = scratch.appendingPathComponent("body")
        let output = scratch.appendingPathComponent("response")
        var arguments = ["--silent", "--show-error", "--max-time", String(timeoutSeconds), "--request", request.method.rawValue,
                         "--header", "@" + headerFile.path, "--output", output.path, "--write-out", "%{http_code}"]
        do {
            let headerText = request.headers.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)\n" }.joined()
            try Data(headerText.utf8).write(to: headerFile)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: headerFile.path)
            if let body = request.body {
                try body.write(to: bodyFile)
                arguments += ["--data-binary", "@" + bodyFile.path]
            }
        } catch { throw LabError("cannot write curl's request files: \(error)") }
        arguments.append(request.url)

        let curl: ProgramResult
        do { curl = try runProgram([executable] + arguments, error: .captured) } catch {
            throw LabError("cannot run \(executable): \(error)")
        }
        guard curl.termination == .exited(0), let status = Int(curl.output.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw LabError("\(request.method.rawValue) \(request.url): curl exited \(curl.termination.status): "
                           + curl.errorOutput.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let body = (try? Data(contentsOf: output)) ?? Data()
        return HTTPResponse(status: status, body: body)
    }
}
