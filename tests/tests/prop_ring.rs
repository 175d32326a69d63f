//! Properties of the ring's own entry points, called with arbitrary
//! arguments: setup (sizes from 0 to `u32::MAX`, every option, in
//! combinations), registration (files, sparse tables, updates at any
//! offset, buffers, buffer rings of any count and length, personalities,
//! restrictions, io-wq limits and affinity, eventfds, NAPI, the ring fd,
//! wait regions, posted completions), waits (`wait`, `wait_timeout`,
//! `wait_with`, their submitting forms, with any `want` and any duration,
//! `Duration::MAX` included), and the completion queue's own calls
//! (`peek_batch`, `advance`), `resize` and `cancel_sync`.
//!
//! Each call returns `Ok` or an error that says what went wrong; none
//! panics or hangs. Around the calls, ops in flight (NOPs, timeouts, reads
//! of pipes, polls) and completions posted from no ring are counted: each
//! comes back exactly once, whatever the calls did, and the ring still
//! takes a NOP and gives its completion back at the end.
//!
//! `URING_PROP_CASES=N` runs N cases per property, `URING_PROP_SEED=S`
//! starts from seed S (a failing case prints the line that runs it again).

use std::collections::BTreeMap;
use std::io::{IoSliceMut, Write as _};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use uring::op::arbitrary::Gen;
use uring::ops::{Nop, PollAdd, Read, Timeout};
use uring::{
    BufferGroup, Builder, Cqe, Cqe16, Cqe32, CqeMixed, CqeSize, Error, IoWqWorkers, PollEvents,
    Restriction, Ring, Sqe64, Sqe128, SqeSize, Submission, SyncCancel, WaitArgs,
};
use uring_tests::prop::{base_seed, case_seed, cases, note, run_case};

/// Runs `per` cases of a property (or `URING_PROP_CASES`), from its default
/// seed or `URING_PROP_SEED`.
fn property(test: &str, per: u64, default_seed: u64, case: fn(u64)) {
    let base = base_seed(default_seed);
    for i in 0..cases(per) {
        let seed = case_seed(base, i);
        run_case(
            format!(
                "URING_PROP_SEED={seed:#x} URING_PROP_CASES=1 \
                 cargo test -p uring-tests --test prop_ring {test}"
            ),
            || case(seed),
        );
    }
}

/// A size: the edges of what the kernel takes, and some in between.
fn size(g: &mut Gen) -> u32 {
    let edges = [
        0,
        1,
        2,
        3,
        5,
        7,
        8,
        100,
        4095,
        4096,
        4097,
        32767,
        32768,
        32769,
        65536,
        65537,
        u32::MAX - 1,
        u32::MAX,
    ];
    match g.below(3) {
        0 => g.range(1, 300) as u32,
        _ => g.pick(&edges).unwrap_or(1),
    }
}

/// An error that says what went wrong: one of the library's kinds, with a
/// message.
fn clear(e: &Error, what: &str) {
    let message = e.to_string();
    assert!(!message.is_empty(), "{what}: an error without a message");
    match e {
        Error::Os { .. }
        | Error::Setup(_)
        | Error::InvalidArgument(_)
        | Error::Unsupported(_)
        | Error::TimedOut => {}
        other => panic!("{what}: an unexpected kind of error: {other:?}"),
    }
}

/// Every `user_data` expected back, and how often each came.
#[derive(Default, Debug)]
struct Ledger {
    expected: BTreeMap<u64, &'static str>,
    seen: BTreeMap<u64, u32>,
    next: u64,
}

impl Ledger {
    /// A fresh `user_data`, expected once.
    fn expect(&mut self, what: &'static str) -> u64 {
        self.next += 1;
        self.expected.insert(self.next, what);
        self.next
    }

    fn take(&mut self, cqe: &Cqe) {
        let ud = cqe.user_data();
        assert!(
            self.expected.contains_key(&ud),
            "a completion nobody asked for: {cqe:?} ({self:?})"
        );
        let seen = self.seen.entry(ud).or_default();
        *seen += 1;
        assert_eq!(*seen, 1, "{} completed twice: {cqe:?}", self.expected[&ud]);
    }

    fn missing(&self) -> Vec<(u64, &'static str)> {
        self.expected
            .iter()
            .filter(|(ud, _)| !self.seen.contains_key(ud))
            .map(|(&ud, &what)| (ud, what))
            .collect()
    }
}

/// Reads every completion that is ready into the ledger.
fn reap<S: SqeSize, C: CqeSize>(ring: &mut Ring<S, C>, ledger: &mut Ledger) {
    let cqes: Vec<Cqe> = ring.completions().map(|c| *c.as_ref()).collect();
    for cqe in &cqes {
        ledger.take(cqe);
    }
}

