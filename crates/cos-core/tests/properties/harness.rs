//! The seeded generator and the loop that runs a property's cases.

use std::panic::{catch_unwind, AssertUnwindSafe};

/// SplitMix64: tiny, seedable, good enough for test input.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    pub(crate) fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
    /// Fisher–Yates.
    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
    /// 32 bytes, as the platform's CSPRNG gives the engine at each start.
    pub(crate) fn entropy(&mut self) -> [u8; 32] {
        std::array::from_fn(|_| self.next() as u8)
    }
    /// `min..min + spread` random bytes.
    pub(crate) fn some_bytes(&mut self, min: usize, spread: usize) -> Vec<u8> {
        let len = min + self.below(spread);
        self.bytes(len)
    }
}

fn seed() -> u64 {
    std::env::var("COS_PROPERTY_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x00c0_ffee)
}

/// Total cases for all properties; each property takes a share.
fn total_cases() -> usize {
    std::env::var("COS_PROPERTY_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(if cfg!(debug_assertions) {
        100_000
    } else {
        1_000_000
    })
}

/// `per_mille` thousandths of the total: the cheap properties take most cases.
pub(crate) fn share(per_mille: usize) -> usize {
    (total_cases() * per_mille / 1000).max(1)
}

/// Runs `cases` cases of `body`, each with its own reproducible generator;
/// a panic anywhere (engine, host or assertion) is reported with its case number.
pub(crate) fn run(name: &str, cases: usize, mut body: impl FnMut(&mut Rng, usize)) {
    let base = seed() ^ fxhash(name);
    let started = std::time::Instant::now();
    for case in 0..cases {
        let mut rng = Rng(base.wrapping_add(case as u64 * 0x1000_0000_01b3));
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| body(&mut rng, case))) {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("{name}: case {case} (COS_PROPERTY_SEED={}) panicked: {what}", seed());
        }
    }
    eprintln!("{name}: {cases} cases, 0 failures, {:.1} s", started.elapsed().as_secs_f64());
}

fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}
