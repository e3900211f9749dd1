/// Comparisons of secrets whose time does not tell how much of a guess was right.
public enum ConstantTime {
    /// Whether `given` equals `secret`, reading every byte of `secret` and as many of `given`
    /// whatever they hold: no early return at the first difference, so the time taken tells
    /// the secret's length at most, never the length of a matching prefix (a bearer token
    /// guessed byte by byte over the network).
    @inline(never)
    public static func equal(_ given: [UInt8], _ secret: [UInt8]) -> Bool {
        guard !secret.isEmpty else { return given.isEmpty }
        // A length that differs is a difference, found without leaving the loop early; an empty
        // guess is compared as a run of zero bytes.
        var difference: UInt8 = given.count == secret.count ? 0 : 1
        let count = given.count
        for index in 0..<secret.count {
            let byte = count == 0 ? 0 : given[index % count]
            difference |= byte ^ secret[index]
        }
        return difference == 0
    }
}
