//! The command line: clap's view of the flags, and nothing else.
//!
//! Nothing here interprets a value beyond its syntax; [`crate::config`] turns these raw flags into
//! validated configurations before any command starts, so a bad flag stops the run (exit 2)
//! before anything is read or sent. The simulation's settings are declared once, on
//! [`MockOptions`], and flattened in here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::mock_options::MockOptions;
use crate::secret::Auth;

/// Create Smartflo voice-broadcast campaigns in bulk from a spreadsheet (CSV), at exactly the
/// account's rate, with one result per row.
#[derive(Debug, Parser)]
#[command(name = "bulkcast", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// More detail on stderr (-v, -vv, -vvv); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr: no progress, no summary.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

/// The Smartflo API's address, when none is given.
pub const DEFAULT_BASE_URL: &str = "https://api-smartflo.tatateleservices.com";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check every row of a spreadsheet and write a report; sends nothing.
    Validate(ValidateArgs),
    /// Write a CSV header with every field and one example row that validates.
    Template(TemplateArgs),
    /// Validate, then create one broadcast per valid row, writing a results CSV.
    Submit(Box<SubmitArgs>),
    /// Run the built-in simulated Smartflo API on this machine.
    MockServer(MockArgs),
    /// The runs this machine made, per account, from its ledger: did we already send this?
    Runs(RunsArgs),
    /// The broadcasts already on the account (id, name, status, list, created), as a table or
    /// CSV; creates nothing.
    Broadcasts(BroadcastsArgs),
    /// The whole job in a browser page on this machine: choose a sheet, map its columns, fix
    /// its rows, rehearse or send, and download the results.
    Serve(ServeArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// The port to serve on (0 = any free port) [default: 8750, or any free port if it is taken]
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Do not open the page in the default browser
    #[arg(long)]
    pub no_open: bool,
    /// Serve at this address of the machine instead of 127.0.0.1 (e.g. 192.168.1.20), for
    /// people on other machines; needs --password-file. Plain http: the password and the
    /// token cross the network unencrypted
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::IpAddr>,
    /// With --listen: a file holding the password the page asks for (readable only by you)
    #[arg(long, value_name = "PATH", requires = "listen")]
    pub password_file: Option<PathBuf>,
    /// The largest spreadsheet the page accepts, in MB
    #[arg(long, default_value_t = 256, value_name = "MB")]
    pub max_upload: u64,
    /// Where bulkcast keeps its ledger, and the page its sheets and results [default: as for
    /// submit]
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// The config file whose profiles the page offers [default: as for submit]
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct BroadcastsArgs {
    /// Write them as CSV to this file (an existing file is never replaced) [default: a table
    /// on standard output]
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// CSV on standard output instead of a table
    #[arg(long, conflicts_with = "output")]
    pub csv: bool,
    /// Only those whose name contains this (case and spacing aside)
    #[arg(long, value_name = "TEXT")]
    pub name: Option<String>,
    /// The Smartflo API's address [default: https://api-smartflo.tatateleservices.com]
    #[arg(long, env = "SMARTFLO_BASE_URL", value_name = "URL")]
    pub base_url: Option<String>,
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// Read the API token from this file (else from SMARTFLO_API_TOKEN, else log in with
    /// SMARTFLO_EMAIL and SMARTFLO_PASSWORD)
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// Allow a plain http:// base URL that is not this machine (the token travels unencrypted)
    #[arg(long)]
    pub allow_insecure_http: bool,
    /// Requests per second allowed on the account (each page of 100 is one request) [default: 3]
    #[arg(long, value_name = "RATE")]
    pub rate: Option<String>,
}

/// Saved settings: a profile of the config file.
#[derive(Debug, Clone, Args, Default)]
pub struct ProfileArgs {
    /// Take the base URL, credentials, rate, map file and date layouts this profile of the
    /// config file gives (a flag given here wins)
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// The config file [default: $BULKCAST_CONFIG, else the platform's usual place, e.g.
    /// ~/.config/bulkcast/config.toml]
    #[arg(long, value_name = "PATH", requires = "profile")]
    pub config: Option<PathBuf>,
}

/// How input rows are read; shared by `validate` and `submit`.
#[derive(Debug, Clone, Args, Default)]
pub struct InputArgs {
    /// Column delimiter: `,` `;` `tab` or any single character [default: detected from the header]
    #[arg(long, value_name = "CHAR")]
    pub delimiter: Option<String>,
    /// Another date layout to accept, in strftime codes, e.g. `%d/%m/%Y %H:%M` (repeatable;
    /// tried in order after the standard forms)
    #[arg(long, value_name = "LAYOUT")]
    pub date_format: Vec<String>,
    /// A value for FIELD in every row whose cell is empty or whose column is absent (repeatable).
    /// A non-empty cell in the file wins.
    #[arg(long = "set", value_name = "FIELD=VALUE")]
    pub set: Vec<String>,
    /// A column header in your own words and the field it holds, e.g. `--map "Caller ID=caller_id_number"`
    /// (repeatable)
    #[arg(long = "map", value_name = "HEADER=FIELD")]
    pub map: Vec<String>,
    /// Read the file in this encoding (`windows-1252`, `utf-16le`, `latin1`, ...) [default:
    /// detected: a byte-order mark, UTF-8, or the legacy code page the bytes look like]
    #[arg(long, value_name = "NAME")]
    pub encoding: Option<String>,
    /// The sheet of a workbook to read, by name or position (1 = the first) [default: the first]
    #[arg(long, value_name = "NAME|N")]
    pub sheet: Option<String>,
    /// A file of `HEADER=FIELD` lines, as `--map` takes them (`#` starts a comment), for a team
    /// that reuses its own headers
    #[arg(long, value_name = "PATH")]
    pub map_file: Option<PathBuf>,
    /// The map file's lines as a resumed run recorded them (read instead of the file).
    #[arg(skip)]
    pub map_lines: Option<Vec<String>>,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The spreadsheet: a CSV, or an Excel or OpenDocument workbook (`-` for a CSV on standard
    /// input)
    pub input: PathBuf,
    /// Where to write the report CSV [default: standard output]
    #[arg(short, long, value_name = "REPORT")]
    pub output: Option<PathBuf>,
    /// Write a map file for this sheet instead: a HEADER=FIELD line for each column in the
    /// sheet's own words, and the likeliest column for each field it lacks, to check and then
    /// use with --map-file (an existing file is never replaced)
    #[arg(long, value_name = "PATH", conflicts_with = "output")]
    pub write_map: Option<PathBuf>,
    #[command(flatten)]
    pub input_args: InputArgs,
}

#[derive(Debug, Args)]
pub struct TemplateArgs {
    /// Where to write the template [default: standard output]
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace FILE if it exists (without this, an existing file is never touched)
    #[arg(long, requires = "output")]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The spreadsheet: a CSV, or an Excel or OpenDocument workbook
    pub input: PathBuf,
    /// The results CSV [default: <input stem>.results.csv beside the input; with --mock,
    /// <input stem>.mock-results.csv]
    #[arg(short, long, value_name = "RESULTS")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub input_args: InputArgs,
    /// The Smartflo API's address [default: https://api-smartflo.tatateleservices.com; a
    /// --resume: the run's]
    #[arg(long, env = "SMARTFLO_BASE_URL", value_name = "URL")]
    pub base_url: Option<String>,
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// Credentials a profile named (not a flag).
    #[arg(skip)]
    pub profile_auth: Option<Auth>,
    /// Read the API token from this file (else from the env var SMARTFLO_API_TOKEN, else log in
    /// with SMARTFLO_EMAIL and SMARTFLO_PASSWORD)
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// Refused: a token on the command line is visible to other users
    #[arg(long, hide = true, value_name = "TOKEN")]
    pub token: Option<String>,
    /// Allow a plain http:// base URL that is not this machine (the token travels unencrypted)
    #[arg(long)]
    pub allow_insecure_http: bool,
    /// Start the built-in simulated Smartflo and submit to it instead of the real API
    #[arg(long)]
    pub mock: bool,
    /// Requests per second allowed on the account, for every call bulkcast makes: `3`, `3/s`,
    /// `180/min` (the most it sends; 429s slow it below); `auto` to find the account's rate,
    /// starting at 1/s; `0` or `unlimited` to send as fast as the server answers [default: 3; a
    /// --resume: the run's]
    #[arg(long, value_name = "RATE")]
    pub rate: Option<String>,
    /// Requests that may go back to back before the rate applies
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub burst: u32,
    /// Requests in flight at once [default: the rate plus one, enough to hold the rate at 1 s of
    /// latency; 32 when unlimited]
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Retries of one row after a 429, 5xx, 408, connection failure or timeout before connecting
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub max_retries: u32,
    /// Seconds to wait for one response: `30` or `30s`
    #[arg(long, default_value = "30", value_name = "SECONDS")]
    pub timeout: String,
    /// Check everything and show what would be sent, without sending: with credentials, the
    /// sheet is also checked against the account (names already there, IVRs); without, offline
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: write every request body that would be sent to PATH, one JSON object a
    /// line (an existing file is never replaced)
    #[arg(long, value_name = "PATH")]
    pub bodies: Option<PathBuf>,
    /// Stop sending after N rows have failed at the server (the rest are recorded as not attempted)
    #[arg(long, value_name = "N")]
    pub max_errors: Option<u64>,
    /// Also write the summary as JSON to this file
    #[arg(long, value_name = "PATH")]
    pub summary_json: Option<PathBuf>,
    /// Continue an earlier run into the same results file: rows it created are not sent again,
    /// rows it sent without an answer are looked up on the account first
    #[arg(long)]
    pub resume: bool,
    /// Write the input rows that did not succeed to PATH (original columns plus `error`), to fix
    /// and submit as a new input
    #[arg(long, value_name = "PATH")]
    pub failed: Option<PathBuf>,
    /// Rows whose name is already on the account (made before this run) count as created and
    /// are not sent
    #[arg(long, conflicts_with = "allow_existing_names")]
    pub skip_existing: bool,
    /// Create rows whose name is already on the account anyway (without this or
    /// --skip-existing, such rows stop the run before anything is sent)
    #[arg(long)]
    pub allow_existing_names: bool,
    /// Where bulkcast keeps its ledger of what this machine sent to each account [default:
    /// $BULKCAST_STATE_DIR, else $XDG_STATE_HOME/bulkcast, else ~/.local/state/bulkcast]
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Seconds to wait, after an uncertain create's timeout, before its absence from the
    /// account's listing is believed (the listing may lag behind a create)
    #[arg(long, default_value = "10", value_name = "SECONDS")]
    pub settle: String,
    /// How long to wait out an API that does not answer before giving up: `15m`, `900`
    #[arg(long, default_value = "15m", value_name = "DURATION")]
    pub outage_wait: String,
    /// The most pages of 100 broadcasts a listing of the account may take before it counts as
    /// endless (an error)
    #[arg(long, default_value_t = 20_000, value_name = "N")]
    pub max_listing_pages: u32,
}

#[derive(Debug, Args)]
pub struct MockArgs {
    /// Port to listen on (0 = any free port)
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    #[command(flatten)]
    pub options: MockOptions,
}

#[derive(Debug, Args)]
pub struct RunsArgs {
    /// One run in full: its sheet, results file, counts and the names it sent
    pub run: Option<i64>,
    /// Which runs sent a broadcast of this name (compared as Smartflo may keep names)
    #[arg(long, value_name = "NAME", conflicts_with = "run")]
    pub name: Option<String>,
    /// The ledger's directory [default: as for submit]
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}
