//! A model's selection, with no I/O: the selected rows as sorted, disjoint ranges, changed
//! by Qt's selection commands and kept on the same rows as rows are inserted, removed and
//! moved (as Qt's `QItemSelectionModel` keeps its ranges through persistent indices).

use std::ops::Range;

use super::model::moved;

/// The most ranges a selection holds: every change is sent whole, so a selection of a
/// million scattered rows would cost a million ranges per change.
pub(crate) const MAX_RANGES: usize = 4096;

/// Qt's `QItemSelectionModel::SelectionFlag` bits this crate applies, in order: clear the
/// selection, then select, deselect or toggle the rows.
pub(crate) mod command {
    pub(crate) const CLEAR: u8 = 0x01;
    pub(crate) const SELECT: u8 = 0x02;
    pub(crate) const DESELECT: u8 = 0x04;
    pub(crate) const TOGGLE: u8 = 0x08;
    /// Every bit above.
    pub(crate) const ALL: u8 = CLEAR | SELECT | DESELECT | TOGGLE;
}

/// A selection command that cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SelectError {
    #[error("rows {first}..{end} are outside the {rows} rows", end = first.saturating_add(*count))]
    OutOfRange { first: u64, count: u64, rows: u64 },
    #[error("the selection would hold more than {MAX_RANGES} ranges")]
    TooManyRanges,
    #[error("no selection command has the bits {0:#x}")]
    BadCommand(u8),
}

/// The selected rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Selection {
    /// Sorted, disjoint and not touching: `(first, end)`.
    ranges: Vec<(u64, u64)>,
}

impl Selection {
    /// The selected ranges, as `(first, count)` pairs (the wire's form).
    pub(crate) fn pairs(&self) -> Vec<(u64, u64)> {
        self.ranges.iter().map(|&(a, b)| (a, b - a)).collect()
    }

    /// The selected ranges.
    pub(crate) fn ranges(&self) -> Vec<Range<u64>> {
        self.ranges.iter().map(|&(a, b)| a..b).collect()
    }

    /// Applies `command` (bits of [`command`]) to rows `first..first + count` of a model of
    /// `rows` rows; true if the selection changed. Nothing changes on an error.
    pub(crate) fn apply(
        &mut self,
        first: u64,
        count: u64,
        how: u8,
        rows: u64,
    ) -> Result<bool, SelectError> {
        if how & !command::ALL != 0 {
            return Err(SelectError::BadCommand(how));
        }
        let end = first
            .checked_add(count)
            .filter(|&end| end <= rows)
            .ok_or(SelectError::OutOfRange { first, count, rows })?;
        let mut next = if how & command::CLEAR != 0 {
            Vec::new()
        } else {
            self.ranges.clone()
        };
        if first < end {
            if how & command::TOGGLE != 0 {
                let selected = intersect(&next, first, end);
                next = union(&next, first, end);
                for (a, b) in selected {
                    next = subtract(&next, a, b);
                }
            } else if how & command::DESELECT != 0 {
                next = subtract(&next, first, end);
            } else if how & command::SELECT != 0 {
                next = union(&next, first, end);
            }
        }
        if next.len() > MAX_RANGES {
            return Err(SelectError::TooManyRanges);
        }
        let changed = next != self.ranges;
        self.ranges = next;
        Ok(changed)
    }

    /// Replaces the selection with `ranges` (clipped to `rows` rows, merged); true if it
    /// changed.
    pub(crate) fn set(&mut self, ranges: &[Range<u64>], rows: u64) -> Result<bool, SelectError> {
        let mut next = Vec::new();
        for r in ranges {
            let (a, b) = (r.start.min(rows), r.end.min(rows));
            if a < b {
                next = union(&next, a, b);
            }
        }
        if next.len() > MAX_RANGES {
            return Err(SelectError::TooManyRanges);
        }
        let changed = next != self.ranges;
        self.ranges = next;
        Ok(changed)
    }

    /// `count` rows were inserted at `first`: selected rows after them move down; a range
    /// they were inserted inside grows (as Qt's does). True if the selection changed.
    pub(crate) fn inserted(&mut self, first: u64, count: u64) -> bool {
        let before = self.ranges.clone();
        for r in &mut self.ranges {
            if r.0 >= first {
                *r = (r.0 + count, r.1 + count);
            } else if r.1 > first {
                r.1 += count;
            }
        }
        self.ranges != before
    }

    /// Rows `first..first + count` were removed. True if the selection changed.
    pub(crate) fn removed(&mut self, first: u64, count: u64) -> bool {
        let before = self.ranges.clone();
        let end = first + count;
        let shift = |k: u64| match k {
            k if k <= first => k,
            k if k <= end => first,
            k => k - count,
        };
        let mut next = Vec::new();
        for &(a, b) in &self.ranges {
            let (a, b) = (shift(a), shift(b));
            if a < b {
                next = union(&next, a, b);
            }
        }
        self.ranges = next;
        self.ranges != before
    }

