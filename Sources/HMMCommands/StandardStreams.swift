import HMMSystem

/// KTAP lines to standard output, one unbuffered write each (see ``StandardStream``).
public enum Stdout {
    public static func line(_ text: String) { StandardStream.output.write(text + "\n") }
}
