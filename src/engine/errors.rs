//! Every way a run's listing, account or record can fail, with the words a person reads and
//! what to do about it, in one place (as ripgrep keeps its messages). The parts return these;
//! only the message text lives here.

use std::path::PathBuf;

use thiserror::Error;

/// A listing of the account's broadcasts that cannot be believed whole.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum ListingError {
    #[error("the run stopped")]
    Stopped,
    #[error("listing page {page} failed: {message}")]
    PageFailed { page: u32, message: String },
    #[error(
        "page {page} of the listing is larger than {mib} MiB even with one broadcast a page; \
         bulkcast does not read that much of one reply"
    )]
    PageTooLarge { page: u32, mib: usize },
    #[error("page {page} of the listing has no `results` array (an answer of unexpected shape)")]
    NoResults { page: u32 },
    #[error("page {page} of the listing has a broadcast without a name and an id")]
    Unnamed { page: u32 },
    #[error("page {page} of the listing repeats earlier pages (the API seems to ignore `page`)")]
    Repeats { page: u32 },
    #[error("the listing did not end within {max_pages} pages (--max-listing-pages)")]
    TooLong { max_pages: u32 },
    #[error(
        "broadcasts kept disappearing from the account while it was listed ({passes} complete \
         listings, each missing some of the one before), so a name missing from them may only \
         have moved between pages"
    )]
    Unsettled { passes: u32 },
    #[error(
        "over {max} broadcasts were made on the account since this run began; bulkcast does not \
         keep what the listing shows of more to judge them by"
    )]
    TooMany { max: usize },
    #[error("this machine's ledger could not be read to tell its broadcasts apart: {0}")]
    Ledger(String),
}

/// The account, its credentials or what it holds stand in the way of the run.
#[derive(Debug, Error)]
pub enum AccountError {
    #[error(
        "the API token was rejected (HTTP 401: {0}); nothing was sent. Check SMARTFLO_API_TOKEN, \
         --token-file, or SMARTFLO_EMAIL and SMARTFLO_PASSWORD"
    )]
    TokenRejected(String),
    #[error(
        "the API token is not allowed to use the broadcast API (HTTP 403: {0}); nothing was sent"
    )]
    Forbidden(String),
    #[error(
        "cannot use {base_url}: the account check (listing broadcasts) answered {message}; \
         nothing was sent"
    )]
    Unusable { base_url: String, message: String },
    #[error(
        "{results} records run {run}, made with {then}; this run uses {now}, so it would be \
         another account: its broadcasts are not the ones that run made. Nothing was sent. Resume \
         with that account's credentials; to send this sheet to this account, start a separate run \
         with its own results file (-o)"
    )]
    OtherAccount {
        results: std::path::PathBuf,
        then: String,
        now: String,
        run: i64,
    },
    #[error("stopped before the first request")]
    StoppedBeforeFirst,
    #[error("no email and password to log in with")]
    NoLogin,
    #[error("stopped before logging in")]
    StoppedBeforeLogin,
    #[error("the login reply carried no access_token")]
    NoAccessToken,
    #[error("the login reply's token cannot be used: {0}")]
    UnusableToken(String),
    #[error(
        "the login for {email} was rejected (HTTP 401: {message}); not tried again, as repeated \
         failed logins lock Smartflo accounts"
    )]
    LoginRejected { email: String, message: String },
    #[error("logging in failed: {0}")]
    LoginFailed(String),
    #[error(
        "the API token stopped working during the run (HTTP 401: it expired or was revoked); \
         stopped. A token from the portal or an earlier login does not renew itself: for long \
         runs, log in with SMARTFLO_EMAIL and SMARTFLO_PASSWORD, which bulkcast renews as it runs \
         out"
    )]
    TokenStopped,
    #[error(
        "the server rejected the credentials (HTTP 401) during the run; stopped so as not to lock \
         the account with repeated failures"
    )]
    RejectedMidRun,
    #[error(
        "a freshly issued token was refused at once (HTTP 401); stopped so as not to lock the \
         account with repeated logins"
    )]
    FreshTokenRefused,
    #[error(
        "cannot list the account to see which of the sheet's names are already there: {0}; \
         nothing was sent"
    )]
    Baseline(ListingError),
    #[error(
        "{results} records rows that were sent, but not what was on the account before they were \
         (its baseline is missing: the ledger keeps it for the results file's path, and a record \
         of an older version kept it in {baseline}), so a broadcast found by name could be an \
         older one of the same name. Nothing was sent. If the folder was moved, move it back \
         and resume; otherwise start a separate run into a new results file with --skip-existing"
    )]
    NoBaseline { results: PathBuf, baseline: PathBuf },
    #[error(
        "{} names already on the account (made before this run), so this run's \
         broadcast could not be told from the older one: {shown}{more}. Nothing was sent. Add \
         --skip-existing to count them as done, --allow-existing-names to create them anyway, or \
         rename them"
    ,
        crate::plural(*count, "row carries", "rows carry"))]
    ExistingNames {
        count: u64,
        shown: String,
        more: String,
    },
    #[error(
        "{} names this machine already created for a campaign that says something else, so \
         the broadcast of that name on the account is not this row's: {shown}{more}. Nothing was \
         sent. Rename them to create them as well, or add --allow-existing-names to create them \
         under the same name (--skip-existing leaves them out, not sent)"
    ,
        crate::plural(*count, "row carries", "rows carry"))]
    LedgerNamesakes {
        count: u64,
        shown: String,
        more: String,
    },
}

/// What the run writes down (the journal, the results) cannot be written or read.
#[derive(Debug, Error)]
pub enum RecordError {
    #[error(
        "cannot write the journal: {0}. Sending stopped at once; free the disk, then run again \
         with --resume (rows with no known outcome are looked up on the account first)"
    )]
    Journal(std::io::Error),
    #[error("cannot write the journal: {0}")]
    JournalLookup(std::io::Error),
    #[error(
        "cannot write the ledger, so no further request may leave: {0}. Sending stopped at once; \
         requests already sent finish. Free the disk (or check the state directory), then run \
         again with --resume"
    )]
    Ledger(String),
    #[error("cannot write the results: {0}")]
    Results(String),
    #[error(
        "cannot write the results for {results}: {error}. Sending stopped at once. Rows created \
         (or maybe created) whose outcome is not on disk: lines {lines}. The journal {journal} \
         holds everything recorded before: free the disk, then run again with --resume (rows it \
         cannot place are looked up on the account by name before anything is sent)"
    )]
    ResultsLost {
        results: PathBuf,
        error: String,
        lines: String,
        journal: PathBuf,
    },
    #[error(
        "the run stopped before the end of the input, and {results} records outcomes of earlier \
         runs for rows it did not reach, so it was not rewritten: {journal} keeps what this run \
         did. Put the sheet back as it was checked and run again with --resume (nothing recorded \
         is lost or sent twice); to send the sheet as it is now, start a separate run (-o)"
    )]
    CutShort { results: PathBuf, journal: PathBuf },
    #[error(
        "the input could not be read to the end; run again with --resume once it can ({journal} \
         holds what was done)"
    )]
    InputUnreadable { journal: PathBuf },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_happened_and_what_to_do() {
        let e = AccountError::TokenRejected("Unauthenticated".into());
        assert!(e.to_string().contains("nothing was sent"), "{e}");
        let e = RecordError::Journal(std::io::Error::other("no space left on device"));
        assert!(e.to_string().contains("--resume"), "{e}");
        let e = ListingError::TooLong { max_pages: 3 };
        assert_eq!(
            e.to_string(),
            "the listing did not end within 3 pages (--max-listing-pages)"
        );
    }
}
