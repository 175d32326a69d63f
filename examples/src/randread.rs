//! Random reads of one block each from a file, `qd` of them in flight,
//! through a registered file and registered buffers (`READ_FIXED`): the
//! I/O loop that `examples/io-compare.sh` measures against the same loop
//! in C over liburing (`examples/bench/randread.c`), over the `io-uring`
//! crate, and against fio.
//!
//! Every variant is written the same way: `qd` reads queued; then, until
//! the budget is spent, one `submit_and_wait(1)`, and for each completion
//! the read of the next random block into the buffer it freed. The blocks
//! come from the same generator ([`Rng`]) in the same order everywhere.

use crate::measure::{CpuTime, Region, Rng};
use crate::{Args, queue_full, unpushed};
use std::error::Error as StdError;
use std::fs::File;
use std::io::{IoSliceMut, Write as _};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use uring::ops::ReadFixed;
use uring::{FixedBuf, FixedFiles, IntoTarget, Ring, SubmissionQueue};

/// The command line of `randread`.
pub const USAGE: &str = "\
usage: randread FILE [--qd N] [--bs BYTES] [--secs S] [--ios N] [--seed N] [--mode raw|scope]
  reads random blocks of BYTES (default 4096) from FILE, N (default 32) in
  flight, for S seconds (default 10) or N reads (--ios), whichever ends first;
  --mode raw pushes with push_unchecked, --mode scope in a Ring::scope";

/// The command line of `randread_io_uring`, which has no `--mode`.
pub const IO_URING_USAGE: &str = "\
usage: randread_io_uring FILE [--qd N] [--bs BYTES] [--secs S] [--ios N] [--seed N]
  reads random blocks of BYTES (default 4096) from FILE, N (default 32) in
  flight, for S seconds (default 10) or N reads (--ios), whichever ends first,
  over the io-uring crate";

/// The name and the command line of the driver: `randread` with its
/// `--mode`, `randread_io_uring` without.
fn program(with_mode: bool) -> (&'static str, &'static str) {
    if with_mode {
        ("randread", USAGE)
    } else {
        ("randread_io_uring", IO_URING_USAGE)
    }
}

/// The largest queue depth.
pub const MAX_QD: u32 = 4096;
/// The largest block.
pub const MAX_BS: u32 = 1 << 20;

/// Which surface of `uring` pushes the reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `unsafe` [`SubmissionQueue::push_unchecked`] over buffers the loop
    /// owns.
    Raw,
    /// [`Scope::push_owned`](uring::Scope::push_owned): each buffer is
    /// given to the scope with its read and comes back with the completion.
    Scope,
}

/// A parsed command line.
#[derive(Debug)]
pub struct Config {
    /// The file to read.
    pub path: PathBuf,
    /// Reads in flight.
    pub qd: u32,
    /// Bytes per read.
    pub bs: u32,
    /// How long to issue reads.
    pub secs: f64,
    /// How many reads to issue at most.
    pub ios: u64,
    /// The generator's seed.
    pub seed: u64,
    /// The surface.
    pub mode: Mode,
}

impl Config {
    /// Parses the process's arguments; `--mode` is accepted only
    /// `with_mode`.
    pub fn from_env(with_mode: bool) -> std::result::Result<Config, String> {
        let mut known = vec!["qd", "bs", "secs", "ios", "seed"];
        if with_mode {
            known.push("mode");
        }
        let args = Args::from_env(program(with_mode).1, &known)?;
        let path = PathBuf::from(&args.positional(1)?[0]);
        let mode = match args.choice("mode", &["raw", "scope"])? {
            "scope" => Mode::Scope,
            _ => Mode::Raw,
        };
        let secs: f64 = args.number("secs", 10.0, 0.001..=86_400.0)?;
        if !secs.is_finite() {
            return Err(args.error("--secs must be a finite number of seconds"));
        }
        Ok(Config {
            path,
            qd: args.number("qd", 32, 1..=MAX_QD)?,
            bs: args.number("bs", 4096, 1..=MAX_BS)?,
            secs,
            ios: args.number("ios", u64::MAX, 1..=u64::MAX)?,
            seed: args.number("seed", 1, 0..=u64::MAX)?,
            mode,
        })
    }

