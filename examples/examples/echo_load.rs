//! `cargo run --release --example echo_load -- ADDR CONNS SIZE SECS [http]`:
//! the load generator of the network benchmark. CONNS connections each
//! send SIZE bytes and wait for their echo (or, with `http`, send `GET /`
//! and read the response), again and again for SECS seconds; prints
//! `requests=N secs=S req/s=R errors=E`. SIZE is at most 64 MiB
//! (67108864 bytes).

use std::io::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use uring_examples::load::{Mode, run};

/// The largest SIZE: each connection holds a message of SIZE bytes and
/// its echo.
const MAX_SIZE: usize = 64 << 20;

fn main() -> ExitCode {
    let usage = "usage: echo_load ADDR CONNS SIZE SECS [http]   (SIZE at most 67108864)";
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let parsed = (|| {
        // An argument that is not UTF-8 is refused with the rest.
        let args: Vec<&str> = args.iter().map(|a| a.to_str()).collect::<Option<_>>()?;
        let addr = args.first()?.parse().ok()?;
        let conns: usize = args.get(1)?.parse().ok()?;
        let size: usize = args.get(2)?.parse().ok()?;
        let secs: f64 = args.get(3)?.parse().ok()?;
        let mode = match args.get(4).copied() {
            None => Mode::Echo(size.max(1)),
            Some("http") => Mode::Http,
            Some(_) => return None,
        };
        if size > MAX_SIZE || args.len() > 5 {
            return None;
        }
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
            let mut out = std::io::stdout().lock();
            let printed = writeln!(
                out,
                "requests={} secs={:.3} req/s={:.0} errors={}",
                report.requests,
                report.secs,
                report.requests as f64 / report.secs,
                report.errors
            )
            .and_then(|()| out.flush());
            if let Err(e) = printed {
                eprintln!("echo_load: stdout: {e}");
                ExitCode::FAILURE
            } else if report.errors > 0 || report.requests == 0 {
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
