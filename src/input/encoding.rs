//! The text encoding a spreadsheet was saved in, and reading it as UTF-8.
//!
//! What Excel does when it opens a CSV is the rule (`shared/spreadsheets.md`): `EF BB BF` is
//! UTF-8, `FF FE` UTF-16LE, `FE FF` UTF-16BE. Without a byte-order mark, a file whose bytes are
//! UTF-8 is UTF-8; a file whose non-ASCII bytes are mostly not UTF-8 was saved in a legacy code
//! page (Excel's default "CSV" on Windows is Windows-1252), and `chardetng` — Firefox's
//! detector — says which, from the whole file. A file that is mostly UTF-8 with a few bad bytes
//! stays UTF-8, so that the bad cells are reported as such rather than the whole sheet being
//! misread. `--encoding NAME` forces one. Decoding is `encoding_rs`'s, streamed.

use std::io::{self, Read, Seek, SeekFrom};

use encoding_rs::{Encoding, UTF_8};

/// How a file is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sniffed {
    pub encoding: &'static Encoding,
    /// The file starts with a byte-order mark (a file saved by Excel as "CSV UTF-8" or
    /// "Unicode Text").
    pub bom: bool,
    /// The encoding was detected from the content (no mark, not UTF-8).
    pub guessed: bool,
}

impl Sniffed {
    /// Whether the file came from a spreadsheet program that marks or code-pages its text, so
    /// that files written for it should carry a UTF-8 byte-order mark to open cleanly.
    pub fn from_excel(&self) -> bool {
        self.bom || self.encoding != UTF_8
    }

    /// UTF-8 needs no decoding.
    pub fn is_utf8(&self) -> bool {
        self.encoding == UTF_8
    }
}

/// The encoding `--encoding` names (a WHATWG label: `windows-1252`, `latin1`, `utf-16le`, ...).
pub fn by_label(label: &str) -> Option<&'static Encoding> {
    Encoding::for_label(label.trim().as_bytes())
}

/// Decide how to read `file` (reading it whole, then back to its start), unless `forced`.
pub fn sniff<F: Read + Seek>(
    file: &mut F,
    forced: Option<&'static Encoding>,
) -> io::Result<Sniffed> {
    let mut head = [0u8; 3];
    let n = read_up_to(file, &mut head)?;
    file.seek(SeekFrom::Start(0))?;
    let bom = Encoding::for_bom(&head[..n]).map(|(e, _)| e);
    if let Some(encoding) = forced {
        return Ok(Sniffed {
            encoding,
            bom: bom.is_some(),
            guessed: false,
        });
    }
    if let Some(encoding) = bom {
        return Ok(Sniffed {
            encoding,
            bom: true,
            guessed: false,
        });
    }
    // Most files are UTF-8: one validating pass says so. Only a file with bytes that are not
    // UTF-8 is read again, counting what of it is.
    let mut scan = Scan::of(file, false)?;
    file.seek(SeekFrom::Start(0))?;
    if scan.invalid > 0 {
        scan = Scan::of(file, true)?;
        file.seek(SeekFrom::Start(0))?;
    }
    if scan.invalid == 0 || scan.utf8_chars > scan.invalid {
        return Ok(Sniffed {
            encoding: UTF_8,
            bom: false,
            guessed: false,
        });
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    let mut buf = vec![0u8; 64 * 1024];
    let mut fed = 0usize;
    loop {
        let n = file.read(&mut buf)?;
        detector.feed(&buf[..n], n == 0);
        fed += n;
        if n == 0 || fed >= 16 << 20 {
            break;
        }
    }
    file.seek(SeekFrom::Start(0))?;
    let encoding = detector.guess(None, chardetng::Utf8Detection::Deny);
    Ok(Sniffed {
        encoding,
        bom: false,
        guessed: true,
    })
}

/// What a file's bytes say about UTF-8: characters that are valid multi-byte UTF-8, and bytes
/// that cannot be.
struct Scan {
    utf8_chars: u64,
    invalid: u64,
}

impl Scan {
    /// Scan `r`; `count` the multi-byte characters too (a pass over every byte).
    fn of<R: Read>(r: &mut R, count: bool) -> io::Result<Scan> {
        let multibyte = |valid: &[u8]| if count { multibyte(valid) } else { 0 };
        let mut scan = Scan {
            utf8_chars: 0,
            invalid: 0,
        };
        let mut buf = vec![0u8; 1 << 20];
        let mut carried = 0usize;
        loop {
            let n = r.read(&mut buf[carried..])?;
            let end = carried + n;
            let last = n == 0;
            let mut at = 0;
            while at < end {
                match std::str::from_utf8(&buf[at..end]) {
                    Ok(s) => {
                        scan.utf8_chars += multibyte(s.as_bytes());
                        at = end;
                    }
                    Err(e) => {
                        let good = e.valid_up_to();
                        scan.utf8_chars += multibyte(&buf[at..at + good]);
                        at += good;
                        match e.error_len() {
                            Some(bad) => {
                                scan.invalid += 1;
                                at += bad;
                            }
                            // A sequence cut by the buffer's end: read on, unless this is all.
                            None if !last => break,
                            None => {
                                scan.invalid += 1;
                                at = end;
                            }
                        }
                    }
                }
            }
            if last {
                return Ok(scan);
            }
            buf.copy_within(at..end, 0);
            carried = end - at;
        }
    }
}

/// Multi-byte characters in valid UTF-8: its lead bytes.
fn multibyte(valid: &[u8]) -> u64 {
    valid.iter().filter(|&&b| b >= 0xC0).count() as u64
}

pub(super) fn read_up_to<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// `input` read as UTF-8: as it is for UTF-8, transcoded otherwise (a byte-order mark removed).
pub fn decoded<R: Read + Send + 'static>(input: R, sniffed: Sniffed) -> Box<dyn Read + Send> {
    if sniffed.is_utf8() {
        return Box::new(input);
    }
    Box::new(
        encoding_rs_io::DecodeReaderBytesBuilder::new()
            .encoding(Some(sniffed.encoding))
            .bom_override(true)
            .strip_bom(true)
            .build(input),
    )
}

