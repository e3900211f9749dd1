// The part of `make hot-functions` (Sources/resmon-bench/HotFunctions.swift) that reads
// callgrind's output, here in a library so that DaemonTests can check it on a captured profile.

/// The functions of `object` with a cost in a callgrind profile, costliest first. The format
/// names each object and function once as `ob=(n) name` / `fn=(n) name`, then by `(n)` alone;
/// cost lines follow the `fn=` they belong to.
public func hotFunctions(inCallgrindProfile profile: String, object: String) -> [String] {
    var objects: [Substring: Substring] = [:]
    var functions: [Substring: Substring] = [:]
    var currentObject: Substring = ""
    var currentFunction: Substring?
    var costs: [Substring: Int] = [:]
    var skipNextCost = false
    func named(_ value: Substring, in table: inout [Substring: Substring]) -> Substring {
        guard value.hasPrefix("("), let close = value.firstIndex(of: ")") else { return value }
        let number = value[value.index(after: value.startIndex)..<close]
        let rest = value[value.index(after: close)...].drop { $0 == " " }
        if !rest.isEmpty { table[number] = rest }
        return table[number] ?? ""
    }
    for line in profile.split(separator: "\n") {
        if line.hasPrefix("ob=") {
            currentObject = named(line.dropFirst(3), in: &objects)
        } else if line.hasPrefix("cob=") {
            _ = named(line.dropFirst(4), in: &objects)
        } else if line.hasPrefix("fn=") {
            let name = named(line.dropFirst(3), in: &functions)
            currentFunction = currentObject == object ? name : nil
        } else if line.hasPrefix("cfn=") {
            _ = named(line.dropFirst(4), in: &functions)
        } else if line.hasPrefix("calls=") {
            skipNextCost = true  // the next line is the callee's inclusive cost
        } else if let first = line.first, first.isNumber || first == "+" || first == "-" || first == "*" {
            defer { skipNextCost = false }
            guard !skipNextCost, let function = currentFunction else { continue }
            let fields = line.split(separator: " ")
            if fields.count >= 2, let cost = Int(fields[1]), cost > 0 {
                // A recursive function's deeper levels are named NAME'2, NAME'3…
                costs[function.split(separator: "'").first ?? function, default: 0] += cost
            }
        }
    }
    return costs.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { String($0.key) }
}