/// Waits until everything the ledger expects has come (cancelling what
/// still waits after a while), then checks that nothing came twice and the
/// ring still takes a NOP.
fn settle<S: SqeSize, C: CqeSize>(ring: &mut Ring<S, C>, ledger: &mut Ledger)
where
    Nop: Submission<S>,
{
    let start = Instant::now();
    let mut cancelled = false;
    loop {
        let _ = ring.submit();
        reap(ring, ledger);
        let missing = ledger.missing();
        if missing.is_empty() {
            break;
        }
        if !cancelled && start.elapsed() > Duration::from_millis(200) {
            for &(ud, _) in &missing {
                let _ = ring.cancel_sync(SyncCancel::user_data(ud), Some(Duration::from_secs(1)));
            }
            cancelled = true;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "never completed: {missing:?}"
        );
        match ring.wait_timeout(1, Duration::from_millis(5)) {
            Ok(()) | Err(Error::TimedOut) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
            Err(e) => panic!("wait: {e}"),
        }
    }
    nop_round_trip(ring, ledger);
}

/// A NOP goes round, and nothing else comes with it.
fn nop_round_trip<S: SqeSize, C: CqeSize>(ring: &mut Ring<S, C>, ledger: &mut Ledger)
where
    Nop: Submission<S>,
{
    let ud = ledger.expect("the NOP at the end");
    ring.push(Nop::new().user_data(ud))
        .unwrap_or_else(|e| panic!("the NOP at the end: {e}"));
    ring.submit_and_wait_timeout(1, Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("the NOP at the end: {e}"));
    let cqes: Vec<Cqe> = ring.completions().map(|c| *c.as_ref()).collect();
    assert!(
        cqes.iter().any(|c| c.user_data() == ud),
        "the NOP at the end did not come back: {cqes:?}"
    );
    for cqe in &cqes {
        ledger.take(cqe);
    }
    assert!(ledger.missing().is_empty(), "{:?}", ledger.missing());
}

// --- Setup --------------------------------------------------------------------

/// A builder with arbitrary options, and what they are.
fn builder<'a>(g: &mut Gen, other: &'a Ring) -> (Builder<'a>, Vec<String>) {
    let mut b: Builder<'a> = Ring::builder();
    let mut what = Vec::new();
    if g.chance(1, 3) {
        let cq = size(g);
        b = b.cq_entries(cq);
        what.push(format!("cq_entries({cq})"));
    }
    if g.chance(1, 6) {
        let idle = g.duration();
        b = b.sqpoll(idle);
        what.push(format!("sqpoll({idle:?})"));
    }
    if g.chance(1, 8) {
        let cpu = g.pick(&[0, 1, 2, 1023, 1024, u32::MAX]).unwrap_or(0);
        b = b.sq_thread_cpu(cpu);
        what.push(format!("sq_thread_cpu({cpu})"));
    }
    type Option<'a> = (&'static str, fn(Builder<'a>) -> Builder<'a>);
    let options: [Option<'a>; 13] = [
        ("iopoll", Builder::iopoll),
        ("hybrid_iopoll", Builder::hybrid_iopoll),
        ("clamp", Builder::clamp),
        ("submit_all", Builder::submit_all),
        ("coop_taskrun", Builder::coop_taskrun),
        ("taskrun_flag", Builder::taskrun_flag),
        ("single_issuer", Builder::single_issuer),
        ("defer_taskrun", Builder::defer_taskrun),
        ("no_sqarray", Builder::no_sqarray),
        ("no_mmap", Builder::no_mmap),
        ("registered_fd_only", Builder::registered_fd_only),
        ("r_disabled", Builder::r_disabled),
        ("clamp", Builder::clamp),
    ];
    for (name, option) in options {
        if g.chance(1, 6) {
            b = option(b);
            what.push(name.to_string());
        }
    }
    if g.chance(1, 10) {
        b = b.attach_wq(other);
        what.push("attach_wq".into());
    }
    (b, what)
}

