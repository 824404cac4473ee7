//! `bulkcast broadcasts`: what is already on the account — id, name, status, list and when it
//! was created — as a table to read or a CSV to open beside the sheet. It creates nothing.

use std::io::Write;

use anyhow::Result;

use crate::cli::BroadcastsArgs;
use crate::engine::{Endpoint, Listed, Session};
use crate::input::name_key;
use crate::net::Rate;
use crate::{csvio, Exit};

/// The most pages a listing may take (as `submit`'s default).
const MAX_PAGES: u32 = 20_000;

pub fn run(args: &BroadcastsArgs) -> Result<Exit> {
    let mut args = args.clone();
    let profile_auth = crate::profile::apply_to_broadcasts(&mut args)?;
    let args = &args;
    let base_url = args
        .base_url
        .as_deref()
        .unwrap_or(crate::cli::DEFAULT_BASE_URL)
        .trim_end_matches('/')
        .to_owned();
    crate::config::check_base_url(&base_url, args.allow_insecure_http)?;
    let rate = Rate::parse(args.rate.as_deref().unwrap_or("3"))?;
    // Opened first: a file that cannot be written stops before the account is asked.
    let file = match &args.output {
        Some(path) => Some(crate::output::new_file(path, "the list")?),
        None => None,
    };
    let endpoint = Endpoint {
        base_url,
        auth: match (&args.token_file, profile_auth) {
            (None, Some(auth)) => auth,
            (file, _) => crate::secret::read_auth(file.as_deref())?,
        },
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let all = rt.block_on(async {
        let session = Session::open(&endpoint, rate, std::time::Duration::from_secs(30)).await?;
        session.broadcasts(MAX_PAGES).await
    })?;
    let wanted = args.name.as_deref().map(|n| name_key(n).into_owned());
    let shown: Vec<&Listed> = all
        .iter()
        .filter(|b| {
            wanted
                .as_deref()
                .is_none_or(|w| name_key(&b.name).contains(w))
        })
        .collect();
    match (file, args.csv) {
        (Some(f), _) => write_csv(std::io::BufWriter::new(f), &shown)?,
        (None, true) => write_csv(std::io::stdout().lock(), &shown)?,
        (None, false) => print_table(&shown),
    }
    eprintln!(
        "{} on the account{}",
        crate::plural(all.len() as u64, "broadcast", "broadcasts"),
        match (&args.name, shown.len()) {
            (Some(n), k) => format!(", {k} with {n:?} in the name"),
            (None, _) => String::new(),
        }
    );
    Ok(Exit::Success)
}

fn created(b: &Listed) -> String {
    b.created_at
        .and_then(|s| i64::try_from(s).ok())
        .map_or(String::new(), |s| {
            crate::engine::claims::local_time(s * 1000)
        })
}

fn write_csv(out: impl Write, rows: &[&Listed]) -> Result<()> {
    let mut csv = csvio::writer(out);
    csv.write_record(["id", "name", "status", "list_id", "created"])?;
    for b in rows {
        csv.write_record([
            csvio::safe_cell(&b.id).as_ref(),
            csvio::safe_cell(&b.name).as_ref(),
            csvio::safe_cell(&b.status).as_ref(),
            csvio::safe_cell(&b.list_id).as_ref(),
            &created(b),
        ])?;
    }
    csv.flush()?;
    Ok(())
}

/// A table for a person: names cut to fit a line.
fn print_table(rows: &[&Listed]) {
    let cut = |s: &str, n: usize| -> String {
        match s.char_indices().nth(n) {
            Some((at, _)) => format!("{}…", &s[..at]),
            None => s.to_owned(),
        }
    };
    let mut out = String::new();
    out += &format!(
        "{:<10} {:<48} {:<12} {:<10} {}\n",
        "id", "name", "status", "list", "created"
    );
    for b in rows {
        out += &format!(
            "{:<10} {:<48} {:<12} {:<10} {}\n",
            cut(&b.id, 10),
            cut(&b.name, 47),
            cut(&b.status, 12),
            cut(&b.list_id, 10),
            created(b)
        );
    }
    print!("{out}");
}
