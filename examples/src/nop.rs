//! Queue and reap NOPs in batches on a 256-entry ring.

use std::hint::black_box;
use std::io::{self, Write as _};
use std::process::ExitCode;
use std::time::Instant;

/// The ring size of the NOP benchmark.
pub const ENTRIES: u32 = 256;

/// Queues and reaps `total` NOPs in batches of `batch` with `uring`; returns
/// the sum of the `user_data` values reaped, so that no work can be skipped.
pub fn run_uring(ring: &mut uring::Ring, total: u64, batch: u32) -> uring::Result<u64> {
    let mut queued = 0u64;
    let mut sum = 0u64;
    while queued < total {
        let n = batch.min((total - queued) as u32);
        let mut sq = ring.submission();
        for i in 0..u64::from(n) {
            sq.push(uring::ops::Nop::new().user_data(queued + i))
                .map_err(crate::queue_full)?;
        }
        drop(sq);
        queued += u64::from(n);
        ring.submit_and_wait(n)?;
        for cqe in ring.completions() {
            sum = sum.wrapping_add(black_box(cqe.user_data()));
        }
    }
    Ok(sum)
}

/// [`run_uring`] with the completions read by `Iterator::for_each`.
pub fn run_uring_for_each(ring: &mut uring::Ring, total: u64, batch: u32) -> uring::Result<u64> {
    let mut queued = 0u64;
    let mut sum = 0u64;
    while queued < total {
        let n = batch.min((total - queued) as u32);
        let mut sq = ring.submission();
        for i in 0..u64::from(n) {
            sq.push(uring::ops::Nop::new().user_data(queued + i))
                .map_err(crate::queue_full)?;
        }
        drop(sq);
        queued += u64::from(n);
        ring.submit_and_wait(n)?;
        ring.completions()
            .for_each(|cqe| sum = sum.wrapping_add(black_box(cqe.user_data())));
    }
    Ok(sum)
}

/// The same loop inside one [`Ring::scope`](uring::Ring::scope): what the
/// safe surface for borrowed buffers costs per op.
pub fn run_uring_scope(ring: &mut uring::Ring, total: u64, batch: u32) -> uring::Result<u64> {
    ring.scope(|s| {
        let mut queued = 0u64;
        let mut sum = 0u64;
        while queued < total {
            let n = batch.min((total - queued) as u32);
            let mut sq = s.submission();
            for i in 0..u64::from(n) {
                sq.push(uring::ops::Nop::new().user_data(queued + i))
                    .map_err(crate::queue_full)?;
            }
            drop(sq);
            queued += u64::from(n);
            s.submit_and_wait(n)?;
            for cqe in s.completions() {
                sum = sum.wrapping_add(black_box(cqe.user_data()));
            }
        }
        Ok(sum)
    })
}

/// [`run_uring_scope`] with the completions read by `Iterator::for_each`,
/// which a scope's iterator runs without an `Option` per completion.
pub fn run_uring_scope_for_each(
    ring: &mut uring::Ring,
    total: u64,
    batch: u32,
) -> uring::Result<u64> {
    ring.scope(|s| {
        let mut queued = 0u64;
        let mut sum = 0u64;
        while queued < total {
            let n = batch.min((total - queued) as u32);
            let mut sq = s.submission();
            for i in 0..u64::from(n) {
                sq.push(uring::ops::Nop::new().user_data(queued + i))
                    .map_err(crate::queue_full)?;
            }
            drop(sq);
            queued += u64::from(n);
            s.submit_and_wait(n)?;
            s.completions()
                .for_each(|cqe| sum = sum.wrapping_add(black_box(cqe.user_data())));
        }
        Ok(sum)
    })
}

/// The same loop with the `io-uring` crate.
pub fn run_io_uring(ring: &mut io_uring::IoUring, total: u64, batch: u32) -> io::Result<u64> {
    let mut queued = 0u64;
    let mut sum = 0u64;
    while queued < total {
        let n = batch.min((total - queued) as u32);
        {
            let mut sq = ring.submission();
            for i in 0..u64::from(n) {
                let entry = io_uring::opcode::Nop::new().build().user_data(queued + i);
                // SAFETY: a NOP points to no memory.
                unsafe { sq.push(&entry) }
                    .map_err(|_| io::Error::other("submission queue full"))?;
            }
        }
        queued += u64::from(n);
        ring.submit_and_wait(n as usize)?;
        for cqe in ring.completion() {
            sum = sum.wrapping_add(black_box(cqe.user_data()));
        }
    }
    Ok(sum)
}

