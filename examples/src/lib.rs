//! Drivers shared by the examples and the benchmarks.
//!
//! Each benchmark loop exists twice, once over `uring` and once over the
//! `io-uring` crate, written the same way (one batch of pushes, one
//! `submit_and_wait`, one pass over the completions) so that the two can be
//! compared in the same run.

pub mod args;
pub mod chains;
pub mod copy;
pub mod measure;
pub mod nop;
pub mod randread;
pub mod randread_io_uring;

pub use args::Args;

/// What a push that found the queue full did not push, and the error that
/// reports it: the one place the examples take a [`uring::Full`] apart.
/// Cold: kept out of the loops it is called from.
#[cold]
pub fn unpushed<T>(full: uring::Full<T>) -> (uring::Error, T) {
    (uring::Error::QueueFull, full.into_inner())
}

/// The error of a push that found the queue full; the op is dropped.
#[cold]
pub fn queue_full<T>(full: uring::Full<T>) -> uring::Error {
    unpushed(full).0
}
