//! A model replica's window, with no I/O: the rows fetched so far, kept in step with the
//! source's diffs, and the fetches it needs.
//!
//! The source sends every change of its rows as one diff, and answers a fetch with the rows
//! as they are when it reads them, in order with those diffs on the same connection. So
//! each diff and answer applies to the window exactly as the source's rows stood when it was
//! queued, and a cached row is never stale: indices shift on inserts, removes and moves,
//! changed rows are replaced, a reset empties the window.
//!
//! Memory is bounded by `capacity`, not by the model: past it, the rows farthest from where
//! the replica last looked are dropped. A miss asks for the aligned block of
//! [`BLOCK_ROWS`] rows around it (once while it is in flight), so a view reading a screenful
//! row by row sends one or two requests, as Qt merges requests below 100 rows.

use std::collections::BTreeMap;

/// Rows a miss asks for at once, aligned: one request per block in flight.
pub(crate) const BLOCK_ROWS: u64 = 64;
/// The most rows one fetch asks for; a larger range is split.
pub(crate) const MAX_FETCH_ROWS: u64 = 4096;

/// One change of a model as its source sent it (decoded), or an answer to a fetch.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Diff<R> {
    /// `count` rows were inserted at `first` (their values in `rows` if the source sent
    /// them, else `rows` is empty); there are `total` now.
    Inserted {
        first: u64,
        count: u64,
        rows: Vec<R>,
        total: u64,
    },
    /// `count` rows at `first` were removed; there are `total` now.
    Removed { first: u64, count: u64, total: u64 },
    /// `count` rows at `first` were moved to start at `to` in the rows as they are after
    /// the move; there are still `total`.
    Moved {
        first: u64,
        count: u64,
        to: u64,
        total: u64,
    },
    /// The rows from `first` on were replaced by `rows` (only `roles` of them changed, or
    /// all when `roles` is empty).
    Changed {
        first: u64,
        rows: Vec<R>,
        roles: Vec<u16>,
    },
    /// Every row may have changed; there are `total` now.
    Reset { total: u64 },
    /// The answer to fetch `request`: the rows from `first` on.
    Rows {
        request: u32,
        first: u64,
        rows: Vec<R>,
    },
}

/// What a diff did to the model, for whoever watches it (row indices as the replica shows
/// them after the diff).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    Inserted {
        first: u64,
        count: u64,
    },
    Removed {
        first: u64,
        count: u64,
    },
    Moved {
        first: u64,
        count: u64,
        to: u64,
    },
    Changed {
        first: u64,
        count: u64,
        roles: Vec<u16>,
    },
    Reset {
        total: u64,
    },
    Fetched {
        first: u64,
        count: u64,
    },
}

/// A fetch to send: rows `first..first + count`, answered under `id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Request {
    pub(crate) id: u32,
    pub(crate) first: u64,
    pub(crate) count: u64,
}

/// A diff that does not fit the model as this replica holds it: the source is broken or
/// hostile, and the replica lets go of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a model diff does not fit its {total} rows: {what}")]
pub(crate) struct BadDiff {
    total: u64,
    what: &'static str,
}

impl BadDiff {
    pub(crate) fn new(total: u64, what: &'static str) -> BadDiff {
        BadDiff { total, what }
    }
}

/// What applying a diff did.
#[derive(Debug)]
pub(crate) struct Applied<R> {
    /// For watchers; `None` for an answer that brought nothing.
    pub(crate) change: Option<Change>,
    /// A fetch someone awaits was answered, with these rows.
    pub(crate) answered: Option<(u32, Vec<R>)>,
    /// Fetches to send again: a reset may have dropped them at the source.
    pub(crate) resend: Vec<Request>,
}

