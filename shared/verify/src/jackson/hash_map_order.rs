//! The iteration order of a `java.util.HashMap<String, Object>` filled by Jackson, which
//! puts the top-level members in arrival order.
//!
//! The map starts with 16 buckets at the first put and doubles when its size exceeds 0.75 ×
//! capacity; a key goes to bucket `spread(hash) & (capacity - 1)` with
//! `spread(h) = h ^ (h >>> 16)` and `h = String.hashCode()` over UTF-16 code units; a bucket
//! keeps insertion order and a resize splits it in order. A bucket that reaches 9 entries
//! makes the map double instead (while capacity < 64) or become a red-black "tree bin"
//! (capacity >= 64), whose iteration order depends on the tree; that case needs at least 9
//! keys sharing 6+ low hash bits — never seen in a Knox body — and is refused rather than
//! guessed.

pub const TREE_BIN_UNSUPPORTED: &str = "the body's top-level keys collide so often that Java's HashMap would build a tree bin; hookwarden does not reproduce that order";

const INITIAL_CAPACITY: usize = 16;
const TREEIFY_THRESHOLD: usize = 8;
const MIN_TREEIFY_CAPACITY: usize = 64;

/// `String.hashCode()` with HashMap's spreading.
fn spread_hash(key: &str) -> u32 {
    let h = key.encode_utf16().fold(0u32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(u32::from(unit))
    });
    h ^ (h >> 16)
}

/// Indices into `keys` in the order the HashMap iterates them, or `None` when a tree bin
/// would form. `keys` are distinct.
pub(super) fn iteration_order(keys: &[String]) -> Option<Vec<usize>> {
    let hashes: Vec<u32> = keys.iter().map(|k| spread_hash(k)).collect();
    let mut buckets: Vec<Vec<usize>> = vec![Vec::new(); INITIAL_CAPACITY];
    for (index, &hash) in hashes.iter().enumerate() {
        let slot = hash as usize & (buckets.len() - 1);
        let existing = buckets[slot].len();
        buckets[slot].push(index);
        // putVal: appending after `existing` nodes with existing - 1 >= TREEIFY_THRESHOLD - 1.
        if existing >= TREEIFY_THRESHOLD {
            if buckets.len() < MIN_TREEIFY_CAPACITY {
                buckets = resize(buckets, &hashes);
            } else {
                return None;
            }
        }
        if index + 1 > buckets.len() * 3 / 4 {
            buckets = resize(buckets, &hashes);
        }
    }
    // A resize can leave a long bucket at capacity >= 64 only through the splits above,
    // which keep list order; tree bins arise only on insertion, handled above.
    Some(buckets.into_iter().flatten().collect())
}

fn resize(buckets: Vec<Vec<usize>>, hashes: &[u32]) -> Vec<Vec<usize>> {
    let old = buckets.len();
    let mut grown = vec![Vec::new(); old * 2];
    for (j, bucket) in buckets.into_iter().enumerate() {
        for index in bucket {
            let target = if hashes[index] as usize & old == 0 {
                j
            } else {
                j + old
            };
            grown[target].push(index);
        }
    }
    grown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(keys: &[&str]) -> Vec<String> {
        let owned: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        iteration_order(&owned)
            .unwrap()
            .into_iter()
            .map(|i| owned[i].clone())
            .collect()
    }

    #[test]
    fn string_hash_code() {
        // Java: "Aa".hashCode() == "BB".hashCode() == 2112; "payload".hashCode() == -786701938.
        assert_eq!(spread_hash("Aa"), spread_hash("BB"));
        let h = (-786_701_938i32) as u32;
        assert_eq!(spread_hash("payload"), h ^ (h >> 16));
    }

    #[test]
    fn knox_top_level_order() {
        // Measured with Jackson 2.14 / JDK 17 (protocols.md §1.3).
        assert_eq!(
            order(&["subscriptionId", "event", "payload"]),
            ["payload", "subscriptionId", "event"]
        );
    }

    #[test]
    fn colliding_keys_keep_insertion_order() {
        assert_eq!(order(&["BB", "Aa"]), ["BB", "Aa"]);
        assert_eq!(order(&["Aa", "BB"]), ["Aa", "BB"]);
    }
}