/// A name for messages: `windows-1252`, `UTF-16LE`.
pub fn name(sniffed: Sniffed) -> &'static str {
    sniffed.encoding.name()
}

impl super::RowReader {
    /// How the file was read, when it was read from a file.
    pub fn sniffed(&self) -> Option<Sniffed> {
        self.sniffed
    }

    /// A line for the user when the file was not plain UTF-8: which encoding it was read as.
    pub fn encoding_note(&self) -> Option<String> {
        let s = self.sniffed?;
        (!s.is_utf8()).then(|| {
            let how = if s.guessed {
                "detected"
            } else if s.bom {
                "marked"
            } else {
                "as asked"
            };
            format!(
                "read {} as {} ({how}); names are sent as UTF-8, as Excel shows them",
                self.path.display(),
                name(s)
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use encoding_rs::{UTF_16BE, UTF_16LE};
    use std::io::Cursor;

    fn sniffed(bytes: &[u8]) -> Sniffed {
        sniff(&mut Cursor::new(bytes.to_vec()), None).unwrap()
    }

    fn read_all(bytes: &[u8]) -> String {
        let s = sniffed(bytes);
        let mut out = String::new();
        decoded(Cursor::new(bytes.to_vec()), s)
            .read_to_string(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn marks_utf8_and_legacy_files_are_told_apart() {
        assert_eq!(sniffed(b"name\nCaf\xc3\xa9\n").encoding, UTF_8);
        assert!(!sniffed(b"name\nCaf\xc3\xa9\n").from_excel());
        assert!(sniffed(b"\xef\xbb\xbfname\n").bom);
        let w = sniffed("name\nCafé Offer – Pune, Crème brûlée\n".as_bytes());
        assert_eq!(w.encoding, UTF_8);
        let (cp, _, _) = encoding_rs::WINDOWS_1252
            .encode("name\nCafé Offer – Pune; Crème brûlée à la carte; Señor Müller\n");
        let s = sniffed(&cp);
        assert_eq!(s.encoding, encoding_rs::WINDOWS_1252, "{s:?}");
        assert!(s.guessed && s.from_excel());
        assert_eq!(
            read_all(&cp),
            "name\nCafé Offer – Pune; Crème brûlée à la carte; Señor Müller\n"
        );
    }

    #[test]
    fn utf16_with_a_mark_is_read_in_either_byte_order() {
        let text = "name\tdescription\nदिवाली ऑफ़र\tCafé\n";
        let mut le = vec![0xFF, 0xFE];
        let mut be = vec![0xFE, 0xFF];
        for u in text.encode_utf16() {
            le.extend_from_slice(&u.to_le_bytes());
            be.extend_from_slice(&u.to_be_bytes());
        }
        assert_eq!(sniffed(&le).encoding, UTF_16LE);
        assert_eq!(sniffed(&be).encoding, UTF_16BE);
        assert_eq!(read_all(&le), text);
        assert_eq!(read_all(&be), text);
    }

    #[test]
    fn a_mostly_utf8_file_with_a_bad_byte_stays_utf8() {
        let mut bytes = "name\nदिवाली ऑफ़र पुणे\nbad ".as_bytes().to_vec();
        bytes.extend_from_slice(&[0xE9, b'\n']);
        let s = sniffed(&bytes);
        assert_eq!(s.encoding, UTF_8);
    }

    #[test]
    fn a_sequence_cut_by_the_scan_buffer_is_not_counted_as_invalid() {
        let mut bytes = vec![b'a'; (1 << 20) - 1];
        bytes.extend_from_slice("é\n".as_bytes());
        let scan = Scan::of(&mut Cursor::new(bytes), true).unwrap();
        assert_eq!((scan.utf8_chars, scan.invalid), (1, 0));
    }
}
