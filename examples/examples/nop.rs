//! `cargo run --release --example nop -- TOTAL BATCH`: queues and reaps TOTAL
//! NOPs in batches of BATCH on a 256-entry ring and prints
//! `ops=N secs=S mops=M`.

use std::process::ExitCode;
use uring_examples::nop;

fn main() -> ExitCode {
    nop::drive("nop", || uring::Ring::new(nop::ENTRIES), nop::run_uring)
}