/// A ring made with the options asked for has the sizes asked for (clamped
/// when asked), and works; one refused says why.
fn check_built<S: SqeSize, C: CqeSize>(
    built: uring::Result<Ring<S, C>>,
    entries: u32,
    builder: &Builder<'_>,
    what: &str,
) where
    Nop: Submission<S>,
{
    let mut ring = match built {
        Ok(ring) => ring,
        Err(e) => {
            clear(&e, what);
            if entries == 0 {
                assert!(matches!(e, Error::Setup(_)), "{what}: {e:?}");
            }
            return;
        }
    };
    let flags = builder.flags();
    let clamp = flags & uring::sys::IORING_SETUP_CLAMP != 0;
    let sq = ring.sq_entries();
    assert!(sq.is_power_of_two(), "{what}: {sq} SQ entries");
    assert_eq!(ring.params().sq_entries(), sq, "{what}");
    let max = uring::sys::IORING_MAX_ENTRIES;
    assert!(
        entries <= max || clamp,
        "{what}: {entries} entries without clamp"
    );
    assert_eq!(sq, entries.min(max).next_power_of_two(), "{what}: SQ size");
    let cq = ring.cq_entries();
    assert!(
        cq.is_power_of_two() && cq >= sq,
        "{what}: {cq} CQ entries for {sq}"
    );
    if flags & uring::sys::IORING_SETUP_CQSIZE == 0 {
        assert_eq!(cq, 2 * sq, "{what}: the default CQ size");
    }
    if flags & uring::sys::IORING_SETUP_R_DISABLED != 0 {
        ring.enable()
            .unwrap_or_else(|e| panic!("{what}: enable: {e}"));
    }
    if flags & uring::sys::IORING_SETUP_IOPOLL != 0 {
        // An IOPOLL ring completes what it can poll: a NOP is one.
    }
    let mut ledger = Ledger::default();
    nop_round_trip(&mut ring, &mut ledger);
}

fn setup_case(seed: u64) {
    let mut g = Gen::new(seed);
    let other = Ring::new(2).expect("a ring to share a worker pool with");
    let entries = size(&mut g);
    let (b, options) = builder(&mut g, &other);
    let sizes = g.below(4);
    let what = format!("{entries} entries, {options:?}, sizes {sizes}");
    note(what.clone());
    match sizes {
        0 => check_built(b.build_sized::<Sqe128, Cqe16>(entries), entries, &b, &what),
        1 => check_built(b.build_sized::<Sqe64, Cqe32>(entries), entries, &b, &what),
        2 => check_built(
            b.build_sized::<Sqe128, CqeMixed>(entries),
            entries,
            &b,
            &what,
        ),
        _ => check_built(b.build(entries), entries, &b, &what),
    }
}

/// Setup with arbitrary sizes and options: a ring as asked, or an error
/// that says why; never a panic.
#[test]
fn setup_with_arbitrary_sizes_and_options() {
    property("setup_with_arbitrary", 60, 0x0005_e70b, setup_case);
}

// --- Registration ------------------------------------------------------------

/// What a registration case keeps in flight while it registers: a timeout,
/// a read of a pipe that gets its data later, a poll, and completions
/// posted from no ring.
struct InFlight {
    pipe: (OwnedFd, OwnedFd),
    buf: Box<[u8; 16]>,
}

fn keep_in_flight(ring: &mut Ring, ledger: &mut Ledger, flight: &mut InFlight, g: &mut Gen) {
    let ud = ledger.expect("a timeout");
    let d = Duration::from_millis(g.range(1, 30));
    ring.push(Timeout::new(d).user_data(ud)).unwrap();
    ring.submit().unwrap();
    let ud = ledger.expect("a read of the pipe");
    let read = Read::new(&flight.pipe.0, &mut flight.buf[..]).user_data(ud);
    // SAFETY: the pipe and the buffer live in `flight`, which the case
    // keeps until the read has completed (`settle` waits for it, or
    // cancels it and waits), and drops after the ring.
    unsafe { ring.push_unchecked(read) }.unwrap();
    ring.submit().unwrap();
    let ud = ledger.expect("a poll of the pipe");
    let poll = PollAdd::new(&flight.pipe.0, PollEvents::IN).user_data(ud);
    // SAFETY: as for the read.
    unsafe { ring.push_unchecked(poll) }.unwrap();
    ring.submit().unwrap();
}

/// Descriptors to register: a few open files, some of them twice.
fn files(g: &mut Gen, pool: &[OwnedFd]) -> Vec<std::os::fd::BorrowedFd<'static>> {
    let n = match g.below(6) {
        0 => 0,
        1 => 300,
        _ => g.range(1, 8) as usize,
    };
    (0..n)
        .map(|_| {
            let fd = &pool[g.below(pool.len() as u64) as usize];
            // SAFETY: the pool outlives every use of these descriptors: the
            // kernel takes its own references when they are registered.
            unsafe { std::os::fd::BorrowedFd::borrow_raw(fd.as_raw_fd()) }
        })
        .collect()
}

