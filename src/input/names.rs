//! Which names a file has used: a 64-bit fingerprint and the line of first use per row, and
//! nothing else — the one piece of state that grows with the input.
//!
//! A general hash map rounds its table up to a power of two and, while growing, holds the old
//! table beside the new one: for a million names that peaked near 41 MB. This open-addressing
//! table packs a slot into 12 bytes, is sized to the rows expected (estimated from the file's
//! size after its first rows), and so holds a million names in about 14 MB without growing.

/// A slot: the fingerprint's two halves and the line of first use; line 0 marks an empty slot
/// (data lines start at 2).
type Slot = [u32; 3];

/// The table is grown before it is fuller than this (per cent).
const MAX_LOAD: usize = 85;

pub struct NameTracker {
    slots: Vec<Slot>,
    len: usize,
}

impl Default for NameTracker {
    fn default() -> Self {
        NameTracker::with_expected(0)
    }
}

impl NameTracker {
    /// A table for about `rows` names.
    pub(super) fn with_expected(rows: u64) -> NameTracker {
        NameTracker {
            slots: vec![[0; 3]; capacity_for(rows)],
            len: 0,
        }
    }

    /// Make room for about `rows` names in all, in one step, if that is more than there is.
    pub(super) fn expect(&mut self, rows: u64) {
        let wanted = capacity_for(rows);
        if wanted > self.slots.len() {
            self.rebuild(wanted);
        }
    }

    /// Record `name` as used on `line`; returns the line of an earlier use. Empty names claim
    /// nothing (they are invalid on their own).
    pub(super) fn claim(&mut self, name: &str, line: u64) -> Option<u64> {
        if name.is_empty() {
            return None;
        }
        if (self.len + 1) * 100 > self.slots.len() * MAX_LOAD {
            self.rebuild(self.slots.len() * 3 / 2);
        }
        let fp = super::name_fingerprint(name);
        let (hi, lo) = ((fp >> 32) as u32, fp as u32);
        let mut i = slot_of(fp, self.slots.len());
        loop {
            let slot = &mut self.slots[i];
            if slot[2] == 0 {
                *slot = [hi, lo, u32::try_from(line).unwrap_or(u32::MAX).max(1)];
                self.len += 1;
                return None;
            }
            if slot[0] == hi && slot[1] == lo {
                return Some(u64::from(slot[2]));
            }
            i = if i + 1 == self.slots.len() { 0 } else { i + 1 };
        }
    }

    /// Whether `name` was claimed.
    pub fn contains(&self, name: &str) -> bool {
        let fp = super::name_fingerprint(name);
        let (hi, lo) = ((fp >> 32) as u32, fp as u32);
        let mut i = slot_of(fp, self.slots.len());
        loop {
            let slot = &self.slots[i];
            if slot[2] == 0 {
                return false;
            }
            if slot[0] == hi && slot[1] == lo {
                return true;
            }
            i = if i + 1 == self.slots.len() { 0 } else { i + 1 };
        }
    }

    fn rebuild(&mut self, capacity: usize) {
        let old = std::mem::replace(&mut self.slots, vec![[0; 3]; capacity]);
        for slot in old.into_iter().filter(|s| s[2] != 0) {
            let fp = (u64::from(slot[0]) << 32) | u64::from(slot[1]);
            let mut i = slot_of(fp, capacity);
            while self.slots[i][2] != 0 {
                i = if i + 1 == capacity { 0 } else { i + 1 };
            }
            self.slots[i] = slot;
        }
    }
}

fn capacity_for(rows: u64) -> usize {
    let rows = usize::try_from(rows).unwrap_or(usize::MAX / 200);
    (rows.saturating_mul(100) / MAX_LOAD + 1).max(1024)
}

/// Map a fingerprint onto `0..n` by its high bits (no power-of-two size needed).
fn slot_of(fp: u64, n: usize) -> usize {
    ((u128::from(fp) * n as u128) >> 64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claimed_names_are_contained() {
        let mut t = NameTracker::default();
        t.claim("a", 2);
        assert!(t.contains("a"));
        assert!(!t.contains("b"));
    }

    #[test]
    fn the_first_line_of_a_name_is_remembered() {
        let mut t = NameTracker::default();
        assert_eq!(t.claim("A", 2), None);
        assert_eq!(t.claim("B", 3), None);
        assert_eq!(t.claim("A", 7), Some(2));
        assert_eq!(t.claim("A", 9), Some(2));
        assert_eq!(t.claim("", 10), None);
        assert_eq!(t.claim("", 11), None, "empty names are not claimed");
    }

    #[test]
    fn growing_and_presizing_keep_every_name() {
        for mut t in [NameTracker::default(), NameTracker::with_expected(50_000)] {
            for i in 0..50_000u64 {
                assert_eq!(t.claim(&format!("name {i}"), i + 2), None, "{i}");
            }
            t.expect(200_000);
            for i in (0..50_000u64).step_by(997) {
                assert_eq!(t.claim(&format!("name {i}"), 1_000_000), Some(i + 2));
            }
            assert_eq!(t.len, 50_000);
        }
    }

    #[test]
    fn a_million_expected_names_take_about_fourteen_megabytes() {
        let t = NameTracker::with_expected(1_000_000);
        let bytes = t.slots.len() * std::mem::size_of::<Slot>();
        assert!(bytes < 15_000_000, "{bytes}");
    }
}
