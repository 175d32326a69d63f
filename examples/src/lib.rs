//! Drivers shared by the examples and the benchmarks.
//!
//! Each benchmark loop exists twice, once over `uring` and once over the
//! `io-uring` crate, written the same way (one batch of pushes, one
//! `submit_and_wait`, one pass over the completions) so that the two can be
//! compared in the same run.

pub mod args;
pub mod chains;
pub mod copy;
pub mod load;
pub mod measure;
pub mod net;
pub mod nop;
pub mod randread;
pub mod randread_io_uring;
pub mod reactor_bench;

pub use args::Args;

/// What a push that was refused did not push, and the error that reports
/// it: the one place the examples take a [`uring::PushError`] apart. Cold:
/// kept out of the loops it is called from.
#[cold]
pub fn unpushed<T>(refused: uring::PushError<T>) -> (uring::Error, T) {
    let error = match refused.kind() {
        uring::PushErrorKind::QueueFull => uring::Error::QueueFull,
        kind => uring::Error::PushRefused(kind),
    };
    (error, refused.into_inner())
}

/// The error of a push that was refused; the op is dropped.
#[cold]
pub fn queue_full<T>(refused: uring::PushError<T>) -> uring::Error {
    unpushed(refused).0
}
