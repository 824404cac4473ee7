//! Secrets and credentials: a [`Secret`] never prints, and [`read_auth`] finds the credentials a
//! run uses, in a fixed order, without ever taking a token from the command line.

use std::fmt;
use std::path::Path;

use anyhow::{bail, Context, Result};

/// A token or password: it never prints, in `Debug` or anywhere else.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How bulkcast proves who it is.
#[derive(Debug, Clone)]
pub enum Auth {
    /// An API token (from the portal, or pasted from an earlier login).
    Token(Secret),
    /// Log in once with these, then use the token the API returns.
    Login { email: String, password: Secret },
}

/// Whether any credentials are given (a token file, a token, or a login email).
pub(crate) fn has_credentials(token_file: Option<&Path>) -> bool {
    token_file.is_some()
        || std::env::var_os("SMARTFLO_API_TOKEN").is_some()
        || std::env::var_os("SMARTFLO_EMAIL").is_some()
}

/// Credentials, in order: `--token-file`, `SMARTFLO_API_TOKEN`, then `SMARTFLO_EMAIL` with
/// `SMARTFLO_PASSWORD` (or a password prompt without echo when standard input is a terminal).
pub(crate) fn read_auth(token_file: Option<&Path>) -> Result<Auth> {
    if let Some(path) = token_file {
        let raw = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the token file {}", path.display()))?;
        warn_if_shared(path);
        return Ok(Auth::Token(clean_token(&raw)?));
    }
    if let Ok(raw) = std::env::var("SMARTFLO_API_TOKEN") {
        return Ok(Auth::Token(clean_token(&raw)?));
    }
    let Ok(email) = std::env::var("SMARTFLO_EMAIL") else {
        bail!(
            "no credentials: set SMARTFLO_API_TOKEN (or give --token-file PATH), or set SMARTFLO_EMAIL \
             and SMARTFLO_PASSWORD to log in (or try --mock)"
        );
    };
    let password = match std::env::var("SMARTFLO_PASSWORD") {
        Ok(p) => p,
        Err(_) if std::io::IsTerminal::is_terminal(&std::io::stdin()) => {
            rpassword::prompt_password(format!("Smartflo password for {email}: "))
                .context("reading the password")?
        }
        Err(_) => bail!("SMARTFLO_EMAIL is set but SMARTFLO_PASSWORD is not (and there is no terminal to ask on)"),
    };
    if password.is_empty() {
        bail!("the password is empty");
    }
    Ok(Auth::Login {
        email,
        password: Secret::new(password),
    })
}

pub(crate) fn clean_token(raw: &str) -> Result<Secret> {
    let token = strip_bearer(raw.trim());
    if token.is_empty() {
        bail!("the API token is empty");
    }
    if token.chars().any(|c| c.is_control() || c == ' ') {
        bail!("the API token contains spaces or control characters; paste only the token");
    }
    Ok(Secret::new(token))
}

/// Warn when a token file can be read by other users.
fn warn_if_shared(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(
                    "the token file {} can be read by other users (mode {mode:o}); `chmod 600 {}` keeps it yours",
                    path.display(),
                    path.display()
                );
            }
        }
    }
}

/// A token pasted as `Bearer abc` is the token `abc`.
pub fn strip_bearer(token: &str) -> &str {
    match token.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("bearer ") => token[7..].trim_start(),
        _ => token,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pasted_bearer_prefix_is_dropped() {
        assert_eq!(strip_bearer("Bearer abc"), "abc");
        assert_eq!(strip_bearer("bearer   abc"), "abc");
        assert_eq!(strip_bearer("abc"), "abc");
        assert_eq!(strip_bearer("Bearerabc"), "Bearerabc");
    }

    #[test]
    fn secrets_do_not_print() {
        assert_eq!(format!("{:?}", Secret::new("s3cr3t")), "Secret(***)");
    }
}