    /// The reads in flight at most: the queue depth, or `--ios` if fewer,
    /// so that no buffer is set up (and pinned by its registration) that
    /// no read would use.
    pub fn in_flight(&self) -> u32 {
        u32::try_from(self.ios).map_or(self.qd, |ios| self.qd.min(ios))
    }

    /// The SQ size: the queue depth, rounded up to a power of two.
    pub fn entries(&self) -> u32 {
        self.qd.next_power_of_two()
    }
}

/// The file to read, opened and checked.
#[derive(Debug)]
pub struct Input {
    /// The file.
    pub file: File,
    /// Whole blocks of `bs` bytes in it: the reads' offsets are drawn among
    /// them.
    pub blocks: u64,
}

impl Input {
    /// Opens `cfg.path`: a regular file of at least one block. What is
    /// not a regular file is refused before it is opened (opening a FIFO
    /// waits for a writer).
    pub fn open(cfg: &Config) -> std::result::Result<Input, String> {
        let name = cfg.path.display();
        let meta = std::fs::metadata(&cfg.path).map_err(|e| format!("{name}: {e}"))?;
        if !meta.is_file() {
            return Err(format!("{name}: not a regular file"));
        }
        // Checked again on what was opened: the path may have changed since.
        let file = File::open(&cfg.path).map_err(|e| format!("{name}: {e}"))?;
        let meta = file.metadata().map_err(|e| format!("{name}: {e}"))?;
        if !meta.is_file() {
            return Err(format!("{name}: not a regular file"));
        }
        let blocks = meta.len() / u64::from(cfg.bs);
        if blocks == 0 {
            return Err(format!(
                "{name}: {} bytes, smaller than one block of {}",
                meta.len(),
                cfg.bs
            ));
        }
        Ok(Input { file, blocks })
    }
}

/// What a run did.
#[derive(Clone, Copy, Debug)]
pub struct Outcome {
    /// Reads completed.
    pub ios: u64,
    /// Wall time from the first push to the last completion.
    pub secs: f64,
    /// CPU time of the process over the same span.
    pub cpu: CpuTime,
}

/// The errors of a run.
pub type Result<T> = std::result::Result<T, Box<dyn StdError>>;

/// When to stop issuing reads: after `ios` of them, or once `secs` have
/// passed. The clock is read every 256 completions, not at each one.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    left: u64,
    deadline: Option<Instant>,
    check_at: u64,
}

impl Budget {
    /// The budget of `cfg`, from now on.
    pub fn new(cfg: &Config) -> Budget {
        Budget {
            left: cfg.ios,
            deadline: Some(Instant::now() + Duration::from_secs_f64(cfg.secs)),
            check_at: 256,
        }
    }

    /// A budget of `ios` reads, however long they take.
    pub fn reads(ios: u64) -> Budget {
        Budget {
            left: ios,
            deadline: None,
            check_at: u64::MAX,
        }
    }

    /// Takes one read from the budget: `false` once none is left.
    #[inline(always)]
    pub fn take(&mut self) -> bool {
        if self.left == 0 {
            return false;
        }
        self.left -= 1;
        true
    }

    /// Issues no more reads.
    #[inline]
    pub fn end(&mut self) {
        self.left = 0;
    }

    /// After `done` completions: ends the budget once time is up.
    #[inline(always)]
    pub fn tick(&mut self, done: u64) {
        if done >= self.check_at {
            self.check_at = done + 256;
            if self.deadline.is_some_and(|d| Instant::now() >= d) {
                self.left = 0;
            }
        }
    }
}

/// A read that did not return a whole block.
fn short_read(res: i32, bs: u32) -> Box<dyn StdError> {
    if res < 0 {
        format!("a read failed: {}", std::io::Error::from_raw_os_error(-res)).into()
    } else {
        format!("a read returned {res} bytes instead of {bs}").into()
    }
}

