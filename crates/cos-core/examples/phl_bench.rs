//! Public Hash List load benchmark (issue 12: a 450,000-digest list must load
//! in under 1 s and add under 20 MiB). Not a test: timings depend on the machine.
//!
//!     cargo run --release -p cos-core --example phl_bench
//!
//! Builds a synthetic list in the spec's format (pseudo-random digests, a
//! comment line every 1,000 digests, core / Hugging Face / manual sections),
//! then parses it whole and streamed in 64 KiB chunks, as a fetch delivers it.
//! A counting allocator reports the bytes the parsed list holds and the peak
//! the parse added on top of the text. The machine may be shared, so beside
//! the wall time it prints this thread's CPU time (Linux schedstat).

use cos_core::hash::ContentHash;
use cos_core::public_hash_list::{PhlParser, PublicHashList, Section};
use cos_core::verifier::Verifier;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

const DIGESTS: usize = 450_000;
const HUGGING_FACE: usize = 10_000;
const MANUAL: usize = 100;

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
        PEAK.fetch_max(live, Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn digest(i: usize) -> ContentHash {
    let mut v = Verifier::default();
    v.update(&i.to_le_bytes());
    v.finish()
}

fn synthetic_list() -> String {
    let mut text = String::with_capacity(DIGESTS * 65 + 4096);
    text.push_str("// Synthetic Public Hash List (cos-core phl_bench)\n// VERSION: bench\n// COMMIT: 0\n");
    let sections = [
        (Section::Core, 0..DIGESTS - HUGGING_FACE - MANUAL),
        (Section::HuggingFace, DIGESTS - HUGGING_FACE - MANUAL..DIGESTS - MANUAL),
        (Section::Manual, DIGESTS - MANUAL..DIGESTS),
    ];
    for (section, range) in sections {
        text.push_str(&format!("// ===BEGIN {}===\n", section.name()));
        for i in range {
            if i % 1000 == 0 {
                text.push_str(&format!("// digests {i}..\n"));
            }
            text.push_str(digest(i).as_str());
            text.push('\n');
        }
        text.push_str(&format!("// ===END {}===\n", section.name()));
    }
    text
}

/// This thread's CPU time in seconds, where Linux reports it.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(stat.split_whitespace().next()?.parse::<f64>().ok()? / 1e9)
}

/// Runs `parse` 3 times and prints the best wall and CPU times, the bytes the
/// list holds and the peak bytes allocated above what was live before.
fn measure(name: &str, parse: impl Fn() -> PublicHashList) -> PublicHashList {
    let (mut wall, mut cpu) = (f64::MAX, f64::MAX);
    let mut peak_extra = 0;
    let mut list = PublicHashList::default();
    for _ in 0..3 {
        drop(std::mem::take(&mut list));
        let before = LIVE.load(Relaxed);
        PEAK.store(before, Relaxed);
        let (start, cpu_start) = (Instant::now(), cpu_seconds());
        list = parse();
        wall = wall.min(start.elapsed().as_secs_f64());
        if let (Some(from), Some(to)) = (cpu_start, cpu_seconds()) {
            cpu = cpu.min(to - from);
        }
        peak_extra = PEAK.load(Relaxed) - before;
    }
    let held = list.heap_bytes();
    println!(
        "{name:<24} {:>6.1} ms (CPU {:>6.1} ms)   holds {:>5.2} MiB   peak during parse +{:>5.2} MiB",
        wall * 1e3,
        cpu * 1e3,
        held as f64 / 1048576.0,
        peak_extra as f64 / 1048576.0
    );
    list
}

fn main() {
    let text = synthetic_list();
    println!("synthetic list: {} digests, {:.1} MB of text", DIGESTS, text.len() as f64 / 1e6);
    let mut sidecar = Verifier::default();
    sidecar.update(text.as_bytes());
    let sidecar = format!("{}  public_hash_list.txt\n", sidecar.finish());

    let whole = measure("parse (whole text)", || PublicHashList::parse(&text).unwrap());
    let streamed = measure("stream 64 KiB + sidecar", || {
        let mut parser = PhlParser::new();
        text.as_bytes().chunks(64 * 1024).for_each(|c| parser.feed(c));
        parser.finish_verified(&sidecar).unwrap()
    });
    assert!(whole == streamed);
    assert_eq!(whole.len(), DIGESTS);
    println!("sizeof(PublicHashList) = {} bytes (inline, beside the heap bytes above)", size_of::<PublicHashList>());

    let probes: Vec<ContentHash> = (0..200_000).map(|i| digest(i * 3)).collect();
    let start = Instant::now();
    let hits = probes.iter().filter(|h| whole.contains(h)).count();
    let per = start.elapsed().as_secs_f64() / probes.len() as f64;
    println!("contains: {:.0} ns per lookup ({hits} of {} listed)", per * 1e9, probes.len());
}