    /// `count` rows at `first` moved to start at `to` (an index after the move). True if
    /// the selection changed.
    pub(crate) fn moved(&mut self, first: u64, count: u64, to: u64) -> bool {
        let before = self.ranges.clone();
        // The move maps rows piecewise: the block, the rows it passes, the rest. Cut each
        // range at those edges; each piece moves whole.
        let span = (first.min(to), first.max(to) + count);
        let cuts = [first, first + count, span.0, span.1];
        let mut next = Vec::new();
        for &(a, b) in &self.ranges {
            let mut edges: Vec<u64> = cuts.iter().copied().filter(|&c| a < c && c < b).collect();
            edges.sort_unstable();
            let mut start = a;
            for edge in edges.into_iter().chain([b]) {
                if start < edge {
                    let m = moved(start, first, count, to);
                    next = union(&next, m, m + (edge - start));
                }
                start = edge;
            }
        }
        self.ranges = next;
        self.ranges != before
    }

    /// Selects nothing; true if something was selected.
    pub(crate) fn clear(&mut self) -> bool {
        !std::mem::take(&mut self.ranges).is_empty()
    }
}

/// The rows of a list model that are marked rather than changed: the current row and the
/// selection, both kept on their rows through inserts, removals and moves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Marks {
    pub(crate) current: Option<u64>,
    pub(crate) selection: Selection,
}

/// Which marks an operation on the rows changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Moved {
    pub(crate) current: bool,
    pub(crate) selection: bool,
}

impl Marks {
    /// `count` rows were inserted at `first`.
    pub(crate) fn inserted(&mut self, first: u64, count: u64) -> Moved {
        let current = self.shift_current(|k| Some(if k >= first { k + count } else { k }));
        Moved {
            current,
            selection: self.selection.inserted(first, count),
        }
    }

    /// Rows `first..first + count` were removed (a current row among them is no more).
    pub(crate) fn removed(&mut self, first: u64, count: u64) -> Moved {
        let current = self.shift_current(|k| match k {
            k if k < first => Some(k),
            k if k < first + count => None,
            k => Some(k - count),
        });
        Moved {
            current,
            selection: self.selection.removed(first, count),
        }
    }

    /// `count` rows at `first` moved to start at `to`.
    pub(crate) fn moved(&mut self, first: u64, count: u64, to: u64) -> Moved {
        let current = self.shift_current(|k| Some(moved(k, first, count, to)));
        Moved {
            current,
            selection: self.selection.moved(first, count, to),
        }
    }

    /// Every row was replaced: nothing is current or selected (as Qt's reset clears them).
    pub(crate) fn reset(&mut self) -> Moved {
        Moved {
            current: self.current.take().is_some(),
            selection: self.selection.clear(),
        }
    }

    fn shift_current(&mut self, to: impl Fn(u64) -> Option<u64>) -> bool {
        let before = self.current;
        self.current = self.current.and_then(to);
        self.current != before
    }
}

/// `ranges` with `a..b` added, merged with the ranges it overlaps or touches.
fn union(ranges: &[(u64, u64)], a: u64, b: u64) -> Vec<(u64, u64)> {
    let (mut a, mut b) = (a, b);
    let mut out = Vec::with_capacity(ranges.len() + 1);
    let mut placed = false;
    for &(x, y) in ranges {
        if y < a {
            out.push((x, y));
        } else if b < x {
            if !placed {
                out.push((a, b));
                placed = true;
            }
            out.push((x, y));
        } else {
            a = a.min(x);
            b = b.max(y);
        }
    }
    if !placed {
        out.push((a, b));
    }
    out
}

/// `ranges` without `a..b`.
fn subtract(ranges: &[(u64, u64)], a: u64, b: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::with_capacity(ranges.len() + 1);
    for &(x, y) in ranges {
        if y <= a || b <= x {
            out.push((x, y));
            continue;
        }
        if x < a {
            out.push((x, a));
        }
        if b < y {
            out.push((b, y));
        }
    }
    out
}

/// The parts of `ranges` inside `a..b`.
fn intersect(ranges: &[(u64, u64)], a: u64, b: u64) -> Vec<(u64, u64)> {
    ranges
        .iter()
        .filter_map(|&(x, y)| {
            let (x, y) = (x.max(a), y.min(b));
            (x < y).then_some((x, y))
        })
        .collect()
}

#[cfg(test)]
// Selections are compared with lists of ranges, one range or more.
#[allow(clippy::single_range_in_vec_init)]
mod tests {
    use super::command::*;
    use super::*;

