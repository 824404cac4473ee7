//! How fast a run may send: a fixed number of requests a second (the ceiling the pacer never
//! exceeds), unlimited, or found by probing (`--rate auto`). The pacer is driven by it; the
//! configuration parses it from `--rate`.

use std::fmt;

/// Requests per second, unlimited, or found by probing (`--rate auto`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    Unlimited,
    PerSecond(f64),
    Auto,
}

/// A `--rate` that is not one of the accepted forms; the message says which are.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadRate(String);

impl Rate {
    /// `3`, `3/s`, `180/min`, `7200/h`, `0.5/s`; `0` or `unlimited` for no limit; `auto`.
    pub fn parse(s: &str) -> Result<Rate, BadRate> {
        let s = s.trim().to_ascii_lowercase();
        if s == "unlimited" || s == "none" {
            return Ok(Rate::Unlimited);
        }
        if s == "auto" {
            return Ok(Rate::Auto);
        }
        let (count, unit) = s.split_once('/').unwrap_or((&s, "s"));
        let per = match unit.trim() {
            "s" | "sec" | "second" => 1.0,
            "m" | "min" | "minute" => 60.0,
            "h" | "hr" | "hour" => 3600.0,
            other => {
                return Err(BadRate(format!(
                    "--rate {s:?}: unknown unit {other:?}; write 3, 3/s or 180/min"
                )))
            }
        };
        let count: f64 = count.trim().parse().map_err(|_| {
            BadRate(format!(
                "--rate {s:?}: write 3, 3/s, 180/min, auto, or 0 for unlimited"
            ))
        })?;
        if !count.is_finite() || count < 0.0 {
            return Err(BadRate(format!(
                "--rate {s:?} must be 0 (unlimited) or more"
            )));
        }
        if count == 0.0 {
            return Ok(Rate::Unlimited);
        }
        let rate = count / per;
        if rate < 1.0 / 3600.0 {
            return Err(BadRate(format!(
                "--rate {s:?} is below one request an hour"
            )));
        }
        Ok(Rate::PerSecond(rate))
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rate::Unlimited => f.write_str("unlimited"),
            Rate::PerSecond(r) => write!(f, "{r}/s"),
            Rate::Auto => f.write_str("a rate it finds, starting at 1/s"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_take_every_documented_form() {
        assert_eq!(Rate::parse("3").unwrap(), Rate::PerSecond(3.0));
        assert_eq!(Rate::parse("3/s").unwrap(), Rate::PerSecond(3.0));
        assert_eq!(Rate::parse("180/min").unwrap(), Rate::PerSecond(3.0));
        assert_eq!(Rate::parse(" 7200/h ").unwrap(), Rate::PerSecond(2.0));
        assert_eq!(Rate::parse("0").unwrap(), Rate::Unlimited);
        assert_eq!(Rate::parse("unlimited").unwrap(), Rate::Unlimited);
        for bad in ["", "fast", "3/day", "-1", "NaN", "0.5/h"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Rate::parse(" Auto ").unwrap(), Rate::Auto);
    }
}
