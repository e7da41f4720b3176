//! Property tests over random and mutated input, from a seeded generator (no
//! extra dependency), driven through `memory_host`, which performs the
//! engine's own storage steps: request decoding, validation, the disclosure
//! rules, write sessions, crash consistency, and what one site can learn
//! about another. Zero panics, and every answer agrees with a small model.
//!
//! `COS_PROPERTY_CASES` sets the total number of generated cases, split
//! across the properties below by cost. Default: 1,000,000 in an optimised
//! build (`cargo test --release -p cos-core --test properties`) and 100,000 in
//! the debug build that `cargo test` / `scripts/test` use (~10x slower per
//! case). `COS_PROPERTY_SEED` sets the seed.
//! A failure prints the seed and case number so it can be replayed.

mod checks;
mod crash;
mod disclosure;
mod generate;
mod harness;
mod persist_order;
mod privacy;
mod privacy_gates;
mod requests;
mod sessions;
mod validation;
