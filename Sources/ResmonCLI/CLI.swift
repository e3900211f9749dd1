import FoundationEssentials
import ResmonAPI
import ResmonClient
import ResmonSystem

#if canImport(Glibc)
    import Glibc
#endif

/// The `resmon` command line: human tables by default, `--json` for scripts.
///
/// Exit status: 0 success, 1 resmond answered with an error (an unknown key …), 2 no resmond
/// answered, 64 bad usage.
public enum CLI {
    public enum ExitCode {
        public static let success: Int32 = 0
        public static let failure: Int32 = 1
        public static let unreachable: Int32 = 2
        public static let usage: Int32 = 64
    }

    /// Every command, in the order `resmon --help` lists them.
    public static let commands: [Command] = [
        .status, .subsystems, .stats, .get, .watch, .history, .push, .monitor, .events, .event,
        .importPerfmon, .export, .sinks, .reload, .version
    ]

    /// Options every command takes.
    public static let globalOptions: [OptionDeclaration] = [
        .flag("--json", help: "print JSON instead of a table"),
        .value("--socket", placeholder: "PATH", help: "the daemon's socket (else $RESMON_SOCKET, else \(DefaultPaths.socket()))"),
        .value("--url", placeholder: "URL", help: "a remote resmond's TCP listener, https://HOST:PORT, instead of the socket (else $RESMON_URL)"),
        .value("--token-file", placeholder: "FILE", help: "with --url: the bearer token that writes need (else $RESMON_TOKEN_FILE)"),
        .value("--cacert", placeholder: "FILE", help: "with --url: PEM CA certificates to verify resmond's with (else $RESMON_CACERT, else the system's)"),
        .flag("--help", "-h", help: "this help")
    ]

    /// What resmon is, for `resmon --help` and resmon(1).
    public static var about: String {
        "Reads resmond, the resmon daemon, over its Unix socket (--socket, else $RESMON_SOCKET, else \(DefaultPaths.socket())), "
            + "or a remote resmond over HTTPS (--url, else $RESMON_URL; the certificate verified against --cacert or the system's CAs; "
            + "writes need the token)."
    }

    /// The exit statuses, for `resmon --help` and resmon(1).
    public static let exitStatuses: [(status: Int32, meaning: String)] = [
        (ExitCode.success, "success"),
        (ExitCode.failure, "resmond refused (unknown key, bad regex)"),
        (ExitCode.unreachable, "no resmond answered"),
        (ExitCode.usage, "bad usage")
    ]

    /// The environment variables resmon reads, for resmon(1).
    public static let environment: [(name: String, meaning: String)] = [
        ("RESMON_SOCKET", "the daemon's socket when --socket is not given"),
        ("RESMON_URL", "a remote resmond's https://HOST:PORT when neither --url nor --socket is given"),
        ("RESMON_TOKEN_FILE", "with a URL: the file holding the bearer token that writes need, when --token-file is not given"),
        ("RESMON_CACERT", "with a URL: PEM CA certificates to verify resmond's with, when --cacert is not given"),
        ("XDG_STATE_HOME", "for a user other than root, the default socket is $XDG_STATE_HOME/resmon/resmond.sock (else under ~/.local/state)")
    ]

    static var usage: String {
        let width = commands.map(\.name.count).max() ?? 0
        return """
            Usage: resmon [--socket PATH | --url URL [--token-file FILE] [--cacert FILE]] [--json] COMMAND [ARGUMENTS]

            \(about)

            Commands:
            \(commands.map { "  " + $0.name + String(repeating: " ", count: width - $0.name.count + 2) + $0.summary }.joined(separator: "\n"))

            Options:
            \(ArgumentParser.help(for: globalOptions))

            `resmon COMMAND --help` tells more of each.
            Exit status: \(exitStatuses.map { "\($0.status) \($0.meaning)" }.joined(separator: ", ")).
            """
    }

    public static func main(_ arguments: [String]) -> Int32 {
        let words = Array(arguments.dropFirst())
        if words.first == "--complete" { return complete(Array(words.dropFirst())) }
        guard let name = commandName(in: words) else {
            let help = words.contains("--help") || words.contains("-h")
            if help { print(usage) } else { printError("a command is needed (see resmon --help)") }
            return help ? ExitCode.success : ExitCode.usage
        }
        guard let command = commands.first(where: { $0.name == name }) else {
            printError("unknown command \"\(name)\" (see resmon --help)")
            return ExitCode.usage
        }
        let parsed: ParsedArguments
        do {
            parsed = try ArgumentParser.parse(words, options: command.options + globalOptions, context: name)
        } catch {
            printError(error.description + " (see resmon \(name) --help)")
            return ExitCode.usage
        }
        if parsed.flag("--help") {
            print(command.help, terminator: "")
            return ExitCode.success
        }
        var positional = parsed.positional
        if let index = positional.firstIndex(of: name) { positional.remove(at: index) }
        let invocation = Invocation(command: command, parsed: parsed, arguments: positional)
        if parsed.value("--socket") != nil && parsed.value("--url") != nil {
            printError("give --socket or --url, not both (see resmon --help)")
            return ExitCode.usage
        }
        let client: ResmonClient
        do {
            client = try ResmonClient.configured(
                socketPath: parsed.value("--socket"), url: parsed.value("--url"), tokenFile: parsed.value("--token-file"),
                caFile: parsed.value("--cacert"))
        } catch {
            printError(error.description + " (see resmon --help)")
            return ExitCode.usage
        }
        do {
            try checkArgumentCount(invocation)
            try command.run(client, invocation)
            return ExitCode.success
        } catch let error as UsageError {
            printError(error.message + " (see resmon \(name) --help)")
            return ExitCode.usage
        } catch let error as ClientError {
            printError(error.description)
            if case .unreachable = error { return ExitCode.unreachable }
            return ExitCode.failure
        } catch {
            printError("\(error)")
            return ExitCode.failure
        }
    }

    /// The first word that is neither an option nor the value of a global option (`--socket`).
    static func commandName(in words: [String]) -> String? {
        var index = 0
        while index < words.count {
            let word = words[index]
            if ["--socket", "--url", "--token-file", "--cacert"].contains(word) {
                index += 2
                continue
            }
            if !word.hasPrefix("-") { return word }
            index += 1
        }
        return nil
    }

    static func checkArgumentCount(_ invocation: Invocation) throws(UsageError) {
        let count = invocation.arguments.count
        let range = invocation.command.arguments
        guard !range.contains(count) else { return }
        if range.upperBound == 0 { throw UsageError(message: "\(invocation.command.name) takes no arguments") }
        if count < range.lowerBound {
            throw UsageError(
                message: "\(invocation.command.name) needs \(invocation.command.synopsis.split(separator: " ").dropFirst().first ?? "an argument")")
        }
        throw UsageError(message: "too many arguments")
    }
}
