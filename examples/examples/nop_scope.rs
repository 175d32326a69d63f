//! `cargo run --release --example nop_scope -- TOTAL BATCH`: the NOP driver of
//! `nop`, with every op pushed through a `Ring::scope`.

use std::process::ExitCode;
use uring_examples::nop;

fn main() -> ExitCode {
    nop::drive(
        "nop_scope",
        || uring::Ring::new(nop::ENTRIES),
        nop::run_uring_scope,
    )
}
