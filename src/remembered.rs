//! How a run read its sheet and where it sent it, kept with the run in the ledger, so that a
//! `--resume` needs no flag typed again: the mapping (`--map`, and the map file's lines as they
//! were), date layouts, sheet, `--set` values, delimiter, encoding, rate and target. A resume
//! takes what it is not given from the record; a flag that says otherwise is refused, naming
//! both values — rows read another way would not be the rows the results describe. Only the
//! rate may differ: it is the pace, not how the sheet is read.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::cli::SubmitArgs;

/// What a run was given, as recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub map: Vec<String>,
    /// The map file's path as given, and its lines when the run started.
    pub map_file: Option<String>,
    pub map_file_lines: Vec<String>,
    pub date_format: Vec<String>,
    pub set: Vec<String>,
    pub sheet: Option<String>,
    pub delimiter: Option<String>,
    pub encoding: Option<String>,
    pub rate: Option<String>,
    pub base_url: Option<String>,
}

impl Settings {
    /// What `args` give (before defaults); the map file is read for its lines.
    pub fn given(args: &SubmitArgs) -> Result<Settings> {
        let i = &args.input_args;
        let map_file_lines = match &i.map_file {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the map file {}", path.display()))?
                .lines()
                .map(str::to_owned)
                .collect(),
            None => Vec::new(),
        };
        Ok(Settings {
            map: i.map.clone(),
            map_file: i.map_file.as_ref().map(|p| p.display().to_string()),
            map_file_lines,
            date_format: i.date_format.clone(),
            set: i.set.clone(),
            sheet: i.sheet.clone(),
            delimiter: i.delimiter.clone(),
            encoding: i.encoding.clone(),
            rate: args.rate.clone(),
            base_url: args.base_url.clone(),
        })
    }

    /// What this run was given and, for a `--resume`, what the run it continues was given for
    /// what this one lacks (put into `args`); a contradiction is an error.
    pub fn for_run(args: &mut SubmitArgs, results: &std::path::Path) -> Result<Settings> {
        let given = Settings::given(args)?;
        if !args.resume {
            return Ok(given);
        }
        let dir = args
            .state_dir
            .clone()
            .or_else(crate::ledger::store::default_dir);
        let Some(dir) = dir else {
            return Ok(given);
        };
        let key = crate::ledger::store::path_key(results);
        let Some(recorded) = crate::ledger::store::settings_for(&dir, &key)?
            .as_deref()
            .and_then(Settings::from_json)
        else {
            return Ok(given);
        };
        let settings = given.resumed(&recorded)?;
        settings.apply(args);
        Ok(settings)
    }

    /// A resume's settings: `self` (what it was given) completed from `recorded`; an error
    /// naming both values where they differ.
    pub fn resumed(self, recorded: &Settings) -> Result<Settings> {
        let mut out = self.clone();
        let lists = [
            ("--map", &self.map, &recorded.map, &mut out.map),
            (
                "--date-format",
                &self.date_format,
                &recorded.date_format,
                &mut out.date_format,
            ),
            ("--set", &self.set, &recorded.set, &mut out.set),
        ];
        for (flag, now, then, into) in lists {
            if now.is_empty() {
                into.clone_from(then);
            } else if now != then {
                bail!(contradiction(flag, &then.join(" "), &now.join(" ")));
            }
        }
        let ones = [
            ("--sheet", &self.sheet, &recorded.sheet, &mut out.sheet),
            (
                "--delimiter",
                &self.delimiter,
                &recorded.delimiter,
                &mut out.delimiter,
            ),
            (
                "--encoding",
                &self.encoding,
                &recorded.encoding,
                &mut out.encoding,
            ),
            (
                "--base-url (or SMARTFLO_BASE_URL)",
                &self.base_url,
                &recorded.base_url,
                &mut out.base_url,
            ),
        ];
        for (flag, now, then, into) in ones {
            match (now, then) {
                (None, _) => into.clone_from(then),
                (Some(n), Some(t)) if !same(flag, n, t) => {
                    bail!(contradiction(flag, t, n))
                }
                (Some(n), None) if !flag.starts_with("--base-url") => {
                    bail!(contradiction(flag, "(not given)", n))
                }
                _ => {}
            }
        }
        // The pace is not how the sheet is read: a resume may go slower or faster.
        if self.rate.is_none() {
            out.rate.clone_from(&recorded.rate);
        }
        match (&self.map_file, &recorded.map_file) {
            (None, _) => {
                out.map_file.clone_from(&recorded.map_file);
                out.map_file_lines.clone_from(&recorded.map_file_lines);
            }
            (Some(_), _) if self.map_file_lines != recorded.map_file_lines => {
                let then = recorded.map_file.as_deref().unwrap_or("(none)");
                let now = self.map_file.as_deref().unwrap_or_default();
                bail!(
                    "--map-file {now}: it does not read as the map file this run was started with \
                     ({then}, as it was then), so the sheet would be read differently; nothing was \
                     sent. Leave --map-file out to use the recorded one, or start a separate run \
                     with -o"
                );
            }
            _ => {}
        }
        Ok(out)
    }