fn registration_case(seed: u64) {
    let mut g = Gen::new(seed);
    let disabled = g.chance(1, 4);
    let mut b = Ring::builder();
    if disabled {
        b = b.r_disabled();
    }
    if g.chance(1, 4) {
        b = b.single_issuer().defer_taskrun();
    }
    let mut ring = b.build(g.range(1, 16) as u32).expect("a ring");
    let mut other = Ring::new(4).expect("another ring");
    let pool: Vec<OwnedFd> = (0..4)
        .map(|_| {
            let (r, w) = uring_tests::pipe();
            drop(w);
            r
        })
        .chain([tempfile::tempfile().unwrap().into()])
        .collect();
    let mut flight = InFlight {
        pipe: uring_tests::pipe(),
        buf: Box::new([0; 16]),
    };
    let mut memory: Vec<Vec<u8>> = Vec::new();
    let mut ledger = Ledger::default();
    let mut table = None;
    let mut buffers = None;
    let mut rings = Vec::new();
    let mut personalities = Vec::new();
    let mut restricted = false;
    if !disabled {
        keep_in_flight(&mut ring, &mut ledger, &mut flight, &mut g);
    }
    let eventfd = {
        // SAFETY: eventfd takes plain integers.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        assert!(fd >= 0);
        // SAFETY: a fresh descriptor, owned here.
        unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) }
    };
    for step in 0..g.range(4, 16) {
        let call = g.below(25);
        let what = format!("step {step}: call {call}");
        note(what.clone());
        let result: uring::Result<()> = match call {
            0 => {
                let fds = files(&mut g, &pool);
                ring.register_files(&fds).map(|t| {
                    table = Some(t);
                })
            }
            1 => {
                let len = match g.below(3) {
                    0 => size(&mut g),
                    1 => uring::sys::IORING_MAX_FIXED_FILES + g.below(2) as u32,
                    _ => g.range(1, 64) as u32,
                };
                ring.register_files_sparse(len).map(|t| {
                    table = Some(t);
                })
            }
            2 => match table.as_mut() {
                Some(t) => {
                    let offset = match g.below(3) {
                        0 => size(&mut g),
                        _ => g.below(u64::from(t.len()) + 2) as u32,
                    };
                    let fds: Vec<Option<std::os::fd::BorrowedFd<'_>>> = files(&mut g, &pool)
                        .into_iter()
                        .map(|fd| g.bool().then_some(fd))
                        .collect();
                    let fits = u64::from(offset) + fds.len() as u64 <= u64::from(t.len());
                    let result = ring.update_files(t, offset, &fds);
                    if !fits {
                        assert!(
                            matches!(result, Err(Error::InvalidArgument(_))),
                            "{what}: an update past the table: {result:?}"
                        );
                    }
                    result.map(drop)
                }
                None => Ok(()),
            },
            3 => match table.take() {
                Some(t) => {
                    // Another ring's handle is refused, and given back.
                    let t = match other.unregister_files(t) {
                        Err(back) => {
                            assert!(matches!(back.error, Error::InvalidArgument(_)), "{what}");
                            back.handle
                        }
                        Ok(()) => panic!("{what}: another ring unregistered the files"),
                    };
                    ring.unregister_files(t).map_err(|e| e.error)
                }
                None => Ok(()),
            },
            4 => match &table {
                Some(t) => ring.set_file_alloc_range(t, size(&mut g), size(&mut g)),
                None => Ok(()),
            },
            5 => {
                let n = match g.below(5) {
                    0 => 0,
                    1 => 16385,
                    _ => g.range(1, 8) as usize,
                };
                let start = memory.len();
                for _ in 0..n.min(64) {
                    let len = match g.below(4) {
                        0 => 0,
                        1 => 1,
                        _ => g.range(1, 70_000) as usize,
                    };
                    memory.push(vec![0u8; len]);
                }
                let mut slices: Vec<IoSliceMut<'_>> = memory[start..]
                    .iter_mut()
                    .map(|m| IoSliceMut::new(&mut m[..]))
                    .collect();
                while slices.len() < n {
                    slices.push(IoSliceMut::new(&mut []));
                }
                // SAFETY: the buffers live in `memory`, which the case keeps
                // until after the ring is dropped, and no op uses them.
                unsafe { ring.register_buffers(&slices) }.map(|b| {
                    buffers = Some(b);
                })
            }
            6 => match buffers.take() {
                Some(b) => ring.unregister_buffers(b).map_err(|e| e.error),
                None => Ok(()),
            },
            7 => match &buffers {
                Some(b) => {
                    let (offset, count) = (g.below(4) as u32, g.below(4) as u32);
                    // SAFETY: as for the registration: the memory outlives
                    // both rings.
                    unsafe { other.clone_buffers(&ring, b, offset, count) }.map(drop)
                }
                None => Ok(()),
            },
            8 | 9 => {
                let count = g
                    .pick(&[0u16, 1, 2, 3, 7, 4095, 32767, 32768, u16::MAX])
                    .unwrap_or(1);
                let len = match g.below(3) {
                    0 => size(&mut g),
                    _ => g.range(1, 4096) as u32,
                };
                let group = BufferGroup::new(g.below(4) as u16);
                let registered = if call == 8 {
                    ring.register_buf_ring(group, count, len)
                } else {
                    ring.register_buf_ring_incremental(group, count, len)
                };
                if count == 0 || count > uring::MAX_BUF_RING_BUFFERS || len == 0 {
                    assert!(
                        matches!(registered, Err(Error::InvalidArgument(_))),
                        "{what}: {count} buffers of {len}: {:?}",
                        registered.as_ref().map(|_| ())
                    );
                }
                registered.map(|r| rings.push(r))
            }
            10 => rings.pop().map_or(Ok(()), |r| {
                drop(r);
                Ok(())
            }),
            11 => ring.register_personality().map(|p| personalities.push(p)),
            12 => match personalities.pop() {
                Some(p) => {
                    assert!(
                        other.unregister_personality(p).is_err(),
                        "{what}: another ring unregistered a personality"
                    );
                    let first = ring.unregister_personality(p);
                    if first.is_ok() {
                        assert!(
                            ring.unregister_personality(p).is_err(),
                            "{what}: a personality unregistered twice"
                        );
                    }
                    first
                }
                None => Ok(()),
            },
            13 => {
                let mut rules = Vec::new();
                for _ in 0..g.below(6) {
                    rules.push(match g.below(4) {
                        0 => Restriction::opcode(g.edge(8) as u8),
                        1 => Restriction::register_op(g.edge(8) as u8),
                        2 => Restriction::sqe_flags_allowed(g.edge(8) as u8),
                        _ => Restriction::op::<Nop>(),
                    });
                }
                let result = ring.register_restrictions(&rules);
                restricted |= result.is_ok();
                result
            }
            14 => {
                let limits = IoWqWorkers {
                    bounded: size(&mut g),
                    unbounded: size(&mut g),
                };
                ring.set_iowq_max_workers(limits).map(drop)
            }
            15 => {
                let cpus: Vec<usize> = (0..g.below(4))
                    .map(|_| match g.below(3) {
                        0 => g.edge(64) as usize,
                        _ => g.below(4) as usize,
                    })
                    .collect();
                let result = ring.set_iowq_affinity(&cpus);
                if cpus.iter().any(|&c| c >= libc::CPU_SETSIZE as usize) {
                    assert!(
                        matches!(result, Err(Error::InvalidArgument(_))),
                        "{what}: {cpus:?}: {result:?}"
                    );
                }
                result.and_then(|()| ring.clear_iowq_affinity())
            }
            16 => {
                let fd = if g.bool() {
                    eventfd.as_fd()
                } else {
                    pool[0].as_fd()
                };
                ring.register_eventfd(fd, g.bool()).and_then(|()| {
                    if g.bool() {
                        ring.unregister_eventfd()
                    } else {
                        Ok(())
                    }
                })
            }
            17 => ring
                .register_napi(g.duration(), g.bool())
                .and_then(|_| ring.unregister_napi().map(drop)),
            18 => ring.register_ring_fd().and_then(|_| {
                if g.bool() {
                    ring.unregister_ring_fd()
                } else {
                    Ok(())
                }
            }),
            19 => ring.probe().map(drop),
            20 => {
                let ud = ledger.expect("a posted completion");
                let res = g.edge(32) as i32;
                let posted = ring.post(res, ud);
                if posted.is_err() {
                    // Not posted: not expected.
                    ledger.expected.remove(&ud);
                }
                posted
            }
            22 => {
                let len = match g.below(3) {
                    0 => size(&mut g),
                    1 => uring::sys::IORING_MAX_REG_BUFFERS + g.below(2) as u32,
                    _ => g.range(1, 8) as u32,
                };
                let sparse = ring.register_buffers_sparse(len);
                if len == 0 || len > uring::sys::IORING_MAX_REG_BUFFERS {
                    assert!(
                        matches!(sparse, Err(Error::InvalidArgument(_))),
                        "{what}: a sparse table of {len}"
                    );
                }
                sparse.and_then(|b| {
                    let offset = g.below(u64::from(b.len()) + 2) as u32;
                    let empties: Vec<Option<IoSliceMut<'_>>> =
                        (0..g.below(4)).map(|_| None).collect();
                    // SAFETY: no memory is registered: every slot named is
                    // emptied.
                    let updated = unsafe { ring.update_buffers(&b, offset, &empties) };
                    buffers = Some(b);
                    updated.map(drop)
                })
            }
            23 => {
                let clock = if g.bool() {
                    uring::Clock::Boottime
                } else {
                    uring::Clock::Monotonic
                };
                ring.register_clock(clock)
            }
            24 => rings.last().map_or(Ok(()), |r| {
                let (head, available) = (r.head(), r.available());
                if let (Ok(_), Ok(available)) = (&head, &available) {
                    assert!(*available <= r.count(), "{what}: {available} available");
                }
                head.and(available).map(drop)
            }),
            _ => {
                let slots = size(&mut g).min(1 << 16);
                ring.register_wait_region(slots).and_then(|()| {
                    let slot = g.below(4) as u32;
                    ring.set_registered_wait(slot, Some(g.duration()), None)
                })
            }
        };
        if let Err(e) = &result {
            clear(e, &what);
        }
        if disabled && g.chance(1, 3) {
            match ring.enable() {
                Ok(()) => {}
                Err(e) => clear(&e, "enable"),
            }
        }
    }
    if disabled {
        let _ = ring.enable();
    }
    // The read gets its data; the poll sees it.
    File::from(flight.pipe.1.try_clone().unwrap())
        .write_all(b"data")
        .unwrap();
    if restricted {
        // Restrictions may forbid the final NOP: it then fails, but it
        // still comes back. Only what was pushed before counts.
        reap_all(&mut ring, &mut ledger);
        return;
    }
    settle(&mut ring, &mut ledger);
    drop(ring);
    drop(rings);
}