/// Runs `run` with the generator and the budget of `cfg`, and measures it.
pub fn measure(
    cfg: &Config,
    run: impl FnOnce(&mut Rng, &mut Budget) -> Result<u64>,
) -> Result<Outcome> {
    let mut rng = Rng::new(cfg.seed);
    let mut budget = Budget::new(cfg);
    let (start, cpu) = (Instant::now(), CpuTime::now());
    let ios = run(&mut rng, &mut budget)?;
    Ok(Outcome {
        ios,
        secs: start.elapsed().as_secs_f64(),
        cpu: CpuTime::now().since(cpu),
    })
}

/// The loop over `uring`'s raw surface, from the command line.
pub fn run_raw(cfg: &Config, input: &Input) -> Result<Outcome> {
    let mut reader = RawReader::new(&input.file, cfg.in_flight(), cfg.bs, input.blocks)?;
    measure(cfg, |rng, budget| reader.run(rng, budget))
}

/// The loop inside a scope, from the command line.
pub fn run_scope(cfg: &Config, input: &Input) -> Result<Outcome> {
    let mut reader = ScopeReader::new(&input.file, cfg.in_flight(), cfg.bs, input.blocks)?;
    measure(cfg, |rng, budget| reader.run(rng, budget))
}

/// Queues the read of the block at `offset` into block `slot` of `base`,
/// registered as `buf`, with `slot` as its `user_data`.
///
/// # Safety
///
/// `base` must point to `(slot + 1) * bs` bytes registered with the ring as
/// `buf` for its block `slot`, which stay allocated, and which nothing else
/// reads or writes, until the read's completion has been reaped.
#[inline(always)]
unsafe fn push_read<T: IntoTarget + Copy>(
    sq: &mut SubmissionQueue<'_>,
    file: T,
    base: *mut u8,
    buf: FixedBuf,
    slot: u32,
    bs: u32,
    offset: u64,
) -> uring::Result<()> {
    // SAFETY: block `slot` of `base`, which the caller keeps for the read.
    let block = unsafe {
        std::slice::from_raw_parts_mut(base.add(slot as usize * bs as usize), bs as usize)
    };
    let read = ReadFixed::new(file, block, buf)
        .offset(offset)
        .user_data(u64::from(slot));
    // SAFETY: the caller keeps the block alive and untouched until the
    // read completes; the file is registered with this ring.
    unsafe { sq.push_unchecked(read) }.map_err(queue_full)
}

/// The loop over `uring`'s raw surface, set up: a ring with the file and
/// `qd` blocks of one region registered. Reads are pushed with
/// `push_unchecked` through `split()`, so that each completion is
/// answered with a read at once.
pub struct RawReader {
    /// Dropped first: closing the ring ends the registrations.
    ring: Ring,
    files: FixedFiles,
    bufs: Vec<FixedBuf>,
    qd: u32,
    bs: u32,
    blocks: u64,
    /// Reads a failed wait left in flight: their memory is never freed.
    stranded: bool,
    /// The buffers: `qd` blocks of `bs` bytes.
    region: Option<Region>,
}

