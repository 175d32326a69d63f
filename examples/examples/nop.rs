//! `cargo run --release --example nop -- TOTAL BATCH`: queues and reaps TOTAL
//! NOPs in batches of BATCH on a 256-entry ring and prints
//! `ops=N secs=S mops=M`.

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
    let run = || -> uring::Result<f64> {
        let mut ring = uring::Ring::new(nop::ENTRIES)?;
        let start = Instant::now();
        let sum = nop::run_uring(&mut ring, total, batch)?;
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
            eprintln!("nop: {e}");
            ExitCode::FAILURE
        }
    }
}
