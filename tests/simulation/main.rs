//! Every world, exactly once: the real engine against an in-memory model of Smartflo
//! (`model.rs`) on tokio's paused clock, in worlds of several runs each (`world.rs`), with the
//! exactly-once invariant checked after every world. One seed is one world.
//!
//! - `cargo test --release --test simulation`: the seeds `SIM_SEEDS` gives (a count, or a range
//!   `A..B`; default: what fits in about a minute), then each mutant until a seed catches it
//!   (`SIM_MUTANTS=0`: not). Ends with `N worlds, M violations`. A debug build (`cargo test`)
//!   runs a thirtieth of the seeds and no mutants.
//! - `SIM_SEED=K`: replay one world, printing its trace (the runs, the engine's events, the
//!   requests the account saw).
//! - `SIM_MUTANT=NAME`: the seeds with a broken engine (`SIM_MUTANT=list` names them); finding
//!   violations is then the point, and the exit says whether it did.

mod model;
mod world;

use std::process::ExitCode;
use std::time::Instant;

use bulkcast::mutant::{self, Mutant};

/// Worlds run by default: about a minute on a 2-core machine in release (17 a second).
const DEFAULT_SEEDS: u64 = 1000;
/// Worlds that once broke the promise (docs/simulation.md, "Found on the way"): run with the
/// default seeds, wherever those end.
const REGRESSIONS: [u64; 40] = [
    70, 389, 730, 1145, 1272, 2456, 4434, 5091, 7462, 8866, 9955, 20351, 40001, 43538, 45523,
    49357, 49426, 50256, 52287, 52891, 53431, 53503, 54961, 55847, 57878, 59575, 74295, 82822,
    88593, 88618, 90132, 98608, 100080, 103051, 103732, 104366, 106967, 110500, 113118, 116768,
];
/// Seeds tried per mutant before it counts as not caught.
const MUTANT_SEEDS: u64 = 1000;

fn seeds() -> std::ops::Range<u64> {
    match std::env::var("SIM_SEEDS") {
        Ok(s) => match s.split_once("..") {
            Some((a, b)) => a.parse().unwrap_or(0)..b.parse().unwrap_or(0),
            None => 0..s.parse().unwrap_or(DEFAULT_SEEDS),
        },
        // A debug build (plain `cargo test`) is several times slower: a taste only.
        Err(_) if cfg!(debug_assertions) => 0..DEFAULT_SEEDS / 30,
        Err(_) => 0..DEFAULT_SEEDS,
    }
}

fn replay(seed: u64, mutant: Option<&str>) -> String {
    let m = mutant
        .map(|m| format!("SIM_MUTANT={m} "))
        .unwrap_or_default();
    format!("{m}SIM_SEED={seed} cargo test --release --test simulation")
}

fn main() -> ExitCode {
    bulkcast::ledger::store::commit_inline(true);
    let name = std::env::var("SIM_MUTANT").ok();
    if name.as_deref() == Some("list") {
        for (n, _) in mutant::ALL {
            println!("mutant: {n}");
        }
        return ExitCode::SUCCESS;
    }
    let chosen: Option<Mutant> = match name.as_deref() {
        None | Some("") => None,
        Some(n) => match mutant::ALL.iter().find(|(m, _)| *m == n) {
            Some((_, m)) => Some(*m),
            None => {
                eprintln!("SIM_MUTANT={n}: no such mutant (SIM_MUTANT=list names them)");
                return ExitCode::from(2);
            }
        },
    };
    mutant::set(chosen);
    if let Ok(k) = std::env::var("SIM_SEED") {
        let Ok(seed) = k.parse::<u64>() else {
            eprintln!("SIM_SEED={k}: not a number");
            return ExitCode::from(2);
        };
        let out = world::run(seed);
        println!("{}", out.trace);
        for v in &out.violations {
            println!("violation: {v}");
        }
        println!("1 worlds, {} violations", out.violations.len());
        return if out.violations.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    let started = Instant::now();
    let (mut worlds, mut violations) = (0u64, 0u64);
    let default = std::env::var("SIM_SEEDS").is_err();
    let extra = REGRESSIONS
        .into_iter()
        .filter(|s| default && !seeds().contains(s));
    for seed in seeds().chain(extra) {
        let out = world::run(seed);
        worlds += 1;
        if !out.violations.is_empty() {
            violations += out.violations.len() as u64;
            println!("seed {seed}: {} violations", out.violations.len());
            for v in &out.violations {
                println!("  {v}");
            }
            println!("  replay: {}", replay(seed, name.as_deref()));
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{worlds} worlds in {secs:.1} s ({:.0} a second), {violations} violations",
        worlds as f64 / secs.max(1e-9)
    );
    if chosen.is_some() {
        // A broken engine: the violations are the point.
        return if violations > 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    let mut failed = violations > 0;
    // One seed is one world: the first few, replayed, give the same trace byte for byte; and
    // world 40001, whose two copies of the sheet run at once.
    let first = seeds().start;
    for seed in (first..first + 3).chain([40001]) {
        let (a, b) = (world::run(seed).trace, world::run(seed).trace);
        if a != b {
            let at = a
                .lines()
                .zip(b.lines())
                .position(|(x, y)| x != y)
                .unwrap_or(0);
            println!("seed {seed} does not replay: its traces part at line {at}:");
            println!("  {}", a.lines().nth(at).unwrap_or_default());
            println!("  {}", b.lines().nth(at).unwrap_or_default());
            failed = true;
        }
    }
    // The harness can fail: each mutant must be caught by some seed. In release unless
    // SIM_MUTANTS=0 (benches/simulate.sh hunts them once, not in every process); in a debug
    // build only with SIM_MUTANTS=1.
    let hunt = match std::env::var("SIM_MUTANTS").as_deref() {
        Ok("0") => false,
        Ok(_) => true,
        Err(_) => !cfg!(debug_assertions),
    };
    for (n, m) in mutant::ALL.into_iter().filter(|_| hunt) {
        mutant::set(Some(m));
        // Caught: a world the broken engine breaks and the real one does not.
        let caught = (0..MUTANT_SEEDS).find(|&seed| {
            mutant::set(Some(m));
            let broken = !world::run(seed).violations.is_empty();
            mutant::set(None);
            broken && world::run(seed).violations.is_empty()
        });
        match caught {
            Some(seed) => println!(
                "mutant: {n} caught by seed {seed} ({})",
                replay(seed, Some(n))
            ),
            None => {
                println!("mutant: {n} NOT caught in {MUTANT_SEEDS} seeds");
                failed = true;
            }
        }
    }
    mutant::set(None);
    println!("{worlds} worlds, {violations} violations");
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