use std::fs::File;

/// Waits for what the ledger expects, with no NOP after it.
fn reap_all(ring: &mut Ring, ledger: &mut Ledger) {
    let start = Instant::now();
    while !ledger.missing().is_empty() {
        let _ = ring.submit();
        reap(ring, ledger);
        if start.elapsed() > Duration::from_millis(200) {
            for (ud, _) in ledger.missing() {
                let _ = ring.cancel_sync(SyncCancel::user_data(ud), Some(Duration::from_secs(1)));
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "never completed: {:?}",
            ledger.missing()
        );
        let _ = ring.wait_timeout(1, Duration::from_millis(5));
    }
}

/// Registration calls with arbitrary arguments, in arbitrary order, around
/// ops in flight: each returns `Ok` or an error that says why, and every op
/// and posted completion comes back once.
#[test]
fn registrations_with_arbitrary_arguments() {
    property(
        "registrations_with_arbitrary",
        40,
        0x0002_e615,
        registration_case,
    );
}

// --- Waits ---------------------------------------------------------------------

/// A `want`: none, what is ready, what will come, more than will come,
/// more than the CQ holds.
fn want(g: &mut Gen, ready: u32, coming: u32, cq: u32) -> u32 {
    let choices = [
        0,
        1,
        ready,
        ready + 1,
        coming,
        coming + 1,
        cq,
        cq + 1,
        u32::MAX,
    ];
    g.pick(&choices).unwrap_or(0)
}

fn wait_case(seed: u64) {
    let mut g = Gen::new(seed);
    let mut b = Ring::builder();
    match g.below(4) {
        0 => b = b.single_issuer().defer_taskrun(),
        1 => b = b.coop_taskrun().taskrun_flag(),
        2 => b = b.sqpoll(Duration::from_millis(g.range(1, 10))),
        _ => {}
    }
    let mut ring = b.build(g.range(1, 16) as u32).expect("a ring");
    let cq = ring.cq_entries();
    let mut ledger = Ledger::default();
    // Completions that come on their own once submitted: NOPs at once,
    // timeouts soon.
    let mut coming = 0u32;
    for step in 0..g.range(3, 12) {
        // Push a few, within what the SQ takes.
        for _ in 0..g.below(4) {
            if ring.space_left() == 0 {
                break;
            }
            if g.bool() {
                let ud = ledger.expect("a NOP");
                ring.push(Nop::new().user_data(ud)).unwrap();
            } else {
                let ud = ledger.expect("a timeout");
                let d = Duration::from_micros(g.below(3000));
                ring.push(Timeout::new(d).user_data(ud)).unwrap();
            }
            coming += 1;
        }
        if g.bool() {
            ring.submit().unwrap();
        }
        // What comes without a submit: what the kernel has taken (at
        // least). An SQ thread posts a batch's completions before it moves
        // the SQ's head past the batch, so the SQEs still counted as
        // pending may be more than the completions still to come.
        let submitted = coming.saturating_sub(ring.pending());
        let ready = ring.ready();
        let w = want(&mut g, ready, coming, cq);
        let d = g.duration();
        let kind = g.below(6);
        note(format!(
            "step {step}: call {kind}, want {w}, {d:?}, {ready} ready, {coming} coming, CQ {cq}"
        ));
        // A wait with no end but its completions only for what will come;
        // timeouts short enough for a test.
        let bounded = d.min(Duration::from_millis(50));
        let result = match kind {
            0 if w <= submitted => ring.wait(w),
            1 if w <= coming => ring.submit_and_wait(w).map(drop),
            2 => ring.wait_timeout(w, bounded),
            3 => ring.submit_and_wait_timeout(w, bounded).map(drop),
            4 => {
                let mut args = WaitArgs::new();
                if g.bool() || w > coming {
                    args = args.timeout(d.min(Duration::from_millis(50)));
                }
                if g.bool() {
                    args = args.min_wait(g.duration().min(Duration::from_millis(5)));
                }
                ring.submit_and_wait_with(w, &args).map(drop)
            }
            _ if w <= coming => {
                // The longest timeout there is, for completions that come.
                ring.submit_and_wait_timeout(w, Duration::MAX).map(drop)
            }
            // More than will come, and no end but them: the same wait
            // with a timeout.
            _ => ring.wait_timeout(w, bounded),
        };
        match &result {
            Ok(()) => {}
            Err(Error::TimedOut) => {}
            Err(Error::InvalidArgument(_)) => {
                assert!(w > cq, "step {step}: want {w} refused on a CQ of {cq}");
            }
            Err(e) => clear(e, &format!("step {step}")),
        }
        if w > cq {
            assert!(
                result.is_err(),
                "step {step}: want {w} on a CQ of {cq} was taken"
            );
        }
        // Read some of what came.
        let n = g.below(u64::from(ring.ready()) + 1) as usize;
        let cqes: Vec<Cqe> = ring.completions().take(n).collect();
        for cqe in &cqes {
            ledger.take(cqe);
            coming -= 1;
        }
    }
    settle(&mut ring, &mut ledger);
}

/// Waits of every kind, for any number of completions, with any duration
/// (`Duration::MAX` among them) where completions will come: each returns
/// once they have, times out, or refuses a `want` beyond the CQ; every
/// completion is read once.
#[test]
fn waits_with_arbitrary_wants_and_durations() {
    property("waits_with_arbitrary", 40, 0x0003_a175, wait_case);
}

// --- The completion queue, resizing, synchronous cancellation --------------

fn queue_case(seed: u64) {
    let mut g = Gen::new(seed);
    let mut b = Ring::builder();
    // Resizing needs deferred task work.
    let deferred = g.chance(2, 3);
    if deferred {
        b = b.single_issuer().defer_taskrun();
    }
    let mut ring = b.build(g.range(1, 16) as u32).expect("a ring");
    let mut ledger = Ledger::default();
    // The completions in the CQ, in order, as the model has them.
    let mut queue: Vec<u64> = Vec::new();
    // Timeouts that only a cancellation ends.
    let mut parked: Vec<u64> = Vec::new();
    for step in 0..g.range(4, 20) {
        let call = g.below(7);
        note(format!(
            "step {step}: call {call}, {queue:?} in the CQ, {} ready, SQ {} CQ {}",
            ring.ready(),
            ring.sq_entries(),
            ring.cq_entries()
        ));
        match call {
            0 => {
                // NOPs, which complete inside the submit; no more than the
                // CQ holds with what is in it and what a cancellation may
                // add, so that none waits in the kernel's overflow list.
                let room = (ring.cq_entries() as usize)
                    .saturating_sub(queue.len() + parked.len())
                    .min(ring.space_left() as usize);
                for _ in 0..g.below(room as u64 + 1) {
                    let ud = ledger.expect("a NOP");
                    ring.push(Nop::new().user_data(ud)).unwrap();
                }
                let n = ring.pending();
                ring.submit_and_wait(0).unwrap();
                let got: Vec<u64> = peek_all(&mut ring);
                assert!(got.len() >= queue.len());
                assert_eq!(
                    &got[..queue.len()],
                    &queue[..],
                    "step {step}: the CQ changed"
                );
                queue = got;
                assert!(n == 0 || !queue.is_empty());
            }
            1 => {
                let len = g
                    .pick(&[0usize, 1, 3, queue.len(), queue.len() + 5, 1000])
                    .unwrap_or(1);
                let mut out = vec![Cqe::default(); len];
                let n = ring.peek_batch(&mut out);
                assert_eq!(
                    n,
                    len.min(queue.len()),
                    "step {step}: peek_batch of {len}: {:?}",
                    out[..n].iter().map(|c| c.user_data()).collect::<Vec<_>>()
                );
                let peeked: Vec<u64> = out[..n].iter().map(|c| c.user_data()).collect();
                assert_eq!(peeked, queue[..n], "step {step}: peek_batch");
            }
            2 => {
                let n = g
                    .pick(&[
                        0u32,
                        1,
                        queue.len() as u32,
                        queue.len() as u32 + 1,
                        u32::MAX,
                    ])
                    .unwrap_or(0);
                let before = queue.clone();
                let mut out = vec![Cqe::default(); before.len()];
                let peeked = ring.peek_batch(&mut out);
                let advanced = ring.advance(n);
                assert_eq!(
                    advanced as usize,
                    (n as usize).min(before.len()),
                    "step {step}: advance({n}) over {}",
                    before.len()
                );
                for cqe in &out[..advanced as usize] {
                    ledger.take(cqe);
                }
                assert!(advanced as usize <= peeked);
                queue.drain(..advanced as usize);
            }
            3 => {
                // Read a few with the iterator.
                let n = g.below(queue.len() as u64 + 1) as usize;
                let cqes: Vec<Cqe> = ring.completions().take(n).collect();
                for cqe in &cqes {
                    ledger.take(cqe);
                }
                assert_eq!(
                    cqes.iter().map(|c| c.user_data()).collect::<Vec<_>>(),
                    queue[..n]
                );
                queue.drain(..n);
            }
            4 => {
                // A timeout nothing ends but a cancellation.
                if ring.space_left() > 0 && queue.len() + parked.len() < ring.cq_entries() as usize
                {
                    let ud = ledger.expect("a parked timeout");
                    ring.push(Timeout::new(Duration::from_secs(3600)).user_data(ud))
                        .unwrap();
                    ring.submit().unwrap();
                    parked.push(ud);
                }
            }
            5 => {
                let what = match g.below(5) {
                    0 => SyncCancel::user_data(g.pick(&parked).unwrap_or(12345)),
                    1 => SyncCancel::user_data(g.next_u64()),
                    2 => SyncCancel::op::<Timeout>(),
                    3 => SyncCancel::any(),
                    _ => SyncCancel::user_data(g.pick(&parked).unwrap_or(1)).all(),
                };
                let timeout = match g.below(3) {
                    0 => None,
                    1 => Some(Duration::ZERO),
                    _ => Some(g.duration()),
                };
                match ring.cancel_sync(what, timeout) {
                    Ok(()) | Err(Error::TimedOut) => {}
                    Err(e) => clear(&e, &format!("step {step}: cancel_sync")),
                }
                // What was cancelled completes: read the CQ into the model.
                ring.submit_and_wait(0).unwrap();
                let got = peek_all(&mut ring);
                assert_eq!(
                    &got[..queue.len()],
                    &queue[..],
                    "step {step}: the CQ changed"
                );
                for ud in &got[queue.len()..] {
                    parked.retain(|p| p != ud);
                }
                queue = got;
            }
            _ => {
                let (sq, cq) = (size(&mut g), size(&mut g));
                let result = ring.resize(sq, cq);
                note(format!("resize({sq}, {cq}): {result:?}"));
                if let Err(e) = &result {
                    clear(e, &format!("step {step}: resize({sq}, {cq})"));
                }
                if result.is_ok() && deferred {
                    assert!(ring.sq_entries().is_power_of_two());
                    assert!(ring.cq_entries() >= ring.sq_entries());
                }
                // Completions waiting in the CQ are kept, in order.
                let got = peek_all(&mut ring);
                assert!(
                    got.len() >= queue.len(),
                    "step {step}: resize lost completions"
                );
                assert_eq!(&got[..queue.len()], &queue[..], "step {step}: resize");
                queue = got;
            }
        }
    }
    for ud in parked {
        let _ = ring.cancel_sync(SyncCancel::user_data(ud), None);
    }
    settle(&mut ring, &mut ledger);
}

/// The `user_data` of every completion ready, in order, left in the CQ.
fn peek_all(ring: &mut Ring) -> Vec<u64> {
    let mut out = vec![Cqe::default(); ring.cq_entries() as usize * 2];
    let n = ring.peek_batch(&mut out);
    out[..n].iter().map(|c| c.user_data()).collect()
}

/// `peek_batch`, `advance`, the completions iterator, `resize` and
/// `cancel_sync` with arbitrary arguments keep the CQ as the model has it:
/// nothing lost, nothing twice, nothing out of order.
#[test]
fn the_completion_queue_resize_and_cancel_sync_with_arbitrary_arguments() {
    property("the_completion_queue", 40, 0x000c_0e0e, queue_case);
}
