import ResmonAPI

extension Command {
    static let version = Command(
        name: "version", synopsis: "version",
        summary: "the version of resmon",
        details: "Prints the version of resmon."
    ) { _, _ in
        print("resmon \(ResmonVersion.current)")
    }
}
