import Foundation

/// Unbuffered writes: KTAP streams line by line (to a serial port in a VM), so a crash
/// loses nothing already reported; logs go to stderr.
enum FileHandleStderr {
    static func write(_ text: String) { FileHandle.standardError.write(Data(text.utf8)) }
}

enum Stdout {
    static func line(_ text: String) { FileHandle.standardOutput.write(Data((text + "\n").utf8)) }
}
