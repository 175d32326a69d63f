//! The `randread` driver over the `io-uring` crate, the baseline it is
//! measured against: `cargo run --release --example randread_io_uring --
//! FILE [--qd 32] [--bs 4096] [--secs 10] [--ios N]`.

use std::process::ExitCode;
use uring_examples::{randread, randread_io_uring};

fn main() -> ExitCode {
    randread::drive(false, |cfg, input| {
        randread_io_uring::run(cfg, input).map(|o| ("io-uring".to_string(), o))
    })
}