impl RawReader {
    /// A ring with `file` (of `blocks` blocks of `bs` bytes) and `qd`
    /// buffers registered.
    pub fn new(file: &File, qd: u32, bs: u32, blocks: u64) -> Result<RawReader> {
        if qd == 0 || bs == 0 || blocks == 0 {
            return Err("a reader needs a queue depth, a block size and a block".into());
        }
        let region = Region::new(qd as usize * bs as usize)?;
        let mut ring = Ring::new(qd.next_power_of_two())?;
        let files = ring.register_files(&[file.as_fd()])?;
        let slices: Vec<IoSliceMut<'_>> = (0..qd as usize)
            .map(|i| {
                // SAFETY: block `i` lies inside the region (qd * bs bytes);
                // the slices live only for the registration call, and no
                // other reference to the region is alive meanwhile.
                IoSliceMut::new(unsafe {
                    std::slice::from_raw_parts_mut(
                        region.as_ptr().add(i * bs as usize),
                        bs as usize,
                    )
                })
            })
            .collect();
        // SAFETY: the region is freed only after the ring is closed (the
        // field order of `RawReader`), or never when reads are stranded in
        // flight; a block is written only by the read in flight into it.
        let registered = unsafe { ring.register_buffers(&slices) }?;
        let bufs = (0..qd)
            .map(|i| registered.get(i))
            .collect::<uring::Result<Vec<FixedBuf>>>()?;
        Ok(RawReader {
            ring,
            files,
            bufs,
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
        let file = self.files.get(0)?;
        let (ring, bufs) = (&mut self.ring, &self.bufs);
        let mut in_flight = 0u32;
        let mut done = 0u64;
        let mut failure: Option<Box<dyn StdError>> = None;
        {
            let mut sq = ring.submission();
            for slot in 0..qd {
                if !budget.take() {
                    break;
                }
                let offset = rng.block(blocks, bs);
                // SAFETY: block `slot` is free: no read is in flight.
                match unsafe {
                    push_read(&mut sq, file, base, bufs[slot as usize], slot, bs, offset)
                } {
                    Ok(()) => in_flight += 1,
                    Err(e) => {
                        failure = Some(e.into());
                        budget.end();
                    }
                }
            }
        }
        while in_flight > 0 {
            if let Err(e) = ring.submit_and_wait(1) {
                // Reads may still be in flight: their memory must stay.
                self.stranded = true;
                return Err(e.into());
            }
            let (mut sq, completions) = ring.split();
            for cqe in completions {
                in_flight -= 1;
                done += 1;
                if cqe.res() != bs as i32 {
                    failure.get_or_insert_with(|| short_read(cqe.res(), bs));
                    budget.end();
                    continue;
                }
                if budget.take() {
                    let slot = cqe.user_data() as u32;
                    let offset = rng.block(blocks, bs);
                    // SAFETY: the read into block `slot` has just completed.
                    match unsafe {
                        push_read(&mut sq, file, base, bufs[slot as usize], slot, bs, offset)
                    } {
                        Ok(()) => in_flight += 1,
                        Err(e) => {
                            failure.get_or_insert(e.into());
                            budget.end();
                        }
                    }
                }
            }
            budget.tick(done);
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(done),
        }
    }
}

impl Drop for RawReader {
    fn drop(&mut self) {
        if self.stranded {
            // The kernel may still write into the buffers.
            std::mem::forget(self.region.take());
        }
    }
}

impl std::fmt::Debug for RawReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawReader")
            .field("qd", &self.qd)
            .field("bs", &self.bs)
            .finish_non_exhaustive()
    }
}

/// A buffer of the scope loop: a vector with a page-aligned block inside.
#[derive(Debug)]
struct Owned {
    vec: Option<Vec<u8>>,
    /// Where the block starts in the vector.
    pad: usize,
}

/// The loop inside a [`Ring::scope`], set up: each read is pushed with
/// `push_owned`, its buffer given to the scope and handed back with the
/// completion. No `unsafe` but the registration of the buffers.
pub struct ScopeReader {
    /// Dropped first: closing the ring ends the registrations.
    ring: Ring,
    files: FixedFiles,
    bufs: Vec<FixedBuf>,
    owned: Vec<Owned>,
    bs: u32,
    blocks: u64,
}

