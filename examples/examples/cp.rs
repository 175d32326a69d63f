//! `cargo run --release --example cp -- SRC DST [--qd 16] [--bs 131072]`:
//! copies SRC to DST with linked read -> write chains, QD of them in
//! flight, over registered files; prints `cp bytes=N secs=S mib_per_s=R`.

use std::process::ExitCode;

fn main() -> ExitCode {
    uring_examples::copy::cp_main()
}
