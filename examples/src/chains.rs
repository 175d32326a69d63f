//! Linked chains, for the criterion benches: NOP -> NOP pairs, and the
//! read of a block of a page-cached file linked to the write of the same
//! buffer to another file. Each loop exists over `uring` and over the
//! `io-uring` crate, written the same way: a batch of chains pushed, one
//! `submit_and_wait` for all their completions, one pass over them.

use crate::measure::Region;
use crate::queue_full;
use std::error::Error as StdError;
use std::fs::File;
use std::hint::black_box;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use uring::ops::{Nop, Read};
use uring::{FixedFiles, Ring};

/// The errors of a run.
pub type Result<T> = std::result::Result<T, Box<dyn StdError>>;

/// Queues and reaps `pairs` NOP -> NOP chains, `batch` chains at a time;
/// returns the sum of the `user_data` values reaped (NOP `i` of the run
/// carries `i`), so that no work can be skipped.
pub fn nop_pairs_uring(ring: &mut Ring, pairs: u64, batch: u32) -> uring::Result<u64> {
    let mut queued = 0u64;
    let mut sum = 0u64;
    while queued < pairs {
        let n = batch.min((pairs - queued) as u32);
        let mut sq = ring.submission();
        for i in queued..queued + u64::from(n) {
            let chain = Nop::new()
                .user_data(2 * i)
                .link(Nop::new().user_data(2 * i + 1));
            sq.push(chain).map_err(queue_full)?;
        }
        drop(sq);
        queued += u64::from(n);
        ring.submit_and_wait(2 * n)?;
        for cqe in ring.completions() {
            sum = sum.wrapping_add(black_box(cqe.user_data()));
        }
    }
    Ok(sum)
}

/// [`nop_pairs_uring`] inside one [`Ring::scope`].
pub fn nop_pairs_scope(ring: &mut Ring, pairs: u64, batch: u32) -> uring::Result<u64> {
    ring.scope(|s| {
        let mut queued = 0u64;
        let mut sum = 0u64;
        while queued < pairs {
            let n = batch.min((pairs - queued) as u32);
            let mut sq = s.submission();
            for i in queued..queued + u64::from(n) {
                let chain = Nop::new()
                    .user_data(2 * i)
                    .link(Nop::new().user_data(2 * i + 1));
                sq.push(chain).map_err(queue_full)?;
            }
            drop(sq);
            queued += u64::from(n);
            s.submit_and_wait(2 * n)?;
            for cqe in s.completions() {
                sum = sum.wrapping_add(black_box(cqe.user_data()));
            }
        }
        Ok(sum)
    })
}

/// [`nop_pairs_uring`] over the `io-uring` crate: the pair pushed all or
/// nothing with `push_multiple`, the first entry flagged `IO_LINK`.
pub fn nop_pairs_io_uring(ring: &mut io_uring::IoUring, pairs: u64, batch: u32) -> io::Result<u64> {
    use io_uring::{opcode, squeue::Flags};
    let mut queued = 0u64;
    let mut sum = 0u64;
    while queued < pairs {
        let n = batch.min((pairs - queued) as u32);
        {
            let mut sq = ring.submission();
            for i in queued..queued + u64::from(n) {
                let pair = [
                    opcode::Nop::new()
                        .build()
                        .flags(Flags::IO_LINK)
                        .user_data(2 * i),
                    opcode::Nop::new().build().user_data(2 * i + 1),
                ];
                // SAFETY: a NOP points to no memory.
                unsafe { sq.push_multiple(&pair) }
                    .map_err(|_| io::Error::other("submission queue full"))?;
            }
        }
        queued += u64::from(n);
        ring.submit_and_wait(2 * n as usize)?;
        for cqe in ring.completion() {
            sum = sum.wrapping_add(black_box(cqe.user_data()));
        }
    }
    Ok(sum)
}

/// The sum [`nop_pairs_uring`] and its twins return for `pairs` chains.
pub fn nop_pairs_sum(pairs: u64) -> u64 {
    let nops = 2 * pairs;
    nops * nops.saturating_sub(1) / 2
}

/// Read -> write chains over `uring`, set up: a ring with a source and a
/// destination file registered, and `batch` buffers of `bs` bytes. Chain
/// `i` of a batch reads block `i` of the source into buffer `i` and,
/// linked, writes it at the same offset of the destination.
pub struct CopyChains {
    /// Dropped before the region: nothing is in flight between runs.
    ring: Ring,
    files: FixedFiles,
    region: Region,
    batch: u32,
    bs: u32,
}

impl CopyChains {
    /// A ring for `batch` chains of `bs` bytes from `src` to `dst`; `src`
    /// must hold `batch` blocks.
    pub fn new(src: &File, dst: &File, batch: u32, bs: u32) -> Result<CopyChains> {
        let region = Region::new(batch as usize * bs as usize)?;
        let mut ring = Ring::new((2 * batch).next_power_of_two())?;
        let files = ring.register_files(&[src.as_fd(), dst.as_fd()])?;
        Ok(CopyChains {
            ring,
            files,
            region,
            batch,
            bs,
        })
    }

