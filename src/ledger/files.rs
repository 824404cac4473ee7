//! The files of one run and their lifecycle: the results file, the journal beside it, and the
//! results being written; refusing to start over an earlier run's record, and making the
//! results file complete at the end (written in full beside it, then renamed into place).

use std::collections::HashMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::journal;
use super::outcome::{write_outcome, Outcome, HEADER};
use crate::csvio;

/// The files of a run: the results, the journal beside it, the results being written, the lock
/// that keeps a second run out, and the baseline of what was on the account before.
#[derive(Debug, Clone)]
pub struct RunFiles {
    pub results: PathBuf,
    pub journal: PathBuf,
    pub partial: PathBuf,
    pub lock: PathBuf,
    /// What was on the account before the first create; kept with the results.
    pub baseline: PathBuf,
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
            lock: with(".lock"),
            baseline: with(".baseline"),
        }
    }

    /// Every path a run writes besides the results file itself.
    pub fn companions(&self) -> [&Path; 4] {
        [&self.journal, &self.partial, &self.lock, &self.baseline]
    }

    /// Take the run's lock: one run at a time per results file, with or without `--resume`.
    /// The lock is the operating system's (`flock`), so it goes with the process however it
    /// ends and a `kill -9` leaves nothing to clean up. A second run is refused at once, and
    /// told which process holds the lock.
    pub fn lock(&self) -> Result<RunLock> {
        RunLock::take(&self.lock, &self.results)
    }

    /// Refuse to start a new run over the record of an earlier one.
    pub fn refuse_to_overwrite(&self) -> Result<()> {
        if self.results.exists() {
            bail!(
                "the results file {} already exists: it is the record of what an earlier run created, so \
                 bulkcast will not overwrite it. To continue that run (rows created are not sent again) add \
                 --resume; to start a separate run choose another path with -o",
                self.results.display()
            );
        }
        if journal::exists(&self.journal) {
            bail!(
                "an earlier run into {} did not finish (its journal {} is there): add --resume to continue it \
                 without creating anything twice, or choose another path with -o",
                self.results.display(),
                self.journal.display()
            );
        }
        Ok(())
    }

    /// Make the results file complete: the ordered file written during the run (`written`, at
    /// [`RunFiles::partial`]), with the outcomes decided after it (`patches`, by position),
    /// written in full and renamed into place.
    /// The results are synced before the rename and the directory after it, so once this
    /// returns the results survive a power cut and the journal may go.
    pub fn finish(
        &self,
        written: std::fs::File,
        patches: &HashMap<u64, Outcome>,
        target: &str,
    ) -> Result<()> {
        let staged = if patches.is_empty() {
            written.sync_all()?;
            self.partial.clone()
        } else {
            drop(written);
            let staged = self.partial.with_extension("patched");
            patch_results(&self.partial, &staged, patches, target)
                .with_context(|| format!("writing {}", staged.display()))?;
            std::fs::remove_file(&self.partial)?;
            staged
        };
        std::fs::rename(&staged, &self.results).with_context(|| {
            format!("moving {} to {}", staged.display(), self.results.display())
        })?;
        super::sync_parent(&self.results)
            .with_context(|| format!("syncing the folder of {}", self.results.display()))?;
        Ok(())
    }
}

/// The lock of a run, held until it is dropped; the lock file is removed then.
#[derive(Debug)]
pub struct RunLock {
    file: File,
    path: PathBuf,
}

impl RunLock {
    fn take(path: &Path, results: &Path) -> Result<RunLock> {
        loop {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .with_context(|| format!("cannot create the lock file {}", path.display()))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    let mut holder = String::new();
                    let _ = file.read_to_string(&mut holder);
                    let holder = holder.trim();
                    let who = if holder.is_empty() {
                        "another bulkcast process".to_owned()
                    } else {
                        format!("another bulkcast process ({holder})")
                    };
                    bail!(
                        "{who} is already running into {}; nothing was sent. Two runs into one \
                         results file would send the same rows twice: wait for it to finish (or \
                         stop it), then run again",
                        results.display()
                    );
                }
                Err(TryLockError::Error(e)) => {
                    return Err(e).with_context(|| format!("cannot lock {}", path.display()))
                }
            }
            // The file may have been removed by the run that held it, just before we locked
            // it: then another run can lock a new file at the path. Only the file still at the
            // path counts.
            if !same_inode(&file, path) {
                continue;
            }
            file.set_len(0)?;
            file.seek(SeekFrom::Start(0))?;
            write!(file, "pid {}", std::process::id())?;
            return Ok(RunLock {
                file,
                path: path.to_owned(),
            });
        }
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Removed while still locked, so no other run can hold a lock on this file by then.
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

#[cfg(unix)]
fn same_inode(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_inode(_: &File, path: &Path) -> bool {
    path.exists()
}

/// Copy the results at `from` to `to`, replacing the rows at the positions in `patches`.
fn patch_results(
    from: &Path,
    to: &Path,
    patches: &HashMap<u64, Outcome>,
    target: &str,
) -> Result<()> {
    let mut source = std::io::BufReader::new(std::fs::File::open(from)?);
    let bom = std::io::BufRead::fill_buf(&mut source)?.starts_with(csvio::BOM);
    let mut csv = csvio::reader(source, b',');
    let mut file = std::fs::File::create(to)?;
    if bom {
        file.write_all(csvio::BOM)?;
    }
    let mut out = csvio::writer(file);
    out.write_record(HEADER)?;
    let mut rec = csv::ByteRecord::new();
    let mut seq = 0u64;
    while csv.read_byte_record(&mut rec)? {
        match patches.get(&seq) {
            Some(o) => write_outcome(&mut out, None, o, target)?,
            None => out.write_byte_record(&rec)?,
        }
        seq += 1;
    }
    let file = out.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_lock_per_results_file_and_it_goes_with_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        let files = RunFiles::new(&dir.path().join("r.csv"));
        let held = files.lock().unwrap();
        let err = files.lock().unwrap_err().to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        assert!(err.contains("nothing was sent"), "{err}");
        // The same file, spelled another way.
        let other = RunFiles::new(&dir.path().join(".").join("r.csv"));
        assert!(other.lock().is_err());
        drop(held);
        assert!(!files.lock.exists(), "the lock file goes with the lock");
        let again = files.lock().unwrap();
        drop(again);
    }
}
