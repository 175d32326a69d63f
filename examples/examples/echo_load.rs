//! `cargo run --release --example echo_load -- ADDR CONNS SIZE SECS [http]`:
//! the load generator of the network benchmark. CONNS connections each
//! send SIZE bytes and wait for their echo (or, with `http`, send `GET /`
//! and read the response), again and again for SECS seconds; prints
//! `requests=N secs=S req/s=R errors=E`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use uring_examples::load::{Mode, run};

fn main() -> ExitCode {
    let usage = "usage: echo_load ADDR CONNS SIZE SECS [http]";
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = (|| {
        let addr = args.first()?.parse().ok()?;
        let conns: usize = args.get(1)?.parse().ok()?;
        let size: usize = args.get(2)?.parse().ok()?;
        let secs: f64 = args.get(3)?.parse().ok()?;
        let mode = match args.get(4).map(String::as_str) {
            None => Mode::Echo(size.max(1)),
            Some("http") => Mode::Http,
            Some(_) => return None,
        };
        // A run whose length or end a `Duration` or an `Instant` cannot
        // hold (`inf`, `1e20`) is refused with the rest.
        let length = Duration::try_from_secs_f64(secs).ok()?;
        Instant::now().checked_add(length)?;
        (conns > 0 && secs > 0.0).then_some((addr, conns, mode, secs))
    })();
    let Some((addr, conns, mode, secs)) = parsed else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    match run(addr, conns, mode, secs) {
        Ok(report) => {
            println!(
                "requests={} secs={:.3} req/s={:.0} errors={}",
                report.requests,
                report.secs,
                report.requests as f64 / report.secs,
                report.errors
            );
            if report.errors > 0 || report.requests == 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("echo_load: {e}");
            ExitCode::FAILURE
        }
    }
}
