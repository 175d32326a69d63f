//! The `nop` driver over the `io-uring` crate, the baseline it is measured
//! against: `cargo run --release --example nop_io_uring -- TOTAL BATCH`.

use std::process::ExitCode;
use std::time::Instant;
use uring_examples::nop;

fn main() -> ExitCode {
    let (total, batch) = match nop::args() {
        Ok(args) => args,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    let run = || -> std::io::Result<f64> {
        let mut ring = io_uring::IoUring::new(nop::ENTRIES)?;
        let start = Instant::now();
        let sum = nop::run_io_uring(&mut ring, total, batch)?;
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(
            sum,
            total * total.saturating_sub(1) / 2,
            "a completion was lost"
        );
        Ok(secs)
    };
    match run() {
        Ok(secs) => {
            nop::report(total, secs);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("nop_io_uring: {e}");
            ExitCode::FAILURE
        }
    }
}
