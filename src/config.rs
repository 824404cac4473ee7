//! Validated configurations, built from the raw command line before any command starts.
//!
//! Every flag is checked here and turned into the typed value the rest of the program uses
//! (a parsed rate, a `Duration`, an [`InputOptions`], an [`Auth`]); nothing after this looks at
//! a raw flag string. A problem here is fatal: the run stops with exit 2 before reading or
//! sending anything.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::cli::{InputArgs, SubmitArgs, ValidateArgs};
use crate::input::{DateFormats, Field, InputOptions};
use crate::ledger::files::RunFiles;
use crate::ledger::outcome::SIMULATION;
use crate::net::Rate;
use crate::remembered::Settings;
use crate::secret::{read_auth, Auth};

/// The most requests `submit` keeps in flight (each holds a connection, and a file descriptor).
pub const MAX_CONCURRENCY: usize = 1024;

pub struct ValidateConfig {
    pub input: PathBuf,
    pub report: Option<PathBuf>,
    pub input_opts: InputOptions,
    /// `--write-map`: write a map file for the sheet here instead of judging its rows.
    pub write_map: Option<PathBuf>,
}

pub fn validate(args: ValidateArgs) -> Result<ValidateConfig> {
    if let Some(report) = &args.output {
        if args.input.as_os_str() != "-" && same_file(report, &args.input) {
            bail!(
                "-o {} is the input file {}: writing the report there would destroy the sheet; \
                 choose another path",
                report.display(),
                args.input.display()
            );
        }
    }
    if let Some(map) = &args.write_map {
        if args.input.as_os_str() != "-" && same_file(map, &args.input) {
            bail!(
                "--write-map {} is the input file: choose another path",
                map.display()
            );
        }
    }
    Ok(ValidateConfig {
        input: args.input,
        report: args.output,
        input_opts: input_options(&args.input_args)?,
        write_map: args.write_map,
    })
}

/// Turn the input flags into [`InputOptions`].
pub fn input_options(args: &InputArgs) -> Result<InputOptions> {
    let delimiter = args.delimiter.as_deref().map(parse_delimiter).transpose()?;
    let dates = DateFormats::with_layouts(&args.date_format).map_err(anyhow::Error::msg)?;
    let mut defaults: Vec<(Field, String)> = Vec::new();
    for set in &args.set {
        let Some((name, value)) = set.split_once('=') else {
            bail!("--set {set:?}: expected FIELD=VALUE, e.g. --set time_group=1234");
        };
        let Some(field) = Field::from_header(name) else {
            let fields: Vec<&str> = Field::ALL.iter().map(|f| f.api_name()).collect();
            bail!(
                "--set {set:?}: {name:?} is not a field; fields are {}",
                fields.join(", ")
            );
        };
        if defaults.iter().any(|(f, _)| *f == field) {
            bail!("--set gives {field} twice");
        }
        defaults.push((field, value.to_owned()));
    }
    Ok(InputOptions {
        delimiter,
        dates,
        defaults,
        aliases: crate::input::aliases(
            &args.map,
            args.map_file.as_deref(),
            args.map_lines.as_deref(),
        )?,
        sheet: args.sheet.clone(),
        encoding: args
            .encoding
            .as_deref()
            .map(|label| {
                crate::input::encoding::by_label(label).ok_or_else(|| {
                    anyhow::anyhow!(
                        "--encoding {label:?} is not an encoding; try windows-1252, utf-8, utf-16le or latin1"
                    )
                })
            })
            .transpose()?,
        known_duplicates: None,
        lenient: false,
    })
}

fn parse_delimiter(s: &str) -> Result<u8> {
    Ok(match s {
        "tab" | "\\t" | "\t" | "TAB" => b'\t',
        "comma" => b',',
        "semicolon" => b';',
        _ if s.len() == 1 && s.is_ascii() && s != "\"" && s != "\n" && s != "\r" => s.as_bytes()[0],
        _ => bail!("--delimiter {s:?}: expected one character such as , ; | or the word tab"),
    })
}

/// Where submissions go.
#[derive(Debug, Clone)]
pub enum Target {
    /// The built-in simulated Smartflo, started for this run by `cmd::rehearsal`.
    Mock,
    Remote {
        base_url: String,
        auth: Auth,
    },
}

