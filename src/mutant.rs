//! Deliberately broken engines, for the deterministic simulation to prove it can fail
//! (`SIM_MUTANT=NAME cargo test --release --test simulation`). The switch exists only with the
//! `mutants` feature, which only the test build turns on (`Cargo.toml`'s dev-dependency on
//! this crate): in every other build [`is`] is `false` and the broken paths compile away.

/// One way to break the exactly-once promise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutant {
    /// A create with no usable answer is sent again at once, without looking it up.
    ResendBlind,
    /// One listing pass is trusted to call a name absent (pages that shift are not listed
    /// again).
    OneListing,
    /// A name another live run has claimed in the ledger is sent anyway.
    ForgetClaims,
    /// A lookup believes its listing once it holds as many new broadcasts as rows are sought,
    /// whatever they say (absence by counts).
    StopOnCounts,
    /// A 502 to a create is taken for "not acted on" and the create is retried at once, as a
    /// 503 is.
    BadGatewayNotSent,
    /// The ledger's "already created" goes by the name alone, whatever the row says.
    LedgerByName,
}

/// Every mutant, with the name `SIM_MUTANT` takes.
pub const ALL: [(&str, Mutant); 6] = [
    ("resend-blind", Mutant::ResendBlind),
    ("one-listing", Mutant::OneListing),
    ("forget-claims", Mutant::ForgetClaims),
    ("stop-on-counts", Mutant::StopOnCounts),
    ("502-not-sent", Mutant::BadGatewayNotSent),
    ("ledger-by-name", Mutant::LedgerByName),
];

#[cfg(feature = "mutants")]
static ACTIVE: std::sync::Mutex<Option<Mutant>> = std::sync::Mutex::new(None);

/// Break the engine this way from now on (`None`: the real engine again).
#[cfg(feature = "mutants")]
pub fn set(mutant: Option<Mutant>) {
    *crate::lock(&ACTIVE) = mutant;
}

/// Whether the engine is broken this way.
#[inline]
pub fn is(mutant: Mutant) -> bool {
    #[cfg(feature = "mutants")]
    {
        *crate::lock(&ACTIVE) == Some(mutant)
    }
    #[cfg(not(feature = "mutants"))]
    {
        let _ = mutant;
        false
    }
}