impl ScopeReader {
    /// A ring with `file` (of `blocks` blocks of `bs` bytes) and `qd`
    /// buffers registered.
    pub fn new(file: &File, qd: u32, bs: u32, blocks: u64) -> Result<ScopeReader> {
        if qd == 0 || bs == 0 || blocks == 0 {
            return Err("a reader needs a queue depth, a block size and a block".into());
        }
        let block = bs as usize;
        let mut owned: Vec<Owned> = (0..qd)
            .map(|_| {
                let mut vec = vec![0u8; block + crate::measure::PAGE];
                let pad = vec.as_mut_ptr().align_offset(crate::measure::PAGE);
                Owned {
                    vec: Some(vec),
                    pad,
                }
            })
            .collect();
        let mut ring = Ring::new(qd.next_power_of_two())?;
        let files = ring.register_files(&[file.as_fd()])?;
        let slices: Vec<IoSliceMut<'_>> = owned
            .iter_mut()
            .filter_map(|o| {
                let pad = o.pad;
                o.vec
                    .as_mut()
                    .map(|vec| IoSliceMut::new(&mut vec[pad..pad + block]))
            })
            .collect();
        // SAFETY: the vectors' heap memory does not move (a vector given to
        // a scope and back keeps its allocation), is freed only after the
        // ring is closed (the field order of `ScopeReader`), and is written
        // only by the fixed reads pushed in `run`, each of which owns its
        // vector while in flight. `run` drains every read before it
        // returns; only if a wait fails does the scope drop vectors it
        // still holds, and then nothing is pushed to the ring again.
        let registered = unsafe { ring.register_buffers(&slices) }?;
        let bufs = (0..qd)
            .map(|i| registered.get(i))
            .collect::<uring::Result<Vec<FixedBuf>>>()?;
        Ok(ScopeReader {
            ring,
            files,
            bufs,
            owned,
            bs,
            blocks,
        })
    }

    /// Reads random blocks, `qd` in flight, in one scope, until `budget` is
    /// spent and every read has completed; returns how many completed.
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
        let (bs, blocks, block) = (self.bs, self.blocks, self.bs as usize);
        if self.owned.iter().any(|o| o.vec.is_none()) {
            return Err("buffers of an earlier run were not handed back".into());
        }
        let file = self.files.get(0)?;
        let (bufs, owned) = (&self.bufs, &mut self.owned);
        let mut done = 0u64;
        let mut failure: Option<Box<dyn StdError>> = None;
        self.ring.scope(|s| -> Result<()> {
            let push = owned_read(|sq, o, slot, offset| {
                let (pad, buf) = (o.pad, bufs[slot as usize]);
                let Some(vec) = o.vec.take() else {
                    return Err(format!("buffer {slot} is already in use").into());
                };
                let pushed = sq.push_owned(vec, |vec, sq| {
                    sq.push(
                        ReadFixed::new(file, &mut vec[pad..pad + block], buf)
                            .offset(offset)
                            .user_data(u64::from(slot)),
                    )
                });
                pushed.map_err(|full| -> Box<dyn StdError> {
                    let (e, vec) = unpushed(full);
                    o.vec = Some(vec);
                    e.into()
                })
            });
            {
                let mut sq = s.submission();
                for (slot, o) in owned.iter_mut().enumerate() {
                    if !budget.take() {
                        break;
                    }
                    if let Err(e) = push(&mut sq, o, slot as u32, rng.block(blocks, bs)) {
                        failure = Some(e);
                        budget.end();
                    }
                }
            }
            while s.in_flight() > 0 {
                s.submit_and_wait(1)?;
                // Each completion is answered at once, with its buffer.
                let (mut sq, completions) = s.split();
                for mut cqe in completions {
                    done += 1;
                    let slot = cqe.user_data() as u32;
                    let Some(o) = owned.get_mut(slot as usize) else {
                        failure.get_or_insert_with(|| {
                            format!("a completion for no buffer ({slot})").into()
                        });
                        continue;
                    };
                    o.vec = cqe.take_buf();
                    let res = cqe.res();
                    if res != bs as i32 {
                        failure.get_or_insert_with(|| short_read(res, bs));
                        budget.end();
                        continue;
                    }
                    if budget.take()
                        && let Err(e) = push(&mut sq, o, slot, rng.block(blocks, bs))
                    {
                        failure.get_or_insert(e);
                        budget.end();
                    }
                }
                budget.tick(done);
            }
            Ok(())
        })?;
        match failure {
            Some(e) => Err(e),
            None => Ok(done),
        }
    }
}