#[derive(Debug, Clone)]
pub struct SubmitConfig {
    pub input: PathBuf,
    pub results: PathBuf,
    pub input_opts: InputOptions,
    /// `None` when `--dry-run`: nothing will be contacted.
    pub target: Option<Target>,
    /// The server the run's record names (the base URL, or the simulation), dry runs included.
    pub target_name: String,
    pub rate: Rate,
    pub burst: NonZeroU32,
    pub concurrency: usize,
    pub max_retries: u32,
    pub timeout: Duration,
    pub max_errors: Option<u64>,
    pub summary_json: Option<PathBuf>,
    pub resume: bool,
    pub failed: Option<PathBuf>,
    pub skip_existing: bool,
    pub allow_existing_names: bool,
    /// After an uncertain create's timeout, how long before its absence is believed.
    pub settle: Duration,
    /// How long an outage is waited out.
    pub outage_wait: Duration,
    /// How the run reads its sheet and where it sends, as the ledger keeps it (JSON).
    pub settings: String,
    /// The command that continues this run's work.
    pub continue_with: String,
    /// A dry run's account (base URL and credentials), to check the sheet against; `None`:
    /// offline.
    pub dry_run_account: Option<(String, Auth)>,
    /// `--bodies`: where a dry run writes every body it would send (JSON Lines).
    pub bodies: Option<PathBuf>,
    pub max_listing_pages: u32,
    /// The ledger's directory (`None` for a dry run, which writes nothing).
    pub state_dir: Option<PathBuf>,
}

pub use crate::cli::DEFAULT_BASE_URL;

pub fn submit(mut args: SubmitArgs) -> Result<SubmitConfig> {
    crate::profile::apply_to_submit(&mut args)?;
    if args.token.is_some() {
        bail!(
            "a token given on the command line is visible to other users of this machine (ps, shell \
             history); put it in the SMARTFLO_API_TOKEN environment variable or in a file given with \
             --token-file (readable only by you)"
        );
    }
    if args.input.as_os_str() == "-" {
        bail!("submit reads its input twice (check, then send): give a file, not standard input");
    }
    let results = args
        .output
        .clone()
        .unwrap_or_else(|| default_results_path(&args.input, args.mock));
    let mut settings = Settings::for_run(&mut args, &results)?;
    let input_opts = input_options(&args.input_args)?;
    let rate = Rate::parse(args.rate.as_deref().unwrap_or("3"))?;
    let Some(burst) = NonZeroU32::new(args.burst) else {
        bail!("--burst must be at least 1");
    };
    let concurrency = match args.concurrency {
        Some(n @ 1..=MAX_CONCURRENCY) => n,
        Some(n) => bail!(
            "--concurrency {n}: accepted 1 to {MAX_CONCURRENCY} (each request in flight holds a connection)"
        ),
        None => default_concurrency(rate),
    };
    let timeout = parse_seconds(&args.timeout).context("--timeout")?;
    check_output_paths(&args, &results)?;
    let base_url = args
        .base_url
        .as_deref()
        .unwrap_or(DEFAULT_BASE_URL)
        .trim_end_matches('/')
        .to_owned();
    settings.rate = Some(args.rate.clone().unwrap_or_else(|| "3".into()));
    settings.base_url = (!args.mock).then(|| base_url.clone());
    let target_name = if args.mock {
        SIMULATION.to_owned()
    } else {
        base_url.clone()
    };
    let dry_run_account = dry_run_account(&args, &base_url)?;
    let target = if args.dry_run {
        None
    } else if args.mock {
        Some(Target::Mock)
    } else {
        check_base_url(&base_url, args.allow_insecure_http)?;
        Some(Target::Remote {
            base_url,
            auth: credentials(&args)?,
        })
    };
    let continue_with =
        crate::remembered::continue_command(&args.input, args.output.as_deref(), args.mock);
    Ok(SubmitConfig {
        input: args.input,
        results,
        input_opts,
        target,
        target_name,
        rate,
        burst,
        concurrency,
        max_retries: args.max_retries,
        timeout,
        max_errors: args.max_errors,
        summary_json: args.summary_json,
        resume: args.resume,
        failed: args.failed,
        skip_existing: args.skip_existing,
        allow_existing_names: args.allow_existing_names,
        settle: parse_seconds_or_zero(&args.settle).context("--settle")?,
        outage_wait: parse_seconds(&args.outage_wait).context("--outage-wait")?,
        max_listing_pages: args.max_listing_pages.max(1),
        settings: settings.to_json(),
        continue_with,
        dry_run_account,
        bodies: args.bodies,
        state_dir: match (args.dry_run, args.state_dir) {
            (true, _) => None,
            (false, Some(dir)) => Some(dir),
            (false, None) => Some(crate::ledger::store::default_dir().context(
                "no state directory for the ledger: set BULKCAST_STATE_DIR (or HOME), or give --state-dir",
            )?),
        },
    })
}

