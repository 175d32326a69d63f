//! The loop of [`randread`](crate::randread) over the `io-uring` crate, the
//! baseline it is measured against: the same registered file and buffers,
//! the same blocks, and the same shape (`split()`, each completion
//! answered with a read at once, one `submit_and_wait(1)` per round).

use crate::measure::{Region, Rng};
use crate::randread::{Budget, Config, Input, Outcome, Result, measure};
use io_uring::{IoUring, opcode, squeue, types};
use std::error::Error as StdError;
use std::fs::File;
use std::os::fd::AsRawFd;

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
/// `io-uring` crate, from the command line.
pub fn run(cfg: &Config, input: &Input) -> Result<Outcome> {
    let mut reader = IoUringReader::new(&input.file, cfg.in_flight(), cfg.bs, input.blocks)?;
    measure(cfg, |rng, budget| reader.run(rng, budget))
}

/// The loop over the `io-uring` crate, set up: a ring with the file and
/// `qd` blocks of one region registered.
pub struct IoUringReader {
    /// Dropped first: closing the ring ends the registrations.
    ring: IoUring,
    qd: u32,
    bs: u32,
    blocks: u64,
    /// Reads a failed wait left in flight: their memory is never freed.
    stranded: bool,
    region: Option<Region>,
}

impl IoUringReader {
    /// A ring with `file` (of `blocks` blocks of `bs` bytes) and `qd`
    /// buffers registered.
    pub fn new(file: &File, qd: u32, bs: u32, blocks: u64) -> Result<IoUringReader> {
        if qd == 0 || bs == 0 || blocks == 0 {
            return Err("a reader needs a queue depth, a block size and a block".into());
        }
        if qd > u32::from(u16::MAX) {
            return Err("the io-uring crate names at most 65535 registered buffers".into());
        }
        let region = Region::new(qd as usize * bs as usize)?;
        let ring = IoUring::new(qd.next_power_of_two())?;
        ring.submitter().register_files(&[file.as_raw_fd()])?;
        let iovecs: Vec<libc::iovec> = (0..qd as usize)
            .map(|i| region.iovec(i * bs as usize, bs as usize))
            .collect();
        // SAFETY: the region is freed only after the ring is closed (the
        // field order of `IoUringReader`), or never when reads are stranded
        // in flight; a block is written only by the read in flight into it.
        unsafe { ring.submitter().register_buffers(&iovecs) }?;
        Ok(IoUringReader {
            ring,
            qd,
            bs,
            blocks,
            stranded: false,
            region: Some(region),
        })
    }

    /// Reads random blocks, `qd` in flight, until `budget` is spent and
    /// every read has completed; returns how many completed.
    pub fn run(&mut self, rng: &mut Rng, budget: &mut Budget) -> Result<u64> {
        self.run_with(rng, budget)
    }

    /// The loop, compiled on its own (for every reader alike) so that it
    /// gets the registers to itself, with the generator and the budget
    /// copied into locals rather than behind references.
    #[inline(never)]
    fn run_with(&mut self, rng: &mut Rng, budget: &mut Budget) -> Result<u64> {
        let (mut generator, mut left) = (*rng, *budget);
        let done = self.reads(&mut generator, &mut left);
        (*rng, *budget) = (generator, left);
        done
    }

    #[inline(always)]
    fn reads(&mut self, rng: &mut Rng, budget: &mut Budget) -> Result<u64> {
        let (qd, bs, blocks) = (self.qd, self.bs, self.blocks);
        let (Some(region), false) = (&self.region, self.stranded) else {
            return Err("reads of an earlier run are stranded in flight".into());
        };
        let base = region.as_ptr();
        let mut in_flight = 0u32;
        let mut done = 0u64;
        let mut failure: Option<Box<dyn StdError>> = None;
        let (submitter, mut sq, mut cq) = self.ring.split();
        for slot in 0..qd {
            if !budget.take() {
                break;
            }
            let offset = rng.block(blocks, bs);
            // SAFETY: block `slot` is free: no read is in flight.
            match unsafe { push_read(&mut sq, base, slot, bs, offset) } {
                Ok(()) => in_flight += 1,
                Err(e) => {
                    failure = Some(e);
                    budget.end();
                }
            }
        }
        while in_flight > 0 {
            // Publishes the reads pushed since the last round.
            sq.sync();
            if let Err(e) = submitter.submit_and_wait(1) {
                // Reads may still be in flight: their memory must stay.
                self.stranded = true;
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
                    let offset = rng.block(blocks, bs);
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
        cq.sync();
        match failure {
            Some(e) => Err(e),
            None => Ok(done),
        }
    }
}

impl Drop for IoUringReader {
    fn drop(&mut self) {
        if self.stranded {
            // The kernel may still write into the buffers.
            std::mem::forget(self.region.take());
        }
    }
}

impl std::fmt::Debug for IoUringReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IoUringReader")
            .field("qd", &self.qd)
            .field("bs", &self.bs)
            .finish_non_exhaustive()
    }
}
