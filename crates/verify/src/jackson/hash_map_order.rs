//! The iteration order of a `java.util.HashMap` (JDK 8 and later) filled with distinct keys
//! in arrival order, as Jackson fills the top-level map of `readValue(body, HashMap.class)`.
//!
//! The order depends on the whole insertion history, so the map is replayed node by node:
//! - a key lands in bin `hash & (capacity - 1)`, `hash` being `String.hashCode()` spread as
//!   `h ^ (h >>> 16)`; the table starts at 16 bins and doubles when the size exceeds
//!   0.75 × capacity; a list bin appends, and a resize splits it keeping relative order;
//! - a list bin that reaches 9 nodes doubles the table while it has fewer than 64 bins,
//!   otherwise becomes a red-black "tree bin" ordered by (hash, `String.compareTo`);
//! - a tree bin still iterates along its `next` links: a new node is linked right after its
//!   tree parent, and the root is moved to the front after every rebalancing; on resize a
//!   half of 6 nodes or fewer turns back into a list, a larger half is rebuilt as a tree.
//!
//! Each step mirrors the corresponding `HashMap`/`TreeNode` method (`putVal`, `resize`,
//! `treeifyBin`, `treeify`, `putTreeVal`, `balanceInsertion`, `rotateLeft`/`rotateRight`,
//! `moveRootToFront`, `split`, `untreeify`); the differential test replays the same keys
//! through the JDK.

use std::cmp::Ordering;

const INITIAL_CAPACITY: usize = 16;
const TREEIFY_THRESHOLD: usize = 8;
const UNTREEIFY_THRESHOLD: usize = 6;
const MIN_TREEIFY_CAPACITY: usize = 64;

/// `HashMap.hash(key)` for a `String` key given as UTF-16 code units.
pub(super) fn spread_hash(units: impl Iterator<Item = u16>) -> i32 {
    let h = units.fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    });
    h ^ ((h as u32) >> 16) as i32
}

/// Indices of the keys in iteration order. `hashes[i]` is the spread hash of key `i`;
/// `compare(i, j)` is `key_i.compareTo(key_j)`, which must not be `Equal` for `i != j`.
pub(super) fn iteration_order(
    hashes: &[i32],
    compare: impl Fn(usize, usize) -> Ordering,
) -> Vec<usize> {
    let mut map = Replay {
        hashes,
        compare,
        table: Vec::new(),
        nodes: Vec::with_capacity(hashes.len()),
        threshold: 0,
    };
    for key in 0..hashes.len() {
        map.put(key);
    }
    let mut order = Vec::with_capacity(hashes.len());
    for bin in &map.table {
        let mut node = *bin;
        // A bin never holds more nodes than the map; the bound only guards against a bug
        // looping forever.
        while let Some(n) = node {
            if order.len() == hashes.len() {
                break;
            }
            order.push(n);
            node = map.nodes[n].next;
        }
    }
    order
}

/// A `HashMap.Node`, with the `TreeNode` fields used once its bin is a tree. Node `i` holds
/// key `i`.
#[derive(Clone, Default)]
struct Node {
    next: Option<usize>,
    tree: bool,
    parent: Option<usize>,
    left: Option<usize>,
    right: Option<usize>,
    prev: Option<usize>,
    red: bool,
}

/// A list of nodes: its head and its length.
type List = (usize, usize);

struct Replay<'a, C> {
    hashes: &'a [i32],
    compare: C,
    table: Vec<Option<usize>>,
    nodes: Vec<Node>,
    threshold: usize,
}