impl std::fmt::Debug for ScopeReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScopeReader")
            .field("qd", &self.owned.len())
            .field("bs", &self.bs)
            .finish_non_exhaustive()
    }
}

/// Prints the one result line of a run: what ran, the IOPS, and the CPU
/// time per read (user, system, both) in nanoseconds; an error if stdout
/// takes no line (a closed pipe).
pub fn report(engine: &str, cfg: &Config, o: &Outcome) -> std::io::Result<()> {
    let ios = o.ios.max(1) as f64;
    let ns = |d: Duration| d.as_secs_f64() * 1e9 / ios;
    let iops = if o.secs > 0.0 {
        o.ios as f64 / o.secs
    } else {
        0.0
    };
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "randread engine={engine} qd={} bs={} ios={} secs={:.3} iops={iops:.0} \
         usr_ns_per_io={:.0} sys_ns_per_io={:.0} cpu_ns_per_io={:.0}",
        cfg.qd,
        cfg.bs,
        o.ios,
        o.secs,
        ns(o.cpu.user),
        ns(o.cpu.system),
        ns(o.cpu.user + o.cpu.system),
    )?;
    out.flush()
}

/// The whole of a `randread` driver: parses the command line, opens the
/// file, runs `run` and prints its result line as `engine`.
pub fn drive(
    with_mode: bool,
    run: impl FnOnce(&Config, &Input) -> Result<(String, Outcome)>,
) -> ExitCode {
    let name = program(with_mode).0;
    let cfg = match Config::from_env(with_mode) {
        Ok(cfg) => cfg,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    let input = match Input::open(&cfg) {
        Ok(input) => input,
        Err(e) => {
            eprintln!("{name}: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&cfg, &input) {
        Ok((engine, outcome)) => match report(&engine, &cfg, &outcome) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{name}: stdout: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Gives the closure that pushes a read over an owned buffer the scope's
/// own lifetime, so that the read may borrow the registered file from
/// outside the scope, and takes any batch of the scope (a closure written
/// `|sq: &mut ScopeSubmissionQueue<'_, '_>, ..|` gets fresh lifetimes at
/// each call).
fn owned_read<'s, R>(
    f: impl for<'q> Fn(&mut uring::ScopeSubmissionQueue<'q, 's>, &mut Owned, u32, u64) -> R,
) -> impl for<'q> Fn(&mut uring::ScopeSubmissionQueue<'q, 's>, &mut Owned, u32, u64) -> R {
    f
}

#[cfg(test)]
mod tests {
    use super::{Config, Input, Mode, run_raw, run_scope};
    use std::io::Write as _;

    fn config(path: &std::path::Path, qd: u32, bs: u32, ios: u64) -> Config {
        Config {
            path: path.to_path_buf(),
            qd,
            bs,
            secs: 60.0,
            ios,
            seed: 7,
            mode: Mode::Raw,
        }
    }

    #[test]
    fn each_loop_completes_exactly_its_budget() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&vec![7u8; 64 * 4096]).unwrap();
        for (qd, ios) in [(1, 1), (8, 1000), (32, 5), (3, 4097)] {
            let cfg = config(file.path(), qd, 4096, ios);
            let input = Input::open(&cfg).unwrap();
            assert_eq!(input.blocks, 64);
            assert_eq!(run_raw(&cfg, &input).unwrap().ios, ios, "raw qd {qd}");
            assert_eq!(run_scope(&cfg, &input).unwrap().ios, ios, "scope qd {qd}");
            let baseline = crate::randread_io_uring::run(&cfg, &input).unwrap();
            assert_eq!(baseline.ios, ios, "io-uring qd {qd}");
        }
    }

    #[test]
    fn files_without_a_whole_block_are_refused() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&[1u8; 4095]).unwrap();
        let err = Input::open(&config(file.path(), 1, 4096, 1)).unwrap_err();
        assert!(err.contains("smaller than one block"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let err = Input::open(&config(dir.path(), 1, 4096, 1)).unwrap_err();
        assert!(err.contains("not a regular file"), "{err}");
    }
}
