//! Saved settings for a team's accounts and sheets: a config file of named profiles, each with
//! a base URL, where its credentials come from, a rate, a map file and date layouts, chosen
//! with `--profile NAME`. A flag given on the command line wins over the profile.
//!
//! The file is `--config PATH`, else `$BULKCAST_CONFIG`, else the platform's usual place:
//! `$XDG_CONFIG_HOME/bulkcast/config.toml` (or `~/.config/…`) on Linux,
//! `~/Library/Application Support/bulkcast/config.toml` on macOS, `%APPDATA%\bulkcast\config.toml`
//! on Windows. A profile names where a secret is (a token file, an environment variable);
//! the secret itself is accepted in the file only when no one else can read it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::secret::{Auth, Secret};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    profile: BTreeMap<String, Profile>,
}

/// One profile, as the file gives it.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub base_url: Option<String>,
    /// A file holding the token.
    pub token_file: Option<PathBuf>,
    /// The environment variable holding the token.
    pub token_env: Option<String>,
    /// The token itself: only in a file no one else can read.
    pub token: Option<String>,
    /// A login: the email, and the environment variable holding the password.
    pub email: Option<String>,
    pub password_env: Option<String>,
    pub rate: Option<String>,
    pub map_file: Option<PathBuf>,
    #[serde(default)]
    pub date_format: Vec<String>,
}

/// Where the config file is, when none is given.
pub fn default_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("BULKCAST_CONFIG").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if cfg!(windows) {
        return env("APPDATA").map(|d| d.join("bulkcast").join("config.toml"));
    }
    if cfg!(target_os = "macos") {
        return env("HOME").map(|h| h.join("Library/Application Support/bulkcast/config.toml"));
    }
    env("XDG_CONFIG_HOME")
        .or_else(|| env("HOME").map(|h| h.join(".config")))
        .map(|d| d.join("bulkcast").join("config.toml"))
}

/// The names of the config file's profiles (none when there is no file, or it cannot be
/// read: choosing one then says why).
pub fn names(path: Option<&Path>) -> Vec<String> {
    let Some(path) = path.map(Path::to_owned).or_else(default_path) else {
        return Vec::new();
    };
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| toml::from_str::<File>(&text).ok())
        .map(|f| f.profile.into_keys().collect())
        .unwrap_or_default()
}

/// The profile `name` of the config file `path` (or the usual one). Paths in it are taken
/// from the file's folder, `~/` from the home folder.
pub fn load(path: Option<&Path>, name: &str) -> Result<Profile> {
    let path = match path {
        Some(p) => p.to_owned(),
        None => default_path()
            .context("no config file: give --config PATH, or set BULKCAST_CONFIG or HOME")?,
    };
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read the config file {} (for --profile {name})",
            path.display()
        )
    })?;
    let file: File = toml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.message()))?;
    let Some(mut p) = file.profile.get(name).cloned() else {
        let names: Vec<&str> = file.profile.keys().map(String::as_str).collect();
        bail!(
            "{} has no profile {name:?}; its profiles are {}",
            path.display(),
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        );
    };
    if p.token.is_some() && !private(&path) {
        bail!(
            "{}: profile {name:?} holds a token, and others can read the file: make it yours \
             alone (chmod 600 {}), or name a token_file or token_env instead",
            path.display(),
            path.display()
        );
    }
    let base = path.parent().unwrap_or(Path::new("."));
    p.token_file = p.token_file.map(|f| resolve(base, &f));
    p.map_file = p.map_file.map(|f| resolve(base, &f));
    Ok(p)
}

/// Fill what `args` (a submit's flags) do not give from its `--profile`.
pub fn apply_to_submit(args: &mut crate::cli::SubmitArgs) -> Result<()> {
    let Some(p) = chosen(&args.profile)? else {
        return Ok(());
    };
    let i = &mut args.input_args;
    if i.map.is_empty() && i.map_file.is_none() {
        i.map_file.clone_from(&p.map_file);
    }
    if i.date_format.is_empty() {
        i.date_format.clone_from(&p.date_format);
    }
    let given = (&mut args.base_url, &mut args.rate, &mut args.token_file);
    args.profile_auth = p.fill(given)?;
    Ok(())
}

