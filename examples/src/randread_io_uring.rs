//! The loop of [`randread`](crate::randread) over the `io-uring` crate, the
//! baseline it is measured against: the same registered file and buffers,
//! the same blocks, and the same shape (`split()`, each completion
//! answered with a read at once, one `submit_and_wait(1)` per round).

use crate::measure::{CpuTime, Region, Rng};
use crate::randread::{Budget, Config, Input, Outcome, Result};
use io_uring::{IoUring, opcode, squeue, types};
use std::error::Error as StdError;
use std::os::fd::AsRawFd;
use std::time::Instant;

/// Queues the read of the block at `offset` into block `slot` of `base`.
///
/// # Safety
///
/// As for `randread::push_read`: the block is registered as buffer `slot`
/// and stays allocated and untouched until the read's completion.
#[inline(always)]
unsafe fn push_read(
    sq: &mut io_uring::SubmissionQueue<'_>,
    base: *mut u8,
    slot: u32,
    bs: u32,
    offset: u64,
) -> Result<()> {
    // SAFETY: block `slot` lies inside the region of qd blocks.
    let block = unsafe { base.add(slot as usize * bs as usize) };
    let read = opcode::ReadFixed::new(types::Fixed(0), block, bs, slot as u16)
        .offset(offset)
        .build()
        .user_data(u64::from(slot));
    // SAFETY: the caller keeps the block alive and untouched until the
    // read completes; file 0 and buffer `slot` are registered.
    unsafe { sq.push(&read) }.map_err(|_: squeue::PushError| "submission queue full".into())
}

/// The loop of [`randread::run_raw`](crate::randread::run_raw) over the
/// `io-uring` crate.
pub fn run(cfg: &Config, input: &Input) -> Result<Outcome> {
    let (qd, bs) = (cfg.qd, cfg.bs);
    if qd > u32::from(u16::MAX) {
        return Err("the io-uring crate names at most 65535 registered buffers".into());
    }
    // Declared before the ring: dropped after it.
    let region = Region::new(qd as usize * bs as usize)?;
    let mut ring = IoUring::new(cfg.entries())?;
    ring.submitter().register_files(&[input.file.as_raw_fd()])?;
    let iovecs: Vec<libc::iovec> = (0..qd as usize)
        .map(|i| region.iovec(i * bs as usize, bs as usize))
        .collect();
    // SAFETY: the region outlives the ring (declared before it); a block is
    // written only by the read in flight into it, and every return below
    // follows the last completion or leaks the region.
    unsafe { ring.submitter().register_buffers(&iovecs) }?;
    let base = region.as_ptr();
    let mut rng = Rng::new(cfg.seed);
    let mut budget = Budget::new(cfg);
    let (start, cpu) = (Instant::now(), CpuTime::now());
    let mut in_flight = 0u32;
    let mut done = 0u64;
    let mut failure: Option<Box<dyn StdError>> = None;
    let (submitter, mut sq, mut cq) = ring.split();
    for slot in 0..qd {
        if !budget.take() {
            break;
        }
        let offset = rng.block(input.blocks, bs);
        // SAFETY: block `slot` is free: nothing was pushed into it yet.
        unsafe { push_read(&mut sq, base, slot, bs, offset) }?;
        in_flight += 1;
    }
    while in_flight > 0 {
        // Publishes the reads pushed since the last round.
        sq.sync();
        if let Err(e) = submitter.submit_and_wait(1) {
            // Reads may still be in flight: their memory must stay.
            std::mem::forget(region);
            return Err(e.into());
        }
        // The head, for the pushes below; the tail, for the completions.
        sq.sync();
        cq.sync();
        for cqe in &mut cq {
            in_flight -= 1;
            done += 1;
            if cqe.result() != bs as i32 {
                failure.get_or_insert_with(|| {
                    format!("a read returned {} instead of {bs}", cqe.result()).into()
                });
                budget.end();
                continue;
            }
            if budget.take() {
                let slot = cqe.user_data() as u32;
                let offset = rng.block(input.blocks, bs);
                // SAFETY: the read into block `slot` has just completed.
                match unsafe { push_read(&mut sq, base, slot, bs, offset) } {
                    Ok(()) => in_flight += 1,
                    Err(e) => {
                        failure.get_or_insert(e);
                        budget.end();
                    }
                }
            }
        }
        budget.tick(done);
    }
    let outcome = Outcome {
        ios: done,
        secs: start.elapsed().as_secs_f64(),
        cpu: CpuTime::now().since(cpu),
    };
    match failure {
        Some(e) => Err(e),
        None => Ok(outcome),
    }
}
