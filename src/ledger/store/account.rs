//! Who an account is, as the ledger names it.

/// Who an account is, as the ledger knows it: never a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The server (the API's base URL, or the simulation).
    pub target: String,
    /// `login <email>`, `token <fingerprint>`, or `rehearsal <n>` (each rehearsal is an account
    /// of its own).
    pub who: String,
}

impl Account {
    pub fn is_rehearsal(&self) -> bool {
        self.who.starts_with("rehearsal ")
    }
}

/// A fingerprint of a direct token: 128 bits of two FNV-1a hashes, in hex. It tells two tokens
/// apart and cannot give the token back. (Stable across versions, unlike `DefaultHasher`.)
pub fn token_fingerprint(token: &str) -> String {
    let fnv = |basis: u64| {
        token.bytes().fold(basis, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    format!(
        "{:016x}{:016x}",
        fnv(0xcbf2_9ce4_8422_2325),
        fnv(0x6c62_272e_07bb_0142)
    )
}
