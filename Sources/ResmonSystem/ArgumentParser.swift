/// A small command-line parser over declared options (swift-argument-parser's shape, written
/// small): `resmon`'s commands, `resmond`'s flags and the bench declare what they take; usage
/// text and errors for unknown options come from the declarations.
public struct OptionDeclaration: Sendable {
    public enum Kind: Sendable, Equatable {
        /// Present or not: `--follow`.
        case flag
        /// Takes one value (`--since 1h` or `--since=1h`); given twice, the last wins.
        case value(placeholder: String)
        /// Takes a value and may be given again: `--where a=b --where c~d`.
        case repeated(placeholder: String)
    }

    /// The long name first (`--follow`), then any aliases (`-f`).
    public let names: [String]
    public let kind: Kind
    public let help: String
    /// The values it takes, when they are a few words (shell completion offers them); empty
    /// when any value goes. The command still checks the value it is given.
    public var choices: [String] = []

    public static func flag(_ names: String..., help: String) -> OptionDeclaration {
        OptionDeclaration(names: names, kind: .flag, help: help)
    }

    public static func value(_ names: String..., placeholder: String, choices: [String] = [], help: String) -> OptionDeclaration {
        OptionDeclaration(names: names, kind: .value(placeholder: placeholder), help: help, choices: choices)
    }

    public static func repeated(_ names: String..., placeholder: String, choices: [String] = [], help: String) -> OptionDeclaration {
        OptionDeclaration(names: names, kind: .repeated(placeholder: placeholder), help: help, choices: choices)
    }

    public var name: String { names[0] }

    /// `--since DURATION`, `-f, --follow`.
    public var label: String {
        let all = names.dropFirst().map { $0 + ", " }.joined() + names[0]
        switch kind {
        case .flag: return all
        case .value(let placeholder), .repeated(let placeholder): return all + " " + placeholder
        }
    }
}

/// What was given: the positional arguments in order and the options by their long name.
public struct ParsedArguments: Sendable {
    public var positional: [String] = []
    private var values: [String: [String]] = [:]

    public init() {}

    public func flag(_ name: String) -> Bool { values[name] != nil }
    public func value(_ name: String) -> String? { values[name]?.last }
    public func values(_ name: String) -> [String] { values[name] ?? [] }
    /// The long names of the options given.
    public var given: Set<String> { Set(values.keys) }

    mutating func record(_ name: String, _ value: String?) { values[name, default: []].append(value ?? "") }
}

/// A mistake on the command line, said as a person would fix it.
public struct ArgumentError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

public enum ArgumentParser {
    /// Parses `arguments` against `options`; anything not an option is positional (`--` ends
    /// the options). An option not declared is an error naming it.
    public static func parse(_ arguments: [String], options: [OptionDeclaration], context: String = "") throws(ArgumentError) -> ParsedArguments {
        var byName: [String: OptionDeclaration] = [:]
        for option in options { for name in option.names { byName[name] = option } }
        var parsed = ParsedArguments()
        var index = 0
        var onlyPositional = false
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if onlyPositional || !argument.hasPrefix("-") || argument == "-" || Double(argument) != nil {
                parsed.positional.append(argument)
                continue
            }
            if argument == "--" {
                onlyPositional = true
                continue
            }
            var name = argument
            var inline: String?
            if argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") {
                name = String(argument[..<equals])
                inline = String(argument[argument.index(after: equals)...])
            }
            guard let option = byName[name] else {
                throw ArgumentError("unknown option \(name)" + (context.isEmpty ? "" : " for \(context)"))
            }
            switch option.kind {
            case .flag:
                guard inline == nil else { throw ArgumentError("\(name) takes no value") }
                parsed.record(option.name, nil)
            case .value, .repeated:
                if let inline {
                    parsed.record(option.name, inline)
                } else {
                    guard index < arguments.count else { throw ArgumentError("\(name) needs a value") }
                    parsed.record(option.name, arguments[index])
                    index += 1
                }
            }
        }
        return parsed
    }

    /// The options as a help section: one line each, labels aligned.
    public static func help(for options: [OptionDeclaration]) -> String {
        let width = options.map(\.label.count).max() ?? 0
        return options.map { option in
            "  " + option.label + String(repeating: " ", count: width - option.label.count + 2) + option.help
        }.joined(separator: "\n")
    }
}