    /// Put these settings into `args`, for the flags it lacks.
    pub fn apply(&self, args: &mut SubmitArgs) {
        let i = &mut args.input_args;
        i.map.clone_from(&self.map);
        i.date_format.clone_from(&self.date_format);
        i.set.clone_from(&self.set);
        i.sheet.clone_from(&self.sheet);
        i.delimiter.clone_from(&self.delimiter);
        i.encoding.clone_from(&self.encoding);
        if self.map_file.is_some() {
            i.map_lines = Some(self.map_file_lines.clone());
            i.map_file = self.map_file.as_ref().map(Into::into);
        }
        args.rate.clone_from(&self.rate);
        args.base_url.clone_from(&self.base_url);
    }

    /// As the ledger keeps it.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("settings serialise")
    }

    pub fn from_json(text: &str) -> Option<Settings> {
        serde_json::from_str(text).ok()
    }
}

/// `bulkcast submit SHEET --resume`, with the `-o` and `--mock` the run had: the one command
/// that continues its work (the rest of its flags are remembered).
pub fn continue_command(input: &Path, output: Option<&Path>, mock: bool) -> String {
    let quoted = |p: &Path| {
        let s = p.display().to_string();
        if s.chars()
            .all(|c| c.is_alphanumeric() || "-_./\\:".contains(c))
        {
            s
        } else {
            format!("\"{}\"", s.replace('"', "\\\""))
        }
    };
    let mut cmd = format!("bulkcast submit {} --resume", quoted(input));
    if let Some(out) = output {
        cmd += &format!(" -o {}", quoted(out));
    }
    if mock {
        cmd += " --mock";
    }
    cmd
}

/// Two values of `flag` that mean the same (a URL with or without its last `/`).
fn same(flag: &str, a: &str, b: &str) -> bool {
    if flag.starts_with("--base-url") {
        return a.trim_end_matches('/') == b.trim_end_matches('/');
    }
    a == b
}

fn contradiction(flag: &str, then: &str, now: &str) -> String {
    format!(
        "{flag} {now:?}: this run was started with {then:?}. A resume reads the sheet and sends \
         as the run it continues did; nothing was sent. Leave {flag} out to use the recorded \
         value, or start a separate run with -o"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded() -> Settings {
        Settings {
            map: vec!["Ring Time=timeout".into()],
            map_file: Some("team.map".into()),
            map_file_lines: vec!["Campaign=name".into()],
            date_format: vec!["%d/%m/%Y %H:%M".into()],
            sheet: Some("March".into()),
            rate: Some("5".into()),
            base_url: Some("https://api.example/".into()),
            ..Settings::default()
        }
    }

    #[test]
    fn a_bare_resume_takes_everything_from_the_record() {
        let got = Settings::default().resumed(&recorded()).unwrap();
        assert_eq!(got, recorded());
    }

    #[test]
    fn the_same_values_pass_and_other_values_are_refused_naming_both() {
        let same = Settings {
            date_format: vec!["%d/%m/%Y %H:%M".into()],
            base_url: Some("https://api.example".into()),
            ..Settings::default()
        };
        let got = same.resumed(&recorded()).unwrap();
        assert_eq!((got.sheet, got.map), (recorded().sheet, recorded().map));
        let other = Settings {
            date_format: vec!["%m/%d/%Y".into()],
            ..Settings::default()
        };
        let e = other.resumed(&recorded()).unwrap_err().to_string();
        assert!(
            e.starts_with(
                r#"--date-format "%m/%d/%Y": this run was started with "%d/%m/%Y %H:%M""#
            ),
            "{e}"
        );
        let sheet = Settings {
            sheet: Some("April".into()),
            ..Settings::default()
        };
        assert!(sheet.resumed(&recorded()).is_err());
        let edited = Settings {
            map_file: Some("team.map".into()),
            map_file_lines: vec!["Campaign=description".into()],
            ..Settings::default()
        };
        let e = edited.resumed(&recorded()).unwrap_err().to_string();
        assert!(e.contains("does not read as the map file"), "{e}");
        let faster = Settings {
            rate: Some("10".into()),
            ..Settings::default()
        };
        let got = faster.resumed(&recorded()).unwrap();
        assert_eq!(got.rate.as_deref(), Some("10"), "the pace may change");
    }

    #[test]
    fn settings_read_back_as_kept() {
        let r = recorded();
        assert_eq!(Settings::from_json(&r.to_json()), Some(r));
        assert_eq!(Settings::from_json("{}"), Some(Settings::default()));
    }
}
