//! Copying files: `cp` with linked read -> write chains, `cat` through a
//! scope with reads ahead and writes in order.

use crate::measure::Region;
use crate::{Args, queue_full, unpushed};
use std::error::Error as StdError;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;
use uring::ops::{Read, Write};
use uring::{IntoTarget, Ring, SubmissionQueue};

/// The errors of a copy.
pub type Result<T> = std::result::Result<T, Box<dyn StdError>>;

/// The command line of `cp`.
pub const CP_USAGE: &str = "\
usage: cp SRC DST [--qd N] [--bs BYTES]
  copies the regular file SRC to DST (created, or truncated), with N
  (default 16) linked read -> write chains of BYTES (default 131072) in
  flight; SRC is read until a read returns 0, as cp(1) reads it, whatever
  size it states (0 in /proc, 4096 for any attribute in /sys)";

/// The command line of `cat`.
pub const CAT_USAGE: &str = "\
usage: cat FILE [--qd N] [--bs BYTES]
  writes the regular file FILE to standard output, reading N (default 8)
  blocks of BYTES (default 131072) ahead and writing them in order, until
  a read returns 0, as cat(1) does, whatever size FILE states (0 in /proc,
  4096 for any attribute in /sys)";

/// The queue depth and block size of a copy, from the command line.
fn depth_and_block(args: &Args, qd: u32) -> std::result::Result<(u32, u32), String> {
    Ok((
        args.number("qd", qd, 1..=1024)?,
        args.number("bs", 128 << 10, 1..=16 << 20)?,
    ))
}

/// Refuses `path` if it names something other than a regular file, before
/// it is opened: opening a FIFO waits for its peer, a device may act on
/// the open itself. A missing path is left to the open that follows.
fn refuse_special(path: &Path) -> std::result::Result<(), String> {
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() && !meta.is_dir() => {
            Err(format!("{}: not a regular file", path.display()))
        }
        _ => Ok(()),
    }
}

/// Opens `path` for reading: a regular file.
fn open_source(path: &Path) -> std::result::Result<File, String> {
    let name = path.display();
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() => return Err(format!("{name}: not a regular file")),
        Ok(_) => {}
        Err(e) => return Err(format!("{name}: {e}")),
    }
    // Checked again on what was opened: the path may have changed since.
    let file = File::open(path).map_err(|e| format!("{name}: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("{name}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{name}: not a regular file"));
    }
    Ok(file)
}

/// Prints the one result line of a copy, to `stdout` unless it carries
/// the data; an error if `stdout` takes no line (a closed pipe, a full
/// disk).
fn report(name: &str, bytes: u64, secs: f64, to_stderr: bool) -> std::io::Result<()> {
    let mib = bytes as f64 / (1 << 20) as f64;
    let rate = if secs > 0.0 { mib / secs } else { 0.0 };
    let line = format!("{name} bytes={bytes} secs={secs:.3} mib_per_s={rate:.1}");
    if to_stderr {
        eprintln!("{line}");
        Ok(())
    } else {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")?;
        out.flush()
    }
}

