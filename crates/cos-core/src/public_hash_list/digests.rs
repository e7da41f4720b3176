//! A sorted, de-duplicated set of SHA-256 digests, 32 bytes each, that grows
//! without ever reallocating its storage.
//!
//! Why not one sorted `Vec<[u8; 32]>`: a list is streamed, so its size is
//! unknown until the end, and a growing `Vec` doubles by copying. Under Wasm,
//! where the engine runs, memory never shrinks, so the copies stay: a
//! 450,000-digest list grew Wasm memory by 32 MiB for 14 MiB of digests.
//! Here digests go into fixed 4 KiB pages (small enough for any allocator to
//! place without copying), bucketed by their first byte (SHA-256 output is
//! uniform, so the buckets are even); at the end each bucket is sorted, and a
//! lookup is one binary search inside one bucket.

pub(super) type Digest = [u8; 32];

/// Digests per page (4 KiB). Only a bucket's last page may be shorter.
const PAGE: usize = 128;
const BUCKETS: usize = 256;

#[derive(Clone, Default)]
pub(super) struct Digests {
    /// Empty, or one bucket per first byte.
    buckets: Vec<Bucket>,
}

#[derive(Clone, Default)]
struct Bucket {
    pages: Vec<Box<[Digest]>>,
    len: usize,
}

impl Digests {
    /// Adds a digest. Only before [`finish`](Self::finish), which trims the
    /// pages; lookups only after it.
    pub(super) fn push(&mut self, digest: Digest) {
        if self.buckets.is_empty() {
            self.buckets.resize_with(BUCKETS, Bucket::default);
        }
        self.buckets[usize::from(digest[0])].push(digest);
    }

    /// Sorts and de-duplicates what was pushed, and trims the unused end of
    /// every bucket's last page.
    pub(super) fn finish(&mut self) {
        let mut scratch = Vec::new();
        for bucket in &mut self.buckets {
            bucket.finish(&mut scratch);
        }
    }

    pub(super) fn contains(&self, digest: &Digest) -> bool {
        self.buckets.get(usize::from(digest[0])).is_some_and(|b| b.contains(digest))
    }

    pub(super) fn len(&self) -> usize {
        self.buckets.iter().map(|b| b.len).sum()
    }

    /// In ascending order (once finished).
    pub(super) fn iter(&self) -> impl Iterator<Item = &Digest> {
        self.buckets.iter().flat_map(Bucket::iter)
    }

    /// Heap bytes held: pages, page tables and buckets.
    pub(super) fn heap_bytes(&self) -> usize {
        let bucket = |b: &Bucket| {
            b.pages.capacity() * size_of::<Box<[Digest]>>()
                + b.pages.iter().map(|p| size_of_val::<[Digest]>(p)).sum::<usize>()
        };
        self.buckets.capacity() * size_of::<Bucket>() + self.buckets.iter().map(bucket).sum::<usize>()
    }
}

/// Equal if they hold the same digests (page boundaries and spare room aside).
impl PartialEq for Digests {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Digests {}

impl Bucket {
    fn get(&self, i: usize) -> &Digest {
        &self.pages[i / PAGE][i % PAGE]
    }

    fn push(&mut self, digest: Digest) {
        if self.len == self.pages.len() * PAGE {
            self.pages.push(vec![[0; 32]; PAGE].into_boxed_slice());
        }
        self.pages[self.len / PAGE][self.len % PAGE] = digest;
        self.len += 1;
    }

    fn iter(&self) -> impl Iterator<Item = &Digest> {
        self.pages.iter().flat_map(|p| p.iter()).take(self.len)
    }

    fn contains(&self, digest: &Digest) -> bool {
        let (mut low, mut high) = (0, self.len);
        while low < high {
            let mid = low + (high - low) / 2;
            match self.get(mid).cmp(digest) {
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
                std::cmp::Ordering::Equal => return true,
            }
        }
        false
    }

    /// Sorts through `scratch` (one bucket's worth, reused for every bucket)
    /// and writes back in place, so no second copy of the list is ever made.
    fn finish(&mut self, scratch: &mut Vec<Digest>) {
        scratch.clear();
        scratch.extend(self.iter());
        scratch.sort_unstable();
        scratch.dedup();
        for (i, digest) in scratch.iter().enumerate() {
            self.pages[i / PAGE][i % PAGE] = *digest;
        }
        self.len = scratch.len();
        self.pages.truncate(self.len.div_ceil(PAGE));
        self.pages.shrink_to_fit();
        let last_len = self.len - self.pages.len().saturating_sub(1) * PAGE;
        if let Some(last) = self.pages.last_mut().filter(|p| p.len() > last_len) {
            *last = last[..last_len].into();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(first: u8, last: u8) -> Digest {
        let mut digest = [0; 32];
        digest[0] = first;
        digest[31] = last;
        digest
    }

    #[test]
    fn sorted_deduplicated_and_trimmed_across_pages() {
        let mut set = Digests::default();
        // One bucket over several pages, pushed in descending order, twice.
        for _ in 0..2 {
            for i in (0..=255u8).rev() {
                set.push(d(7, i));
            }
        }
        set.push(d(0, 1));
        set.finish();
        assert_eq!(set.len(), 257);
        let all: Vec<Digest> = set.iter().copied().collect();
        assert!(all.windows(2).all(|w| w[0] < w[1]), "ascending, no duplicates");
        for i in 0..=255u8 {
            assert!(set.contains(&d(7, i)), "{i}");
        }
        assert!(set.contains(&d(0, 1)));
        assert!(!set.contains(&d(0, 0)) && !set.contains(&d(8, 0)) && !set.contains(&d(6, 255)));
        let bucket = &set.buckets[7];
        assert_eq!(bucket.pages.iter().map(|p| p.len()).collect::<Vec<_>>(), [PAGE, PAGE], "256 = two full pages");
        assert_eq!(set.buckets[0].pages[0].len(), 1, "a last page is trimmed to its digests");
    }

    #[test]
    fn equality_ignores_layout() {
        let (mut a, mut b) = (Digests::default(), Digests::default());
        for i in 0..200u8 {
            a.push(d(1, i));
            b.push(d(1, 199 - i));
            b.push(d(1, i));
        }
        a.finish();
        b.finish();
        assert!(a == b);
        b.push(d(2, 0));
        b.finish();
        assert!(a != b);
    }
}
