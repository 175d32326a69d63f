//! `nop_io_uring` with its completions read by `Iterator::for_each` instead of
//! a `for` loop, over the `io-uring` crate: `cargo run --release --example nop_io_uring_for_each --
//! TOTAL BATCH`.

use std::process::ExitCode;
use uring_examples::nop;

fn main() -> ExitCode {
    nop::drive(
        "nop_io_uring_for_each",
        || io_uring::IoUring::new(nop::ENTRIES),
        nop::run_io_uring_for_each,
    )
}
