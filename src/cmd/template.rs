//! `bulkcast template`: a spreadsheet that starts right — a header naming every field and one
//! example row (starting tomorrow) that validates.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use anyhow::{Context, Result};

use super::validate::is_broken_pipe;
use crate::csvio;
use crate::input::Field;
use crate::Exit;

/// Write a header naming every field and one example row (starting tomorrow) that validates.
pub fn run(output: Option<&Path>, force: bool) -> Result<Exit> {
    let out: Box<dyn Write> = match output {
        Some(path) => Box::new(create(path, force)?),
        None => Box::new(io::stdout().lock()),
    };
    let mut w = csvio::writer(out);
    let result = (|| -> Result<()> {
        w.write_record(Field::ALL.iter().map(|f| f.api_name()))?;
        w.write_record(example_row())?;
        w.flush()?;
        Ok(())
    })();
    match result {
        Err(e) if is_broken_pipe(&e) => Ok(Exit::Success),
        other => other
            .map(|()| Exit::Success)
            .context("writing the template"),
    }
}

/// Create `path` for the template; an existing file only with `force`.
fn create(path: &Path, force: bool) -> Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    options.open(path).map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            anyhow::anyhow!(
                "{} already exists: bulkcast will not replace it (it may be a filled sheet). \
                 Choose another path, or add --force to replace it",
                path.display()
            )
        } else {
            anyhow::Error::new(e).context(format!("cannot write {}", path.display()))
        }
    })
}

/// An example row for [`run`], in the order of [`Field::ALL`].
fn example_row() -> Vec<String> {
    let day = chrono::Local::now().date_naive() + chrono::Days::new(1);
    let day = day.format("%Y-%m-%d");
    [
        "Diwali offer - Pune".to_owned(),
        "Festive offer reminder for Pune leads".to_owned(),
        "214864".to_owned(),
        "ivr||7926".to_owned(),
        "40".to_owned(),
        "5".to_owned(),
        "5;10".to_owned(),
        "918069000000".to_owned(),
        "2".to_owned(),
        format!("{day} 09:00:00"),
        format!("{day} 18:00:00"),
        "1234".to_owned(),
        "1;2;3;4;5".to_owned(),
        "1;3".to_owned(),
    ]
    .into()
}
