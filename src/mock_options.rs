//! The simulated Smartflo's settings: every fault and behaviour a test or a rehearsal can ask of
//! it. Declared once, as the `mock-server` command's flags; a module of its own, so that the
//! command line knows the flags without knowing the simulation ([`crate::mock`] serves them).

use std::time::Duration;

use crate::secret::Secret;

pub const DEFAULT_TOKEN: &str = "mock-token";
pub const DEFAULT_EMAIL: &str = "ops@example.com";
pub const DEFAULT_PASSWORD: &str = "mock-password";

/// How the simulated server behaves. Declared once, here: these are also the `mock-server`
/// command's flags, and [`Default`] is what those flags default to.
#[derive(Debug, Clone, clap::Args)]
pub struct MockOptions {
    /// The bearer token the server accepts
    #[arg(long, default_value = DEFAULT_TOKEN)]
    pub token: String,
    /// The login email accepted by /v1/auth/login
    #[arg(long, default_value = DEFAULT_EMAIL)]
    pub email: String,
    /// The login password accepted by /v1/auth/login
    #[arg(long, default_value = DEFAULT_PASSWORD, value_parser = secret)]
    pub password: Secret,
    /// Account-wide requests per second over all endpoints, in fixed one-second windows (0 = none)
    #[arg(long, default_value_t = 0)]
    pub rate_limit: u32,
    /// Transit jitter: each request reaches the account's limiter after a random delay from 0
    /// up to this, e.g. `300ms` (a trip across the internet)
    #[arg(long, default_value = "0ms", value_parser = humantime::parse_duration)]
    pub jitter: Duration,
    /// Added latency before every reply, e.g. `50ms`
    #[arg(long, default_value = "0ms", value_parser = humantime::parse_duration)]
    pub latency: Duration,
    /// Probability that a create answers 5xx (nothing created)
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = probability)]
    pub fail_5xx: f64,
    /// Probability that a create answers 429 (nothing created)
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = probability)]
    pub fail_429: f64,
    /// Probability that a create answers HTTP 200 with `success: false` asking to try again
    /// (nothing created)
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = probability)]
    pub fail_false: f64,
    /// Probability that a create answers HTTP 200 with `success: false` and a final refusal,
    /// one that does not ask to try again (nothing created)
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = probability)]
    pub fail_refused: f64,
    /// Probability that a create succeeds but the connection is dropped before the reply
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = probability)]
    pub drop_after_create: f64,
    /// Probability that a create succeeds but the reply is held back by --slow-delay
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = probability)]
    pub slow_after_create: f64,
    /// Probability that a list of broadcasts answers 503
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = probability)]
    pub fail_list: f64,
    /// Probability that a create answers 502 with an HTML page instead of JSON (nothing created)
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = probability)]
    pub garbage_reply: f64,
    /// Probability that a create answers 500 with a body of several megabytes (nothing created)
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = probability)]
    pub huge_reply: f64,
    /// Probability that a create answers 503 and its body then trickles for --slow-delay
    /// (nothing created)
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = probability)]
    pub slow_body: f64,
    /// How long a slow reply is held back
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub slow_delay: Duration,
    /// Leave the broadcast id out of create replies
    #[arg(long = "no-id", action = clap::ArgAction::SetFalse)]
    pub reply_with_id: bool,
    /// Answer every create with the id the first create was given (a faulty server or a
    /// gateway replaying one reply); each broadcast is still stored under an id of its own
    #[arg(long)]
    pub same_id: bool,
    /// Send `Retry-After: SECS` with every 429 (Smartflo documents none)
    #[arg(long, value_name = "SECS")]
    pub retry_after: Option<u64>,
    /// Probability that a create stores the broadcast, then answers 500, 502 or 504 (in turn)
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = probability)]
    pub error_after_create: f64,
    /// A new broadcast shows in listings only this long after it was created, e.g. `2s`
    #[arg(long, default_value = "0ms", value_parser = humantime::parse_duration)]
    pub list_lag: Duration,
    /// Listings show the newest broadcast first (pages shift while broadcasts are created)
    #[arg(long)]
    pub newest_first: bool,
    /// Listings hold at most N broadcasts a page whatever limit was asked, and say the limit asked
    #[arg(long, value_name = "N")]
    pub page_cap: Option<usize>,
    /// Listings ignore `page` and always answer the first page
    #[arg(long)]
    pub ignore_page: bool,
    /// Listing replies leave out their `results` array
    #[arg(long)]
    pub no_results_field: bool,
    /// Listings never end: pages past the account's broadcasts hold made-up ones
    #[arg(long)]
    pub endless_list: bool,
    /// State this total in every listing reply, whatever the account holds (a stale count)
    #[arg(long, value_name = "N")]
    pub stated_total: Option<u64>,
    /// Keep names as some servers do: lower-cased, white space collapsed (listings show them so)
    #[arg(long)]
    pub lower_names: bool,
    /// Keep at most N characters of a name, as a database column would (listings show them so)
    #[arg(long, value_name = "N")]
    pub cut_names: Option<usize>,
    /// Keep each character of a name outside Unicode's first plane (emoji) as `?`, as MySQL's
    /// legacy three-byte utf8 does (listings show them so)
    #[arg(long)]
    pub narrow_names: bool,
    /// The server's clock is this many seconds behind this machine's: its replies' `Date` and
    /// the listing's `created_at` say so
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    pub clock_behind: u64,
    /// When the first create lands, a colleague creates a broadcast of the same name that says
    /// something else, at the same moment (not counted as created here)
    #[arg(long)]
    pub colleague_namesake: bool,
    /// An IVR of the account besides 7926 "Main menu", as ID=NAME (repeatable; `GET /v1/ivrs`)
    #[arg(long = "ivr", value_name = "ID=NAME")]
    pub ivr: Vec<String>,
    /// Each listing deletes one of the broadcasts that were on the account before (someone
    /// else's) once its first page is served, so that the later pages shift
    #[arg(long)]
    pub delete_while_listing: bool,
    /// A broadcast already on the account before anything is created (repeatable)
    #[arg(long = "existing", value_name = "NAME")]
    pub existing: Vec<String>,
    /// Tokens expire this long after they are issued (the --token at start, each login's token;
    /// a login says so in `expires_in`), e.g. `3s`
    #[arg(long, value_parser = humantime::parse_duration)]
    pub token_life: Option<Duration>,
    /// An outage starts this long after the server does: every API call answers 503
    #[arg(long, value_parser = humantime::parse_duration)]
    pub outage_after: Option<Duration>,
    /// How long the outage lasts
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub outage_for: Duration,
    /// Seed for fault injection, so a run's faults can be reproduced
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Expire the token after this many authorized requests: the next request with it gets 401
    /// and a login hands out a new one. (Tests only; not a flag.)
    #[arg(skip)]
    pub rotate_token_after: Option<u64>,
}

