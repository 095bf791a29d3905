//! A tree model replica's windows, with no I/O: one [`ModelWindow`] per parent whose
//! children it fetched, kept in step with the source's diffs, under one budget of rows.
//!
//! A row is named by its path of row indices from the root (Qt's `IndexList`); the root's
//! rows have paths of length one. Every row travels with its number of children, so a
//! replica knows which rows it can expand before it fetches a single child. Diffs and
//! answers name the parent they apply to as the source's rows stood when it queued them,
//! in order on the connection, so each one applies to the windows exactly as the replica
//! holds them (see `proto::model`): a diff under a parent shifts the paths of every window
//! below it, a removal drops the windows of the removed rows, a reset drops all of them.
//!
//! Memory is bounded by `capacity` rows over all windows, and at most [`MAX_LISTS`]
//! windows: past them, the windows used least recently go first, then the rows farthest
//! from where the replica last looked.

use std::collections::BTreeMap;

use super::model::{moved, BadDiff, Change, Diff, ModelWindow, BLOCK_ROWS, MAX_FETCH_ROWS};

/// The most windows (parents whose children are held) a tree replica keeps.
pub(crate) const MAX_LISTS: usize = 1024;

/// The most levels a path may have (as deep as sub-objects nest).
pub(crate) const MAX_DEPTH: usize = 64;

/// A row's path of row indices from the root; the root itself is the empty path.
pub(crate) type Path = Vec<u64>;

/// A row as it travels: its value and how many children it has.
pub(crate) type Item<R> = (R, u64);

/// One change of a tree model as its source sent it (decoded), or an answer to a fetch.
/// Each names the `parent` whose children it is about.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TreeDiff<R> {
    /// `count` children inserted at `first` (with their values, or none); `total` now.
    Inserted {
        parent: Path,
        first: u64,
        count: u64,
        rows: Vec<Item<R>>,
        total: u64,
    },
    /// `count` children at `first` removed, with their subtrees; `total` now.
    Removed {
        parent: Path,
        first: u64,
        count: u64,
        total: u64,
    },
    /// `count` children at `first` moved to start at `to` (an index after the move).
    Moved {
        parent: Path,
        first: u64,
        count: u64,
        to: u64,
        total: u64,
    },
    /// The children from `first` on replaced by `rows` (only `roles` of their values
    /// changed, or all when empty); their own children stay.
    Changed {
        parent: Path,
        first: u64,
        rows: Vec<Item<R>>,
        roles: Vec<u16>,
    },
    /// Every row may have changed; the root has `total` rows now.
    Reset { total: u64 },
    /// The answer to fetch `request`: `parent` has `total` children, these from `first`
    /// on (none, and a total of 0, if the source has no such parent).
    Rows {
        request: u32,
        parent: Path,
        first: u64,
        total: u64,
        rows: Vec<Item<R>>,
    },
}

/// A fetch to send: children `first..first + count` of `parent`, answered under `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TreeRequest {
    pub(crate) id: u32,
    pub(crate) parent: Path,
    pub(crate) first: u64,
    pub(crate) count: u64,
}

/// What applying a tree diff did.
#[derive(Debug)]
pub(crate) struct TreeApplied<R> {
    /// For watchers: what changed under which parent; `None` for an answer that brought
    /// nothing.
    pub(crate) change: Option<(Path, Change)>,
    /// A fetch someone awaits was answered, with these rows.
    pub(crate) answered: Option<(u32, Vec<Item<R>>)>,
    /// Fetches to send again: a reset may have dropped them at the source.
    pub(crate) resend: Vec<TreeRequest>,
}

impl<R> TreeApplied<R> {
    fn change(parent: Path, change: Change) -> Self {
        TreeApplied {
            change: Some((parent, change)),
            answered: None,
            resend: Vec::new(),
        }
    }
}

#[derive(Debug)]
struct List<R> {
    window: ModelWindow<Item<R>>,
    /// When it was last read or filled, for eviction.
    used: u64,
}

