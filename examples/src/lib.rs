//! Drivers shared by the examples and the benchmarks.
//!
//! Each benchmark loop exists twice, once over `uring` and once over the
//! `io-uring` crate, written the same way (one batch of pushes, one
//! `submit_and_wait`, one pass over the completions) so that the two can be
//! compared in the same run.

pub mod load;
pub mod net;
pub mod nop;
pub mod reactor_bench;
