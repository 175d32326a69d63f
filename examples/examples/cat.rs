//! `cargo run --release --example cat -- FILE [--qd 8] [--bs 131072]`:
//! writes FILE to standard output, reading QD blocks ahead and writing
//! them in order, all inside one `Ring::scope`; prints
//! `cat bytes=N secs=S mib_per_s=R` to standard error.

use std::process::ExitCode;

fn main() -> ExitCode {
    uring_examples::copy::cat_main()
}