/// The base URL, rate and credentials `--profile` gives `bulkcast broadcasts`, for what its
/// flags do not.
pub fn apply_to_broadcasts(args: &mut crate::cli::BroadcastsArgs) -> Result<Option<Auth>> {
    match chosen(&args.profile)? {
        Some(p) => p.fill((&mut args.base_url, &mut args.rate, &mut args.token_file)),
        None => Ok(None),
    }
}

/// The profile `--profile` chose, if any.
fn chosen(args: &crate::cli::ProfileArgs) -> Result<Option<Profile>> {
    match &args.profile {
        Some(name) => load(args.config.as_deref(), name).map(Some),
        None => Ok(None),
    }
}

/// Where a command's flags said nothing: the base URL, the rate, and the credentials (those
/// the profile names other than a token file are returned).
type Given<'a> = (
    &'a mut Option<String>,
    &'a mut Option<String>,
    &'a mut Option<PathBuf>,
);

impl Profile {
    /// Fill what a command was not given; the credentials other than a token file.
    fn fill(&self, (base_url, rate, token_file): Given<'_>) -> Result<Option<Auth>> {
        if base_url.is_none() {
            base_url.clone_from(&self.base_url);
        }
        if rate.is_none() {
            rate.clone_from(&self.rate);
        }
        if token_file.is_some() {
            return Ok(None);
        }
        token_file.clone_from(&self.token_file);
        self.auth()
    }

    /// The credentials the profile names, if it names any.
    pub fn auth(&self) -> Result<Option<Auth>> {
        if let Some(token) = &self.token {
            return Ok(Some(Auth::Token(Secret::new(token.trim()))));
        }
        if let Some(var) = &self.token_env {
            let token = std::env::var(var)
                .with_context(|| format!("the profile's token_env {var} is not set"))?;
            return Ok(Some(Auth::Token(Secret::new(token.trim()))));
        }
        if let Some(email) = &self.email {
            let var = self.password_env.as_deref().unwrap_or("SMARTFLO_PASSWORD");
            let password = std::env::var(var)
                .with_context(|| format!("the profile logs in as {email}, and {var} is not set"))?;
            return Ok(Some(Auth::Login {
                email: email.clone(),
                password: Secret::new(password),
            }));
        }
        Ok(None)
    }
}

fn resolve(base: &Path, p: &Path) -> PathBuf {
    if let Ok(rest) = p.strip_prefix("~") {
        if let Some(home) = std::env::var_os("HOME").or_else(|| std::env::var_os("USERPROFILE")) {
            return PathBuf::from(home).join(rest);
        }
    }
    if p.is_absolute() {
        p.to_owned()
    } else {
        base.join(p)
    }
}

/// Whether only its owner can read the file.
fn private(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 == 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[profile.mumbai]
base_url = "https://mumbai.example"
token_file = "mumbai.token"
rate = "5"
map_file = "team.map"
date_format = ["%d/%m/%Y %H:%M"]

[profile.pune]
token = "secret-in-the-file"
"#;

    #[test]
    fn a_profile_is_read_with_its_paths_taken_from_the_files_folder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, FILE).unwrap();
        let p = load(Some(&path), "mumbai").unwrap();
        assert_eq!(p.base_url.as_deref(), Some("https://mumbai.example"));
        assert_eq!(p.token_file, Some(dir.path().join("mumbai.token")));
        assert_eq!(p.map_file, Some(dir.path().join("team.map")));
        assert_eq!(p.date_format, ["%d/%m/%Y %H:%M"]);
        let e = load(Some(&path), "delhi").unwrap_err().to_string();
        assert!(
            e.contains("has no profile \"delhi\"; its profiles are mumbai, pune"),
            "{e}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_token_in_the_file_needs_a_file_no_one_else_can_read() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, FILE).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = load(Some(&path), "pune").unwrap_err().to_string();
        assert!(e.contains("chmod 600"), "{e}");
        assert!(!e.contains("secret-in-the-file"), "no secret in messages");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let p = load(Some(&path), "pune").unwrap();
        assert!(
            matches!(p.auth().unwrap(), Some(Auth::Token(t)) if t.expose() == "secret-in-the-file")
        );
    }

    #[test]
    fn a_file_with_an_unknown_key_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[profile.a]\nbase_uri = \"x\"\n").unwrap();
        let e = load(Some(&path), "a").unwrap_err().to_string();
        assert!(e.contains("base_uri"), "{e}");
    }
}