impl Default for MockOptions {
    /// The flags' defaults, read from their one declaration above.
    fn default() -> Self {
        #[derive(clap::Parser)]
        struct Defaults {
            #[command(flatten)]
            options: MockOptions,
        }
        <Defaults as clap::Parser>::try_parse_from(["mock-server"])
            .expect("the mock's flag defaults parse")
            .options
    }
}

fn secret(s: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret::new(s))
}

fn probability(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("{s}: a probability is between 0 and 1")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        options: MockOptions,
    }

    #[test]
    fn the_defaults_are_the_flags_defaults() {
        let o = MockOptions::default();
        assert_eq!(o.token, DEFAULT_TOKEN);
        assert_eq!(o.email, DEFAULT_EMAIL);
        assert_eq!(o.password.expose(), DEFAULT_PASSWORD);
        assert_eq!((o.rate_limit, o.latency, o.seed), (0, Duration::ZERO, 0));
        assert_eq!(o.slow_delay, Duration::from_secs(5));
        assert!(o.reply_with_id, "ids are sent unless --no-id");
        assert_eq!((o.retry_after, o.rotate_token_after), (None, None));
        assert_eq!(o.fail_5xx + o.fail_429 + o.drop_after_create, 0.0);
    }

    #[test]
    fn flags_set_the_options_and_probabilities_are_checked() {
        let o = Flags::try_parse_from(["m", "--no-id", "--fail-5xx", "0.5", "--latency", "50ms"])
            .unwrap()
            .options;
        assert!(!o.reply_with_id);
        assert_eq!(o.fail_5xx, 0.5);
        assert_eq!(o.latency, Duration::from_millis(50));
        let err = Flags::try_parse_from(["m", "--fail-429", "1.5"])
            .err()
            .expect("1.5 is not a probability");
        assert!(err.to_string().contains("between 0 and 1"), "{err}");
    }
}
