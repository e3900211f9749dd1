import ResmonClient
import ResmonSystem

/// One `resmon` command, declared in one place: its name, synopsis, help, the options it takes
/// and what it does. `resmon --help`, `resmon NAME --help`, unknown-option errors and dispatch
/// all come from these declarations (`CLI.commands` lists them), and so do resmon(1) and the
/// shell completions (`make man completion`, Sources/ResmonDocs): adding a command is adding a
/// file under Commands/ and a line there.
public struct Command: Sendable {
    public let name: String
    /// What follows `resmon` in the usage line: `stats [REGEX] [--where CONDITION]...`.
    public let synopsis: String
    /// One line for `resmon --help`.
    public let summary: String
    /// The rest of `resmon NAME --help`.
    public let details: String
    /// How many positional arguments it takes.
    public let arguments: ClosedRange<Int>
    public let options: [OptionDeclaration]
    /// What its positional arguments are, for completion; with verbs, what follows each verb.
    public let completes: ArgumentKind
    /// The words its first argument is one of (`monitor create`, `event append`), if any.
    public let verbs: [Verb]
    let run: @Sendable (ResmonClient, Invocation) throws -> Void

    init(
        name: String, synopsis: String, summary: String, details: String, arguments: ClosedRange<Int> = 0...0,
        completes: ArgumentKind = .nothing, options: [OptionDeclaration] = [], verbs: [Verb] = [],
        run: @escaping @Sendable (ResmonClient, Invocation) throws -> Void
    ) {
        self.name = name
        self.synopsis = synopsis
        self.summary = summary
        self.details = details
        self.arguments = arguments
        self.options = options
        self.completes = completes
        self.verbs = verbs
        self.run = run
    }

    /// What a positional argument is, so that a shell completes it: a statistic key or a
    /// monitor id from the running resmond (`resmon --complete`), a file, or nothing.
    public enum ArgumentKind: String, Sendable {
        case nothing, statistic, monitor, file
    }

    /// A word a command's first argument may be, and what follows it.
    public struct Verb: Sendable {
        public let name: String
        public let completes: ArgumentKind
        init(_ name: String, _ completes: ArgumentKind = .nothing) {
            self.name = name
            self.completes = completes
        }
    }

    var help: String {
        var text = "Usage: resmon " + synopsis + "\n\n" + details + "\n"
        let all = options + CLI.globalOptions
        text += "\nOptions:\n" + ArgumentParser.help(for: all) + "\n"
        return text
    }
}

/// A command as invoked: its positional arguments (after the command's name) and options.
struct Invocation {
    let command: Command
    let parsed: ParsedArguments
    var arguments: [String]

    var json: Bool { parsed.flag("--json") }
    func flag(_ name: String) -> Bool { parsed.flag(name) }
    func value(_ name: String) -> String? { parsed.value(name) }
    func values(_ name: String) -> [String] { parsed.values(name) }

    /// An option's value as a number; a usage error when it is not one.
    func number(_ name: String) throws(UsageError) -> Double? {
        guard let text = value(name) else { return nil }
        guard let number = Double(text), number.isFinite else { throw UsageError(message: "\(name): expected a number, got \"\(text)\"") }
        return number
    }

    /// An option's value as a whole number; a usage error when it is not one.
    func whole(_ name: String) throws(UsageError) -> Int? {
        guard let text = value(name) else { return nil }
        guard let number = Int(text) else { throw UsageError(message: "\(name): expected a whole number, got \"\(text)\"") }
        return number
    }

    /// Refuses options given that only apply elsewhere (a command with verbs, like `monitor`).
    func refuse(_ names: [String], unless context: String) throws(UsageError) {
        if let given = names.first(where: { parsed.flag($0) }) { throw UsageError(message: "\(given) applies to \(context) only") }
    }
}

/// A mistake on the command line: exit status 64, with the command's help pointed at.
struct UsageError: Error {
    let message: String
}
