import ResmonSystem
import Testing

/// The bearer token's comparison (issue 21): right on equal, unequal and differently long
/// input. Its time is not asserted (no timing in tests): its code reads every byte.
@Suite struct ConstantTimeTests {
    let secret = Array("Bearer s3cret-token-0123456789".utf8)

    @Test func equalBytesMatch() {
        #expect(ConstantTime.equal(secret, secret))
        #expect(ConstantTime.equal(Array("Bearer s3cret-token-0123456789".utf8), secret))
        #expect(ConstantTime.equal([], []))
    }

    @Test func anyDifferentByteRefuses() {
        for index in secret.indices {
            var guess = secret
            guess[index] ^= 0x01
            #expect(!ConstantTime.equal(guess, secret), "byte \(index) changed")
        }
    }

    @Test func differentLengthsRefuse() {
        #expect(!ConstantTime.equal(Array(secret.dropLast()), secret))
        #expect(!ConstantTime.equal(secret + [0x41], secret))
        #expect(!ConstantTime.equal([], secret))
        #expect(!ConstantTime.equal(secret, []))
        // A guess that repeats to the secret's bytes is still not the secret.
        let half = Array("abcabc".utf8)
        #expect(!ConstantTime.equal(Array("abc".utf8), half))
        #expect(!ConstantTime.equal([0], [0, 0]))
    }
}