/// The credentials: `--token-file`, else those the profile names, else the environment's.
fn credentials(args: &SubmitArgs) -> Result<Auth> {
    match (&args.token_file, &args.profile_auth) {
        (None, Some(auth)) => Ok(auth.clone()),
        (file, _) => read_auth(file.as_deref()),
    }
}

/// A dry run with credentials checks the sheet against the account; without, offline.
fn dry_run_account(args: &SubmitArgs, base_url: &str) -> Result<Option<(String, Auth)>> {
    if args.bodies.is_some() && !args.dry_run {
        bail!("--bodies writes what a dry run would send: give it with --dry-run");
    }
    let given =
        args.profile_auth.is_some() || crate::secret::has_credentials(args.token_file.as_deref());
    if !args.dry_run || args.mock || !given {
        return Ok(None);
    }
    check_base_url(base_url, args.allow_insecure_http)?;
    Ok(Some((base_url.to_owned(), credentials(args)?)))
}

/// No file a run writes may be the input, or another of its outputs.
fn check_output_paths(args: &SubmitArgs, results: &Path) -> Result<()> {
    let files = RunFiles::new(results);
    let mut outputs: Vec<(&str, &Path)> = vec![("the results file", results)];
    outputs.extend(files.companions().map(|p| ("a file beside the results", p)));
    if let Some(failed) = &args.failed {
        outputs.push(("--failed", failed));
    }
    if let Some(summary) = &args.summary_json {
        outputs.push(("--summary-json", summary));
    }
    if let Some(bodies) = &args.bodies {
        outputs.push(("--bodies", bodies));
    }
    for (i, (what, path)) in outputs.iter().enumerate() {
        if same_file(path, &args.input) {
            bail!(
                "{what} {} would be the input file {}; choose another path",
                path.display(),
                args.input.display()
            );
        }
        if let Some((other, _)) = outputs[..i].iter().find(|(_, p)| same_file(path, p)) {
            bail!(
                "{what} {} would overwrite {other}; choose another path",
                path.display()
            );
        }
    }
    Ok(())
}

/// Whether two paths name the same file (or would, once created), however each is spelled:
/// `./x.csv`, `../dir/x.csv`, a symbolic link, or a second hard link.
pub fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return ma.dev() == mb.dev() && ma.ino() == mb.ino();
        }
    }
    match (resolved(a), resolved(b)) {
        (Some(a), Some(b)) => a == b,
        _ => a == b,
    }
}

/// `path` made absolute with every link resolved; for a file not there yet, its folder's.
fn resolved(path: &Path) -> Option<PathBuf> {
    if let Ok(p) = path.canonicalize() {
        return Some(p);
    }
    let name = path.file_name()?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Some(parent.canonicalize().ok()?.join(name))
}

/// `<input stem>.results.csv` beside the input; `<input stem>.mock-results.csv` for a `--mock`
/// rehearsal, so that a rehearsal's record never stands in the way of the real run.
pub fn default_results_path(input: &Path, mock: bool) -> PathBuf {
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "input".into());
    let kind = if mock { "mock-results" } else { "results" };
    input.with_file_name(format!("{stem}.{kind}.csv"))
}