/// `cp SRC DST`: parses the command line, opens the files, copies, and
/// prints `cp bytes=N secs=S mib_per_s=R`.
pub fn cp_main() -> ExitCode {
    let parsed = Args::from_env(CP_USAGE, &["qd", "bs"]).and_then(|args| {
        let paths = args.positional(2)?.to_vec();
        let (qd, bs) = depth_and_block(&args, 16)?;
        Ok((paths, qd, bs))
    });
    let (paths, qd, bs) = match parsed {
        Ok(parsed) => parsed,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    let opened = (|| -> std::result::Result<(File, File, Option<u64>), String> {
        let (src_path, dst_path) = (Path::new(&paths[0]), Path::new(&paths[1]));
        let src = open_source(src_path)?;
        refuse_special(dst_path)?;
        let dst = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(dst_path)
            .map_err(|e| format!("{}: {e}", dst_path.display()))?;
        let (s, d) = (
            src.metadata()
                .map_err(|e| format!("{}: {e}", src_path.display()))?,
            dst.metadata()
                .map_err(|e| format!("{}: {e}", dst_path.display()))?,
        );
        if (s.dev(), s.ino()) == (d.dev(), d.ino()) {
            return Err(format!(
                "{} and {} are the same file",
                src_path.display(),
                dst_path.display()
            ));
        }
        if !d.is_file() {
            return Err(format!("{}: not a regular file", dst_path.display()));
        }
        dst.set_len(0)
            .map_err(|e| format!("{}: {e}", dst_path.display()))?;
        // The size `stat` gives is not the length to copy: the files of
        // `/proc` state 0 and those of `/sys` 4096, whatever they hold, and
        // any file may grow or shrink meanwhile. Like cp(1), copy until a
        // read returns 0.
        Ok((src, dst, None))
    })();
    let (src, dst, len) = match opened {
        Ok(opened) => opened,
        Err(e) => {
            eprintln!("cp: {e}");
            return ExitCode::from(2);
        }
    };
    let start = Instant::now();
    let copied = copy_linked(&src, &dst, len, qd, bs).and_then(|bytes| {
        // Read to its end, the source may have given bytes past it to a
        // chain that was already in flight (if it shrank meanwhile).
        if len.is_none() {
            dst.set_len(bytes)?;
        }
        Ok(bytes)
    });
    match copied {
        Ok(bytes) => match report("cp", bytes, start.elapsed().as_secs_f64(), false) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("cp: stdout: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("cp: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What a chain slot of [`copy_linked`] has in flight.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// Nothing: the slot is free.
    Idle,
    /// A read of the block's bytes from `done` on, linked to the write of
    /// the same bytes.
    Chain,
    /// A write of the buffer's bytes `from..to` alone, after a short
    /// read or a short write.
    Write { from: u32, to: u32 },
}

/// One of the chains in flight: the block `off .. off + len` of the file,
/// of which `done` bytes are copied.
#[derive(Clone, Copy, Debug)]
struct Slot {
    off: u64,
    len: u32,
    done: u32,
    step: Step,
    /// Completions still to come for the step.
    pending: u8,
    read: i32,
    write: i32,
}

/// The `user_data` of a slot's read and write.
fn tag(slot: usize, write: bool) -> u64 {
    (slot as u64) << 1 | u64::from(write)
}

/// Copies the first `len` bytes of `src` to `dst` with `qd` linked chains
/// of a read of up to `bs` bytes and the write of the same buffer; short
/// reads and short writes are completed with further writes and chains.
/// With `len` of `None`, copies up to the end of `src`: chains go on until
/// a read returns 0, which ends the file at its offset (chains past it
/// read nothing, and their writes, linked to a short read, do not run).
/// Returns the bytes copied.
pub fn copy_linked(src: &File, dst: &File, len: Option<u64>, qd: u32, bs: u32) -> Result<u64> {
    let to_eof = len.is_none();
    // Where the copy ends: the length, or the end of the file once a read
    // has found it.
    let mut len = len.unwrap_or(u64::MAX);
    // Declared before the ring: dropped after it.
    let region = Region::new(qd as usize * bs as usize)?;
    let mut ring = Ring::new((2 * qd).next_power_of_two())?;
    let files = ring.register_files(&[src.as_fd(), dst.as_fd()])?;
    let (from, to) = (files.get(0)?, files.get(1)?);
    let base = region.as_ptr();
    let mut slots = vec![
        Slot {
            off: 0,
            len: 0,
            done: 0,
            step: Step::Idle,
            pending: 0,
            read: 0,
            write: 0,
        };
        qd as usize
    ];
    let mut next = 0u64;
    let mut busy = 0usize;
    let mut failure: Option<Box<dyn StdError>> = None;
    {
        let mut sq = ring.submission();
        for (i, slot) in slots.iter_mut().enumerate() {
            if next >= len {
                break;
            }
            slot.off = next;
            slot.len = (len - next).min(u64::from(bs)) as u32;
            next += u64::from(slot.len);
            // SAFETY: the slot's buffer is free: nothing was pushed yet.
            unsafe { push_chain(&mut sq, from, to, base, bs, i, slot) }?;
            busy += 1;
        }
    }
    while busy > 0 {
        if let Err(e) = ring.submit_and_wait(1) {
            // Chains may still be in flight: their memory must stay.
            std::mem::forget(region);
            return Err(e.into());
        }
        let (mut sq, completions) = ring.split();
        for cqe in completions {
            let (i, is_write) = ((cqe.user_data() >> 1) as usize, cqe.user_data() & 1 == 1);
            let Some(slot) = slots.get_mut(i) else {
                failure.get_or_insert_with(|| "a completion of no chain".into());
                continue;
            };
            if is_write {
                slot.write = cqe.res();
            } else {
                slot.read = cqe.res();
            }
            slot.pending -= 1;
            if slot.pending > 0 {
                continue;
            }
            // The step is over: what comes next for this slot.
            let next_step = settle(slot, to_eof);
            if to_eof && matches!(next_step, Ok(None)) && slot.len < bs {
                // A block ended short of its size: the end of the file.
                len = len.min(slot.off + u64::from(slot.len));
            }
            let pushed = match next_step {
                Err(e) => Err(e),
                Ok(_) if failure.is_some() => Ok(false),
                Ok(Some(Step::Write { from: a, to: b })) => {
                    // SAFETY: the slot's last step is complete.
                    unsafe { push_write(&mut sq, to, base, bs, i, slot, a, b) }
                        .map(|()| true)
                        .map_err(Into::into)
                }
                Ok(Some(_)) => {
                    // SAFETY: as above.
                    unsafe { push_chain(&mut sq, from, to, base, bs, i, slot) }
                        .map(|()| true)
                        .map_err(Into::into)
                }
                Ok(None) if next < len => {
                    slot.off = next;
                    slot.len = (len - next).min(u64::from(bs)) as u32;
                    slot.done = 0;
                    next += u64::from(slot.len);
                    // SAFETY: as above.
                    unsafe { push_chain(&mut sq, from, to, base, bs, i, slot) }
                        .map(|()| true)
                        .map_err(Into::into)
                }
                Ok(None) => Ok(false),
            };
            match pushed {
                Ok(true) => {}
                Ok(false) => {
                    slot.step = Step::Idle;
                    busy -= 1;
                }
                Err(e) => {
                    slot.step = Step::Idle;
                    busy -= 1;
                    failure.get_or_insert(e);
                }
            }
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(len),
    }
}

/// The step after `slot`'s last one, whose completions are all in: a
/// write of what a short read or a short write left, a chain for the rest
/// of the block, or `None` when the block is copied. A read that returns
/// 0 ends the block there `to_eof` (the end of the file), and is an error
/// otherwise (the file is shorter than its length).
fn settle(slot: &mut Slot, to_eof: bool) -> Result<Option<Step>> {
    let want = slot.len - slot.done;
    match slot.step {
        Step::Idle => Err("a completion for a chain not in flight".into()),
        Step::Chain => {
            let (r, w) = (slot.read, slot.write);
            if r < 0 {
                return Err(format!("read: {}", std::io::Error::from_raw_os_error(-r)).into());
            }
            if r == 0 {
                if to_eof {
                    // The linked write, after a short read, did not run.
                    slot.len = slot.done;
                    return Ok(None);
                }
                return Err("the source ended before its length: it shrank".into());
            }
            let r = r as u32;
            if r < want {
                // A short read fails the link: the write did not run. Write
                // what was read; the rest follows in a new chain.
                return Ok(Some(Step::Write {
                    from: slot.done,
                    to: slot.done + r,
                }));
            }
            if w < 0 {
                return Err(format!("write: {}", std::io::Error::from_raw_os_error(-w)).into());
            }
            let w = w as u32;
            if w < want {
                return Ok(Some(Step::Write {
                    from: slot.done + w,
                    to: slot.len,
                }));
            }
            slot.done = slot.len;
            Ok(None)
        }
        Step::Write { from, to } => {
            let w = slot.write;
            if w < 0 {
                return Err(format!("write: {}", std::io::Error::from_raw_os_error(-w)).into());
            }
            if w == 0 {
                return Err("a write made no progress".into());
            }
            let from = from + w as u32;
            if from < to {
                return Ok(Some(Step::Write { from, to }));
            }
            slot.done = to;
            if slot.done < slot.len {
                Ok(Some(Step::Chain))
            } else {
                Ok(None)
            }
        }
    }
}

/// Pushes the chain that reads the rest of `slot`'s block into its buffer
/// and, linked, writes the same bytes.
///
/// # Safety
///
/// `base` must hold `qd * bs` bytes that outlive the chain, and no op may
/// be in flight over buffer `i` (the slot's last step has completed).
#[allow(clippy::too_many_arguments)]
unsafe fn push_chain<S: IntoTarget + Copy, D: IntoTarget + Copy>(
    sq: &mut SubmissionQueue<'_>,
    src: S,
    dst: D,
    base: *mut u8,
    bs: u32,
    i: usize,
    slot: &mut Slot,
) -> uring::Result<()> {
    let (start, n) = (slot.done as usize, (slot.len - slot.done) as usize);
    // SAFETY: bytes `start..start + n` of buffer `i`, inside the region.
    let bytes = unsafe { base.add(i * bs as usize + start) };
    // SAFETY: the caller keeps the buffer alive and untouched until both
    // completions; no other reference to it exists meanwhile.
    let into = unsafe { std::slice::from_raw_parts_mut(bytes, n) };
    let offset = slot.off + u64::from(slot.done);
    // The read fills the bytes the write then sends: `then_write` links a
    // write of the read's own buffer, which the kernel runs only once the
    // read has filled it whole.
    let chain = Read::new(src, into)
        .offset(offset)
        .user_data(tag(i, false))
        .then_write_with(dst, |w| w.offset(offset).user_data(tag(i, true)));
    // SAFETY: as above; both files are registered with this ring.
    unsafe { sq.push_unchecked(chain) }.map_err(queue_full)?;
    slot.step = Step::Chain;
    slot.pending = 2;
    Ok(())
}

/// Pushes the write of bytes `from..to` of `slot`'s buffer alone.
///
/// # Safety
///
/// As for [`push_chain`].
#[allow(clippy::too_many_arguments)]
unsafe fn push_write<D: IntoTarget + Copy>(
    sq: &mut SubmissionQueue<'_>,
    dst: D,
    base: *mut u8,
    bs: u32,
    i: usize,
    slot: &mut Slot,
    from: u32,
    to: u32,
) -> uring::Result<()> {
    // SAFETY: bytes `from..to` of buffer `i`, inside the region; the caller
    // keeps them until the write completes.
    let out = unsafe {
        std::slice::from_raw_parts(
            base.add(i * bs as usize + from as usize),
            (to - from) as usize,
        )
    };
    let write = Write::new(dst, out)
        .offset(slot.off + u64::from(from))
        .user_data(tag(i, true));
    // SAFETY: as above; the file is registered with this ring.
    unsafe { sq.push_unchecked(write) }.map_err(queue_full)?;
    slot.step = Step::Write { from, to };
    slot.pending = 1;
    Ok(())
}

/// `cat FILE`: parses the command line, writes the file to standard output
/// and prints `cat bytes=N secs=S mib_per_s=R` to standard error.
pub fn cat_main() -> ExitCode {
    let parsed = Args::from_env(CAT_USAGE, &["qd", "bs"]).and_then(|args| {
        let path = args.positional(1)?[0].clone();
        let (qd, bs) = depth_and_block(&args, 8)?;
        Ok((path, qd, bs))
    });
    let (path, qd, bs) = match parsed {
        Ok(parsed) => parsed,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    // Read until a read returns 0, as cat(1) does: the size `stat` gives
    // says nothing of the files of `/proc` (0) and `/sys` (4096).
    let opened = open_source(Path::new(&path)).map(|file| (file, None));
    let (file, len) = match opened {
        Ok(opened) => opened,
        Err(e) => {
            eprintln!("cat: {e}");
            return ExitCode::from(2);
        }
    };
    let start = Instant::now();
    let stdout = std::io::stdout();
    match cat(&file, len, &stdout, qd, bs) {
        Ok(bytes) => {
            // To stderr: the line cannot fail.
            let _ = report("cat", bytes, start.elapsed().as_secs_f64(), true);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cat: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A block of [`cat`] between its read and the end of its write.
#[derive(Debug, Default)]
struct Block {
    /// Its buffer, while no op has it.
    buf: Option<Vec<u8>>,
    /// Bytes of the block.
    len: u32,
    /// Bytes read so far.
    filled: u32,
    /// Bytes written so far.
    written: u32,
}

/// The `user_data` of block `k`'s read or write.
fn block_tag(k: u64, write: bool) -> u64 {
    k << 1 | u64::from(write)
}

/// Gives a closure that pushes a block's read or write in a scope the
/// scope's own lifetimes, so that the op may borrow from outside the scope
/// (a closure written `|s: &mut Scope<'_, '_>, ..|` gets fresh ones at
/// each call).
fn block_op<'s, 'e, R>(
    f: impl Fn(&mut uring::Scope<'s, 'e>, u64, &mut Block, Vec<u8>) -> R,
) -> impl Fn(&mut uring::Scope<'s, 'e>, u64, &mut Block, Vec<u8>) -> R {
    f
}

/// Writes the first `len` bytes of `file` to `out`, in order, inside one
/// scope: up to `qd` blocks of `bs` bytes are read ahead at their offsets,
/// each into a buffer given to the scope with its read and handed back
/// with the completion, then written at `out`'s position one at a time
/// (`out` may be a pipe). With `len` of `None`, writes the file up to its
/// end: blocks are read ahead until a read returns 0, which ends the file
/// at its offset (what reads past it bring is dropped). Returns the bytes
/// written.
pub fn cat<F: AsFd>(file: &File, len: Option<u64>, out: &F, qd: u32, bs: u32) -> Result<u64> {
    let to_eof = len.is_none();
    let len = len.unwrap_or(u64::MAX);
    // The blocks to write: fewer once a read has found the end of the file.
    let mut blocks = len.div_ceil(u64::from(bs));
    let mut ring = Ring::new(qd.next_power_of_two())?;
    let mut pipeline: Vec<Block> = (0..qd).map(|_| Block::default()).collect();
    let mut free: Vec<Vec<u8>> = (0..qd).map(|_| vec![0u8; bs as usize]).collect();
    let block_len = |k: u64| (len - k * u64::from(bs)).min(u64::from(bs)) as u32;
    let at = |k: u64| (k % u64::from(qd)) as usize;
    ring.scope(|s| -> Result<u64> {
        // Reads fill a block from `filled` on; writes send it from `written`.
        let read = block_op(|s, k, b, buf| {
            let (from, to) = (b.filled as usize, b.len as usize);
            let offset = k * u64::from(bs) + u64::from(b.filled);
            s.push_owned(buf, |buf, sq| {
                sq.push(
                    Read::new(file, &mut buf[from..to])
                        .offset(offset)
                        .user_data(block_tag(k, false)),
                )
            })
            .map_err(|full| {
                let (e, buf) = unpushed(full);
                b.buf = Some(buf);
                e
            })
        });
        let write = block_op(|s, k, b, buf| {
            let (from, to) = (b.written as usize, b.len as usize);
            s.push_owned(buf, |buf, sq| {
                sq.push(
                    Write::new(out, &buf[from..to])
                        .offset(u64::MAX)
                        .user_data(block_tag(k, true)),
                )
            })
            .map_err(|full| {
                let (e, buf) = unpushed(full);
                b.buf = Some(buf);
                e
            })
        });
        let (mut next_read, mut next_write) = (0u64, 0u64);
        let mut total = 0u64;
        let mut writing = false;
        let mut failure: Option<Box<dyn StdError>> = None;
        let mut reaped: Vec<(u64, i32, Option<Vec<u8>>)> = Vec::with_capacity(qd as usize);
        loop {
            // Read ahead while buffers are free.
            while failure.is_none() && next_read < blocks {
                let Some(buf) = free.pop() else { break };
                let k = next_read;
                let b = &mut pipeline[at(k)];
                *b = Block {
                    buf: None,
                    len: block_len(k),
                    filled: 0,
                    written: 0,
                };
                if let Err(e) = read(s, k, b, buf) {
                    failure = Some(e.into());
                    break;
                }
                next_read += 1;
            }
            // Write the next block in order once it is read.
            if failure.is_none() && !writing && next_write < next_read.min(blocks) {
                let b = &mut pipeline[at(next_write)];
                if b.filled == b.len
                    && let Some(buf) = b.buf.take()
                {
                    match write(s, next_write, b, buf) {
                        Ok(()) => writing = true,
                        Err(e) => failure = Some(e.into()),
                    }
                }
            }
            if s.in_flight() == 0 {
                break;
            }
            s.submit_and_wait(1)?;
            reaped.extend(
                s.completions()
                    .map(|mut c| (c.user_data(), c.res(), c.take_buf())),
            );
            for (tag, res, buf) in reaped.drain(..) {
                let (k, is_write) = (tag >> 1, tag & 1 == 1);
                let b = &mut pipeline[at(k)];
                let Some(buf) = buf else {
                    failure.get_or_insert_with(|| "a completion without its buffer".into());
                    continue;
                };
                if !is_write && k >= blocks {
                    // A read ahead past the end of the file.
                    free.push(buf);
                    continue;
                }
                if res == 0 && !is_write && to_eof {
                    // The end of the file: the block ends where it is.
                    b.len = b.filled;
                    blocks = blocks.min(if b.filled > 0 { k + 1 } else { k });
                    if b.filled > 0 {
                        b.buf = Some(buf);
                    } else {
                        free.push(buf);
                    }
                    continue;
                }
                if res < 0 {
                    let e = std::io::Error::from_raw_os_error(-res);
                    let what = if is_write { "writing" } else { "reading" };
                    failure.get_or_insert_with(|| format!("{what}: {e}").into());
                    free.push(buf);
                    writing &= !is_write;
                    continue;
                }
                if res == 0 {
                    let what = if is_write {
                        "a write to standard output made no progress"
                    } else {
                        "the file ended before its length: it shrank"
                    };
                    failure.get_or_insert_with(|| what.into());
                    free.push(buf);
                    writing &= !is_write;
                    continue;
                }
                if is_write {
                    b.written += res as u32;
                    total += res as u64;
                    if b.written < b.len && failure.is_none() {
                        // A short write (a pipe): send the rest.
                        if let Err(e) = write(s, k, b, buf) {
                            failure = Some(e.into());
                            writing = false;
                        }
                        continue;
                    }
                    writing = false;
                    next_write += 1;
                    free.push(buf);
                } else {
                    b.filled += res as u32;
                    if b.filled < b.len && failure.is_none() {
                        // A short read: read the rest of the block.
                        if let Err(e) = read(s, k, b, buf) {
                            failure = Some(e.into());
                        }
                        continue;
                    }
                    b.buf = Some(buf);
                }
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(total),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{Slot, Step, cat, copy_linked, settle};
    use std::io::{Read as _, Seek, Write as _};
    use std::os::fd::{FromRawFd, OwnedFd};

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 + i / 251) as u8).collect()
    }

    fn file_with(bytes: &[u8]) -> std::fs::File {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(bytes).unwrap();
        f
    }

    fn contents(f: &mut std::fs::File) -> Vec<u8> {
        let mut out = Vec::new();
        f.rewind().unwrap();
        f.read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn copy_linked_copies_every_byte() {
        for (len, qd, bs) in [
            (0, 1, 1),
            (1, 1, 4096),
            (5000, 4, 1000),
            (100_000, 3, 4096),
            ((1 << 20) + 17, 16, 65536),
        ] {
            let data = pattern(len);
            let src = file_with(&data);
            let mut dst = tempfile::tempfile().unwrap();
            let copied = copy_linked(&src, &dst, Some(len as u64), qd, bs).unwrap();
            assert_eq!(copied, len as u64);
            assert!(contents(&mut dst) == data, "len {len} qd {qd} bs {bs}");
        }
    }

    #[test]
    fn copy_linked_without_a_length_copies_to_the_end() {
        // Ends inside a block, on a block's end, and at 0; with one chain,
        // and with chains read past the end.
        for (len, qd, bs) in [
            (0, 4, 1000),
            (1, 1, 4096),
            (5000, 4, 1000),
            (5001, 3, 1000),
            (100_000, 1, 4096),
            ((1 << 20) + 17, 16, 65536),
        ] {
            let data = pattern(len);
            let src = file_with(&data);
            let mut dst = tempfile::tempfile().unwrap();
            let copied = copy_linked(&src, &dst, None, qd, bs).unwrap();
            assert_eq!(copied, len as u64, "len {len} qd {qd} bs {bs}");
            assert!(contents(&mut dst) == data, "len {len} qd {qd} bs {bs}");
        }
    }

    #[test]
    fn cat_without_a_length_writes_to_the_end() {
        for (len, qd, bs) in [
            (0, 3, 1000),
            (999, 1, 1000),
            (3000, 2, 1000),
            (7777, 8, 1000),
        ] {
            let data = pattern(len);
            let src = file_with(&data);
            let mut out = tempfile::tempfile().unwrap();
            let written = cat(&src, None, &out, qd, bs).unwrap();
            assert_eq!(written, len as u64, "len {len} qd {qd} bs {bs}");
            assert!(contents(&mut out) == data, "len {len} qd {qd} bs {bs}");
        }
    }

    #[test]
    fn a_source_shorter_than_announced_is_an_error() {
        // The second block's read comes back short (500 bytes), which
        // cancels its write; those 500 bytes are written alone, and the
        // chain for the rest finds the end of the file.
        let src = file_with(&pattern(1500));
        let mut dst = tempfile::tempfile().unwrap();
        let err = copy_linked(&src, &dst, Some(5000), 1, 1000).unwrap_err();
        assert!(err.to_string().contains("shrank"), "{err}");
        assert!(contents(&mut dst) == pattern(1500));
    }

    fn slot(len: u32) -> Slot {
        Slot {
            off: 4096,
            len,
            done: 0,
            step: Step::Chain,
            pending: 0,
            read: 0,
            write: 0,
        }
    }

    #[test]
    fn short_reads_and_writes_are_completed() {
        let mut s = slot(100);
        // A short read cancels the linked write: write what was read.
        (s.read, s.write) = (40, -libc::ECANCELED);
        let step = settle(&mut s, false).unwrap();
        assert!(
            matches!(step, Some(Step::Write { from: 0, to: 40 })),
            "{step:?}"
        );
        s.step = step.unwrap();
        s.write = 40;
        // Then a chain for the rest of the block.
        assert!(matches!(settle(&mut s, false).unwrap(), Some(Step::Chain)));
        assert_eq!(s.done, 40);
        s.step = Step::Chain;
        // A whole read and a short write: write the rest.
        (s.read, s.write) = (60, 30);
        let step = settle(&mut s, false).unwrap();
        assert!(
            matches!(step, Some(Step::Write { from: 70, to: 100 })),
            "{step:?}"
        );
        s.step = step.unwrap();
        s.write = 30;
        assert!(settle(&mut s, false).unwrap().is_none());
        assert_eq!(s.done, 100);
    }

    #[test]
    fn failed_steps_are_errors() {
        let mut s = slot(100);
        (s.read, s.write) = (-libc::EIO, -libc::ECANCELED);
        assert!(
            settle(&mut s, false)
                .unwrap_err()
                .to_string()
                .starts_with("read:")
        );
        let mut s = slot(100);
        (s.read, s.write) = (0, -libc::ECANCELED);
        assert!(
            settle(&mut s, false)
                .unwrap_err()
                .to_string()
                .contains("shrank")
        );
        // Read to the end of the file, a read of 0 ends the block there.
        let mut s = slot(100);
        s.done = 40;
        (s.read, s.write) = (0, -libc::ECANCELED);
        assert!(settle(&mut s, true).unwrap().is_none());
        assert_eq!(s.len, 40);
        let mut s = slot(100);
        (s.read, s.write) = (100, -libc::ENOSPC);
        assert!(
            settle(&mut s, false)
                .unwrap_err()
                .to_string()
                .starts_with("write:")
        );
        let mut s = slot(100);
        s.step = Step::Write { from: 10, to: 20 };
        s.write = 0;
        assert!(
            settle(&mut s, false)
                .unwrap_err()
                .to_string()
                .contains("no progress")
        );
        s.step = Step::Idle;
        assert!(settle(&mut s, false).is_err());
    }

    #[test]
    fn cat_writes_in_order_through_a_pipe() {
        // A pipe holds 64 KiB: writes of larger blocks come back short,
        // and the reads ahead complete in any order.
        let len = (1 << 20) + 333;
        let data = pattern(len);
        let src = file_with(&data);
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: both were just opened and belong to nothing else.
        let (rx, tx) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let reader = std::thread::spawn(move || {
            let mut out = Vec::new();
            std::fs::File::from(rx).read_to_end(&mut out).unwrap();
            out
        });
        let written = cat(&src, Some(len as u64), &tx, 5, 100_000).unwrap();
        drop(tx);
        assert_eq!(written, len as u64);
        assert!(reader.join().unwrap() == data);
    }

    #[test]
    fn cat_of_a_file_that_shrank_is_an_error() {
        let src = file_with(&pattern(1000));
        let mut out = tempfile::tempfile().unwrap();
        let err = cat(&src, Some(3000), &out, 2, 1000).unwrap_err();
        assert!(err.to_string().contains("shrank"), "{err}");
        // What was written is a prefix of the file, in order.
        let got = contents(&mut out);
        assert!(pattern(1000).starts_with(&got));
    }
}