/// [`run_io_uring`] with the completions read by `Iterator::for_each`.
pub fn run_io_uring_for_each(
    ring: &mut io_uring::IoUring,
    total: u64,
    batch: u32,
) -> io::Result<u64> {
    let mut queued = 0u64;
    let mut sum = 0u64;
    while queued < total {
        let n = batch.min((total - queued) as u32);
        {
            let mut sq = ring.submission();
            for i in 0..u64::from(n) {
                let entry = io_uring::opcode::Nop::new().build().user_data(queued + i);
                // SAFETY: a NOP points to no memory.
                unsafe { sq.push(&entry) }
                    .map_err(|_| io::Error::other("submission queue full"))?;
            }
        }
        queued += u64::from(n);
        ring.submit_and_wait(n as usize)?;
        ring.completion()
            .for_each(|cqe| sum = sum.wrapping_add(black_box(cqe.user_data())));
    }
    Ok(sum)
}

/// The whole of a NOP driver: parses `TOTAL BATCH`, sets a ring up, times
/// `run` on it, checks that every completion came back once (the sum of the
/// `user_data` values), and prints `ops=N secs=S mops=M`.
pub fn drive<R, E: std::fmt::Display>(
    name: &str,
    setup: impl FnOnce() -> Result<R, E>,
    run: impl FnOnce(&mut R, u64, u32) -> Result<u64, E>,
) -> ExitCode {
    let (total, batch) = match args(name) {
        Ok(args) => args,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    let timed = || -> Result<(u64, f64), E> {
        let mut ring = setup()?;
        let start = Instant::now();
        let sum = run(&mut ring, total, batch)?;
        Ok((sum, start.elapsed().as_secs_f64()))
    };
    match timed() {
        Ok((sum, secs)) if sum == expected_sum(total) => match report(total, secs) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{name}: stdout: {e}");
                ExitCode::FAILURE
            }
        },
        Ok((sum, _)) => {
            eprintln!("{name}: the user_data sum is {sum}: a completion was lost or repeated");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The sum of the `user_data` values `0..total`, wrapped to 64 bits as the
/// drivers sum them (`wrapping_add`).
pub fn expected_sum(total: u64) -> u64 {
    let n = u128::from(total);
    // At most (2^64 - 1)^2 / 2: no overflow in 128 bits.
    (n * n.saturating_sub(1) / 2) as u64
}

/// Parses `TOTAL BATCH` from the command line of driver `name`; the usage
/// if it is bad (an argument that is not a number, UTF-8 or not, or one
/// too many).
pub fn args(name: &str) -> Result<(u64, u32), String> {
    let usage = || format!("usage: {name} TOTAL BATCH   (BATCH between 1 and {ENTRIES})");
    let mut args = std::env::args_os().skip(1);
    let mut number = || -> Option<u64> { args.next()?.to_str()?.parse().ok() };
    let total = number().ok_or_else(usage)?;
    let batch = number().and_then(|b| u32::try_from(b).ok());
    let batch = batch.ok_or_else(usage)?;
    if !(1..=ENTRIES).contains(&batch) || args.next().is_some() {
        return Err(usage());
    }
    Ok((total, batch))
}

/// Prints the one result line of a NOP run; an error if stdout takes no
/// line (a closed pipe).
pub fn report(total: u64, secs: f64) -> io::Result<()> {
    let mops = if secs > 0.0 {
        total as f64 / secs / 1e6
    } else {
        0.0
    };
    let mut out = io::stdout().lock();
    writeln!(out, "ops={total} secs={secs:.6} mops={mops:.3}")?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::expected_sum;

    #[test]
    fn the_expected_sum_wraps_as_the_drivers_sum() {
        for total in [0u64, 1, 2, 7, 1000] {
            assert_eq!(
                expected_sum(total),
                (0..total).fold(0u64, u64::wrapping_add)
            );
        }
        // Past the point where total * (total - 1) overflows 64 bits, each
        // step still adds the next user_data, wrapped.
        for total in [1u64 << 32, (1 << 33) + 5, u64::MAX - 1] {
            assert_eq!(
                expected_sum(total + 1),
                expected_sum(total).wrapping_add(total)
            );
        }
    }
}
