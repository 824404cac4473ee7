//! The input file as `submit` checked it, watched while it is sent.
//!
//! `submit` reads its input twice: once to judge every row, once to send. Both passes read one
//! open file (so a sheet saved over by a new file is not read in the middle), and what the
//! check saw is remembered — the file's identity, size and modification time, and a hash of
//! every byte read. The sending pass verifies them before it starts, after every batch of rows,
//! and (the hash) at the end; a change stops sending.

use std::collections::hash_map::DefaultHasher;
use std::fs::File;
use std::hash::Hasher;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::encoding::{self, Sniffed};
use super::workbook;
use super::{InputError, InputOptions, RowReader};

/// What identifies the file's content without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    id: (u64, u64),
}

impl Stamp {
    fn of(path: &Path) -> io::Result<Stamp> {
        let m = std::fs::metadata(path)?;
        #[cfg(unix)]
        let id = {
            use std::os::unix::fs::MetadataExt;
            (m.dev(), m.ino())
        };
        #[cfg(not(unix))]
        let id = (0, 0);
        Ok(Stamp {
            len: m.len(),
            modified: m.modified().ok(),
            id,
        })
    }
}

/// An input file opened for watching: see the module's documentation.
pub struct Watched {
    path: PathBuf,
    file: File,
    stamp: Stamp,
    hasher: Arc<Mutex<DefaultHasher>>,
    /// How the bytes are read (the hash is of the bytes on disk).
    sniffed: Sniffed,
    /// A workbook, read through calamine (its identity, size and time are watched; its bytes
    /// are not hashed).
    workbook: bool,
}

/// Feeds every byte read into the hasher (SipHash's `write` streams: how the bytes are split
/// across reads does not change the hash).
struct Hashing {
    inner: File,
    hasher: Arc<Mutex<DefaultHasher>>,
}

impl Read for Hashing {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        crate::lock(&self.hasher).write(&buf[..n]);
        Ok(n)
    }
}

impl RowReader {
    /// Open `path` as [`RowReader::open`] does, and watch it.
    pub fn open_watched(
        path: &Path,
        opts: &InputOptions,
    ) -> Result<(RowReader, Watched), InputError> {
        let open = |source| InputError::Open {
            path: path.to_owned(),
            source,
        };
        let mut file = open_file(path)?;
        let stamp = Stamp::of(path).map_err(open)?;
        let workbook = workbook::sniff(&mut file).map_err(open)?;
        if workbook {
            workbook::check_sizes(&file, path)?;
        }
        let sniffed = if workbook {
            // From a spreadsheet program: outputs carry a BOM.
            Sniffed {
                encoding: encoding_rs::UTF_8,
                bom: true,
                guessed: false,
            }
        } else {
            encoding::sniff(&mut file, opts.encoding).map_err(open)?
        };
        let watched = Watched {
            path: path.to_owned(),
            file,
            stamp,
            hasher: Arc::default(),
            sniffed,
            workbook,
        };
        let reader = watched.reader(opts)?;
        Ok((reader, watched))
    }
}

/// Open `path`, which must be a regular file: a device never ends, a folder has no rows.
pub(super) fn open_file(path: &Path) -> Result<File, InputError> {
    let open = |source| InputError::Open {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(open)?;
    if !file.metadata().map_err(open)?.is_file() {
        return Err(InputError::NotAFile {
            path: path.to_owned(),
        });
    }
    Ok(file)
}

impl Watched {
    /// Whether the file is a workbook (not a CSV).
    pub fn is_workbook(&self) -> bool {
        self.workbook
    }

    fn reader(&self, opts: &InputOptions) -> Result<RowReader, InputError> {
        if self.workbook {
            let sheet = workbook::open(&self.file, &self.path, opts.sheet.as_deref())?;
            return RowReader::from_sheet(sheet, &self.path, opts);
        }
        let open = |source| InputError::Open {
            path: self.path.clone(),
            source,
        };
        let mut file = self.file.try_clone().map_err(open)?;
        file.seek(SeekFrom::Start(0)).map_err(open)?;
        let hashing = Hashing {
            inner: file,
            hasher: self.hasher.clone(),
        };
        let input = BufReader::with_capacity(256 * 1024, encoding::decoded(hashing, self.sniffed));
        let mut reader = RowReader::from_reader(Box::new(input), &self.path, opts)?;
        reader.sniffed = Some(self.sniffed);
        if opts.known_duplicates.is_none() {
            reader.size_for_estimate = Some(self.stamp.len);
        }
        Ok(reader)
    }

    /// Read the same open file again from its start, hashing afresh: the sending pass.
    pub fn reopen(&self, opts: &InputOptions) -> Result<(RowReader, Watched), InputError> {
        let again = Watched {
            path: self.path.clone(),
            file: self.file.try_clone().map_err(|source| InputError::Open {
                path: self.path.clone(),
                source,
            })?,
            stamp: self.stamp.clone(),
            hasher: Arc::default(),
            sniffed: self.sniffed,
            workbook: self.workbook,
        };
        let reader = again.reader(opts)?;
        Ok((reader, again))
    }

    /// The hash of every byte read so far.
    pub fn digest(&self) -> u64 {
        crate::lock(&self.hasher).clone().finish()
    }

    /// How the file at the path differs from the one checked, if it does: replaced, resized,
    /// modified, or gone.
    pub fn changed(&self) -> Option<String> {
        let now = match Stamp::of(&self.path) {
            Ok(now) => now,
            Err(e) => return Some(format!("it cannot be read any more: {e}")),
        };
        if now.id != self.stamp.id {
            Some("it was replaced by another file".into())
        } else if now.len != self.stamp.len {
            Some(format!(
                "its size went from {} to {} bytes",
                self.stamp.len, now.len
            ))
        } else if now.modified != self.stamp.modified {
            Some("it was modified".into())
        } else {
            None
        }
    }

    /// How the file's bytes are read.
    pub fn sniffed(&self) -> Sniffed {
        self.sniffed
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewrite_a_replacement_and_a_removal_are_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.csv");
        let sheet = "name,description\na,b\n";
        std::fs::write(&path, sheet).unwrap();
        let file = File::open(&path).unwrap();
        let w = Watched {
            path: path.clone(),
            file,
            stamp: Stamp::of(&path).unwrap(),
            hasher: Arc::default(),
            sniffed: Sniffed {
                encoding: encoding_rs::UTF_8,
                bom: false,
                guessed: false,
            },
            workbook: false,
        };
        assert_eq!(w.changed(), None);
        std::fs::write(&path, "name,description\na,b\nc,d\n").unwrap();
        assert!(w.changed().unwrap().contains("size"), "{:?}", w.changed());
        let other = dir.path().join("new.csv");
        std::fs::write(&other, sheet).unwrap();
        std::fs::rename(&other, &path).unwrap();
        assert!(w.changed().unwrap().contains("replaced"));
        std::fs::remove_file(&path).unwrap();
        assert!(w.changed().unwrap().contains("cannot be read"));
    }

    #[test]
    fn the_hash_does_not_depend_on_how_reads_are_split() {
        let a = Arc::new(Mutex::new(DefaultHasher::new()));
        let b = Arc::new(Mutex::new(DefaultHasher::new()));
        crate::lock(&a).write(b"hello world");
        crate::lock(&b).write(b"hel");
        crate::lock(&b).write(b"lo wor");
        crate::lock(&b).write(b"ld");
        assert_eq!(
            crate::lock(&a).clone().finish(),
            crate::lock(&b).clone().finish()
        );
    }
}