impl<R> Applied<R> {
    fn change(change: Change) -> Self {
        Applied {
            change: Some(change),
            answered: None,
            resend: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct InFlight {
    first: u64,
    count: u64,
    /// Someone awaits the rows (an explicit fetch), not only the cache.
    awaited: bool,
}

/// The rows a replica holds of its model, and the fetches under way.
#[derive(Debug)]
pub(crate) struct ModelWindow<R> {
    total: u64,
    rows: BTreeMap<u64, R>,
    capacity: usize,
    /// Where the replica last looked: eviction drops the rows farthest from it.
    focus: u64,
    next_id: u32,
    in_flight: BTreeMap<u32, InFlight>,
}

impl<R: Clone> ModelWindow<R> {
    /// An empty window that keeps at most `capacity` rows.
    pub(crate) fn new(capacity: usize) -> Self {
        ModelWindow {
            total: 0,
            rows: BTreeMap::new(),
            capacity,
            focus: 0,
            next_id: 0,
            in_flight: BTreeMap::new(),
        }
    }

    /// The number of rows the model has.
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// The number of rows held.
    pub(crate) fn cached(&self) -> usize {
        self.rows.len()
    }

    /// Keeps at most `capacity` rows from now on.
    pub(crate) fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        self.evict();
    }

    /// The source's init (a first one or after a reconnect): the model has `total` rows,
    /// none known. Returns the fetches to send on the new link: those under way, which the
    /// old link lost.
    pub(crate) fn init(&mut self, total: u64) -> Vec<Request> {
        self.total = total;
        self.rows.clear();
        self.pending()
    }

    /// Row `row` if held. A miss returns the fetch of its block to send, unless the
    /// block is on its way.
    pub(crate) fn get(&mut self, row: u64) -> (Option<&R>, Option<Request>) {
        if row >= self.total {
            return (None, None);
        }
        self.focus = row;
        if self.rows.contains_key(&row) {
            return (self.rows.get(&row), None);
        }
        let first = row - row % BLOCK_ROWS;
        let count = BLOCK_ROWS.min(self.total - first);
        let covered = self
            .in_flight
            .values()
            .any(|f| f.first <= row && row < f.first.saturating_add(f.count));
        let request = (!covered).then(|| self.start(first, count, false));
        (None, request)
    }

    /// Row `row` if held, without fetching it.
    pub(crate) fn peek(&self, row: u64) -> Option<&R> {
        self.rows.get(&row)
    }

    /// Row `row` if held, to change in place (a tree's child count).
    pub(crate) fn peek_mut(&mut self, row: u64) -> Option<&mut R> {
        self.rows.get_mut(&row)
    }

    /// Eviction keeps the rows nearest `row` from now on.
    pub(crate) fn look_at(&mut self, row: u64) {
        self.focus = row;
    }

    /// Drops the rows farthest from the focus until at most `max` are held (a tree
    /// sharing one budget among its windows).
    pub(crate) fn evict_to(&mut self, max: usize) {
        let capacity = std::mem::replace(&mut self.capacity, max);
        self.evict();
        self.capacity = capacity;
    }

    /// Fetches for rows `first..first + count` (clipped to the model), one per
    /// [`MAX_FETCH_ROWS`]: each is answered under its id with the rows as they are then.
    pub(crate) fn fetch(&mut self, first: u64, count: u64) -> Vec<Request> {
        self.requests(first, count, true)
    }

    /// Fetches for rows `first..first + count` that only fill the window (nobody awaits
    /// them): a prefetch.
    pub(crate) fn prefetch(&mut self, first: u64, count: u64) -> Vec<Request> {
        self.requests(first, count, false)
    }

    fn requests(&mut self, first: u64, count: u64, awaited: bool) -> Vec<Request> {
        let end = first.saturating_add(count).min(self.total);
        if first >= end {
            return Vec::new();
        }
        self.focus = first + (end - first) / 2;
        let mut requests = Vec::new();
        let mut at = first;
        while at < end {
            let count = (end - at).min(MAX_FETCH_ROWS);
            requests.push(self.start(at, count, awaited));
            at += count;
        }
        requests
    }

    /// The fetches under way, all awaited ones forgotten (their callers are told the
    /// link is lost); cache fetches stay, to be sent again.
    pub(crate) fn link_lost(&mut self) -> Vec<u32> {
        let awaited: Vec<u32> = self
            .in_flight
            .iter()
            .filter(|(_, f)| f.awaited)
            .map(|(&id, _)| id)
            .collect();
        for id in &awaited {
            self.in_flight.remove(id);
        }
        awaited
    }

    fn start(&mut self, first: u64, count: u64, awaited: bool) -> Request {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.in_flight.insert(
            id,
            InFlight {
                first,
                count,
                awaited,
            },
        );
        Request { id, first, count }
    }

    fn pending(&self) -> Vec<Request> {
        self.in_flight
            .iter()
            .map(|(&id, f)| Request {
                id,
                first: f.first,
                count: f.count,
            })
            .collect()
    }

    /// Applies one diff or answer from the source.
    pub(crate) fn apply(&mut self, diff: Diff<R>) -> Result<Applied<R>, BadDiff> {
        let bad = |what| BadDiff {
            total: self.total,
            what,
        };
        let applied = match diff {
            Diff::Inserted {
                first,
                count,
                rows,
                total,
            } => {
                if first > self.total || Some(total) != self.total.checked_add(count) {
                    return Err(bad("an insert outside the rows or with a wrong count"));
                }
                if !rows.is_empty() && rows.len() as u64 != count {
                    return Err(bad("an insert carrying some of its rows"));
                }
                self.remap(first..u64::MAX, |k| k + count);
                self.total = total;
                self.store(first, rows);
                Applied::change(Change::Inserted { first, count })
            }
            Diff::Removed {
                first,
                count,
                total,
            } => {
                let end = first.checked_add(count).filter(|&end| end <= self.total);
                if end.is_none() || total != self.total - count {
                    return Err(bad("a removal outside the rows or with a wrong count"));
                }
                let end = first + count;
                let mut removed = self.rows.split_off(&first);
                let mut after = removed.split_off(&end);
                self.rows.append(&mut after);
                self.remap(end..u64::MAX, |k| k - count);
                self.total = total;
                Applied::change(Change::Removed { first, count })
            }
            Diff::Moved {
                first,
                count,
                to,
                total,
            } => {
                let fits = |at: u64| at.checked_add(count).is_some_and(|end| end <= self.total);
                if total != self.total || !fits(first) || !fits(to) {
                    return Err(bad("a move outside the rows"));
                }
                // Only the rows between the block's old and new places move.
                let span = first.min(to)..first.max(to) + count;
                self.remap(span, |k| moved(k, first, count, to));
                Applied::change(Change::Moved { first, count, to })
            }
            Diff::Changed { first, rows, roles } => {
                let count = rows.len() as u64;
                if first.checked_add(count).is_none_or(|end| end > self.total) {
                    return Err(bad("a change outside the rows"));
                }
                self.store(first, rows);
                Applied::change(Change::Changed {
                    first,
                    count,
                    roles,
                })
            }
            Diff::Reset { total } => {
                self.total = total;
                self.rows.clear();
                Applied {
                    change: Some(Change::Reset { total }),
                    answered: None,
                    resend: self.pending(),
                }
            }
            Diff::Rows {
                request,
                first,
                rows,
            } => {
                let count = rows.len() as u64;
                if first.checked_add(count).is_none_or(|end| end > self.total) {
                    return Err(bad("fetched rows outside the rows"));
                }
                let awaited = self.in_flight.remove(&request).is_some_and(|f| f.awaited);
                let answered = awaited.then(|| (request, rows.clone()));
                self.store(first, rows);
                Applied {
                    change: (count > 0).then_some(Change::Fetched { first, count }),
                    answered,
                    resend: Vec::new(),
                }
            }
        };
        Ok(applied)
    }

    /// Moves each held row in `span` to the index `to` gives it; `to` keeps them inside
    /// the span (or, for a span running to the end, past every row before it), so the rows
    /// outside it stay as they are: an append at the end costs nothing here.
    fn remap(&mut self, span: std::ops::Range<u64>, to: impl Fn(u64) -> u64) {
        let mut inside = self.rows.split_off(&span.start);
        let mut after = inside.split_off(&span.end);
        for (k, v) in inside {
            self.rows.insert(to(k), v);
        }
        self.rows.append(&mut after);
    }

    /// Holds `rows` from `first` on, then drops what is past the capacity.
    fn store(&mut self, first: u64, rows: Vec<R>) {
        for (at, row) in (first..).zip(rows) {
            self.rows.insert(at, row);
        }
        self.evict();
    }

    /// Drops the rows farthest from the focus until at most `capacity` are held.
    fn evict(&mut self) {
        while self.rows.len() > self.capacity {
            let (Some((&low, _)), Some((&high, _))) =
                (self.rows.first_key_value(), self.rows.last_key_value())
            else {
                return;
            };
            let victim = if self.focus.abs_diff(low) > self.focus.abs_diff(high) {
                low
            } else {
                high
            };
            self.rows.remove(&victim);
        }
    }
}

/// Where row `k` is after `count` rows at `first` moved to start at `to` (an index in the
/// rows after the move).
pub(crate) fn moved(k: u64, first: u64, count: u64, to: u64) -> u64 {
    if (first..first + count).contains(&k) {
        return to + (k - first);
    }
    // Take the block out, then put it back in at `to`.
    let without = if k >= first + count { k - count } else { k };
    if without >= to {
        without + count
    } else {
        without
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A window over a model of `rows` rows holding every one of them, as `row{i}`.
    fn full(rows: u64) -> ModelWindow<String> {
        let mut w = ModelWindow::new(1000);
        w.init(rows);
        let requests = w.fetch(0, rows);
        for r in requests {
            let rows = (r.first..r.first + r.count)
                .map(|i| format!("row{i}"))
                .collect();
            w.apply(Diff::Rows {
                request: r.id,
                first: r.first,
                rows,
            })
            .unwrap();
        }
        w
    }

    fn held(w: &ModelWindow<String>) -> Vec<(u64, &str)> {
        w.rows.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }

    /// The model as a plain vector after the same operations, to compare with.
    fn names(rows: &[u64]) -> Vec<String> {
        rows.iter().map(|i| format!("row{i}")).collect()
    }

    fn as_vec(w: &ModelWindow<String>) -> Vec<String> {
        (0..w.total())
            .map(|i| w.peek(i).cloned().unwrap_or_default())
            .collect()
    }

    #[test]
    fn a_miss_asks_for_its_block_once_and_the_answer_fills_it() {
        let mut w = ModelWindow::<String>::new(1000);
        assert!(w.init(1000).is_empty());
        let (row, request) = w.get(70);
        assert!(row.is_none());
        let request = request.unwrap();
        assert_eq!((request.first, request.count), (64, 64));
        assert_eq!(w.get(71).1, None, "the block is on its way");
        let rows = (64..128).map(|i| format!("row{i}")).collect();
        let applied = w
            .apply(Diff::Rows {
                request: request.id,
                first: 64,
                rows,
            })
            .unwrap();
        assert_eq!(
            applied.change,
            Some(Change::Fetched {
                first: 64,
                count: 64
            })
        );
        assert!(applied.answered.is_none(), "nobody awaited a cache fill");
        assert_eq!(w.get(71).0.map(String::as_str), Some("row71"));
        assert_eq!(
            w.get(5000),
            (None, None),
            "past the end there is nothing to ask"
        );
    }

    #[test]
    fn the_last_block_asks_only_for_the_rows_that_exist() {
        let mut w = ModelWindow::<String>::new(1000);
        w.init(100);
        let request = w.get(99).1.unwrap();
        assert_eq!((request.first, request.count), (64, 36));
    }

    #[test]
    fn a_big_fetch_is_split_and_awaited_answers_come_back() {
        let mut w = ModelWindow::<String>::new(10);
        w.init(10_000);
        let requests = w.fetch(100, 5000);
        assert_eq!(requests.len(), 2);
        assert_eq!((requests[0].first, requests[0].count), (100, 4096));
        assert_eq!((requests[1].first, requests[1].count), (4196, 904));
        let rows: Vec<String> = (100..4196).map(|i| format!("row{i}")).collect();
        let applied = w
            .apply(Diff::Rows {
                request: requests[0].id,
                first: 100,
                rows: rows.clone(),
            })
            .unwrap();
        assert_eq!(applied.answered, Some((requests[0].id, rows)));
        assert!(w.cached() <= 10, "the window stays within its capacity");
        assert!(
            w.fetch(20_000, 5).is_empty(),
            "nothing to fetch past the end"
        );
    }

    #[test]
    fn inserts_removes_and_moves_shift_what_is_held() {
        let mut w = full(6);
        let mut model: Vec<u64> = (0..6).collect();
        // Insert two unknown rows at 2: rows 2.. move up by two.
        w.apply(Diff::Inserted {
            first: 2,
            count: 2,
            rows: Vec::new(),
            total: 8,
        })
        .unwrap();
        assert_eq!(w.total(), 8);
        assert_eq!(w.peek(4).map(String::as_str), Some("row2"));
        assert_eq!(w.peek(2), None, "inserted without values: unknown");
        model.splice(2..2, [100, 101]);
        w.apply(Diff::Removed {
            first: 2,
            count: 2,
            total: 6,
        })
        .unwrap();
        model.drain(2..4);
        assert_eq!(as_vec(&w), names(&model));
        // Move rows 1..3 to start at 3: [0,3,4,1,2,5].
        w.apply(Diff::Moved {
            first: 1,
            count: 2,
            to: 3,
            total: 6,
        })
        .unwrap();
        let block: Vec<u64> = model.drain(1..3).collect();
        model.splice(3..3, block);
        assert_eq!(model, [0, 3, 4, 1, 2, 5]);
        assert_eq!(as_vec(&w), names(&model));
        // And back to the front: [1,2,0,3,4,5].
        w.apply(Diff::Moved {
            first: 3,
            count: 2,
            to: 0,
            total: 6,
        })
        .unwrap();
        let block: Vec<u64> = model.drain(3..5).collect();
        model.splice(0..0, block);
        assert_eq!(as_vec(&w), names(&model));
    }

    #[test]
    fn moves_agree_with_a_vector_for_every_small_case() {
        for len in 1..7u64 {
            for first in 0..len {
                for count in 1..=len - first {
                    for to in 0..=len - count {
                        let mut w = full(len);
                        w.apply(Diff::Moved {
                            first,
                            count,
                            to,
                            total: len,
                        })
                        .unwrap();
                        let mut model: Vec<u64> = (0..len).collect();
                        let block: Vec<u64> = model
                            .drain(first as usize..(first + count) as usize)
                            .collect();
                        model.splice(to as usize..to as usize, block);
                        assert_eq!(as_vec(&w), names(&model), "{len} {first} {count} {to}");
                    }
                }
            }
        }
    }

    #[test]
    fn removals_and_inserts_agree_with_a_vector_for_every_small_case() {
        for len in 1..7u64 {
            for first in 0..len {
                for count in 1..=len - first {
                    let mut w = full(len);
                    w.apply(Diff::Removed {
                        first,
                        count,
                        total: len - count,
                    })
                    .unwrap();
                    let mut model: Vec<u64> = (0..len).collect();
                    model.drain(first as usize..(first + count) as usize);
                    assert_eq!(as_vec(&w), names(&model), "remove {len} {first} {count}");
                }
            }
            for first in 0..=len {
                let mut w = full(len);
                w.apply(Diff::Inserted {
                    first,
                    count: 2,
                    rows: Vec::new(),
                    total: len + 2,
                })
                .unwrap();
                let held: Vec<u64> = w.rows.keys().copied().collect();
                let expected: Vec<u64> = (0..len)
                    .map(|k| if k >= first { k + 2 } else { k })
                    .collect();
                assert_eq!(held, expected, "insert {len} {first}");
            }
        }
    }

    #[test]
    fn changes_and_inserts_with_values_are_held() {
        let mut w = full(3);
        w.apply(Diff::Changed {
            first: 1,
            rows: vec!["new1".to_owned()],
            roles: vec![0],
        })
        .unwrap();
        w.apply(Diff::Inserted {
            first: 3,
            count: 1,
            rows: vec!["row3".to_owned()],
            total: 4,
        })
        .unwrap();
        assert_eq!(
            held(&w),
            [(0, "row0"), (1, "new1"), (2, "row2"), (3, "row3")]
        );
    }

    #[test]
    fn a_reset_empties_the_window_and_asks_again_for_what_was_under_way() {
        let mut w = full(10);
        let under_way = w.fetch(0, 5);
        let applied = w.apply(Diff::Reset { total: 3 }).unwrap();
        assert_eq!(w.cached(), 0);
        assert_eq!(w.total(), 3);
        assert_eq!(applied.resend, under_way);
        // A late answer to a fetch that was asked again finds nobody waiting: harmless.
        let first = under_way[0];
        let rows = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let answer = |rows: Vec<String>| Diff::Rows {
            request: first.id,
            first: 0,
            rows,
        };
        assert!(w.apply(answer(rows.clone())).unwrap().answered.is_some());
        assert!(w.apply(answer(rows)).unwrap().answered.is_none());
    }

    #[test]
    fn an_init_after_a_reconnect_forgets_the_rows_and_resends_the_fetches() {
        let mut w = full(10);
        let under_way = w.fetch(2, 3);
        let cache_fill = w.get(70).1;
        assert!(cache_fill.is_none(), "row 70 does not exist");
        assert_eq!(w.link_lost(), vec![under_way[0].id]);
        assert!(
            w.init(20).is_empty(),
            "the awaited fetch failed with the link"
        );
        assert_eq!((w.total(), w.cached()), (20, 0));
        let request = w.get(15).1.unwrap();
        w.link_lost();
        assert_eq!(w.init(20), vec![request], "a cache fill is asked again");
    }

    #[test]
    fn eviction_keeps_the_rows_nearest_the_focus() {
        let mut w = ModelWindow::new(4);
        w.init(100);
        let _ = w.get(50);
        let rows = (40..60).map(|i| format!("row{i}")).collect();
        w.apply(Diff::Changed {
            first: 40,
            rows,
            roles: Vec::new(),
        })
        .unwrap();
        let kept: Vec<u64> = w.rows.keys().copied().collect();
        // Ties drop the row above the focus.
        assert_eq!(kept, [48, 49, 50, 51]);
        w.set_capacity(1);
        assert_eq!(w.rows.keys().copied().collect::<Vec<_>>(), [50]);
    }

    #[test]
    fn diffs_that_do_not_fit_are_refused_and_change_nothing() {
        let mut w = full(5);
        let bad = [
            Diff::Inserted {
                first: 6,
                count: 1,
                rows: Vec::new(),
                total: 6,
            },
            Diff::Inserted {
                first: 0,
                count: u64::MAX,
                rows: Vec::new(),
                total: 4,
            },
            Diff::Inserted {
                first: 0,
                count: 2,
                rows: vec!["x".to_owned()],
                total: 7,
            },
            Diff::Removed {
                first: 4,
                count: 2,
                total: 3,
            },
            Diff::Removed {
                first: u64::MAX,
                count: 2,
                total: 3,
            },
            Diff::Moved {
                first: 0,
                count: 2,
                to: 4,
                total: 5,
            },
            Diff::Moved {
                first: 0,
                count: 1,
                to: 1,
                total: 6,
            },
            Diff::Changed {
                first: u64::MAX,
                rows: vec!["x".to_owned()],
                roles: Vec::new(),
            },
            Diff::Rows {
                request: 9,
                first: 4,
                rows: vec!["x".to_owned(), "y".to_owned()],
            },
        ];
        for diff in bad {
            assert!(w.apply(diff.clone()).is_err(), "{diff:?}");
            assert_eq!(as_vec(&w), names(&[0, 1, 2, 3, 4]), "{diff:?}");
        }
    }
}
