//! The files of one run and their lifecycle: the results file, the journal beside it, and the
//! results being written; refusing to start over an earlier run's record, and making the
//! results file complete at the end (written in full beside it, then renamed into place).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::journal;
use super::outcome::{write_outcome, Outcome, HEADER};
use crate::csvio;

/// The three files of a run: the results, the journal beside it, and the results being written.
#[derive(Debug, Clone)]
pub struct RunFiles {
    pub results: PathBuf,
    pub journal: PathBuf,
    pub partial: PathBuf,
}

impl RunFiles {
    pub fn new(results: &Path) -> RunFiles {
        let with = |suffix: &str| {
            let mut name = results.file_name().unwrap_or_default().to_os_string();
            name.push(suffix);
            results.with_file_name(name)
        };
        RunFiles {
            results: results.to_owned(),
            journal: with(".journal"),
            partial: with(".partial"),
        }
    }

    /// Refuse to start a new run over the record of an earlier one.
    pub fn refuse_to_overwrite(&self) -> Result<()> {
        if self.results.exists() {
            anyhow::bail!(
                "the results file {} already exists: it is the record of what an earlier run created, so \
                 bulkcast will not overwrite it. To continue that run (rows created are not sent again) add \
                 --resume; to start a separate run choose another path with -o",
                self.results.display()
            );
        }
        if journal::exists(&self.journal) {
            anyhow::bail!(
                "an earlier run into {} did not finish (its journal {} is there): add --resume to continue it \
                 without creating anything twice, or choose another path with -o",
                self.results.display(),
                self.journal.display()
            );
        }
        Ok(())
    }

    /// Make the results file complete: the ordered file written during the run (`written`, at
    /// [`RunFiles::partial`]), with the outcomes settled after it (`patches`, by position),
    /// written in full and renamed into place.
    pub fn finish(&self, written: std::fs::File, patches: &HashMap<u64, Outcome>) -> Result<()> {
        let staged = if patches.is_empty() {
            written.sync_all()?;
            self.partial.clone()
        } else {
            drop(written);
            let staged = self.partial.with_extension("patched");
            patch_results(&self.partial, &staged, patches)
                .with_context(|| format!("writing {}", staged.display()))?;
            std::fs::remove_file(&self.partial)?;
            staged
        };
        std::fs::rename(&staged, &self.results).with_context(|| {
            format!("moving {} to {}", staged.display(), self.results.display())
        })?;
        Ok(())
    }
}

/// Copy the results at `from` to `to`, replacing the rows at the positions in `patches`.
fn patch_results(from: &Path, to: &Path, patches: &HashMap<u64, Outcome>) -> Result<()> {
    let mut csv = csvio::reader(std::fs::File::open(from)?, b',');
    let mut out = csvio::writer(std::fs::File::create(to)?);
    out.write_record(HEADER)?;
    let mut rec = csv::ByteRecord::new();
    let mut seq = 0u64;
    while csv.read_byte_record(&mut rec)? {
        match patches.get(&seq) {
            Some(o) => write_outcome(&mut out, None, o)?,
            None => out.write_byte_record(&rec)?,
        }
        seq += 1;
    }
    let file = out.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    file.sync_all()?;
    Ok(())
}
