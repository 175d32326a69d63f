//! The `nop` driver over the `io-uring` crate, the baseline it is measured
//! against: `cargo run --release --example nop_io_uring -- TOTAL BATCH`.

use std::process::ExitCode;
use uring_examples::nop;

fn main() -> ExitCode {
    nop::drive(
        "nop_io_uring",
        || io_uring::IoUring::new(nop::ENTRIES),
        nop::run_io_uring,
    )
}