    fn selected(s: &Selection, rows: u64) -> Vec<bool> {
        let ranges = s.ranges();
        (0..rows)
            .map(|k| ranges.iter().any(|r| r.contains(&k)))
            .collect()
    }

    #[test]
    fn the_current_row_follows_its_row_and_goes_with_it() {
        let mut marks = Marks {
            current: Some(4),
            selection: Selection::default(),
        };
        assert!(!marks.inserted(5, 3).current, "inserted after it");
        assert!(marks.inserted(0, 2).current);
        assert_eq!(marks.current, Some(6));
        assert!(marks.moved(6, 1, 0).current);
        assert_eq!(marks.current, Some(0));
        assert!(marks.removed(0, 1).current);
        assert_eq!(marks.current, None, "removed with its row");
        marks.current = Some(3);
        marks.selection.apply(0, 2, command::SELECT, 10).unwrap();
        assert_eq!(
            marks.reset(),
            Moved {
                current: true,
                selection: true
            }
        );
        assert_eq!(marks, Marks::default());
    }

    #[test]
    fn commands_select_deselect_toggle_and_clear() {
        let mut s = Selection::default();
        assert_eq!(s.apply(2, 3, SELECT, 10), Ok(true));
        assert_eq!(s.apply(5, 1, SELECT, 10), Ok(true), "touching ranges merge");
        assert_eq!(s.ranges(), [2..6]);
        assert_eq!(s.apply(3, 1, DESELECT, 10), Ok(true));
        assert_eq!(s.ranges(), [2..3, 4..6]);
        assert_eq!(s.apply(1, 4, TOGGLE, 10), Ok(true));
        assert_eq!(s.ranges(), [1..2, 3..4, 5..6]);
        assert_eq!(s.apply(8, 2, CLEAR | SELECT, 10), Ok(true));
        assert_eq!(s.pairs(), [(8, 2)]);
        assert_eq!(s.apply(8, 2, SELECT, 10), Ok(false), "already so");
        assert_eq!(s.apply(0, 0, CLEAR, 10), Ok(true));
        assert!(s.ranges().is_empty());
    }

    #[test]
    fn bad_commands_change_nothing() {
        let mut s = Selection::default();
        s.apply(0, 2, SELECT, 5).unwrap();
        assert!(matches!(
            s.apply(4, 2, SELECT, 5),
            Err(SelectError::OutOfRange { .. })
        ));
        assert!(matches!(
            s.apply(u64::MAX, 2, SELECT, 5),
            Err(SelectError::OutOfRange { .. })
        ));
        assert_eq!(s.apply(0, 1, 0x40, 5), Err(SelectError::BadCommand(0x40)));
        let rows = 2 * MAX_RANGES as u64 + 2;
        for k in 0..MAX_RANGES as u64 - 1 {
            s.apply(2 * k + 3, 1, SELECT, rows).unwrap();
        }
        assert_eq!(
            s.apply(rows - 1, 1, SELECT, rows),
            Err(SelectError::TooManyRanges)
        );
        assert_eq!(s.ranges().len(), MAX_RANGES);
    }

    /// Every small insert, removal and move keeps the same rows selected as a vector of
    /// flags shows.
    #[test]
    fn the_selection_follows_its_rows_for_every_small_case() {
        let rows = 7u64;
        let start = || {
            let mut s = Selection::default();
            s.apply(1, 2, SELECT, rows).unwrap();
            s.apply(4, 2, SELECT, rows).unwrap();
            s
        };
        for first in 0..rows {
            for count in 1..=rows - first {
                // Removal.
                let mut s = start();
                let mut flags = selected(&s, rows);
                flags.drain(first as usize..(first + count) as usize);
                s.removed(first, count);
                assert_eq!(selected(&s, rows - count), flags, "remove {first}+{count}");
                // Move to every place.
                for to in 0..=rows - count {
                    let mut s = start();
                    let mut flags = selected(&s, rows);
                    let block: Vec<bool> = flags
                        .drain(first as usize..(first + count) as usize)
                        .collect();
                    flags.splice(to as usize..to as usize, block);
                    s.moved(first, count, to);
                    assert_eq!(selected(&s, rows), flags, "move {first}+{count} to {to}");
                }
            }
        }
        // Inserts: before, inside and after a range.
        let mut s = start();
        s.inserted(0, 1);
        assert_eq!(s.ranges(), [2..4, 5..7]);
        s.inserted(3, 2);
        assert_eq!(
            s.ranges(),
            [2..6, 7..9],
            "inserted inside a range: it grows"
        );
        s.inserted(9, 1);
        assert_eq!(s.ranges(), [2..6, 7..9], "after every range");
    }
}
