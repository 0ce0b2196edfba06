import HMMSystem

/// Standard error for the command tree's own messages (ArgumentParser's usage errors).
public enum FileHandleStderr {
    public static func write(_ text: String) { StandardStream.error.write(text) }
}

/// KTAP lines to standard output, one unbuffered write each (see ``StandardStream``).
public enum Stdout {
    public static func line(_ text: String) { StandardStream.output.write(text + "\n") }
}
