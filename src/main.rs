//! The `bulkcast` binary: everything lives in the library; this only hands over the exit code.

/// mimalloc: a row is a dozen small strings made and dropped, and glibc's allocator made up a
/// third of `validate`'s time on a million rows (see the README's Performance section).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    bulkcast::cli::main()
}
