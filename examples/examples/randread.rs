//! `cargo run --release --example randread -- FILE [--qd 32] [--bs 4096]
//! [--secs 10] [--ios N] [--mode raw|scope]`: random reads of one block
//! each from FILE, QD in flight, through a registered file and registered
//! buffers (`READ_FIXED`); prints one line with the IOPS and the CPU time
//! per read. `--mode raw` pushes with `push_unchecked`, `--mode scope`
//! inside a `Ring::scope` with each buffer given to the scope with its read.

use std::process::ExitCode;
use uring_examples::randread::{self, Mode};

fn main() -> ExitCode {
    randread::drive(true, |cfg, input| match cfg.mode {
        Mode::Raw => randread::run_raw(cfg, input).map(|o| ("uring-raw".to_string(), o)),
        Mode::Scope => randread::run_scope(cfg, input).map(|o| ("uring-scope".to_string(), o)),
    })
}