#[derive(Debug, Clone)]
struct InFlight {
    /// Where the rows asked for are now; `None` once their parent was removed.
    parent: Option<Path>,
    first: u64,
    count: u64,
    /// Someone awaits the rows (an explicit fetch), not only the cache.
    awaited: bool,
}

/// The rows a replica holds of a tree model, by parent, and the fetches under way.
#[derive(Debug)]
pub(crate) struct TreeWindow<R> {
    /// The root's window (always there) and those of the parents whose children were
    /// fetched.
    lists: BTreeMap<Path, List<R>>,
    capacity: usize,
    clock: u64,
    next_id: u32,
    in_flight: BTreeMap<u32, InFlight>,
}

impl<R: Clone> TreeWindow<R> {
    /// An empty tree that keeps at most `capacity` rows over all its windows.
    pub(crate) fn new(capacity: usize) -> Self {
        let mut tree = TreeWindow {
            lists: BTreeMap::new(),
            capacity,
            clock: 0,
            next_id: 0,
            in_flight: BTreeMap::new(),
        };
        tree.open(Vec::new(), 0);
        tree
    }

    /// Keeps at most `capacity` rows from now on.
    pub(crate) fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        self.enforce(&[]);
    }

    /// The number of rows held, over all windows.
    pub(crate) fn cached(&self) -> usize {
        self.lists.values().map(|l| l.window.cached()).sum()
    }

    /// The source's init (a first one or after a reconnect): the root has `total` rows,
    /// none known. Returns the fetches to send on the new link: those under way.
    pub(crate) fn init(&mut self, total: u64) -> Vec<TreeRequest> {
        self.lists.clear();
        self.open(Vec::new(), total);
        self.pending()
    }

    /// How many children `parent` has, if known: always for the root, for another row
    /// once it or its children were fetched.
    pub(crate) fn row_count(&self, parent: &[u64]) -> Option<u64> {
        if let Some(list) = self.lists.get(parent) {
            return Some(list.window.total());
        }
        self.item(parent).map(|(_, children)| *children)
    }

    /// The row at `path` and its child count, if held, without fetching it.
    pub(crate) fn peek(&self, path: &[u64]) -> Option<&Item<R>> {
        self.item(path)
    }

    /// The row at `path` if held. A miss returns the fetch of its block to send, unless
    /// the block is on its way or the row cannot exist.
    pub(crate) fn get(&mut self, path: &[u64]) -> (Option<&Item<R>>, Option<TreeRequest>) {
        let Some((&row, parent)) = path.split_last() else {
            return (None, None);
        };
        if let Some(total) = self.row_count(parent) {
            if row >= total {
                return (None, None);
            }
        }
        self.clock += 1;
        let clock = self.clock;
        if let Some(list) = self.lists.get_mut(parent) {
            list.used = clock;
            list.window.look_at(row);
        }
        if self.item(path).is_some() {
            return (self.item(path), None);
        }
        let first = row - row % BLOCK_ROWS;
        let count = match self.row_count(parent) {
            Some(total) => BLOCK_ROWS.min(total - first),
            None => BLOCK_ROWS,
        };
        let covered = self.in_flight.values().any(|f| {
            f.parent.as_deref() == Some(parent)
                && f.first <= row
                && row < f.first.saturating_add(f.count)
        });
        let request = (!covered).then(|| self.start(parent.to_vec(), first, count, false));
        (None, request)
    }

    /// Fetches for children `first..first + count` of `parent`, one per
    /// [`MAX_FETCH_ROWS`]: clipped to its children when their number is known, else only
    /// the first part (whose answer tells the number).
    pub(crate) fn fetch(&mut self, parent: &[u64], first: u64, count: u64) -> Vec<TreeRequest> {
        self.requests(parent, first, count, true)
    }

    /// Fetches that only fill the window (nobody awaits them): a prefetch.
    pub(crate) fn prefetch(&mut self, parent: &[u64], first: u64, count: u64) -> Vec<TreeRequest> {
        self.requests(parent, first, count, false)
    }

    fn requests(
        &mut self,
        parent: &[u64],
        first: u64,
        count: u64,
        awaited: bool,
    ) -> Vec<TreeRequest> {
        // Children not counted yet: one part, whose answer tells how many there are.
        let end = match self.row_count(parent) {
            Some(total) => first.saturating_add(count).min(total),
            None => first.saturating_add(count.min(MAX_FETCH_ROWS)),
        };
        let mut requests = Vec::new();
        let mut at = first;
        while at < end {
            let count = (end - at).min(MAX_FETCH_ROWS);
            requests.push(self.start(parent.to_vec(), at, count, awaited));
            at += count;
        }
        requests
    }

    /// The fetches under way, all awaited ones forgotten (their callers are told the link
    /// is lost); cache fetches stay, to be sent again.
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

    fn start(&mut self, parent: Path, first: u64, count: u64, awaited: bool) -> TreeRequest {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.in_flight.insert(
            id,
            InFlight {
                parent: Some(parent.clone()),
                first,
                count,
                awaited,
            },
        );
        TreeRequest {
            id,
            parent,
            first,
            count,
        }
    }

    /// The fetches under way whose parent still exists, to send (again).
    fn pending(&mut self) -> Vec<TreeRequest> {
        self.in_flight
            .retain(|_, f| f.parent.is_some() || f.awaited);
        self.in_flight
            .iter()
            .filter_map(|(&id, f)| {
                Some(TreeRequest {
                    id,
                    parent: f.parent.clone()?,
                    first: f.first,
                    count: f.count,
                })
            })
            .collect()
    }

    /// Applies one diff or answer from the source.
    pub(crate) fn apply(&mut self, diff: TreeDiff<R>) -> Result<TreeApplied<R>, BadDiff> {
        match diff {
            TreeDiff::Inserted {
                parent,
                first,
                count,
                rows,
                total,
            } => {
                self.check_children(&parent, total.checked_sub(count))?;
                self.in_list(&parent, |window| {
                    window.apply(Diff::Inserted {
                        first,
                        count,
                        rows,
                        total,
                    })
                })?;
                self.set_children(&parent, total);
                self.shift_below(&parent, |k| Some(if k >= first { k + count } else { k }));
                self.enforce(&parent);
                Ok(TreeApplied::change(
                    parent,
                    Change::Inserted { first, count },
                ))
            }
            TreeDiff::Removed {
                parent,
                first,
                count,
                total,
            } => {
                self.check_children(&parent, total.checked_add(count))?;
                self.in_list(&parent, |window| {
                    window.apply(Diff::Removed {
                        first,
                        count,
                        total,
                    })
                })?;
                self.set_children(&parent, total);
                let end = first.saturating_add(count);
                self.shift_below(&parent, |k| match k {
                    k if k < first => Some(k),
                    k if k < end => None,
                    k => Some(k - count),
                });
                Ok(TreeApplied::change(
                    parent,
                    Change::Removed { first, count },
                ))
            }
            TreeDiff::Moved {
                parent,
                first,
                count,
                to,
                total,
            } => {
                self.check_children(&parent, Some(total))?;
                let fits = |at: u64| at.checked_add(count).is_some_and(|end| end <= total);
                if !fits(first) || !fits(to) {
                    return Err(BadDiff::new(total, "a move outside the rows"));
                }
                self.in_list(&parent, |window| {
                    window.apply(Diff::Moved {
                        first,
                        count,
                        to,
                        total,
                    })
                })?;
                self.shift_below(&parent, |k| Some(moved(k, first, count, to)));
                Ok(TreeApplied::change(
                    parent,
                    Change::Moved { first, count, to },
                ))
            }
            TreeDiff::Changed {
                parent,
                first,
                rows,
                roles,
            } => {
                self.check_parent(&parent)?;
                let count = rows.len() as u64;
                if let Some(total) = self.row_count(&parent) {
                    if first.checked_add(count).is_none_or(|end| end > total) {
                        return Err(BadDiff::new(total, "a change outside the rows"));
                    }
                }
                self.in_list(&parent, |window| {
                    window.apply(Diff::Changed {
                        first,
                        rows,
                        roles: roles.clone(),
                    })
                })?;
                self.enforce(&parent);
                let change = Change::Changed {
                    first,
                    count,
                    roles,
                };
                Ok(TreeApplied::change(parent, change))
            }
            TreeDiff::Reset { total } => {
                self.lists.clear();
                self.open(Vec::new(), total);
                for f in self.in_flight.values_mut() {
                    // The source dropped what it was answering: asked again from the root.
                    if f.parent.as_ref().is_some_and(|p| !p.is_empty()) {
                        f.parent = None;
                    }
                }
                Ok(TreeApplied {
                    change: Some((Vec::new(), Change::Reset { total })),
                    answered: None,
                    resend: self.pending(),
                })
            }
            TreeDiff::Rows {
                request,
                parent,
                first,
                total,
                rows,
            } => self.answer(request, parent, first, total, rows),
        }
    }

    fn answer(
        &mut self,
        request: u32,
        parent: Path,
        first: u64,
        total: u64,
        rows: Vec<Item<R>>,
    ) -> Result<TreeApplied<R>, BadDiff> {
        let nothing = total == 0 && rows.is_empty();
        if nothing && self.check_parent(&parent).is_err() {
            // Asked about a row that is gone (or never was): the source has no children
            // for it either.
            let awaited = self.in_flight.remove(&request).is_some_and(|f| f.awaited);
            return Ok(TreeApplied {
                change: None,
                answered: awaited.then(|| (request, Vec::new())),
                resend: Vec::new(),
            });
        }
        self.check_children(&parent, Some(total))?;
        let count = rows.len() as u64;
        if first.checked_add(count).is_none_or(|end| end > total) {
            return Err(BadDiff::new(total, "fetched rows outside the rows"));
        }
        let awaited = self.in_flight.remove(&request).is_some_and(|f| f.awaited);
        let answered = awaited.then(|| (request, rows.clone()));
        if !self.lists.contains_key(&parent) && total > 0 {
            if self.lists.len() >= MAX_LISTS {
                self.drop_least_used(&parent);
            }
            self.open(parent.clone(), total);
        }
        self.in_list(&parent, |window| {
            window.apply(Diff::Rows {
                request: u32::MAX,
                first,
                rows,
            })
        })?;
        self.clock += 1;
        if let Some(list) = self.lists.get_mut(&parent) {
            list.used = self.clock;
        }
        self.enforce(&parent);
        Ok(TreeApplied {
            change: (count > 0).then_some((parent, Change::Fetched { first, count })),
            answered,
            resend: Vec::new(),
        })
    }

    fn open(&mut self, parent: Path, total: u64) {
        let mut window = ModelWindow::new(self.capacity);
        window.init(total);
        self.clock += 1;
        let used = self.clock;
        self.lists.insert(parent, List { window, used });
    }

    /// The row at `path`, if its parent's window holds it.
    fn item(&self, path: &[u64]) -> Option<&Item<R>> {
        let (&row, parent) = path.split_last()?;
        self.lists.get(parent)?.window.peek(row)
    }

    /// Applies `apply` to `parent`'s window, if it is open.
    fn in_list(
        &mut self,
        parent: &[u64],
        apply: impl FnOnce(&mut ModelWindow<Item<R>>) -> Result<super::model::Applied<Item<R>>, BadDiff>,
    ) -> Result<(), BadDiff> {
        match self.lists.get_mut(parent) {
            Some(list) => apply(&mut list.window).map(drop),
            None => Ok(()),
        }
    }

    /// Refuses a parent that cannot exist in the rows held: too deep, or past the end of
    /// a window that holds its level.
    fn check_parent(&self, parent: &[u64]) -> Result<(), BadDiff> {
        if parent.len() > MAX_DEPTH {
            return Err(BadDiff::new(0, "a parent nested too deep"));
        }
        for depth in 0..parent.len() {
            if let Some(list) = self.lists.get(&parent[..depth]) {
                if parent[depth] >= list.window.total() {
                    return Err(BadDiff::new(
                        list.window.total(),
                        "a parent outside the rows",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Refuses a diff under `parent` whose count before it (`before`) disagrees with what
    /// is known of the parent's children.
    fn check_children(&self, parent: &[u64], before: Option<u64>) -> Result<(), BadDiff> {
        self.check_parent(parent)?;
        match (self.row_count(parent), before) {
            (Some(known), Some(before)) if known == before => Ok(()),
            (Some(known), _) => Err(BadDiff::new(known, "a wrong count of children")),
            (None, Some(_)) => Ok(()),
            (None, None) => Err(BadDiff::new(0, "a wrong count of children")),
        }
    }

    /// Records that `parent` has `total` children, in its own row if that is held.
    fn set_children(&mut self, parent: &[u64], total: u64) {
        let Some((&row, grandparent)) = parent.split_last() else {
            return;
        };
        if let Some(list) = self.lists.get_mut(grandparent) {
            if let Some(item) = list.window.peek_mut(row) {
                item.1 = total;
            }
        }
    }

    /// Gives the windows and fetches below `parent`'s child `k` the index `to(k)`, or
    /// drops them (their row is gone) when it is `None`.
    fn shift_below(&mut self, parent: &[u64], to: impl Fn(u64) -> Option<u64>) {
        let depth = parent.len();
        let below = |path: &[u64]| path.len() > depth && path[..depth] == *parent;
        let keys: Vec<Path> = self
            .lists
            .keys()
            .filter(|path| below(path))
            .cloned()
            .collect();
        let mut moved_lists = Vec::new();
        for key in keys {
            if let Some(list) = self.lists.remove(&key) {
                moved_lists.push((key, list));
            }
        }
        for (mut key, list) in moved_lists {
            if let Some(k) = to(key[depth]) {
                key[depth] = k;
                self.lists.insert(key, list);
            }
        }
        for f in self.in_flight.values_mut() {
            let Some(path) = f.parent.as_mut() else {
                continue;
            };
            if below(path) {
                match to(path[depth]) {
                    Some(k) => path[depth] = k,
                    None => f.parent = None,
                }
            }
        }
    }

    /// Drops windows, least recently used first, then rows, until the budget holds;
    /// `keep`'s window (just filled) goes last.
    fn enforce(&mut self, keep: &[u64]) {
        while self.cached() > self.capacity || self.lists.len() > MAX_LISTS {
            if !self.drop_least_used(keep) {
                break;
            }
        }
        let cached = self.cached();
        if cached <= self.capacity {
            return;
        }
        // Only the root and `keep` are left: the root gives way first.
        let kept = self.lists.get(keep).map_or(0, |l| l.window.cached());
        if let Some(root) = self.lists.get_mut(&[][..]) {
            if !keep.is_empty() {
                root.window.evict_to(self.capacity.saturating_sub(kept));
            }
        }
        let others = self.cached() - self.lists.get(keep).map_or(0, |l| l.window.cached());
        if let Some(list) = self.lists.get_mut(keep) {
            list.window.evict_to(self.capacity.saturating_sub(others));
        }
    }

    /// Drops the least recently used window but the root's and `keep`'s; false if there
    /// is none.
    fn drop_least_used(&mut self, keep: &[u64]) -> bool {
        let victim = self
            .lists
            .iter()
            .filter(|(path, _)| !path.is_empty() && path.as_slice() != keep)
            .min_by_key(|(_, list)| list.used)
            .map(|(path, _)| path.clone());
        match victim {
            Some(path) => self.lists.remove(&path).is_some(),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain tree to check the windows against: each node a name and children.
    #[derive(Debug, Clone)]
    struct Node {
        name: String,
        children: Vec<Node>,
    }

    fn leaf(name: &str) -> Node {
        Node {
            name: name.to_owned(),
            children: Vec::new(),
        }
    }

    fn node(name: &str, children: Vec<Node>) -> Node {
        Node {
            name: name.to_owned(),
            children,
        }
    }

    fn children<'a>(roots: &'a [Node], parent: &[u64]) -> &'a [Node] {
        let mut list = roots;
        for &k in parent {
            list = &list[k as usize].children;
        }
        list
    }

    fn items(list: &[Node], first: u64, count: u64) -> Vec<Item<String>> {
        list.iter()
            .skip(first as usize)
            .take(count as usize)
            .map(|n| (n.name.clone(), n.children.len() as u64))
            .collect()
    }

    /// Answers every request as the source would from `roots`.
    fn answer_all(w: &mut TreeWindow<String>, roots: &[Node], requests: Vec<TreeRequest>) {
        for r in requests {
            let list = children(roots, &r.parent);
            w.apply(TreeDiff::Rows {
                request: r.id,
                parent: r.parent.clone(),
                first: r.first,
                total: list.len() as u64,
                rows: items(list, r.first, r.count),
            })
            .unwrap();
        }
    }

    fn sample() -> Vec<Node> {
        vec![
            node("a", vec![leaf("a0"), node("a1", vec![leaf("a10")])]),
            leaf("b"),
            node("c", vec![leaf("c0")]),
        ]
    }

    fn name(w: &TreeWindow<String>, path: &[u64]) -> Option<String> {
        w.peek(path).map(|(n, _)| n.clone())
    }

    /// A window holding every row of `roots`, fetched level by level.
    fn full(roots: &[Node]) -> TreeWindow<String> {
        let mut w = TreeWindow::new(1000);
        w.init(roots.len() as u64);
        let mut parents = vec![Vec::new()];
        while let Some(parent) = parents.pop() {
            let requests = w.fetch(&parent, 0, u64::MAX);
            answer_all(&mut w, roots, requests);
            for (k, n) in children(roots, &parent).iter().enumerate() {
                if !n.children.is_empty() {
                    let mut path = parent.clone();
                    path.push(k as u64);
                    parents.push(path);
                }
            }
        }
        w
    }

    #[test]
    fn a_child_fetch_opens_its_parents_window_and_rows_tell_their_child_counts() {
        let roots = sample();
        let mut w = TreeWindow::<String>::new(1000);
        assert!(w.init(3).is_empty());
        assert_eq!(w.row_count(&[]), Some(3));
        assert_eq!(w.row_count(&[0]), None, "nothing known of row 0 yet");
        let (row, request) = w.get(&[0]);
        assert!(row.is_none());
        let request = request.unwrap();
        assert_eq!(
            (request.parent.clone(), request.first, request.count),
            (vec![], 0, 3)
        );
        answer_all(&mut w, &roots, vec![request]);
        assert_eq!(w.row_count(&[0]), Some(2), "a row carries its child count");
        assert_eq!(w.row_count(&[1]), Some(0));
        let request = w.get(&[0, 1]).1.unwrap();
        assert_eq!((request.parent.clone(), request.count), (vec![0], 2));
        assert_eq!(w.get(&[0, 0]).1, None, "the block is on its way");
        answer_all(&mut w, &roots, vec![request]);
        assert_eq!(name(&w, &[0, 1]).as_deref(), Some("a1"));
        assert_eq!(w.get(&[0, 5]), (None, None), "past the parent's children");
        assert_eq!(
            w.get(&[1, 0]),
            (None, None),
            "a leaf has no children to ask for"
        );
    }

    #[test]
    fn a_diff_under_a_parent_shifts_the_windows_below_it() {
        let mut roots = sample();
        let mut w = full(&roots);
        // Insert a row before "a": every window under the root moves down one.
        roots.insert(0, leaf("new"));
        w.apply(TreeDiff::Inserted {
            parent: vec![],
            first: 0,
            count: 1,
            rows: items(&roots, 0, 1),
            total: 4,
        })
        .unwrap();
        assert_eq!(name(&w, &[1, 1, 0]).as_deref(), Some("a10"));
        assert_eq!(name(&w, &[3, 0]).as_deref(), Some("c0"));
        // Remove "a" (with its subtree): its windows go, those after it move up.
        roots.remove(1);
        w.apply(TreeDiff::Removed {
            parent: vec![],
            first: 1,
            count: 1,
            total: 3,
        })
        .unwrap();
        assert_eq!(name(&w, &[2, 0]).as_deref(), Some("c0"));
        assert_eq!(w.row_count(&[1]), Some(0), "b is row 1 now");
        assert!(
            w.peek(&[1, 1, 0]).is_none(),
            "a's grandchildren went with it"
        );
        // Move "c" to the top.
        let c = roots.remove(2);
        roots.insert(0, c);
        w.apply(TreeDiff::Moved {
            parent: vec![],
            first: 2,
            count: 1,
            to: 0,
            total: 3,
        })
        .unwrap();
        assert_eq!(name(&w, &[0, 0]).as_deref(), Some("c0"));
        assert_eq!(name(&w, &[0]).as_deref(), Some("c"));
    }

    #[test]
    fn an_insert_under_a_row_updates_its_child_count() {
        let mut w = full(&sample());
        w.apply(TreeDiff::Inserted {
            parent: vec![1],
            first: 0,
            count: 2,
            rows: vec![],
            total: 2,
        })
        .unwrap();
        assert_eq!(w.row_count(&[1]), Some(2), "b has children now");
        assert_eq!(w.peek(&[1]).map(|i| i.1), Some(2));
        w.apply(TreeDiff::Removed {
            parent: vec![2],
            first: 0,
            count: 1,
            total: 0,
        })
        .unwrap();
        assert_eq!(w.row_count(&[2]), Some(0));
    }

    #[test]
    fn a_fetch_in_flight_follows_its_parent_and_is_forgotten_with_it() {
        let mut w = full(&sample());
        let mut w2 = full(&sample());
        let request = w.get(&[2, 0]).1;
        assert!(request.is_none(), "held");
        // A fresh window asking for a's children, then a row inserted above a.
        let mut fresh = TreeWindow::<String>::new(1000);
        fresh.init(3);
        let asked = fresh.fetch(&[0], 0, 10);
        fresh
            .apply(TreeDiff::Inserted {
                parent: vec![],
                first: 0,
                count: 1,
                rows: vec![],
                total: 4,
            })
            .unwrap();
        assert_eq!(fresh.pending()[0].parent, vec![1], "the fetch moved with a");
        fresh
            .apply(TreeDiff::Removed {
                parent: vec![],
                first: 1,
                count: 1,
                total: 3,
            })
            .unwrap();
        assert_eq!(asked.len(), 1);
        assert!(
            fresh.pending().iter().all(|r| r.parent != vec![1]),
            "a's fetch is not sent again once a is gone"
        );
        // Unused windows of the other copies stay equal.
        w2.apply(TreeDiff::Reset { total: 1 }).unwrap();
        assert_eq!(w2.row_count(&[0]), None);
        assert_eq!(w2.cached(), 0);
    }

    #[test]
    fn an_answer_about_a_row_that_is_gone_resolves_its_fetch_with_nothing() {
        let mut w = full(&sample());
        let asked = w.fetch(&[9, 9], 0, 10);
        assert_eq!(asked.len(), 1, "an unknown parent may still be asked about");
        let applied = w
            .apply(TreeDiff::Rows {
                request: asked[0].id,
                parent: vec![9, 9],
                first: 0,
                total: 0,
                rows: vec![],
            })
            .unwrap();
        assert_eq!(applied.answered, Some((asked[0].id, vec![])));
        let lie = TreeDiff::Rows {
            request: 99,
            parent: vec![9],
            first: 0,
            total: 2,
            rows: vec![],
        };
        assert!(w.apply(lie).is_err(), "children of a row that is not there");
    }

    #[test]
    fn diffs_that_do_not_fit_are_refused() {
        let mut w = full(&sample());
        let wrong_count = TreeDiff::Inserted {
            parent: vec![0],
            first: 0,
            count: 1,
            rows: vec![],
            total: 5,
        };
        assert!(w.apply(wrong_count).is_err());
        let no_such_parent = TreeDiff::Removed {
            parent: vec![7],
            first: 0,
            count: 1,
            total: 0,
        };
        assert!(w.apply(no_such_parent).is_err());
        let too_deep = TreeDiff::Reset { total: 0 };
        assert!(w.apply(too_deep).is_ok());
        let deep = TreeDiff::Removed {
            parent: vec![0; MAX_DEPTH + 1],
            first: 0,
            count: 1,
            total: 0,
        };
        assert!(w.apply(deep).is_err());
        let bad_answer = TreeDiff::Rows {
            request: 0,
            parent: vec![],
            first: 0,
            total: 9,
            rows: vec![],
        };
        assert!(
            w.apply(bad_answer).is_err(),
            "the root has 0 rows after the reset"
        );
    }

    #[test]
    fn the_budget_holds_over_all_windows_and_drops_the_least_used_first() {
        // 10 roots with 10 children each; room for 25 rows.
        let roots: Vec<Node> = (0..10)
            .map(|i| {
                node(
                    &format!("r{i}"),
                    (0..10).map(|j| leaf(&format!("r{i}.{j}"))).collect(),
                )
            })
            .collect();
        let mut w = TreeWindow::<String>::new(25);
        w.init(10);
        let requests = w.fetch(&[], 0, 10);
        answer_all(&mut w, &roots, requests);
        for i in 0..5 {
            let requests = w.fetch(&[i], 0, 10);
            answer_all(&mut w, &roots, requests);
            assert!(w.cached() <= 25, "{} rows held", w.cached());
        }
        assert_eq!(
            name(&w, &[4, 9]).as_deref(),
            Some("r4.9"),
            "the newest stays"
        );
        assert!(w.peek(&[0, 0]).is_none(), "the oldest went first");
    }

    /// Every small insert, removal and move at every level agrees with a plain tree.
    #[test]
    fn windows_agree_with_a_plain_tree_for_many_cases() {
        for case in 0..60u64 {
            let mut roots = sample();
            let mut w = full(&roots);
            let parent: Path = match case % 3 {
                0 => vec![],
                1 => vec![0],
                _ => vec![0, 1],
            };
            let len = children(&roots, &parent).len() as u64;
            let first = (case / 3) % (len + 1);
            let list = {
                let mut list = &mut roots;
                for &k in &parent {
                    list = &mut list[k as usize].children;
                }
                list
            };
            let diff = match (case / 9) % 3 {
                0 => {
                    list.insert(first as usize, leaf("x"));
                    TreeDiff::Inserted {
                        parent: parent.clone(),
                        first,
                        count: 1,
                        rows: vec![("x".to_owned(), 0)],
                        total: len + 1,
                    }
                }
                1 if first < len => {
                    list.remove(first as usize);
                    TreeDiff::Removed {
                        parent: parent.clone(),
                        first,
                        count: 1,
                        total: len - 1,
                    }
                }
                _ if len > 0 => {
                    let from = first.min(len - 1);
                    let to = (case / 27) % len;
                    let n = list.remove(from as usize);
                    list.insert(to as usize, n);
                    TreeDiff::Moved {
                        parent: parent.clone(),
                        first: from,
                        count: 1,
                        to,
                        total: len,
                    }
                }
                _ => continue,
            };
            w.apply(diff).unwrap();
            let mut stack = vec![Vec::new()];
            while let Some(at) = stack.pop() {
                for (k, n) in children(&roots, &at).iter().enumerate() {
                    let mut path = at.clone();
                    path.push(k as u64);
                    if let Some((held, count)) = w.peek(&path) {
                        assert_eq!(held, &n.name, "case {case} at {path:?}");
                        assert_eq!(*count, n.children.len() as u64, "case {case} at {path:?}");
                    }
                    stack.push(path);
                }
            }
        }
    }
}
