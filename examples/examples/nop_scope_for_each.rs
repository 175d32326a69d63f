//! `nop_scope` with its completions read by `Iterator::for_each` instead of
//! a `for` loop, in a scope: `cargo run --release --example nop_scope_for_each --
//! TOTAL BATCH`.

use std::process::ExitCode;
use uring_examples::nop;

fn main() -> ExitCode {
    nop::drive(
        "nop_scope_for_each",
        || uring::Ring::new(nop::ENTRIES),
        nop::run_uring_scope_for_each,
    )
}
