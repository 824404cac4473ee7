//! The `bulkcast` binary: parse the command line, turn it into a validated configuration, and
//! hand it to its command. This is the only place that knows every command.

use bulkcast::cli::{Cli, Command};
use bulkcast::config::{self, Target};
use bulkcast::{cmd, logging, Exit};
use clap::Parser;

/// mimalloc: a row is a dozen small strings made and dropped, and glibc's allocator made up a
/// third of `validate`'s time on a million rows (see docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            let exit = if e.use_stderr() {
                Exit::Fatal
            } else {
                Exit::Success // --help, --version
            };
            return exit.into();
        }
    };
    let terminal = logging::init(cli.verbose, cli.quiet);
    let result = match cli.command {
        Command::Validate(args) => config::validate(args).and_then(|cfg| cmd::validate::run(&cfg)),
        Command::Template(args) => cmd::template::run(args.output.as_deref(), args.force),
        Command::Submit(args) => config::submit(*args).and_then(|cfg| match cfg.target {
            Some(Target::Mock) => cmd::rehearsal::run(cfg, &terminal),
            _ => cmd::submit::run(cfg, &terminal),
        }),
        Command::MockServer(args) => cmd::mock_server::run(args.port, args.options),
        Command::Runs(args) => cmd::runs::run(&args),
        Command::Broadcasts(args) => cmd::broadcasts::run(&args),
        Command::Serve(args) => bulkcast::serve::run(args, &terminal),
    };
    match result {
        Ok(exit) => exit.into(),
        Err(e) => {
            terminal.error(&format!("{e:#}"));
            Exit::Fatal.into()
        }
    }
}