impl<C: Fn(usize, usize) -> Ordering> Replay<'_, C> {
    fn hash(&self, node: usize) -> i32 {
        self.hashes[node]
    }

    fn bin_of(&self, node: usize) -> usize {
        self.hash(node) as u32 as usize & (self.table.len() - 1)
    }

    /// `putVal` for a key not yet in the map.
    fn put(&mut self, key: usize) {
        self.nodes.push(Node::default());
        if self.table.is_empty() {
            self.resize();
        }
        let bin = self.bin_of(key);
        match self.table[bin] {
            None => self.table[bin] = Some(key),
            Some(first) if self.nodes[first].tree => self.put_tree_val(first, key),
            Some(first) => {
                let mut p = first;
                let mut bin_count = 0;
                while let Some(next) = self.nodes[p].next {
                    p = next;
                    bin_count += 1;
                }
                self.nodes[p].next = Some(key);
                if bin_count >= TREEIFY_THRESHOLD - 1 {
                    self.treeify_bin(key);
                }
            }
        }
        if self.nodes.len() > self.threshold {
            self.resize();
        }
    }

    fn resize(&mut self) {
        let old_capacity = self.table.len();
        let (capacity, threshold) = if old_capacity == 0 {
            (INITIAL_CAPACITY, INITIAL_CAPACITY * 3 / 4)
        } else {
            (old_capacity * 2, self.threshold * 2)
        };
        self.threshold = threshold;
        let old = std::mem::replace(&mut self.table, vec![None; capacity]);
        for (j, first) in old.into_iter().enumerate() {
            let Some(first) = first else { continue };
            if self.nodes[first].next.is_none() {
                let bin = self.bin_of(first);
                self.table[bin] = Some(first);
            } else if self.nodes[first].tree {
                self.split(first, j, old_capacity);
            } else {
                let (lo, hi) = self.split_list(first, old_capacity);
                self.table[j] = lo.map(|(head, _)| head);
                self.table[j + old_capacity] = hi.map(|(head, _)| head);
            }
        }
    }

    /// Splits the list starting at `first` by the `bit` of each hash, keeping order; returns
    /// the (head, length) of the low and high lists. Tree nodes get their `prev` links.
    fn split_list(&mut self, first: usize, bit: usize) -> (Option<List>, Option<List>) {
        let mut halves: [(Option<usize>, Option<usize>, usize); 2] = [(None, None, 0); 2];
        let mut node = Some(first);
        while let Some(e) = node {
            node = self.nodes[e].next.take();
            let half = &mut halves[usize::from(self.hash(e) as u32 as usize & bit != 0)];
            self.nodes[e].prev = half.1;
            match half.1 {
                None => half.0 = Some(e),
                Some(tail) => self.nodes[tail].next = Some(e),
            }
            half.1 = Some(e);
            half.2 += 1;
        }
        let [lo, hi] = halves;
        (lo.0.map(|head| (head, lo.2)), hi.0.map(|head| (head, hi.2)))
    }

    /// `TreeNode.split`.
    fn split(&mut self, first: usize, index: usize, bit: usize) {
        let (lo, hi) = self.split_list(first, bit);
        for (half, other, bin) in [(lo, hi, index), (hi, lo, index + bit)] {
            let Some((head, count)) = half else { continue };
            self.table[bin] = Some(head);
            if count <= UNTREEIFY_THRESHOLD {
                self.untreeify(head);
            } else if other.is_some() {
                // Otherwise the whole tree moved over unchanged.
                self.treeify(head);
            }
        }
    }

    fn untreeify(&mut self, head: usize) {
        let mut node = Some(head);
        while let Some(e) = node {
            self.nodes[e] = Node {
                next: self.nodes[e].next,
                ..Node::default()
            };
            node = self.nodes[e].next;
        }
    }

    /// `treeifyBin`: grow a small table, else turn the bin of `key` into a tree.
    fn treeify_bin(&mut self, key: usize) {
        if self.table.len() < MIN_TREEIFY_CAPACITY {
            self.resize();
            return;
        }
        let Some(head) = self.table[self.bin_of(key)] else {
            return;
        };
        let mut prev = None;
        let mut node = Some(head);
        while let Some(e) = node {
            let next = self.nodes[e].next;
            self.nodes[e] = Node {
                next,
                tree: true,
                prev,
                ..Node::default()
            };
            prev = Some(e);
            node = next;
        }
        self.treeify(head);
    }

    /// Which side of `p` key `x` goes to: hash first (as signed ints), then `compareTo`.
    fn goes_left(&self, x: usize, p: usize) -> bool {
        let (h, ph) = (self.hash(x), self.hash(p));
        if ph > h {
            true
        } else if ph < h {
            false
        } else {
            // Distinct keys never compare equal, so Java's identity tie-break is not needed.
            (self.compare)(x, p) != Ordering::Greater
        }
    }

    /// `TreeNode.treeify`: builds a tree of the list at `head`, in list order.
    fn treeify(&mut self, head: usize) {
        let mut root: Option<usize> = None;
        let mut node = Some(head);
        while let Some(x) = node {
            node = self.nodes[x].next;
            self.nodes[x].left = None;
            self.nodes[x].right = None;
            let Some(r) = root else {
                self.nodes[x].parent = None;
                self.nodes[x].red = false;
                root = Some(x);
                continue;
            };
            let mut p = r;
            loop {
                let left = self.goes_left(x, p);
                let child = if left {
                    self.nodes[p].left
                } else {
                    self.nodes[p].right
                };
                match child {
                    Some(c) => p = c,
                    None => {
                        self.nodes[x].parent = Some(p);
                        if left {
                            self.nodes[p].left = Some(x);
                        } else {
                            self.nodes[p].right = Some(x);
                        }
                        root = Some(self.balance_insertion(r, x));
                        break;
                    }
                }
            }
        }
        if let Some(root) = root {
            self.move_root_to_front(root);
        }
    }

    /// `TreeNode.putTreeVal` for a new key into the tree bin whose first node is `first`.
    fn put_tree_val(&mut self, first: usize, x: usize) {
        let mut root = first;
        while let Some(parent) = self.nodes[root].parent {
            root = parent;
        }
        let mut p = root;
        loop {
            let left = self.goes_left(x, p);
            let child = if left {
                self.nodes[p].left
            } else {
                self.nodes[p].right
            };
            if let Some(c) = child {
                p = c;
                continue;
            }
            let after = self.nodes[p].next;
            self.nodes[x] = Node {
                next: after,
                tree: true,
                parent: Some(p),
                prev: Some(p),
                ..Node::default()
            };
            if left {
                self.nodes[p].left = Some(x);
            } else {
                self.nodes[p].right = Some(x);
            }
            self.nodes[p].next = Some(x);
            if let Some(after) = after {
                self.nodes[after].prev = Some(x);
            }
            let root = self.balance_insertion(root, x);
            self.move_root_to_front(root);
            return;
        }
    }

    fn move_root_to_front(&mut self, root: usize) {
        let bin = self.bin_of(root);
        let first = self.table[bin];
        if first == Some(root) {
            return;
        }
        self.table[bin] = Some(root);
        let (prev, next) = (self.nodes[root].prev, self.nodes[root].next);
        if let Some(next) = next {
            self.nodes[next].prev = prev;
        }
        if let Some(prev) = prev {
            self.nodes[prev].next = next;
        }
        if let Some(first) = first {
            self.nodes[first].prev = Some(root);
        }
        self.nodes[root].next = first;
        self.nodes[root].prev = None;
    }

    fn red(&self, node: Option<usize>) -> bool {
        node.is_some_and(|n| self.nodes[n].red)
    }

    /// `TreeNode.balanceInsertion`; returns the new root.
    fn balance_insertion(&mut self, mut root: usize, mut x: usize) -> usize {
        self.nodes[x].red = true;
        // Each round moves `x` up the tree, whose height is below 2·log2(n) + 2.
        loop {
            let Some(mut xp) = self.nodes[x].parent else {
                self.nodes[x].red = false;
                return x;
            };
            if !self.nodes[xp].red {
                return root;
            }
            let Some(mut xpp) = self.nodes[xp].parent else {
                return root;
            };
            let xppl = self.nodes[xpp].left;
            if xppl == Some(xp) {
                let xppr = self.nodes[xpp].right;
                if let Some(uncle) = xppr.filter(|&u| self.nodes[u].red) {
                    self.nodes[uncle].red = false;
                    self.nodes[xp].red = false;
                    self.nodes[xpp].red = true;
                    x = xpp;
                } else {
                    if self.nodes[xp].right == Some(x) {
                        x = xp;
                        root = self.rotate_left(root, x);
                        // After the rotation x has a parent (its old right child).
                        let Some(parent) = self.nodes[x].parent else {
                            return root;
                        };
                        xp = parent;
                        match self.nodes[xp].parent {
                            Some(grand) => xpp = grand,
                            None => {
                                self.nodes[xp].red = false;
                                return root;
                            }
                        }
                    }
                    self.nodes[xp].red = false;
                    self.nodes[xpp].red = true;
                    root = self.rotate_right(root, xpp);
                }
            } else if self.red(xppl) {
                let uncle = xppl.unwrap_or(xp);
                self.nodes[uncle].red = false;
                self.nodes[xp].red = false;
                self.nodes[xpp].red = true;
                x = xpp;
            } else {
                if self.nodes[xp].left == Some(x) {
                    x = xp;
                    root = self.rotate_right(root, x);
                    let Some(parent) = self.nodes[x].parent else {
                        return root;
                    };
                    xp = parent;
                    match self.nodes[xp].parent {
                        Some(grand) => xpp = grand,
                        None => {
                            self.nodes[xp].red = false;
                            return root;
                        }
                    }
                }
                self.nodes[xp].red = false;
                self.nodes[xpp].red = true;
                root = self.rotate_left(root, xpp);
            }
        }
    }

    fn rotate_left(&mut self, mut root: usize, p: usize) -> usize {
        let Some(r) = self.nodes[p].right else {
            return root;
        };
        let rl = self.nodes[r].left;
        self.nodes[p].right = rl;
        if let Some(rl) = rl {
            self.nodes[rl].parent = Some(p);
        }
        let pp = self.nodes[p].parent;
        self.nodes[r].parent = pp;
        match pp {
            None => {
                root = r;
                self.nodes[r].red = false;
            }
            Some(pp) if self.nodes[pp].left == Some(p) => self.nodes[pp].left = Some(r),
            Some(pp) => self.nodes[pp].right = Some(r),
        }
        self.nodes[r].left = Some(p);
        self.nodes[p].parent = Some(r);
        root
    }

    fn rotate_right(&mut self, mut root: usize, p: usize) -> usize {
        let Some(l) = self.nodes[p].left else {
            return root;
        };
        let lr = self.nodes[l].right;
        self.nodes[p].left = lr;
        if let Some(lr) = lr {
            self.nodes[lr].parent = Some(p);
        }
        let pp = self.nodes[p].parent;
        self.nodes[l].parent = pp;
        match pp {
            None => {
                root = l;
                self.nodes[l].red = false;
            }
            Some(pp) if self.nodes[pp].right == Some(p) => self.nodes[pp].right = Some(l),
            Some(pp) => self.nodes[pp].left = Some(l),
        }
        self.nodes[l].right = Some(p);
        self.nodes[p].parent = Some(l);
        root
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Iteration order of `keys` inserted in order; expected values below were printed by
    /// `new HashMap<String, Integer>()` on OpenJDK 17.0.15.
    fn order(keys: &[&str]) -> Vec<usize> {
        let hashes: Vec<i32> = keys.iter().map(|k| spread_hash(k.encode_utf16())).collect();
        let units = |i: usize| keys[i].encode_utf16();
        iteration_order(&hashes, |a, b| units(a).cmp(units(b)))
    }

    #[test]
    fn string_hash_code() {
        // Java: "Aa".hashCode() == "BB".hashCode() == 2112; "payload".hashCode() == -786701938.
        assert_eq!(spread_hash("Aa".encode_utf16()), 2112);
        assert_eq!(spread_hash("BB".encode_utf16()), 2112);
        let h = -786_701_938i32;
        assert_eq!(
            spread_hash("payload".encode_utf16()),
            h ^ ((h as u32) >> 16) as i32
        );
    }

    #[test]
    fn knox_top_level_order() {
        // protocols.md §1.3: payload, subscriptionId, event.
        assert_eq!(order(&["subscriptionId", "event", "payload"]), [2, 0, 1]);
    }

    #[test]
    fn fully_colliding_keys_keep_insertion_order_in_a_list_bin() {
        assert_eq!(order(&["BB", "Aa"]), [0, 1]);
        assert_eq!(order(&["Aa", "BB"]), [0, 1]);
    }

    #[test]
    fn sixteen_colliding_keys_form_a_tree_bin() {
        // The 9th and 10th collisions grow the table to 64, the 11th treeifies the bin.
        let keys = [
            "AaAaBBAa", "AaAaBBBB", "AaBBAaAa", "BBBBAaBB", "BBAaAaBB", "AaAaAaBB", "AaBBBBAa",
            "AaBBBBBB", "AaAaAaAa", "BBBBBBBB", "BBAaBBAa", "BBBBBBAa", "BBBBAaAa", "AaBBAaBB",
            "BBAaBBBB", "BBAaAaAa",
        ];
        assert_eq!(
            order(&keys),
            [4, 1, 0, 2, 13, 3, 5, 6, 7, 15, 8, 9, 11, 10, 12, 14]
        );
    }
}