/// Refuse to send a token in clear text: `https://`, or `http://` to this machine only (the
/// built-in simulation), unless `--allow-insecure-http`.
pub(crate) fn check_base_url(base_url: &str, allow_insecure: bool) -> Result<()> {
    let url = reqwest::Url::parse(base_url)
        .with_context(|| format!("--base-url {base_url:?} is not a URL"))?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_insecure || is_loopback(&url) => Ok(()),
        "http" => bail!(
            "--base-url {base_url} is plain http: the token would cross the network unencrypted. Use \
             https, or --allow-insecure-http if you really mean it"
        ),
        other => bail!("--base-url {base_url:?}: unsupported scheme {other:?}; use https"),
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `30` or `30s` (fractions allowed), or any humantime duration such as `1m`.
pub fn parse_seconds(s: &str) -> Result<Duration> {
    let s = s.trim();
    let d = match s.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 => Duration::from_secs_f64(secs),
        Ok(_) => bail!("{s:?} must be more than 0 seconds"),
        Err(_) => humantime::parse_duration(s)
            .map_err(|_| anyhow::anyhow!("{s:?} is not a duration; write 30 or 30s"))?,
    };
    if d.is_zero() {
        bail!("{s:?} must be more than 0 seconds");
    }
    Ok(d)
}

/// [`parse_seconds`], or zero.
fn parse_seconds_or_zero(s: &str) -> Result<Duration> {
    match s.trim() {
        "0" | "0s" => Ok(Duration::ZERO),
        _ => parse_seconds(s),
    }
}

/// Enough requests in flight to hold the rate when a reply takes a second, plus one; with
/// `auto`, enough for 15/s.
fn default_concurrency(rate: Rate) -> usize {
    match rate {
        Rate::PerSecond(r) => (r.ceil() as usize)
            .saturating_add(1)
            .clamp(2, MAX_CONCURRENCY),
        Rate::Auto => 16,
        Rate::Unlimited => 32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_concurrency_holds_the_rate_at_one_second_of_latency() {
        assert_eq!(default_concurrency(Rate::PerSecond(3.0)), 4);
        assert_eq!(default_concurrency(Rate::PerSecond(0.5)), 2);
        assert_eq!(default_concurrency(Rate::Unlimited), 32);
        assert_eq!(default_concurrency(Rate::Auto), 16);
    }

    #[test]
    fn timeouts_take_seconds_with_or_without_unit() {
        assert_eq!(parse_seconds("30").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_seconds("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_seconds("0.5").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_seconds("2m").unwrap(), Duration::from_secs(120));
        for bad in ["0", "-1", "soon", "0s"] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn plain_http_is_refused_except_to_this_machine() {
        assert!(check_base_url("https://api-smartflo.tatateleservices.com", false).is_ok());
        for local in [
            "http://127.0.0.1:8080",
            "http://localhost:9",
            "http://[::1]:80",
            "http://127.3.2.1",
        ] {
            assert!(check_base_url(local, false).is_ok(), "{local}");
        }
        let err = check_base_url("http://api-smartflo.tatateleservices.com", false).unwrap_err();
        assert!(err.to_string().contains("--allow-insecure-http"), "{err}");
        assert!(check_base_url("http://10.0.0.5", true).is_ok());
        assert!(check_base_url("ftp://example.com", true).is_err());
    }

    #[test]
    fn set_takes_field_names_loosely_and_rejects_unknown_ones() {
        let args = |set: &[&str]| InputArgs {
            set: set.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        let o = input_options(&args(&["Time Group=1234", "timeout=60"])).unwrap();
        assert_eq!(
            o.defaults,
            vec![
                (Field::TimeGroup, "1234".into()),
                (Field::Timeout, "60".into())
            ]
        );
        assert!(input_options(&args(&["colour=red"]))
            .unwrap_err()
            .to_string()
            .contains("not a field"));
        assert!(input_options(&args(&["timeout"]))
            .unwrap_err()
            .to_string()
            .contains("FIELD=VALUE"));
        assert!(input_options(&args(&["timeout=40", "Timeout=50"])).is_err());
    }

    #[test]
    fn delimiters_take_names_and_single_characters() {
        assert_eq!(parse_delimiter("tab").unwrap(), b'\t');
        assert_eq!(parse_delimiter(";").unwrap(), b';');
        assert_eq!(parse_delimiter("|").unwrap(), b'|');
        assert!(parse_delimiter(";;").is_err());
        assert!(parse_delimiter("\"").is_err());
    }
}