    /// Runs `rounds` batches of chains; returns the bytes copied.
    pub fn run(&mut self, rounds: u64) -> Result<u64> {
        let (batch, bs) = (self.batch, self.bs as usize);
        let (src, dst) = (self.files.get(0)?, self.files.get(1)?);
        let base = self.region.as_ptr();
        let mut copied = 0u64;
        for _ in 0..rounds {
            let mut sq = self.ring.submission();
            for i in 0..batch as usize {
                // SAFETY: buffer `i` of the region, which outlives the
                // chain: every chain of the batch completes before the next
                // batch or the end of `run`, and nothing else refers to it
                // meanwhile.
                let into = unsafe { std::slice::from_raw_parts_mut(base.add(i * bs), bs) };
                let offset = (i * bs) as u64;
                // The write sends the read's own buffer (`then_write`), once
                // the read has filled it.
                let chain = Read::new(src, into)
                    .offset(offset)
                    .user_data(2 * i as u64)
                    .then_write_with(dst, |w| w.offset(offset).user_data(2 * i as u64 + 1));
                // SAFETY: as above; both files are registered with the ring.
                unsafe { sq.push_unchecked(chain) }.map_err(queue_full)?;
            }
            drop(sq);
            let want = 2 * batch;
            self.ring.submit_and_wait(want)?;
            let mut seen = 0;
            for cqe in self.ring.completions() {
                seen += 1;
                if cqe.res() != bs as i32 {
                    return Err(format!("a chain's op returned {}", cqe.res()).into());
                }
                copied += (cqe.user_data() & 1) * bs as u64;
            }
            if seen != want {
                return Err(format!("{seen} completions of {want}").into());
            }
        }
        Ok(copied)
    }
}

impl std::fmt::Debug for CopyChains {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyChains")
            .field("batch", &self.batch)
            .field("bs", &self.bs)
            .finish_non_exhaustive()
    }
}

/// [`CopyChains`] over the `io-uring` crate.
pub struct IoUringCopyChains {
    /// Dropped before the region: nothing is in flight between runs.
    ring: io_uring::IoUring,
    region: Region,
    batch: u32,
    bs: u32,
}

impl IoUringCopyChains {
    /// As [`CopyChains::new`].
    pub fn new(src: &File, dst: &File, batch: u32, bs: u32) -> Result<IoUringCopyChains> {
        let region = Region::new(batch as usize * bs as usize)?;
        let ring = io_uring::IoUring::new((2 * batch).next_power_of_two())?;
        ring.submitter()
            .register_files(&[src.as_raw_fd(), dst.as_raw_fd()])?;
        Ok(IoUringCopyChains {
            ring,
            region,
            batch,
            bs,
        })
    }

    /// As [`CopyChains::run`].
    pub fn run(&mut self, rounds: u64) -> Result<u64> {
        use io_uring::{opcode, squeue::Flags, types::Fixed};
        let (batch, bs) = (self.batch, self.bs);
        let base = self.region.as_ptr();
        let mut copied = 0u64;
        for _ in 0..rounds {
            {
                let mut sq = self.ring.submission();
                for i in 0..batch as usize {
                    // SAFETY: buffer `i` lies inside the region.
                    let p = unsafe { base.add(i * bs as usize) };
                    let offset = u64::from(bs) * i as u64;
                    let chain = [
                        opcode::Read::new(Fixed(0), p, bs)
                            .offset(offset)
                            .build()
                            .flags(Flags::IO_LINK)
                            .user_data(2 * i as u64),
                        opcode::Write::new(Fixed(1), p, bs)
                            .offset(offset)
                            .build()
                            .user_data(2 * i as u64 + 1),
                    ];
                    // SAFETY: the buffer outlives the chain (every chain
                    // completes before the next batch or the end of `run`)
                    // and is not touched by Rust meanwhile.
                    unsafe { sq.push_multiple(&chain) }
                        .map_err(|_| io::Error::other("submission queue full"))?;
                }
            }
            let want = 2 * batch as usize;
            self.ring.submit_and_wait(want)?;
            let mut seen = 0;
            for cqe in self.ring.completion() {
                seen += 1;
                if cqe.result() != bs as i32 {
                    return Err(format!("a chain's op returned {}", cqe.result()).into());
                }
                copied += (cqe.user_data() & 1) * u64::from(bs);
            }
            if seen != want {
                return Err(format!("{seen} completions of {want}").into());
            }
        }
        Ok(copied)
    }
}

impl std::fmt::Debug for IoUringCopyChains {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IoUringCopyChains")
            .field("batch", &self.batch)
            .field("bs", &self.bs)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read as _, Seek, Write as _};

    #[test]
    fn every_nop_of_every_pair_completes_once() {
        let mut ring = Ring::new(64).unwrap();
        let mut theirs = io_uring::IoUring::new(64).unwrap();
        for (pairs, batch) in [(1, 1), (100, 7), (1000, 32)] {
            let want = nop_pairs_sum(pairs);
            assert_eq!(nop_pairs_uring(&mut ring, pairs, batch).unwrap(), want);
            assert_eq!(nop_pairs_scope(&mut ring, pairs, batch).unwrap(), want);
            assert_eq!(nop_pairs_io_uring(&mut theirs, pairs, batch).unwrap(), want);
        }
    }

    #[test]
    fn copy_chains_copy_the_blocks() {
        let (batch, bs) = (8u32, 4096u32);
        let data: Vec<u8> = (0..batch * bs).map(|i| (i % 253) as u8).collect();
        let mut src = tempfile::tempfile().unwrap();
        src.write_all(&data).unwrap();
        for uring_side in [true, false] {
            let mut dst = tempfile::tempfile().unwrap();
            let copied = if uring_side {
                CopyChains::new(&src, &dst, batch, bs)
                    .unwrap()
                    .run(3)
                    .unwrap()
            } else {
                IoUringCopyChains::new(&src, &dst, batch, bs)
                    .unwrap()
                    .run(3)
                    .unwrap()
            };
            assert_eq!(copied, 3 * u64::from(batch * bs));
            let mut got = Vec::new();
            dst.rewind().unwrap();
            dst.read_to_end(&mut got).unwrap();
            assert!(got == data, "uring side: {uring_side}");
        }
    }
}
