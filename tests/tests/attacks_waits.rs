//! Attacks on every way to wait for completions, each held to its
//! documentation: `Ring::wait`, `submit_and_wait`, `wait_timeout`,
//! `submit_and_wait_timeout`, `wait_with` / `submit_and_wait_with` with
//! every kind of `WaitArgs`, registered waits, `get_events`,
//! `submit_and_get_events`, `wait_for_sq_space`, and the same on a scope.
//!
//! Across ring setups (plain, SQPOLL, `defer_taskrun`, `coop_taskrun` with
//! the task-run flag, 128-byte SQEs, a registered ring descriptor, a
//! resized ring, the boot-time clock, waits that do not count as iowait,
//! IOPOLL, mixed CQEs, a CQ a scope set aside, a CQ whose completions
//! overflowed into the kernel's list) and what happens during the wait
//! (timeout ops firing, multishot and linked timeouts, completions
//! trickling in from another thread, deferred task work, SQEs the kernel
//! refuses, a full SQ, signals), each wait is checked for what it returns,
//! how many completions are ready when it does, that every completion
//! comes once, in order where the ops were linked, that a wait with a
//! timeout or a deadline ends no earlier than it (and not long after:
//! loose bounds only), and that nothing hangs. Tests that install a signal
//! handler run in a process of their own.

use std::collections::HashMap;
use std::io::Write as _;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use uring::ops::{Nop, Read, Timeout, TimeoutRemove};
use uring::{
    Builder, Clock, Cqe16, CqeMixed, Either, Error, Features, Linked, Ring, Sqe64, Sqe128, SqeSize,
    TimeoutFlags, WaitArgs,
};
use uring_tests::in_own_process;
use uring_tests::signals::{SIG, block_signal, handled, install_handler, raise_pending, sig_set};

// ---------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------

/// The short time the waits below are given: long enough to tell a wait
/// that ended at it from one that ended at once, short enough to run
/// hundreds of them.
const T: Duration = Duration::from_millis(40);

/// An hour: a time no wait below may reach.
const HOUR: Duration = Duration::from_secs(3600);

/// Why the waits of registered slots past the first skip under valgrind.
const REGISTERED_OFFSET: &str = "valgrind reads a registered wait's offset \
                                 (IORING_ENTER_EXT_ARG_REG) as a pointer";

/// Why a test whose other thread must act while the test's thread waits
/// in `io_uring_enter` skips under valgrind.
const ONE_THREAD: &str = "valgrind runs one thread at a time, and holds it through \
                          io_uring_enter: the other thread cannot act while the wait sleeps";

/// A minimum wait longer than the kernel's `u32` of microseconds holds
/// (about 71 minutes).
const OVER_U32_MICROS: Duration = Duration::from_secs(2 * 3600);

/// How much later than its time a wait may end and still pass: loose, so
/// that a loaded machine (or valgrind) does not fail the run; a wait that
/// ran to a time it should not have waited for (an hour, a minimum wait
/// past the timeout) is far beyond it.
fn slack() -> Duration {
    if uring_tests::under_valgrind() {
        Duration::from_secs(60)
    } else {
        Duration::from_secs(5)
    }
}

/// Asserts that a wait that should end at `at_least` ended no earlier, and
/// not much later.
fn assert_ended(elapsed: Duration, at_least: Duration, what: &str) {
    assert!(
        elapsed >= at_least,
        "{what}: ended after {elapsed:?}, before its {at_least:?}"
    );
    assert!(
        elapsed < at_least + slack(),
        "{what}: ended after {elapsed:?}, long after its {at_least:?}"
    );
}

/// An instant `d` before now, or now when the clock is younger than that.
fn ago(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_sub(d).unwrap_or(now)
}

/// Whether `r` is `Error::TimedOut`.
fn timed_out<R>(r: &uring::Result<R>) -> bool {
    matches!(r, Err(Error::TimedOut))
}

/// Whether `r` is `Error::InvalidArgument`.
fn invalid<R>(r: &uring::Result<R>) -> bool {
    matches!(r, Err(Error::InvalidArgument(_)))
}

/// A NOP the kernel refuses as it prepares it (a 32-byte completion on a
/// ring of 16-byte ones, 6.18): it completes with `EINVAL`, and the enter
/// that submits it stops right after it.
fn stopper(user_data: u64) -> Nop {
    Nop::new()
        .big_cqe([user_data, !user_data])
        .user_data(user_data)
}

/// Whether the kernel stops a submission at a [`stopper`]; says why the
/// caller skips otherwise.
fn stoppers_stop() -> bool {
    let mut ring = Ring::new(2).unwrap();
    ring.push(stopper(1)).unwrap();
    ring.push(Nop::new().user_data(2)).unwrap();
    let stops = ring.submit().unwrap() == 1;
    if !stops {
        uring_tests::skip("this kernel does not stop a submission at a NOP it refuses");
    }
    stops
}

/// Pushes `op`; on a full SQ submits first (and on an SQPOLL ring waits
/// for its thread to free a slot).
fn push_anyway<S: SqeSize, O>(ring: &mut Ring<S>, op: O)
where
    O: uring::Submission<S> + uring::Unborrowed,
{
    let mut op = op;
    for _ in 0..1000 {
        match ring.push(op) {
            Ok(()) => return,
            Err(e) => {
                op = e.into_inner();
                ring.submit().unwrap();
                ring.wait_for_sq_space().unwrap();
            }
        }
    }
    panic!("the SQ never had room");
}

/// Everything ready now, as `(user_data, res)`, in CQ order.
fn take<S: SqeSize>(ring: &mut Ring<S>) -> Vec<(u64, i32)> {
    ring.completions()
        .map(|c| (c.user_data(), c.res()))
        .collect()
}

/// Reads completions until `n` more came (waiting [`uring_tests::PATIENCE`]
/// at most for each), then for a short while longer to catch any extra
/// one; returns them all in CQ order.
fn reap<S: SqeSize>(ring: &mut Ring<S>, n: usize) -> Vec<(u64, i32)> {
    let mut got = take(ring);
    while got.len() < n {
        ring.submit().unwrap();
        match ring.wait_timeout(1, uring_tests::PATIENCE) {
            Ok(()) => {}
            Err(e) => panic!("{e}: {} of {n} came: {got:?}", got.len()),
        }
        got.extend(take(ring));
    }
    let _ = ring.wait_timeout(1, Duration::from_millis(5));
    got.extend(take(ring));
    got
}

/// Asserts that `got` holds each of `want` exactly once (in any order) and
/// nothing else.
fn assert_once(got: &[(u64, i32)], want: &[u64], what: &str) {
    let mut counts: HashMap<u64, usize> = HashMap::new();
    for (ud, _) in got {
        *counts.entry(*ud).or_default() += 1;
    }
    for ud in want {
        assert_eq!(
            counts.remove(ud),
            Some(1),
            "{what}: completion {ud} not seen exactly once in {got:?}"
        );
    }
    assert!(
        counts.is_empty(),
        "{what}: unexpected completions {counts:?}"
    );
}

/// Removes timeout `user_data` if it is still pending; the removal itself
/// (`user_data + 1_000_000`) and the timeout's completion (whichever way
/// it ended) are returned, among whatever else arrives.
fn remove_timeout<S: SqeSize>(ring: &mut Ring<S>, user_data: u64) -> Vec<(u64, i32)> {
    push_anyway(
        ring,
        TimeoutRemove::new(user_data).user_data(user_data + 1_000_000),
    );
    reap(ring, 1)
}

// ---------------------------------------------------------------------------
// Ring setups
// ---------------------------------------------------------------------------

/// The ring setups the matrix runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Setup {
    Plain,
    Sqpoll,
    Defer,
    Coop,
    RingFd,
    Resized,
    Boottime,
    NoIowait,
}

/// Every [`Setup`].
const SETUPS: [Setup; 8] = [
    Setup::Plain,
    Setup::Sqpoll,
    Setup::Defer,
    Setup::Coop,
    Setup::RingFd,
    Setup::Resized,
    Setup::Boottime,
    Setup::NoIowait,
];

/// Registered wait slot: a timeout of [`uring_tests::PATIENCE`].
const SLOT_LONG: u32 = 0;
/// Registered wait slot: a timeout of [`T`].
const SLOT_SHORT: u32 = 1;
/// Registered wait slot: a minimum wait of [`T`], a timeout of an hour.
const SLOT_MIN: u32 = 2;
/// Registered wait slot: a minimum wait of 1 µs and no timeout.
const SLOT_MIN_ALONE: u32 = 3;

/// A ring of some setup, and what the tests need to know of it.
struct Rig<S: SqeSize = Sqe64> {
    ring: Ring<S>,
    setup: Setup,
    /// Whether it has the registered wait slots above (6.13).
    registered: bool,
}

impl<S: SqeSize> Rig<S> {
    fn sqpoll(&self) -> bool {
        self.setup == Setup::Sqpoll
    }

    fn what(&self) -> String {
        format!(
            "{:?} ({}-byte SQEs)",
            self.setup,
            std::mem::size_of::<S::Slot>()
        )
    }
}

/// A ring of `setup` with `entries` SQEs (and twice as many CQ entries,
/// eight times as many once resized), made disabled so that a wait
/// region can be registered (6.13), then enabled; `None` with a skip
/// message where the kernel or this process cannot have it.
fn rig<S: SqeSize>(setup: Setup, entries: u32) -> Option<Rig<S>> {
    let mut b = Builder::new().r_disabled();
    match setup {
        Setup::Sqpoll => {
            if !uring_tests::require_sqpoll() {
                return None;
            }
            b = b.sqpoll(Duration::from_millis(10));
        }
        Setup::Defer | Setup::Resized => b = b.single_issuer().defer_taskrun(),
        Setup::Coop => b = b.coop_taskrun().taskrun_flag(),
        _ => {}
    }
    let mut ring = match b.build_sized::<S, Cqe16>(entries) {
        Ok(ring) => ring,
        Err(e) => {
            uring_tests::skip(format_args!("no {setup:?} ring: {e}"));
            return None;
        }
    };
    let registered = uring_tests::kernel_version() >= (6, 13) && {
        ring.register_wait_region(4).unwrap();
        ring.set_registered_wait(SLOT_LONG, Some(uring_tests::PATIENCE), None)
            .unwrap();
        ring.set_registered_wait(SLOT_SHORT, Some(T), None).unwrap();
        ring.set_registered_wait(SLOT_MIN, Some(HOUR), Some(T))
            .unwrap();
        ring.set_registered_wait(SLOT_MIN_ALONE, None, Some(Duration::from_micros(1)))
            .unwrap();
        true
    };
    ring.enable().unwrap();
    let ok = match setup {
        Setup::RingFd => ring.register_ring_fd().map(drop),
        Setup::Resized => ring.resize(entries, entries * 8),
        Setup::Boottime => ring.register_clock(Clock::Boottime),
        Setup::NoIowait => ring.set_iowait(false),
        _ => Ok(()),
    };
    if let Err(e) = ok {
        uring_tests::skip(format_args!("no {setup:?} ring: {e}"));
        return None;
    }
    if setup == Setup::Resized {
        assert_eq!(ring.cq_entries(), entries * 8);
    }
    Some(Rig {
        ring,
        setup,
        registered,
    })
}

// ---------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------

/// The wait entry points of a ring (and, through [`Entry::call_scope`], of
/// a scope), with arguments that never end a wait before its completions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entry {
    Wait,
    SubmitAndWait,
    WaitTimeout,
    SubmitAndWaitTimeout,
    WaitWithTimeout,
    SubmitAndWaitWithTimeout,
    WaitWithDeadline,
    SubmitAndWaitWithDeadline,
    WaitWithMinWait,
    SubmitAndWaitWithMinWait,
    WaitRegistered,
    SubmitAndWaitRegistered,
}

/// Every [`Entry`].
const ENTRIES: [Entry; 12] = [
    Entry::Wait,
    Entry::SubmitAndWait,
    Entry::WaitTimeout,
    Entry::SubmitAndWaitTimeout,
    Entry::WaitWithTimeout,
    Entry::SubmitAndWaitWithTimeout,
    Entry::WaitWithDeadline,
    Entry::SubmitAndWaitWithDeadline,
    Entry::WaitWithMinWait,
    Entry::SubmitAndWaitWithMinWait,
    Entry::WaitRegistered,
    Entry::SubmitAndWaitRegistered,
];

impl Entry {
    /// Whether the entry point submits what was pushed.
    fn submits(self) -> bool {
        matches!(
            self,
            Entry::SubmitAndWait
                | Entry::SubmitAndWaitTimeout
                | Entry::SubmitAndWaitWithTimeout
                | Entry::SubmitAndWaitWithDeadline
                | Entry::SubmitAndWaitWithMinWait
                | Entry::SubmitAndWaitRegistered
        )
    }

    /// Whether the entry point needs registered wait slots.
    fn registered(self) -> bool {
        matches!(self, Entry::WaitRegistered | Entry::SubmitAndWaitRegistered)
    }

    /// Whether a minimum wait may end this wait with fewer than it wants
    /// (but at least one).
    fn min_wait(self) -> bool {
        matches!(
            self,
            Entry::WaitWithMinWait | Entry::SubmitAndWaitWithMinWait
        )
    }

    /// The arguments of the `_with` entry points: long timeouts or
    /// deadlines; a minimum wait of 1 µs with an hour's timeout.
    fn args(self) -> WaitArgs<'static> {
        match self {
            Entry::WaitWithTimeout | Entry::SubmitAndWaitWithTimeout => {
                WaitArgs::new().timeout(uring_tests::PATIENCE)
            }
            Entry::WaitWithDeadline | Entry::SubmitAndWaitWithDeadline => {
                WaitArgs::new().deadline(Instant::now() + uring_tests::PATIENCE)
            }
            _ => WaitArgs::new()
                .min_wait(Duration::from_micros(1))
                .timeout(HOUR),
        }
    }

    /// Calls the entry point on `ring` for `want` completions; the count
    /// submitted (0 for the entry points that do not submit).
    fn call<S: SqeSize>(self, ring: &mut Ring<S>, want: u32) -> uring::Result<u32> {
        let patience = uring_tests::PATIENCE;
        match self {
            Entry::Wait => ring.wait(want).map(|()| 0),
            Entry::SubmitAndWait => ring.submit_and_wait(want),
            Entry::WaitTimeout => ring.wait_timeout(want, patience).map(|()| 0),
            Entry::SubmitAndWaitTimeout => ring.submit_and_wait_timeout(want, patience),
            Entry::WaitRegistered => ring.wait_registered(want, SLOT_LONG).map(|()| 0),
            Entry::SubmitAndWaitRegistered => ring.submit_and_wait_registered(want, SLOT_LONG),
            e if e.submits() => ring.submit_and_wait_with(want, &e.args()),
            e => ring.wait_with(want, &e.args()).map(|()| 0),
        }
    }

    /// [`call`](Entry::call) on a scope of the ring.
    fn call_scope<S: SqeSize>(
        self,
        s: &mut uring::Scope<'_, '_, S, Cqe16>,
        want: u32,
    ) -> uring::Result<u32> {
        let patience = uring_tests::PATIENCE;
        match self {
            Entry::Wait => s.wait(want).map(|()| 0),
            Entry::SubmitAndWait => s.submit_and_wait(want),
            Entry::WaitTimeout => s.wait_timeout(want, patience).map(|()| 0),
            Entry::SubmitAndWaitTimeout => s.submit_and_wait_timeout(want, patience),
            Entry::WaitRegistered => s.wait_registered(want, SLOT_LONG).map(|()| 0),
            Entry::SubmitAndWaitRegistered => s.submit_and_wait_registered(want, SLOT_LONG),
            e if e.submits() => s.submit_and_wait_with(want, &e.args()),
            e => s.wait_with(want, &e.args()).map(|()| 0),
        }
    }
}

/// Whether `rig` can run `entry` (registered waits need 6.13, minimum
/// waits 6.12).
fn runs(rig: &Rig<impl SqeSize>, entry: Entry) -> bool {
    (!entry.registered() || rig.registered)
        && (!entry.min_wait() || rig.ring.params().has(Features::MIN_TIMEOUT))
}

// ---------------------------------------------------------------------------
// How many: want of 0, 1, many, the CQ's size and beyond it
// ---------------------------------------------------------------------------

/// Every entry point of `rig`, for `want` of 0, 1, 5, the CQ's size and
/// one more: up to the CQ's size each returns `Ok` with at least `want`
/// completions ready (with a minimum wait, at least one), counting what it
/// submitted (what this call handed over, a full SQ for the CQ's size; on
/// SQPOLL, never less), and every NOP comes back once; one more than the
/// CQ holds is `InvalidArgument` and loses nothing pushed. In scopes too
/// (0, 1 and a full SQ).
fn want_matrix<S: SqeSize>(rig: &mut Rig<S>) {
    let what = rig.what();
    let cq = rig.ring.cq_entries();
    let sq = rig.ring.sq_entries();
    let mut ud = 1u64;
    for entry in ENTRIES {
        if !runs(rig, entry) {
            continue;
        }
        for want in [0, 1, 5, cq, cq + 1] {
            let case = format!("{what}: {entry:?} for {want}");
            let sqpoll = rig.sqpoll();
            let ring = &mut rig.ring;
            if want > cq {
                push_anyway(ring, Nop::new().user_data(ud));
                if !entry.submits() {
                    ring.submit().unwrap();
                }
                let r = entry.call(ring, want);
                assert!(invalid(&r), "{case}: {r:?}");
                let got = reap(ring, 1);
                assert_once(&got, &[ud], &case);
                ud += 1;
                continue;
            }
            // All but the last batch submitted now; the last by the call,
            // if it submits.
            let first = ud;
            let mut left = want;
            let mut handed = 0;
            while left > 0 {
                let batch = left.min(sq);
                for _ in 0..batch {
                    push_anyway(ring, Nop::new().user_data(ud));
                    ud += 1;
                }
                left -= batch;
                if left > 0 || !entry.submits() {
                    ring.submit().unwrap();
                } else {
                    handed = batch;
                }
            }
            let r = entry.call(ring, want);
            let n = r.unwrap_or_else(|e| panic!("{case}: {e}"));
            if entry.submits() {
                if sqpoll {
                    assert!(n >= handed && n <= want, "{case}: counted {n} of {handed}");
                } else {
                    assert_eq!(n, handed, "{case}: the count");
                }
            } else {
                assert_eq!(n, 0, "{case}");
            }
            let ready = ring.ready();
            if entry.min_wait() && want > 0 {
                assert!(ready >= 1, "{case}: {ready} ready");
            } else {
                assert!(ready >= want, "{case}: {ready} ready");
            }
            let got = reap(ring, want as usize);
            let pushed: Vec<u64> = (first..ud).collect();
            assert_once(&got, &pushed, &case);
        }
        // The same in a scope, for 0, 1 and a full SQ.
        for want in [0u32, 1, sq] {
            let case = format!("{what}: scope {entry:?} for {want}");
            let first = ud;
            let got = rig.ring.scope(|s| {
                for i in 0..u64::from(want) {
                    s.push(Nop::new().user_data(first + i)).unwrap();
                }
                if !entry.submits() {
                    s.submit().unwrap();
                }
                entry
                    .call_scope(s, want)
                    .unwrap_or_else(|e| panic!("{case}: {e}"));
                let mut got: Vec<(u64, i32)> =
                    s.completions().map(|c| (c.user_data(), c.res())).collect();
                while got.len() < want as usize {
                    s.wait_timeout(1, uring_tests::PATIENCE).unwrap();
                    got.extend(s.completions().map(|c| (c.user_data(), c.res())));
                }
                let r = entry.call_scope(s, cq + 1);
                assert!(invalid(&r), "{case}: for {}: {r:?}", cq + 1);
                got
            });
            ud += u64::from(want);
            let pushed: Vec<u64> = (first..ud).collect();
            assert_once(&got, &pushed, &case);
        }
    }
    assert!(reap(&mut rig.ring, 0).is_empty(), "{what}: nothing more");
}

/// [`want_matrix`] on every setup, and on rings of 128-byte SQEs (plain,
/// SQPOLL, `defer_taskrun`).
#[test]
fn every_entry_point_waits_for_0_1_many_and_the_whole_cq_and_refuses_more() {
    let _watch = uring_tests::watchdog();
    for setup in SETUPS {
        if let Some(mut rig) = rig::<Sqe64>(setup, 4) {
            want_matrix(&mut rig);
        }
    }
    for setup in [Setup::Plain, Setup::Sqpoll, Setup::Defer] {
        if let Some(mut rig) = rig::<Sqe128>(setup, 4) {
            want_matrix(&mut rig);
        }
    }
}

// ---------------------------------------------------------------------------
// Every kind of WaitArgs
// ---------------------------------------------------------------------------

/// How a wait of a [`Case`] must end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// `Ok`.
    Ok,
    /// `Error::TimedOut` (for a call that submitted something, `Ok` with
    /// its count, as the timeouts of `submit_and_wait_timeout` count).
    TimedOut,
    /// Either: a minimum wait and a timeout that end at the same time.
    OkOrTimedOut,
}

/// One wait with arguments, and what it must do.
struct Case {
    name: &'static str,
    /// The arguments, given the instant the wait starts.
    args: fn(Instant) -> WaitArgs<'static>,
    /// Completions ready (unread) when the wait starts.
    ready: u32,
    /// Completions the wait asks for.
    want: u32,
    /// A timeout op that fires this long after the wait starts (the only
    /// other completion that can come).
    timer: Option<Duration>,
    /// How the wait ends.
    outcome: Outcome,
    /// When it ends, at the earliest.
    at_least: Duration,
    /// Completions ready when it ends.
    ready_after: u32,
    /// Whether the case needs minimum waits (6.12).
    min_wait: bool,
}

/// Twice [`T`].
const T2: Duration = Duration::from_millis(80);

/// Three times [`T`].
const T3: Duration = Duration::from_millis(120);

/// A century, as a deadline's distance.
const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The cases: timeouts shorter, longer and equal to the minimum wait,
/// deadlines past, now and far, minimum waits of 0, 1 µs, longer than the
/// timeout and than a `u32` of microseconds, huge timeouts.
#[rustfmt::skip]
fn cases() -> Vec<Case> {
    use Outcome::*;
    let c = |name, args, ready, want, timer, outcome, at_least, ready_after, min_wait| -> Case {
        Case {
            name,
            args,
            ready,
            want,
            timer,
            outcome,
            at_least,
            ready_after,
            min_wait,
        }
    };
    vec![
        c("timeout, nothing comes", |_| WaitArgs::new().timeout(T), 0, 1, None, TimedOut, T, 0, false),
        c("timeout, fewer than wanted", |_| WaitArgs::new().timeout(T), 1, 2, None, TimedOut, T, 1, false),
        c("timeout of 0", |_| WaitArgs::new().timeout(Duration::ZERO), 0, 1, None, TimedOut, Duration::ZERO, 0, false),
        c("timeout of 0, enough ready", |_| WaitArgs::new().timeout(Duration::ZERO), 1, 1, None, Ok, Duration::ZERO, 1, false),
        c("timeout longer than a timeout op", |_| WaitArgs::new().timeout(HOUR), 0, 1, Some(T), Ok, T, 1, false),
        c("timeout shorter than a timeout op", |_| WaitArgs::new().timeout(T), 0, 1, Some(T3), TimedOut, T, 0, false),
        c("deadline past", |_| WaitArgs::new().deadline(ago(Duration::from_secs(1))), 0, 1, None, TimedOut, Duration::ZERO, 0, false),
        c("deadline past, fewer", |_| WaitArgs::new().deadline(ago(Duration::from_secs(1))), 1, 2, None, TimedOut, Duration::ZERO, 1, false),
        c("deadline past, enough", |_| WaitArgs::new().deadline(ago(Duration::from_secs(1))), 2, 2, None, Ok, Duration::ZERO, 2, false),
        c("deadline now", |now| WaitArgs::new().deadline(now), 0, 1, None, TimedOut, Duration::ZERO, 0, false),
        c("deadline soon", |now| WaitArgs::new().deadline(now + T), 0, 1, None, TimedOut, T, 0, false),
        c("deadline far, a timeout op", |now| WaitArgs::new().deadline(now + HOUR), 0, 1, Some(T), Ok, T, 1, false),
        c("deadline a century away", |now| WaitArgs::new().deadline(now + CENTURY), 0, 1, Some(T), Ok, T, 1, false),
        c("deadline soon, timeout an hour", |now| WaitArgs::new().deadline(now + T).timeout(HOUR), 0, 1, None, TimedOut, T, 0, false),
        c("timeout soon, deadline an hour", |now| WaitArgs::new().timeout(T).deadline(now + HOUR), 0, 1, None, TimedOut, T, 0, false),
        c("huge timeout", |_| WaitArgs::new().timeout(Duration::MAX), 0, 1, Some(T), Ok, T, 1, false),
        c("min_wait 0, timeout", |_| WaitArgs::new().min_wait(Duration::ZERO).timeout(T), 0, 1, None, TimedOut, T, 0, true),
        c("min_wait 0, enough ready", |_| WaitArgs::new().min_wait(Duration::ZERO), 1, 1, None, Ok, Duration::ZERO, 1, true),
        c("min_wait under 1 us, fewer", |_| { WaitArgs::new() .min_wait(Duration::from_nanos(500)) .timeout(T) }, 1, 2, None, TimedOut, T, 1, true),
        c("min_wait 1 us alone, one ready", |_| WaitArgs::new().min_wait(Duration::from_micros(1)), 1, 2, None, Ok, Duration::ZERO, 1, true),
        c("min_wait 1 us alone, a timeout op later", |_| WaitArgs::new().min_wait(Duration::from_micros(1)), 0, 2, Some(T), Ok, T, 1, true),
        c("min_wait alone, one ready", |_| WaitArgs::new().min_wait(T2), 1, 2, None, Ok, T2, 1, true),
        c("min_wait alone, a timeout op fires within it", |_| WaitArgs::new().min_wait(T2), 0, 2, Some(T), Ok, T2, 1, true),
        c("min_wait alone, a timeout op after it", |_| WaitArgs::new().min_wait(T), 0, 2, Some(T3), Ok, T3, 1, true),
        c("min_wait shorter than the timeout, one ready", |_| WaitArgs::new().min_wait(T).timeout(HOUR), 1, 2, None, Ok, T, 1, true),
        c("min_wait shorter than the timeout, none", |_| WaitArgs::new().min_wait(T).timeout(T3), 0, 2, None, TimedOut, T3, 0, true),
        c("min_wait longer than the timeout, one ready", |_| WaitArgs::new().min_wait(HOUR).timeout(T), 1, 2, None, OkOrTimedOut, T, 1, true),
        c("min_wait longer than the timeout, none", |_| WaitArgs::new().min_wait(HOUR).timeout(T), 0, 2, None, TimedOut, T, 0, true),
        c("min_wait equal to the timeout, one ready", |_| WaitArgs::new().min_wait(T).timeout(T), 1, 2, None, OkOrTimedOut, T, 1, true),
        c("min_wait equal to the timeout, none", |_| WaitArgs::new().min_wait(T).timeout(T), 0, 2, None, TimedOut, T, 0, true),
        c("min_wait over u32 micros, timeout, one ready", |_| WaitArgs::new().min_wait(OVER_U32_MICROS).timeout(T), 1, 2, None, OkOrTimedOut, T, 1, true),
        c("min_wait over u32 micros alone, enough comes", |_| WaitArgs::new().min_wait(OVER_U32_MICROS), 0, 1, Some(T), Ok, T, 1, true),
        c("min_wait and timeout of Duration::MAX, enough comes", |_| { WaitArgs::new() .min_wait(Duration::MAX) .timeout(Duration::MAX) }, 0, 1, Some(T), Ok, T, 1, true),
        c("min_wait, deadline past", |_| { WaitArgs::new() .min_wait(T) .deadline(ago(Duration::from_secs(1))) }, 0, 1, None, TimedOut, Duration::ZERO, 0, true),
        c("min_wait, deadline past, enough", |_| { WaitArgs::new() .min_wait(T) .deadline(ago(Duration::from_secs(1))) }, 1, 1, None, Ok, Duration::ZERO, 1, true),
        c("min_wait longer than the time to the deadline, one ready", |now| WaitArgs::new().min_wait(HOUR).deadline(now + T), 1, 2, None, OkOrTimedOut, T, 1, true),
        c("min_wait, deadline far, a timeout op after it", |now| WaitArgs::new().min_wait(T).deadline(now + HOUR), 0, 3, Some(T2), Ok, T2, 1, true),
    ]
}

/// Runs `case` on `rig`, with `wait_with` (`submit`: the timeout op pushed
/// and submitted by `submit_and_wait_with`); `ud` numbers the ops.
fn run_case<S: SqeSize>(rig: &mut Rig<S>, case: &Case, submit: bool, ud: &mut u64) {
    let what = format!("{}: {}, submit {submit}", rig.what(), case.name);
    let sqpoll = rig.sqpoll();
    let ring = &mut rig.ring;
    let mut pushed = Vec::new();
    for _ in 0..case.ready {
        push_anyway(ring, Nop::new().user_data(*ud));
        pushed.push(*ud);
        *ud += 1;
    }
    ring.submit_and_wait(case.ready).unwrap();
    assert_eq!(ring.ready(), case.ready, "{what}: ready before");
    // Timed from before the timeout op is pushed: the kernel arms it as it
    // takes the SQE, which a `submit` before the wait does before the wait
    // starts; a wait the op ends may then end sooner after its own start
    // than the op's time.
    let start = Instant::now();
    let timer = case.timer.map(|t| {
        push_anyway(ring, Timeout::new(t).user_data(*ud));
        pushed.push(*ud);
        *ud += 1;
        *ud - 1
    });
    if !submit {
        ring.submit().unwrap();
    }
    let args = (case.args)(start);
    let r = if submit {
        ring.submit_and_wait_with(case.want, &args)
    } else {
        ring.wait_with(case.want, &args).map(|()| 0)
    };
    let elapsed = start.elapsed();
    let ready = ring.ready();
    // A timeout op the wait did not wait for fires in its own time: on a
    // loaded machine, perhaps before `ready` is read.
    let may_have_fired =
        case.ready_after == case.ready && case.timer.is_some_and(|t| start.elapsed() >= t);
    let handed = u32::from(submit && timer.is_some());
    let ok = match &r {
        Ok(n) if sqpoll => *n >= handed,
        Ok(n) => *n == handed,
        Err(_) => false,
    };
    let expected = match case.outcome {
        Outcome::Ok => ok,
        // What was submitted is counted, even when time ran out.
        Outcome::TimedOut if handed > 0 => ok,
        Outcome::TimedOut => timed_out(&r),
        Outcome::OkOrTimedOut => ok || (handed == 0 && timed_out(&r)),
    };
    assert!(expected, "{what}: {r:?} after {elapsed:?}, {ready} ready");
    assert!(
        ready == case.ready_after || (may_have_fired && ready == case.ready_after + 1),
        "{what}: {ready} ready after {r:?}, not {}",
        case.ready_after
    );
    assert_ended(elapsed, case.at_least, &what);
    // Every completion once: the timeout op, removed if it is pending.
    let mut got = take(ring);
    if let Some(timer) = timer
        && !got.iter().any(|c| c.0 == timer)
    {
        got.extend(remove_timeout(ring, timer));
        pushed.push(timer + 1_000_000);
    }
    assert_once(&got, &pushed, &what);
}

/// Every [`cases`] entry on a ring of `setup`, submitting and not.
fn wait_args_on(setup: Setup) {
    let Some(mut rig) = rig::<Sqe64>(setup, 8) else {
        return;
    };
    if !uring_tests::require_features(&rig.ring, Features::EXT_ARG, "waits with arguments") {
        return;
    }
    let min_wait = rig.ring.params().has(Features::MIN_TIMEOUT);
    if !min_wait {
        uring_tests::skip("no minimum waits (6.12): their cases are left out");
    }
    let mut ud = 1;
    for case in cases() {
        if case.min_wait && !min_wait {
            continue;
        }
        for submit in [false, true] {
            run_case(&mut rig, &case, submit, &mut ud);
        }
    }
    assert!(reap(&mut rig.ring, 0).is_empty());
}

/// Every combination of [`cases`] on a plain ring.
#[test]
fn wait_args_on_a_plain_ring() {
    let _watch = uring_tests::watchdog();
    wait_args_on(Setup::Plain);
}

/// [`cases`] on an SQPOLL ring.
#[test]
fn wait_args_on_an_sqpoll_ring() {
    let _watch = uring_tests::watchdog();
    wait_args_on(Setup::Sqpoll);
}

/// [`cases`] on a `defer_taskrun` ring.
#[test]
fn wait_args_on_a_defer_taskrun_ring() {
    let _watch = uring_tests::watchdog();
    wait_args_on(Setup::Defer);
}

/// [`cases`] on a `coop_taskrun` ring with the task-run flag.
#[test]
fn wait_args_on_a_coop_taskrun_ring() {
    let _watch = uring_tests::watchdog();
    wait_args_on(Setup::Coop);
}

/// [`cases`] on a ring whose descriptor is registered.
#[test]
fn wait_args_on_a_registered_ring_fd() {
    let _watch = uring_tests::watchdog();
    wait_args_on(Setup::RingFd);
}

/// [`cases`] on a resized ring.
#[test]
fn wait_args_on_a_resized_ring() {
    let _watch = uring_tests::watchdog();
    wait_args_on(Setup::Resized);
}

/// [`cases`] on a ring timed on the boot-time clock (its deadlines turned
/// into times of that clock).
#[test]
fn wait_args_on_the_boot_time_clock() {
    let _watch = uring_tests::watchdog();
    wait_args_on(Setup::Boottime);
}

/// [`cases`] on a ring whose waits do not count as iowait.
#[test]
fn wait_args_without_iowait() {
    let _watch = uring_tests::watchdog();
    wait_args_on(Setup::NoIowait);
}

// ---------------------------------------------------------------------------
// Registered wait arguments
// ---------------------------------------------------------------------------

/// The registered slots of [`rig`] end waits as they were set: the short
/// timeout with `TimedOut` (or, for a call that submitted, `Ok` with its
/// count) no earlier than it; the minimum wait after it with one
/// completion of two, and, when a timeout op ended the kernel's wait a
/// quarter of the way in, after the rest of it; the minimum wait alone,
/// with nothing ready, only at
/// the completion that comes after it (the kernel's `ETIME` at its end is
/// not a timeout); the long timeout at its completions, through timeout
/// ops that fire within it. On every setup, from the ring and its scope.
#[test]
fn registered_slots_end_waits_as_they_were_set_on_every_setup() {
    let _watch = uring_tests::watchdog();
    if uring_tests::under_valgrind() {
        return uring_tests::skip(REGISTERED_OFFSET);
    }
    for setup in SETUPS {
        let Some(mut rig) = rig::<Sqe64>(setup, 8) else {
            continue;
        };
        if !rig.registered {
            uring_tests::skip("no registered wait arguments (6.13)");
            return;
        }
        let what = rig.what();
        let sqpoll = rig.sqpoll();
        let ring = &mut rig.ring;
        // The short timeout, nothing coming.
        let start = Instant::now();
        let r = ring.wait_registered(1, SLOT_SHORT);
        assert!(timed_out(&r), "{what}: {r:?}");
        assert_ended(start.elapsed(), T, &what);
        // The short timeout, a submitted timeout op that fires after it.
        ring.push(Timeout::new(T3).user_data(1)).unwrap();
        let start = Instant::now();
        let r = ring.submit_and_wait_registered(1, SLOT_SHORT);
        let n = r.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(n == 1 || (sqpoll && n >= 1), "{what}: counted {n}");
        assert_ended(start.elapsed(), T, &what);
        // The timeout op fires in its own time: on a loaded machine,
        // perhaps before `ready` is read.
        let ready = ring.ready();
        assert!(
            ready == 0 || (ready == 1 && start.elapsed() >= T3),
            "{what}: {ready} ready"
        );
        assert_once(&reap(ring, 1), &[1], &what);
        // The minimum wait, one of two ready.
        ring.push(Nop::new().user_data(2)).unwrap();
        ring.submit_and_wait(1).unwrap();
        let start = Instant::now();
        ring.wait_registered(2, SLOT_MIN)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_ended(start.elapsed(), T, &what);
        assert_eq!(take(ring), [(2, 0)], "{what}");
        // The minimum wait alone, nothing ready, a timeout op later (timed
        // from before its submit, which arms it).
        let start = Instant::now();
        ring.push(Timeout::new(T).user_data(3)).unwrap();
        ring.submit().unwrap();
        ring.wait_registered(2, SLOT_MIN_ALONE)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_ended(start.elapsed(), T, &what);
        assert_eq!(take(ring), [(3, -libc::ETIME)], "{what}");
        // The minimum wait, none ready, a timeout op that ends the first
        // enter early (at a quarter of it): the wait goes on for what is
        // left of the slot's minimum wait.
        ring.push(Timeout::new(T / 4).user_data(30)).unwrap();
        ring.submit().unwrap();
        let start = Instant::now();
        ring.wait_registered(3, SLOT_MIN)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_ended(start.elapsed(), T, &what);
        assert_eq!(take(ring), [(30, -libc::ETIME)], "{what}");
        // The long timeout, three timeout ops that each end the kernel's
        // wait early.
        for (ud, t) in [(4, T), (5, T2), (6, T3)] {
            ring.push(Timeout::new(t).user_data(ud)).unwrap();
        }
        let start = Instant::now();
        let n = ring
            .submit_and_wait_registered(3, SLOT_LONG)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(n == 3 || (sqpoll && n >= 3), "{what}: counted {n}");
        assert_ended(start.elapsed(), T3, &what);
        assert_eq!(
            take(ring),
            [(4, -libc::ETIME), (5, -libc::ETIME), (6, -libc::ETIME)],
            "{what}"
        );
        // From a scope.
        let got = ring.scope(|s| {
            s.push(Timeout::new(T).user_data(7)).unwrap();
            s.push(Timeout::new(T2).user_data(8)).unwrap();
            let start = Instant::now();
            s.submit_and_wait_registered(2, SLOT_LONG).unwrap();
            assert_ended(start.elapsed(), T2, &what);
            let got = s
                .completions()
                .map(|c| (c.user_data(), c.res()))
                .collect::<Vec<_>>();
            let start = Instant::now();
            let r = s.wait_registered(1, SLOT_SHORT);
            assert!(timed_out(&r), "{what}: {r:?}");
            assert_ended(start.elapsed(), T, &what);
            got
        });
        assert_eq!(got, [(7, -libc::ETIME), (8, -libc::ETIME)], "{what}");
        assert!(reap(ring, 0).is_empty(), "{what}");
    }
}

// ---------------------------------------------------------------------------
// What fires meanwhile: timeout ops, multishot timeouts, linked timeouts
// ---------------------------------------------------------------------------

/// A NOP or a timeout, the elements of the chains below.
type NopOrTimeout = Either<Nop, Timeout>;

/// While each entry point waits, on every setup: a multishot timeout
/// fires four times (each firing ends the kernel's wait, which the entry
/// point goes on with), and a hard-linked chain of NOPs and timeouts runs
/// op after op. Each returns `Ok` with what it wanted ready (a minimum
/// wait: at least one); the multishot timeout's four completions come
/// once each, flagged `IORING_CQE_F_MORE` but the last; the chain's come
/// in chain order, timeouts with `ETIME`. Then a link timeout cuts a
/// timeout op an hour long (its own completion first, `ETIME`, then the
/// op's `ECANCELED`), and another is cancelled by the NOP it bounds (the
/// NOP's first).
#[test]
fn timeout_ops_multishot_and_linked_timeouts_during_every_wait() {
    let _watch = uring_tests::watchdog();
    for setup in SETUPS {
        let Some(mut rig) = rig::<Sqe64>(setup, 8) else {
            continue;
        };
        let what = rig.what();
        let mut ud = 0u64;
        for entry in ENTRIES {
            if !runs(&rig, entry) {
                continue;
            }
            let case = format!("{what}: {entry:?}");
            let ring = &mut rig.ring;
            // A multishot timeout: four firings, 5 ms apart.
            ud += 10;
            ring.push(
                Timeout::new(Duration::from_millis(5))
                    .count(4)
                    .timeout_flags(TimeoutFlags::MULTISHOT)
                    .user_data(ud),
            )
            .unwrap();
            if !entry.submits() {
                ring.submit().unwrap();
            }
            entry
                .call(ring, 4)
                .unwrap_or_else(|e| panic!("{case}, multishot: {e}"));
            let ready = ring.ready();
            assert!(
                ready >= 4 || (entry.min_wait() && ready >= 1),
                "{case}: {ready} ready"
            );
            let mut got = Vec::new();
            while got.len() < 4 {
                if ring.ready() == 0 {
                    ring.wait_timeout(1, uring_tests::PATIENCE).unwrap();
                }
                got.extend(
                    ring.completions()
                        .map(|c| (c.user_data(), c.res(), c.has_more())),
                );
            }
            assert_eq!(
                got,
                [
                    (ud, -libc::ETIME, true),
                    (ud, -libc::ETIME, true),
                    (ud, -libc::ETIME, true),
                    (ud, -libc::ETIME, false)
                ],
                "{case}: the multishot timeout"
            );
            // A hard-linked chain: NOP, timeout, NOP, timeout, NOP.
            ud += 10;
            let first = ud;
            let chain: Vec<NopOrTimeout> = (0..5u64)
                .map(|i| {
                    if i % 2 == 1 {
                        Either::Right(
                            Timeout::new(Duration::from_millis(3 * i)).user_data(first + i),
                        )
                    } else {
                        Either::Left(Nop::new().user_data(first + i))
                    }
                })
                .collect();
            ring.push_linked(Linked::hard(chain)).unwrap();
            if !entry.submits() {
                ring.submit().unwrap();
            }
            entry
                .call(ring, 5)
                .unwrap_or_else(|e| panic!("{case}, chain: {e}"));
            let ready = ring.ready();
            assert!(
                ready >= 5 || (entry.min_wait() && ready >= 1),
                "{case}: {ready} ready"
            );
            let got = reap(ring, 5);
            let want: Vec<(u64, i32)> = (0..5u64)
                .map(|i| (first + i, if i % 2 == 1 { -libc::ETIME } else { 0 }))
                .collect();
            assert_eq!(got, want, "{case}: the chain, in order");
        }
        // Link timeouts, with a deadline-bound wait.
        let ring = &mut rig.ring;
        ring.push(Timeout::new(HOUR).user_data(1).timeout_with(T, 2))
            .unwrap();
        ring.push(Nop::new().user_data(3).timeout_with(HOUR, 4))
            .unwrap();
        let start = Instant::now();
        let args = WaitArgs::new().deadline(start + uring_tests::PATIENCE);
        ring.submit_and_wait_with(4, &args)
            .unwrap_or_else(|e| panic!("{what}: link timeouts: {e}"));
        assert_ended(start.elapsed(), T, &what);
        let got = take(ring);
        let first_chain: Vec<_> = got.iter().filter(|c| c.0 <= 2).copied().collect();
        let second_chain: Vec<_> = got.iter().filter(|c| c.0 >= 3).copied().collect();
        assert_eq!(
            first_chain,
            [(2, -libc::ETIME), (1, -libc::ECANCELED)],
            "{what}"
        );
        assert_eq!(second_chain, [(3, 0), (4, -libc::ECANCELED)], "{what}");
        assert!(reap(ring, 0).is_empty(), "{what}");
    }
}

// ---------------------------------------------------------------------------
// Completions that trickle in from another thread
// ---------------------------------------------------------------------------

/// Posts completions `(res i, user_data first + i)` for `i` in `0..n` to
/// the ring of `target` from a thread of its own, `gap` apart, starting
/// `gap` after it was made.
fn poster(
    target: uring::RingTarget,
    first: u64,
    n: u64,
    gap: Duration,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for i in 0..n {
            std::thread::sleep(gap);
            target.post(i as i32, first + i).unwrap();
        }
    })
}

/// While each entry point waits, on every setup, another thread posts six
/// completions into the ring 2 ms apart (on a `defer_taskrun` ring, as
/// task work the waiting thread runs): each returns `Ok` once all six are
/// ready (a minimum wait: at least one, and not before its minimum wait
/// unless all six came), and the six come once each, in the order they
/// were posted.
#[test]
fn completions_posted_by_another_thread_end_every_wait() {
    let _watch = uring_tests::watchdog();
    if uring_tests::under_valgrind() {
        return uring_tests::skip(ONE_THREAD);
    }
    if !uring_tests::require_kernel(6, 13, "posting completions from no ring") {
        return;
    }
    for setup in SETUPS {
        let Some(mut rig) = rig::<Sqe64>(setup, 8) else {
            continue;
        };
        let what = rig.what();
        let mut first = 0u64;
        for entry in ENTRIES {
            if !runs(&rig, entry) {
                continue;
            }
            let case = format!("{what}: {entry:?}");
            first += 100;
            let ring = &mut rig.ring;
            let sender = poster(
                ring.msg_target().unwrap(),
                first,
                6,
                Duration::from_millis(2),
            );
            entry
                .call(ring, 6)
                .unwrap_or_else(|e| panic!("{case}: {e}"));
            let ready = ring.ready();
            assert!(
                ready >= 6 || (entry.min_wait() && ready >= 1),
                "{case}: {ready} ready"
            );
            sender.join().unwrap();
            let got = reap(ring, 6);
            let want: Vec<(u64, i32)> = (0..6).map(|i| (first + i, i as i32)).collect();
            assert_eq!(got, want, "{case}");
        }
        // A minimum wait that batches: it ends once its minimum wait has
        // passed with at least one there, or with all six.
        if rig.ring.params().has(Features::MIN_TIMEOUT) {
            let ring = &mut rig.ring;
            first += 100;
            let sender = poster(
                ring.msg_target().unwrap(),
                first,
                6,
                Duration::from_millis(10),
            );
            let start = Instant::now();
            ring.wait_with(6, &WaitArgs::new().min_wait(T2).timeout(HOUR))
                .unwrap_or_else(|e| panic!("{what}: batching: {e}"));
            let elapsed = start.elapsed();
            let ready = ring.ready();
            assert!(ready >= 1, "{what}: batching: none ready");
            if ready < 6 {
                assert_ended(elapsed, T2, &format!("{what}: batching, {ready} ready"));
            }
            sender.join().unwrap();
            let got = reap(ring, 6);
            let want: Vec<(u64, i32)> = (0..6).map(|i| (first + i, i as i32)).collect();
            assert_eq!(got, want, "{what}: batching");
        }
        assert!(reap(&mut rig.ring, 0).is_empty(), "{what}");
    }
}

/// While a scope's entry point waits, on plain, SQPOLL, `defer_taskrun`
/// and `coop_taskrun` rings, another thread writes to four pipes in turn,
/// 3 ms apart, each read by one of the scope's reads: the wait returns
/// `Ok` with the four reads done (a minimum wait: at least one), each
/// read completes once with its pipe's bytes.
#[test]
fn pipe_writes_from_another_thread_end_every_scope_wait() {
    let _watch = uring_tests::watchdog();
    if uring_tests::under_valgrind() {
        return uring_tests::skip(ONE_THREAD);
    }
    for setup in [Setup::Plain, Setup::Sqpoll, Setup::Defer, Setup::Coop] {
        let Some(mut rig) = rig::<Sqe64>(setup, 8) else {
            continue;
        };
        let what = rig.what();
        for entry in ENTRIES {
            if !runs(&rig, entry) {
                continue;
            }
            let case = format!("{what}: {entry:?}");
            let pipes: Vec<_> = (0..4).map(|_| uring_tests::pipe()).collect();
            let mut bufs = [[0xa5u8; 8]; 4];
            let (readers, writers): (Vec<_>, Vec<_>) = pipes.into_iter().unzip();
            let writer = std::thread::spawn(move || {
                for (i, w) in writers.into_iter().enumerate() {
                    std::thread::sleep(Duration::from_millis(3));
                    let mut file = std::fs::File::from(w);
                    file.write_all(&[i as u8; 4]).unwrap();
                }
            });
            let got = rig.ring.scope(|s| {
                for (i, (rx, buf)) in readers.iter().zip(bufs.iter_mut()).enumerate() {
                    s.push(Read::new(rx, &mut buf[..]).user_data(i as u64))
                        .unwrap();
                }
                if !entry.submits() {
                    s.submit().unwrap();
                }
                entry
                    .call_scope(s, 4)
                    .unwrap_or_else(|e| panic!("{case}: {e}"));
                let ready = s.ready();
                assert!(
                    ready >= 4 || (entry.min_wait() && ready >= 1),
                    "{case}: {ready} ready"
                );
                let mut got: Vec<(u64, i32)> =
                    s.completions().map(|c| (c.user_data(), c.res())).collect();
                while got.len() < 4 {
                    s.wait_timeout(1, uring_tests::PATIENCE).unwrap();
                    got.extend(s.completions().map(|c| (c.user_data(), c.res())));
                }
                got
            });
            writer.join().unwrap();
            let mut got = got;
            got.sort_unstable();
            assert_eq!(got, [(0, 4), (1, 4), (2, 4), (3, 4)], "{case}");
            for (i, buf) in bufs.iter().enumerate() {
                uring_tests::net::assert_kernel_bytes(&buf[..4], &[i as u8; 4], &case);
                assert_eq!(buf[4..], [0xa5; 4], "{case}: nothing past the bytes");
            }
        }
    }
}

// ---------------------------------------------------------------------------
// SQEs the kernel refuses mid-batch, a full SQ
// ---------------------------------------------------------------------------

/// Five SQEs, the second and the fourth refused by the kernel as it
/// prepares them (each stops the enter that submits it): every submitting
/// entry point, on every setup and from scopes, submits all five once,
/// counts five, and returns with five ready, their results in order. A linked chain that
/// holds a refused SQE fails as a whole.
#[test]
fn every_submitting_wait_submits_past_refused_sqes_once_each() {
    let _watch = uring_tests::watchdog();
    if !stoppers_stop() {
        return;
    }
    for setup in SETUPS {
        let Some(mut rig) = rig::<Sqe64>(setup, 8) else {
            continue;
        };
        let what = rig.what();
        let mut base = 0u64;
        for entry in ENTRIES {
            // (A minimum wait of 1 µs is over by the time the kernel stops
            // at the first refused SQE: see the test of waits whose time is
            // up when the kernel stops.)
            if !entry.submits() || entry.min_wait() || !runs(&rig, entry) {
                continue;
            }
            let case = format!("{what}: {entry:?}");
            base += 10;
            let ops = |base: u64| {
                (0..5u64).map(move |i| {
                    if i % 2 == 1 {
                        stopper(base + i)
                    } else {
                        Nop::new().user_data(base + i)
                    }
                })
            };
            let want: Vec<(u64, i32)> = (0..5u64)
                .map(|i| (base + i, if i % 2 == 1 { -libc::EINVAL } else { 0 }))
                .collect();
            let ring = &mut rig.ring;
            for op in ops(base) {
                ring.push(op).unwrap();
            }
            let n = entry
                .call(ring, 5)
                .unwrap_or_else(|e| panic!("{case}: {e}"));
            assert_eq!(n, 5, "{case}: the count");
            assert_eq!(ring.pending(), 0, "{case}: all submitted");
            let ready = ring.ready();
            assert!(
                ready >= 5 || (entry.min_wait() && ready >= 1),
                "{case}: {ready} ready"
            );
            assert_eq!(reap(ring, 5), want, "{case}");
            // A chain with a refused SQE in it.
            base += 10;
            let chain: Vec<Nop> = vec![
                Nop::new().user_data(base),
                stopper(base + 1),
                Nop::new().user_data(base + 2),
            ];
            ring.push_linked(Linked::new(chain)).unwrap();
            ring.push(Nop::new().user_data(base + 3)).unwrap();
            let n = entry
                .call(ring, 4)
                .unwrap_or_else(|e| panic!("{case}, chain: {e}"));
            assert_eq!(n, 4, "{case}, chain: the count");
            let mut got = reap(ring, 4);
            got.sort_unstable();
            assert_eq!(
                got,
                [
                    (base, -libc::ECANCELED),
                    (base + 1, -libc::EINVAL),
                    (base + 2, -libc::ECANCELED),
                    (base + 3, 0)
                ],
                "{case}, chain"
            );
            // From a scope.
            base += 10;
            let got = ring.scope(|s| {
                for op in ops(base) {
                    s.push(op).unwrap();
                }
                let n = entry
                    .call_scope(s, 5)
                    .unwrap_or_else(|e| panic!("{case}, scope: {e}"));
                assert_eq!(n, 5, "{case}, scope: the count");
                let mut got: Vec<(u64, i32)> =
                    s.completions().map(|c| (c.user_data(), c.res())).collect();
                while got.len() < 5 {
                    s.wait_timeout(1, uring_tests::PATIENCE).unwrap();
                    got.extend(s.completions().map(|c| (c.user_data(), c.res())));
                }
                got
            });
            let want: Vec<(u64, i32)> = (0..5u64)
                .map(|i| (base + i, if i % 2 == 1 { -libc::EINVAL } else { 0 }))
                .collect();
            assert_eq!(got, want, "{case}, scope");
        }
        assert!(reap(&mut rig.ring, 0).is_empty(), "{what}");
    }
}

/// `wait_for_sq_space`: on rings without an SQ thread it returns at once
/// with the free slots (0 with the SQ full, all of them once submitted);
/// on an SQPOLL ring whose SQ is full it publishes, wakes the thread if it
/// sleeps and returns once the thread freed slots, again and again, with
/// the SQ filled while the thread slept and while it ran: every NOP
/// completes once.
#[test]
fn waiting_for_sq_space_returns_free_slots() {
    let _watch = uring_tests::watchdog();
    for setup in [Setup::Plain, Setup::Defer, Setup::Coop, Setup::RingFd] {
        let Some(mut rig) = rig::<Sqe64>(setup, 4) else {
            continue;
        };
        let what = rig.what();
        let ring = &mut rig.ring;
        assert_eq!(ring.wait_for_sq_space().unwrap(), 4, "{what}");
        for i in 0..4 {
            ring.push(Nop::new().user_data(i)).unwrap();
        }
        assert_eq!(ring.wait_for_sq_space().unwrap(), 0, "{what}: full");
        assert_eq!(ring.submit().unwrap(), 4, "{what}");
        assert_eq!(ring.wait_for_sq_space().unwrap(), 4, "{what}");
        assert_once(&reap(ring, 4), &[0, 1, 2, 3], &what);
    }
    let Some(mut rig) = rig::<Sqe64>(Setup::Sqpoll, 4) else {
        return;
    };
    let ring = &mut rig.ring;
    let mut ud = 0;
    let mut pushed = Vec::new();
    for round in 0..20 {
        if round % 2 == 0 {
            // Let the thread idle (10 ms) and sleep.
            let deadline = Instant::now() + uring_tests::PATIENCE;
            while !ring.sq_needs_wakeup() {
                assert!(Instant::now() < deadline, "the SQ thread never slept");
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        // Fill the SQ, and more: each full SQ waits for space.
        for _ in 0..6 {
            loop {
                match ring.push(Nop::new().user_data(ud)) {
                    Ok(()) => break,
                    Err(_) => {
                        let space = ring.wait_for_sq_space().unwrap();
                        assert!(space > 0, "round {round}: no space");
                    }
                }
            }
            pushed.push(ud);
            ud += 1;
        }
        ring.submit().unwrap();
        // Leave the CQ room: read what came.
        let got = reap(ring, 6);
        assert_once(&got, &pushed, &format!("round {round}"));
        pushed.clear();
    }
}

/// `submit_and_wait` submits the SQEs after one the kernel refuses "too
/// and then waits" (where `submit` leaves them queued), and the timed
/// forms are that call "with a timeout on the wait": they submit the SQEs
/// after the refused one too, even when the wait's time is up by the time
/// the kernel stops at it (a timeout of 0, a deadline already past, a
/// minimum wait of 1 µs with a completion there, even with an hour's
/// timeout), and count all five.
#[test]
fn a_submitting_wait_whose_time_is_up_still_submits_past_a_refused_sqe() {
    let _watch = uring_tests::watchdog();
    if !stoppers_stop() {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    let mut outcomes = Vec::new();
    for case in [
        "timeout of 0",
        "deadline past",
        "minimum wait of 1 us, an hour's timeout",
    ] {
        for i in 0..5u64 {
            if i % 2 == 1 {
                ring.push(stopper(i)).unwrap();
            } else {
                ring.push(Nop::new().user_data(i)).unwrap();
            }
        }
        let r = match case {
            "timeout of 0" => ring.submit_and_wait_timeout(5, Duration::ZERO),
            "deadline past" => {
                ring.submit_and_wait_with(5, &WaitArgs::new().deadline(ago(Duration::from_secs(1))))
            }
            _ => ring.submit_and_wait_with(
                5,
                &WaitArgs::new()
                    .min_wait(Duration::from_micros(1))
                    .timeout(HOUR),
            ),
        };
        let pending = ring.pending();
        // Whatever was left, submitted now: nothing is lost.
        let got = reap(&mut ring, 5);
        assert_once(&got, &[0, 1, 2, 3, 4], case);
        outcomes.push((case, r.ok(), pending));
    }
    for (case, r, pending) in &outcomes {
        assert!(
            *r == Some(5) && *pending == 0,
            "{case}: returned {r:?} with {pending} SQEs left unsubmitted; all: {outcomes:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// A CQ whose completions overflowed into the kernel's list
// ---------------------------------------------------------------------------

/// Pushes and submits `n` NOPs numbered from `first`, leaving their
/// completions unread (past the CQ's size, in the kernel's overflow list).
fn overflow_with<S: SqeSize>(ring: &mut Ring<S>, first: u64, n: u64) {
    for ud in first..first + n {
        push_anyway(ring, Nop::new().user_data(ud));
    }
    ring.submit().unwrap();
}

/// With 12 completions for a CQ of 8 (four held back by the kernel), every
/// entry point, on every setup: a wait for 8 returns at once with 8
/// ready; with 3 read, a wait for 8 brings 3 of those held back in; the
/// last one comes with a wait for 1. All twelve come once, in order,
/// nothing is dropped, and the overflow is gone.
#[test]
fn every_wait_on_an_overflowed_cq_brings_the_held_back_completions_in_order() {
    let _watch = uring_tests::watchdog();
    for setup in SETUPS {
        let Some(mut rig) = rig::<Sqe64>(setup, 4) else {
            continue;
        };
        let what = rig.what();
        let cq = rig.ring.cq_entries();
        let mut base = 0u64;
        for entry in ENTRIES {
            if !runs(&rig, entry) {
                continue;
            }
            let case = format!("{what}: {entry:?}");
            base += 100;
            let ring = &mut rig.ring;
            let held = 4;
            overflow_with(ring, base, u64::from(cq + held));
            // The SQ thread posts on its own time.
            let deadline = Instant::now() + uring_tests::PATIENCE;
            while !ring.cq_has_overflow() {
                assert!(Instant::now() < deadline, "{case}: no overflow");
                std::thread::sleep(Duration::from_millis(1));
            }
            assert_eq!(ring.ready(), cq, "{case}");
            entry
                .call(ring, cq)
                .unwrap_or_else(|e| panic!("{case}: {e}"));
            assert_eq!(ring.ready(), cq, "{case}");
            let mut got: Vec<(u64, i32)> = ring
                .completions()
                .take(3)
                .map(|c| (c.user_data(), c.res()))
                .collect();
            entry
                .call(ring, cq)
                .unwrap_or_else(|e| panic!("{case}, after reading 3: {e}"));
            let ready = ring.ready();
            assert!(
                ready == cq || (entry.min_wait() && ready >= cq - 3),
                "{case}: {ready} ready"
            );
            got.extend(take(ring));
            if got.len() < (cq + held) as usize {
                entry
                    .call(ring, 1)
                    .unwrap_or_else(|e| panic!("{case}, the last: {e}"));
            }
            got.extend(reap(ring, (cq + held) as usize - got.len()));
            let want: Vec<(u64, i32)> = (base..base + u64::from(cq + held))
                .map(|u| (u, 0))
                .collect();
            assert_eq!(got, want, "{case}");
            assert!(!ring.cq_has_overflow(), "{case}");
            assert_eq!(ring.overflow(), 0, "{case}: dropped");
        }
    }
}

// ---------------------------------------------------------------------------
// A ring reading the copy of its CQ that a scope set aside
// ---------------------------------------------------------------------------

/// Fills the CQ of `rig` with the completions of NOPs `first..` (as many
/// as it holds), then ends a scope with a read in flight behind them: the
/// scope sets them aside in a copy that the ring reads first.
fn set_aside<S: SqeSize>(rig: &mut Rig<S>, first: u64) {
    let ring = &mut rig.ring;
    let cq = ring.cq_entries();
    overflow_with(ring, first, u64::from(cq));
    let deadline = Instant::now() + uring_tests::PATIENCE;
    while ring.ready() < cq {
        assert!(Instant::now() < deadline, "the NOPs never completed");
        std::thread::sleep(Duration::from_millis(1));
    }
    let (rx, mut tx) = UnixStream::pair().unwrap();
    tx.write_all(b"r").unwrap();
    let mut buf = [0u8; 1];
    ring.scope(|s| {
        s.push(Read::new(&rx, &mut buf[..]).user_data(1)).unwrap();
        s.submit().unwrap();
    });
    uring_tests::net::assert_kernel_bytes(&buf, b"r", "the scope's read");
    assert_eq!(ring.ready(), cq, "the set-aside completions stay");
}

/// On a ring reading the copy a scope set aside (eight completions), on
/// plain, SQPOLL, `defer_taskrun`, `coop_taskrun` and registered-fd rings:
/// every entry point's wait for what the copy holds returns at once; with
/// two read and two timeout ops in flight, a wait for eight returns once
/// they fired, and the six left of the copy come first, in order, then
/// the two timeouts; then a timed wait for one more than will come times
/// out no earlier than its time, and once the copy is read the ring waits
/// on its own CQ again. Nothing is lost or repeated.
#[test]
fn every_wait_on_a_cq_set_aside_reads_the_copy_first() {
    let _watch = uring_tests::watchdog();
    for setup in [
        Setup::Plain,
        Setup::Sqpoll,
        Setup::Defer,
        Setup::Coop,
        Setup::RingFd,
        Setup::Boottime,
    ] {
        let Some(mut rig) = rig::<Sqe64>(setup, 4) else {
            continue;
        };
        let what = rig.what();
        let cq = rig.ring.cq_entries();
        let mut base = 0u64;
        for entry in ENTRIES {
            if !runs(&rig, entry) {
                continue;
            }
            let case = format!("{what}: {entry:?}");
            base += 100;
            set_aside(&mut rig, base);
            let ring = &mut rig.ring;
            let n = entry
                .call(ring, cq)
                .unwrap_or_else(|e| panic!("{case}: {e}"));
            assert_eq!(n, 0, "{case}");
            assert_eq!(ring.ready(), cq, "{case}");
            let mut got: Vec<(u64, i32)> = ring
                .completions()
                .take(2)
                .map(|c| (c.user_data(), c.res()))
                .collect();
            // Timed from before the timeouts are submitted, which arms them.
            let start = Instant::now();
            ring.push(Timeout::new(T).user_data(base + 50)).unwrap();
            ring.push(Timeout::new(T2).user_data(base + 51)).unwrap();
            if !entry.submits() {
                ring.submit().unwrap();
            }
            entry
                .call(ring, cq)
                .unwrap_or_else(|e| panic!("{case}, for the timeouts: {e}"));
            if !entry.min_wait() {
                assert_ended(start.elapsed(), T2, &case);
            }
            got.extend(reap(ring, cq as usize));
            let mut want: Vec<(u64, i32)> = (base..base + u64::from(cq)).map(|u| (u, 0)).collect();
            want.push((base + 50, -libc::ETIME));
            want.push((base + 51, -libc::ETIME));
            assert_eq!(got, want, "{case}");
            // Read to its end: the ring's own CQ again.
            let start = Instant::now();
            let r = ring.wait_timeout(1, T);
            assert!(timed_out(&r), "{case}: {r:?}");
            assert_ended(start.elapsed(), T, &case);
            ring.push(Nop::new().user_data(base + 60)).unwrap();
            if !entry.submits() {
                ring.submit().unwrap();
            }
            assert_eq!(
                entry.call(ring, 1).unwrap(),
                u32::from(entry.submits()),
                "{case}"
            );
            assert_eq!(take(ring), [(base + 60, 0)], "{case}");
        }
        // Timed waits on the copy, with fewer than wanted there.
        base += 100;
        set_aside(&mut rig, base);
        let ring = &mut rig.ring;
        let _ = ring.completions().take(2).count();
        for (name, r, at_least) in [
            (
                "wait_timeout",
                {
                    let start = Instant::now();
                    (ring.wait_timeout(cq, T).map(|()| 0), start)
                },
                T,
            ),
            (
                "deadline",
                {
                    let start = Instant::now();
                    (
                        ring.wait_with(cq, &WaitArgs::new().deadline(start + T))
                            .map(|()| 0),
                        start,
                    )
                },
                T,
            ),
            (
                "deadline past",
                {
                    let start = Instant::now();
                    (
                        ring.wait_with(cq, &WaitArgs::new().deadline(ago(Duration::from_secs(1))))
                            .map(|()| 0),
                        start,
                    )
                },
                Duration::ZERO,
            ),
        ] {
            let (r, start) = r;
            let case = format!("{what}: {name} on the copy");
            assert!(timed_out(&r), "{case}: {r:?}");
            assert_ended(start.elapsed(), at_least, &case);
            assert_eq!(ring.ready(), cq - 2, "{case}");
        }
        // A timeout op that fires after the wait's timeout: submitted and
        // counted.
        ring.push(Timeout::new(T3).user_data(base + 50)).unwrap();
        let start = Instant::now();
        let n = ring.submit_and_wait_timeout(cq, T).unwrap();
        assert!(n == 1, "{what}: counted {n}");
        assert_ended(start.elapsed(), T, &what);
        let got = reap(ring, cq as usize - 1);
        let mut want: Vec<(u64, i32)> = (base + 2..base + u64::from(cq)).map(|u| (u, 0)).collect();
        want.push((base + 50, -libc::ETIME));
        assert_eq!(got, want, "{what}");
    }
}

/// A minimum wait "ends the wait once `min_wait` has passed … if at least
/// one completion is there by then, even fewer than asked for", as it
/// does on a plain ring with seven of eight ready (at 40 ms). So it does
/// on a ring reading the copy a scope set aside, with seven of the copy's
/// completions unread, with a timeout of 2 s or none, though the wait
/// runs on the kernel's CQ, where nothing comes, for what the copy lacks:
/// the minimum wait bounds that wait. From a scope too.
#[test]
fn a_minimum_wait_on_a_cq_set_aside_ends_with_the_copy_s_completions() {
    let _watch = uring_tests::watchdog();
    let Some(mut rig) = rig::<Sqe64>(Setup::Plain, 4) else {
        return;
    };
    if !uring_tests::require_features(&rig.ring, Features::MIN_TIMEOUT, "minimum waits") {
        return;
    }
    let cq = rig.ring.cq_entries();
    let mut outcomes = Vec::new();
    // A plain ring, for comparison.
    let mut plain = Ring::new(4).unwrap();
    overflow_with(&mut plain, 0, u64::from(cq - 1));
    let start = Instant::now();
    let r = plain.wait_with(
        cq,
        &WaitArgs::new().min_wait(T).timeout(Duration::from_secs(2)),
    );
    outcomes.push(("plain ring", r, start.elapsed()));
    // The copy, with a timeout.
    set_aside(&mut rig, 100);
    let ring = &mut rig.ring;
    let _ = ring.completions().take(1).count();
    let start = Instant::now();
    let r = ring.wait_with(
        cq,
        &WaitArgs::new().min_wait(T).timeout(Duration::from_secs(2)),
    );
    outcomes.push(("set aside, timeout 2 s", r, start.elapsed()));
    // Without a timeout: another thread posts a completion after 1 s.
    let posted = uring_tests::kernel_version() >= (6, 13) && !uring_tests::under_valgrind();
    if posted {
        let sender = poster(ring.msg_target().unwrap(), 500, 1, Duration::from_secs(1));
        let start = Instant::now();
        let r = ring.wait_with(cq, &WaitArgs::new().min_wait(T));
        outcomes.push(("set aside, no timeout", r, start.elapsed()));
        sender.join().unwrap();
    }
    let got = reap(ring, 7 + usize::from(posted));
    assert_eq!(got.len(), 7 + usize::from(posted), "{got:?}");
    // A scope's wait.
    set_aside(&mut rig, 200);
    let ring = &mut rig.ring;
    let _ = ring.completions().take(1).count();
    let (r, elapsed) = ring.scope(|s| {
        let start = Instant::now();
        let r = s.wait_with(
            cq,
            &WaitArgs::new().min_wait(T).timeout(Duration::from_secs(2)),
        );
        (r, start.elapsed())
    });
    outcomes.push(("set aside, a scope's wait, timeout 2 s", r, elapsed));
    assert_eq!(reap(ring, 7).len(), 7);
    for (case, r, elapsed) in &outcomes {
        assert!(
            r.is_ok() && *elapsed < Duration::from_millis(900),
            "{case}: {r:?} after {elapsed:?} with seven completions ready; all: {outcomes:?}"
        );
    }
}

/// `submit_and_wait`: "`want` may not exceed the CQ size", or, on a ring
/// reading the copy a scope set aside, what is ready plus the CQ size
/// (the copy holds what is ready, the kernel's CQ at most its size more).
/// With 8 completions in the copy of a CQ of 8: a wait for 12 may be met,
/// and runs to its timeout when nothing comes; one for 17 is refused
/// (`InvalidArgument`, naming 17); a submitting one for 12 returns once
/// its 4 NOPs came; then a wait for 17, which 12 ready and 8 more could
/// meet, runs to its timeout. Nothing is lost.
#[test]
fn a_wait_for_more_than_the_cq_is_refused_on_a_cq_set_aside_too() {
    let _watch = uring_tests::watchdog();
    let Some(mut rig) = rig::<Sqe64>(Setup::Plain, 4) else {
        return;
    };
    let cq = rig.ring.cq_entries();
    set_aside(&mut rig, 100);
    let ring = &mut rig.ring;
    assert_eq!(ring.ready(), cq, "the copy holds a whole CQ");
    let start = Instant::now();
    let r = ring.wait_timeout(cq + 4, T);
    assert!(
        matches!(r, Err(Error::TimedOut)),
        "a wait for {}: {r:?}",
        cq + 4
    );
    assert!(start.elapsed() >= T, "ended before its time");
    let r = ring.wait_timeout(2 * cq + 1, T);
    assert!(invalid(&r), "a wait for {}: {r:?}", 2 * cq + 1);
    let message = format!("{}", ring.wait(2 * cq + 1).unwrap_err());
    assert!(
        message.contains(&format!("{}", 2 * cq + 1)),
        "the refusal names the count asked for: {message}"
    );
    for ud in 0..4 {
        ring.push(Nop::new().user_data(ud)).unwrap();
    }
    let r = ring.submit_and_wait_timeout(cq + 4, uring_tests::PATIENCE);
    assert_eq!(r.unwrap(), 4);
    assert_eq!(ring.ready(), cq + 4);
    let start = Instant::now();
    let r = ring.wait_timeout(2 * cq + 1, T);
    assert!(
        matches!(r, Err(Error::TimedOut)),
        "a wait for {}: {r:?}",
        2 * cq + 1
    );
    assert!(start.elapsed() >= T, "ended before its time");
    let got = reap(ring, (cq + 4) as usize);
    assert_eq!(got.len(), (cq + 4) as usize, "nothing lost: {got:?}");
}

// ---------------------------------------------------------------------------
// Mixed CQEs, IOPOLL
// ---------------------------------------------------------------------------

/// A ring of mixed CQEs (8 SQEs, a CQ of 16 slots) with registered wait
/// slots, or `None` with a skip message before 6.18.
fn mixed_ring() -> Option<Ring<Sqe64, CqeMixed>> {
    if !uring_tests::require_kernel(6, 18, "IORING_SETUP_CQE_MIXED") {
        return None;
    }
    let mut ring = Builder::new()
        .cq_entries(16)
        .r_disabled()
        .build_sized::<Sqe64, CqeMixed>(8)
        .unwrap();
    ring.register_wait_region(4).unwrap();
    ring.set_registered_wait(SLOT_LONG, Some(uring_tests::PATIENCE), None)
        .unwrap();
    ring.set_registered_wait(SLOT_SHORT, Some(T), None).unwrap();
    ring.set_registered_wait(SLOT_MIN, Some(HOUR), Some(T))
        .unwrap();
    ring.set_registered_wait(SLOT_MIN_ALONE, None, Some(Duration::from_micros(1)))
        .unwrap();
    ring.enable().unwrap();
    Some(ring)
}

/// Every completion of a mixed ring now, as `(user_data, res, big)`.
fn take_mixed(ring: &mut Ring<Sqe64, CqeMixed>) -> Vec<(u64, i32, bool)> {
    ring.completions()
        .map(|c| (c.user_data(), c.res(), c.is_big()))
        .collect()
}

/// On a CQ of mixed sizes, where big completions take two slots: waits
/// count completions, not slots. With big and small completions ready,
/// every entry point waits for 0, 1 and as many as there are; a timeout,
/// a deadline (past, soon, far), a minimum wait (with one big completion
/// of two, alone with nothing ready until a timeout op) and the
/// registered slots end the wait as on any ring. Each completion comes
/// once, whole, in order.
#[test]
fn waits_on_a_mixed_cq_count_completions_and_keep_their_times() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = mixed_ring() else {
        return;
    };
    let mut ud = 0u64;
    for entry in ENTRIES {
        for want in [0u32, 1, 4] {
            let case = format!("mixed: {entry:?} for {want}");
            let mut pushed = Vec::new();
            for i in 0..u64::from(want) {
                let op = Nop::new().user_data(ud);
                if i % 2 == 0 {
                    ring.push(op.big_cqe([ud, !ud])).unwrap();
                } else {
                    ring.push(op).unwrap();
                }
                pushed.push((ud, 0, i % 2 == 0));
                ud += 1;
            }
            if !entry.submits() {
                ring.submit().unwrap();
            }
            let n = match entry {
                Entry::Wait => ring.wait(want).map(|()| 0),
                Entry::SubmitAndWait => ring.submit_and_wait(want),
                Entry::WaitTimeout => ring.wait_timeout(want, uring_tests::PATIENCE).map(|()| 0),
                Entry::SubmitAndWaitTimeout => {
                    ring.submit_and_wait_timeout(want, uring_tests::PATIENCE)
                }
                Entry::WaitRegistered => ring.wait_registered(want, SLOT_LONG).map(|()| 0),
                Entry::SubmitAndWaitRegistered => ring.submit_and_wait_registered(want, SLOT_LONG),
                e if e.submits() => ring.submit_and_wait_with(want, &e.args()),
                e => ring.wait_with(want, &e.args()).map(|()| 0),
            }
            .unwrap_or_else(|e| panic!("{case}: {e}"));
            let expected = if entry.submits() { want } else { 0 };
            assert_eq!(n, expected, "{case}: the count");
            let mut got = take_mixed(&mut ring);
            assert!(
                got.len() >= want as usize || (entry.min_wait() && !got.is_empty()),
                "{case}: {got:?}"
            );
            while got.len() < want as usize {
                ring.wait_timeout(1, uring_tests::PATIENCE).unwrap();
                got.extend(take_mixed(&mut ring));
            }
            assert_eq!(got, pushed, "{case}");
        }
    }
    // Times: nothing coming.
    let start = Instant::now();
    assert!(timed_out(&ring.wait_timeout(1, T)));
    assert_ended(start.elapsed(), T, "mixed: wait_timeout");
    let start = Instant::now();
    assert!(timed_out(
        &ring.wait_with(1, &WaitArgs::new().deadline(start + T))
    ));
    assert_ended(start.elapsed(), T, "mixed: deadline");
    let start = Instant::now();
    assert!(timed_out(&ring.wait_with(
        1,
        &WaitArgs::new().deadline(ago(Duration::from_secs(1)))
    )));
    assert_ended(start.elapsed(), Duration::ZERO, "mixed: deadline past");
    // (Under valgrind only the first slot, at offset 0, is waited with.)
    let registered = !uring_tests::under_valgrind();
    if registered {
        let start = Instant::now();
        assert!(timed_out(&ring.wait_registered(1, SLOT_SHORT)));
        assert_ended(start.elapsed(), T, "mixed: registered");
    }
    // A minimum wait with one big completion of two.
    ring.push(Nop::new().user_data(900).big_cqe([1, 2]))
        .unwrap();
    ring.submit_and_wait(1).unwrap();
    let start = Instant::now();
    ring.wait_with(2, &WaitArgs::new().min_wait(T).timeout(HOUR))
        .unwrap();
    assert_ended(start.elapsed(), T, "mixed: min_wait");
    if registered {
        let start = Instant::now();
        ring.wait_registered(2, SLOT_MIN).unwrap();
        assert_ended(start.elapsed(), T, "mixed: registered min_wait");
    }
    assert_eq!(take_mixed(&mut ring), [(900, 0, true)]);
    // A minimum wait alone, nothing ready, a timeout op later; a far
    // deadline, a timeout op.
    ring.push(Timeout::new(T).user_data(901)).unwrap();
    let start = Instant::now();
    ring.submit_and_wait_with(2, &WaitArgs::new().min_wait(Duration::from_micros(1)))
        .unwrap();
    assert_ended(start.elapsed(), T, "mixed: min_wait alone");
    ring.push(Timeout::new(T).user_data(902)).unwrap();
    let start = Instant::now();
    ring.submit_and_wait_with(2, &WaitArgs::new().deadline(start + HOUR))
        .unwrap();
    assert_ended(start.elapsed(), T, "mixed: deadline far");
    assert_eq!(
        take_mixed(&mut ring),
        [(901, -libc::ETIME, false), (902, -libc::ETIME, false)]
    );
    // More than the CQ's slots.
    assert!(invalid(&ring.wait(17)));
    assert!(take_mixed(&mut ring).is_empty());
}

/// A ring with polled I/O, or `None` with a skip message; with wait slots
/// when `registered` (6.13).
fn iopoll_ring(registered: bool) -> Option<Ring> {
    let mut b = Builder::new().iopoll();
    if registered {
        b = b.r_disabled();
    }
    match b.build(8) {
        Ok(mut ring) => {
            if registered {
                ring.register_wait_region(4).unwrap();
                ring.set_registered_wait(SLOT_SHORT, Some(T), None).unwrap();
                ring.set_registered_wait(SLOT_LONG, Some(uring_tests::PATIENCE), None)
                    .unwrap();
                ring.enable().unwrap();
            }
            Some(ring)
        }
        Err(e) => {
            uring_tests::skip(format_args!("no IOPOLL ring: {e}"));
            None
        }
    }
}

/// On an IOPOLL ring the kernel's wait polls and reads neither timeout nor
/// minimum wait (`io_iopoll_check`): the library times them. Every entry
/// point but the registered ones waits for NOPs (0, 1, 4); with nothing to
/// poll, a timeout, a deadline (soon, past) and a minimum wait with a
/// timeout end the wait no earlier than their time and not much later; an
/// `O_DIRECT` read of a file waits where the file system polls (this
/// machine's may not: then the read is refused and the test says so).
#[test]
fn waits_on_an_iopoll_ring_keep_their_times() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = iopoll_ring(false) else {
        return;
    };
    let mut ud = 0;
    for entry in ENTRIES {
        if entry.registered() {
            continue;
        }
        for want in [0u32, 1, 4] {
            let case = format!("iopoll: {entry:?} for {want}");
            let first = ud;
            for _ in 0..want {
                ring.push(Nop::new().user_data(ud)).unwrap();
                ud += 1;
            }
            if !entry.submits() {
                ring.submit().unwrap();
            }
            let n = entry
                .call(&mut ring, want)
                .unwrap_or_else(|e| panic!("{case}: {e}"));
            assert_eq!(n, if entry.submits() { want } else { 0 }, "{case}");
            let got = reap(&mut ring, want as usize);
            assert_once(&got, &(first..ud).collect::<Vec<_>>(), &case);
        }
    }
    type ArgsAt = fn(Instant) -> WaitArgs<'static>;
    let kinds: [(&str, Duration, ArgsAt); 4] = [
        ("timeout", T, |_| WaitArgs::new().timeout(T)),
        ("deadline", T, |now| WaitArgs::new().deadline(now + T)),
        ("deadline past", Duration::ZERO, |_| {
            WaitArgs::new().deadline(ago(Duration::from_secs(1)))
        }),
        ("min_wait and timeout", T2, |_| {
            WaitArgs::new().min_wait(T).timeout(T2)
        }),
    ];
    for (name, at_least, args) in kinds {
        if name.starts_with("min") && !ring.params().has(Features::MIN_TIMEOUT) {
            continue;
        }
        let start = Instant::now();
        let r = ring.wait_with(1, &args(start));
        assert!(timed_out(&r), "iopoll: {name}: {r:?}");
        assert_ended(start.elapsed(), at_least, &format!("iopoll: {name}"));
    }
    let start = Instant::now();
    assert!(timed_out(&ring.wait_timeout(1, T)));
    assert_ended(start.elapsed(), T, "iopoll: wait_timeout");
    // An O_DIRECT read, where the file system polls.
    let dir = uring_tests::test_dir!();
    let path = dir.path().join("polled");
    let data = uring_tests::pattern(4096, 3);
    std::fs::write(&path, &data).unwrap();
    use std::os::unix::fs::OpenOptionsExt as _;
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(&path)
    {
        Ok(file) => file,
        Err(e) => {
            uring_tests::skip(format_args!("no O_DIRECT file: {e}"));
            return;
        }
    };
    let mut blocks = uring_tests::aligned_blocks(4096);
    let got = ring.scope(|s| {
        let buf = uring_tests::block_bytes(&mut blocks);
        s.push(Read::new(&file, buf).user_data(9)).unwrap();
        let start = Instant::now();
        s.submit_and_wait_timeout(1, uring_tests::PATIENCE).unwrap();
        assert!(start.elapsed() < slack());
        s.completions()
            .map(|c| (c.user_data(), c.res()))
            .collect::<Vec<_>>()
    });
    match got[..] {
        [(9, 4096)] => uring_tests::net::assert_kernel_bytes(
            uring_tests::block_bytes(&mut blocks),
            &data,
            "the polled read",
        ),
        [(9, res)] if res == -libc::EOPNOTSUPP => {
            uring_tests::skip("this file system's device does not poll: the read was refused")
        }
        ref other => panic!("{other:?}"),
    }
}

/// Linux refuses `IORING_ENTER_EXT_ARG_REG` on an IOPOLL ring
/// (`io_validate_ext_arg`: "IOPOLL doesn't use the extended arguments"):
/// `wait_registered` and `submit_and_wait_registered` are refused there
/// (`Unsupported`) before any enter, as a signal mask is, rather than
/// failing with the kernel's bare `EINVAL` (or, submitting, hiding it
/// behind the count of what the first enter submitted).
#[test]
fn a_registered_wait_on_an_iopoll_ring_waits_or_is_refused() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_kernel(6, 13, "registered wait arguments") {
        return;
    }
    let Some(mut ring) = iopoll_ring(true) else {
        return;
    };
    let start = Instant::now();
    let r = ring.wait_registered(1, SLOT_SHORT);
    let elapsed = start.elapsed();
    // The submitting form: it waits for the NOP, or is refused as a whole
    // (the NOP then stays queued for the next submit); never lost.
    ring.push(Nop::new().user_data(1)).unwrap();
    let submitted = ring.submit_and_wait_registered(1, SLOT_LONG);
    match &submitted {
        Ok(n) => assert_eq!(*n, 1),
        Err(Error::Unsupported(_)) => assert_eq!(ring.pending(), 1),
        Err(e) => panic!("submit_and_wait_registered: {e}"),
    }
    assert_eq!(reap(&mut ring, 1), [(1, 0)]);
    assert!(
        (timed_out(&r) && elapsed >= T) || matches!(r, Err(Error::Unsupported(_))),
        "wait_registered: {r:?} after {elapsed:?} (submit_and_wait_registered: {submitted:?})"
    );
}

// ---------------------------------------------------------------------------
// get_events, submit_and_get_events
// ---------------------------------------------------------------------------

/// On every setup: `get_events` brings completions held in the overflow
/// list into a CQ that was read, in order; `submit_and_get_events`
/// submits (counting what it handed over) and posts in the same enter;
/// a completion another thread posted comes with either (on a
/// `defer_taskrun` ring, where it waits as task work, only with them or a
/// wait). Nothing is lost or repeated, and neither call waits.
#[test]
fn get_events_and_submit_and_get_events_on_every_setup() {
    let _watch = uring_tests::watchdog();
    for setup in SETUPS {
        let Some(mut rig) = rig::<Sqe64>(setup, 4) else {
            continue;
        };
        let what = rig.what();
        let sqpoll = rig.sqpoll();
        let ring = &mut rig.ring;
        let cq = ring.cq_entries();
        overflow_with(ring, 0, u64::from(cq + 3));
        let deadline = Instant::now() + uring_tests::PATIENCE;
        while !ring.cq_has_overflow() {
            assert!(Instant::now() < deadline, "{what}: no overflow");
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut got: Vec<(u64, i32)> = Vec::new();
        // Read the CQ without the iterator's own flush: by `advance`.
        let mut out = vec![uring::Cqe::default(); cq as usize];
        let n = ring.peek_batch(&mut out);
        got.extend(out[..n].iter().map(|c| (c.user_data(), c.res())));
        assert_eq!(ring.advance(n as u32), n as u32);
        let start = Instant::now();
        ring.get_events().unwrap();
        assert!(start.elapsed() < slack(), "{what}: get_events waited");
        assert_eq!(ring.ready(), 3, "{what}: the held-back ones came");
        got.extend(take(ring));
        let want: Vec<(u64, i32)> = (0..u64::from(cq + 3)).map(|u| (u, 0)).collect();
        assert_eq!(got, want, "{what}");
        assert!(!ring.cq_has_overflow(), "{what}");
        // A NOP, submitted and posted in one enter.
        ring.push(Nop::new().user_data(50)).unwrap();
        let start = Instant::now();
        let n = ring.submit_and_get_events().unwrap();
        assert!(
            start.elapsed() < slack(),
            "{what}: submit_and_get_events waited"
        );
        // (On SQPOLL, what was still pending for the thread: it may have
        // taken the NOP already.)
        assert!(n == 1 || (sqpoll && n == 0), "{what}: counted {n}");
        let got = reap(ring, 1);
        assert_eq!(got, [(50, 0)], "{what}");
        // Posted by another thread.
        if uring_tests::kernel_version() >= (6, 13) {
            let target = ring.msg_target().unwrap();
            std::thread::spawn(move || target.post(7, 60).unwrap())
                .join()
                .unwrap();
            let deferred = matches!(setup, Setup::Defer | Setup::Resized);
            if deferred {
                std::thread::sleep(Duration::from_millis(5));
                assert_eq!(ring.ready(), 0, "{what}: posted without an enter");
            }
            let deadline = Instant::now() + uring_tests::PATIENCE;
            let mut got = Vec::new();
            while got.is_empty() {
                assert!(Instant::now() < deadline, "{what}: the post never came");
                if sqpoll {
                    ring.get_events().unwrap();
                } else {
                    assert_eq!(ring.submit_and_get_events().unwrap(), 0, "{what}");
                }
                got.extend(take(ring));
            }
            assert_eq!(got, [(60, 7)], "{what}");
        }
        assert!(reap(ring, 0).is_empty(), "{what}");
    }
}

// ---------------------------------------------------------------------------
// Signals (each test in a process of its own)
// ---------------------------------------------------------------------------

/// A thread that sends [`SIG`] to the thread that made it, again and
/// again, up to `max_pause_us` microseconds apart, until stopped.
struct Storm {
    stop: Arc<AtomicBool>,
    sender: Option<std::thread::JoinHandle<u32>>,
}

impl Storm {
    /// Starts the sender, aimed at the calling thread.
    fn start(max_pause_us: u64) -> Storm {
        // SAFETY: pthread_self has no preconditions.
        let target = unsafe { libc::pthread_self() };
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let sender = std::thread::spawn(move || {
            let mut rng = uring_tests::Rng(0x9e37_79b9_7f4a_7c15);
            let mut sent = 0u32;
            while !flag.load(Ordering::SeqCst) {
                // SAFETY: the target thread is alive until `stop` joins
                // this one.
                assert_eq!(unsafe { libc::pthread_kill(target, SIG) }, 0);
                sent += 1;
                std::thread::sleep(Duration::from_micros(rng.below(max_pause_us + 1)));
            }
            sent
        });
        Storm {
            stop,
            sender: Some(sender),
        }
    }

    /// Stops the sender; how many signals it sent.
    fn stop(mut self) -> u32 {
        self.stop.store(true, Ordering::SeqCst);
        self.sender.take().unwrap().join().unwrap()
    }
}

impl Drop for Storm {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(sender) = self.sender.take() {
            let _ = sender.join();
        }
    }
}

/// Under a storm of handled signals (no `SA_RESTART`, not blocked, not
/// let through by any mask since none is given), on every setup: every
/// entry point returns only once its three completions are there (a
/// minimum wait: at least one), some of them ready before it sleeps (the
/// kernel then reports a signal as 0, not `EINTR`); each completion comes
/// once. A timeout, a deadline and a registered slot still end their wait
/// no earlier than their time and not much later; a minimum wait alone
/// outlasts the `ETIME` and the signals to the timeout op after it; one
/// with a completion ready ends after it. `get_events`,
/// `submit_and_get_events` and `wait_for_sq_space` resume too, and so do
/// waits on a CQ a scope set aside.
#[test]
fn waits_without_a_mask_resume_under_a_storm_of_signals() {
    const NAME: &str = "waits_without_a_mask_resume_under_a_storm_of_signals";
    in_own_process(NAME, "a wait a signal ended or kept", || {
        install_handler();
        let mut rigs: Vec<Rig> = SETUPS
            .iter()
            .filter_map(|&setup| rig::<Sqe64>(setup, 8))
            .collect();
        if !uring_tests::require_features(&rigs[0].ring, Features::EXT_ARG, "waits with arguments")
        {
            return;
        }
        let mut aside = rig::<Sqe64>(Setup::Plain, 4).unwrap();
        set_aside(&mut aside, 1000);
        let storm = Storm::start(200);
        for rig in &mut rigs {
            let what = rig.what();
            let mut ud = 0u64;
            for entry in ENTRIES {
                if !runs(rig, entry) {
                    continue;
                }
                let case = format!("{what}: {entry:?}");
                let ring = &mut rig.ring;
                ud += 10;
                ring.push(Nop::new().user_data(ud)).unwrap();
                ring.push(Timeout::new(Duration::from_millis(3)).user_data(ud + 1))
                    .unwrap();
                ring.push(Timeout::new(Duration::from_millis(6)).user_data(ud + 2))
                    .unwrap();
                if !entry.submits() {
                    ring.submit().unwrap();
                }
                let r = entry.call(ring, 3);
                assert!(r.is_ok(), "{case}: {r:?}");
                let ready = ring.ready();
                assert!(
                    ready >= 3 || (entry.min_wait() && ready >= 1),
                    "{case}: {ready} ready"
                );
                assert_once(&reap(ring, 3), &[ud, ud + 1, ud + 2], &case);
            }
            let (sqpoll, registered) = (rig.sqpoll(), rig.registered);
            let ring = &mut rig.ring;
            let start = Instant::now();
            let r = ring.wait_timeout(1, T);
            assert!(timed_out(&r), "{what}: {r:?}");
            assert_ended(start.elapsed(), T, &format!("{what}: wait_timeout"));
            let start = Instant::now();
            let r = ring.wait_with(1, &WaitArgs::new().deadline(start + T));
            assert!(timed_out(&r), "{what}: {r:?}");
            assert_ended(start.elapsed(), T, &format!("{what}: deadline"));
            if ring.params().has(Features::MIN_TIMEOUT) {
                ring.push(Timeout::new(T2).user_data(500)).unwrap();
                let start = Instant::now();
                ring.submit_and_wait_with(2, &WaitArgs::new().min_wait(T))
                    .unwrap_or_else(|e| panic!("{what}: min_wait alone: {e}"));
                assert_ended(start.elapsed(), T2, &format!("{what}: min_wait alone"));
                assert_eq!(take(ring), [(500, -libc::ETIME)], "{what}");
                ring.push(Nop::new().user_data(501)).unwrap();
                let start = Instant::now();
                ring.submit_and_wait_with(2, &WaitArgs::new().min_wait(T).timeout(HOUR))
                    .unwrap_or_else(|e| panic!("{what}: min_wait: {e}"));
                assert_ended(start.elapsed(), T, &format!("{what}: min_wait"));
                assert_eq!(take(ring), [(501, 0)], "{what}");
            }
            if registered {
                let start = Instant::now();
                let r = ring.wait_registered(1, SLOT_SHORT);
                assert!(timed_out(&r), "{what}: {r:?}");
                assert_ended(start.elapsed(), T, &format!("{what}: registered"));
                ring.push(Timeout::new(T2).user_data(502)).unwrap();
                let start = Instant::now();
                ring.submit_and_wait_registered(2, SLOT_MIN_ALONE)
                    .unwrap_or_else(|e| panic!("{what}: registered min_wait: {e}"));
                assert_ended(start.elapsed(), T2, &format!("{what}: registered min_wait"));
                assert_eq!(take(ring), [(502, -libc::ETIME)], "{what}");
            }
            ring.push(Nop::new().user_data(503)).unwrap();
            ring.submit_and_get_events().unwrap();
            ring.get_events().unwrap();
            assert_eq!(reap(ring, 1), [(503, 0)], "{what}");
            if sqpoll {
                for i in 0..8 {
                    ring.push(Nop::new().user_data(600 + i)).unwrap();
                }
                assert!(ring.wait_for_sq_space().unwrap() > 0, "{what}");
                assert_once(&reap(ring, 8), &(600..608).collect::<Vec<_>>(), &what);
            }
        }
        // The CQ set aside: read two, wait for two timeout ops and the six
        // left of the copy.
        let ring = &mut aside.ring;
        let mut got: Vec<(u64, i32)> = ring
            .completions()
            .take(2)
            .map(|c| (c.user_data(), c.res()))
            .collect();
        ring.push(Timeout::new(T).user_data(1)).unwrap();
        ring.push(Timeout::new(T2).user_data(2)).unwrap();
        let start = Instant::now();
        ring.submit_and_wait_timeout(8, uring_tests::PATIENCE)
            .unwrap();
        assert_ended(start.elapsed(), T2, "set aside");
        got.extend(take(ring));
        let mut want: Vec<(u64, i32)> = (1000..1008).map(|u| (u, 0)).collect();
        want.extend([(1, -libc::ETIME), (2, -libc::ETIME)]);
        assert_eq!(got, want, "set aside");
        let sent = storm.stop();
        assert!(handled() > 0, "{sent} signals sent, none handled");
        eprintln!("{sent} signals sent, {} handled", handled());
    });
}

/// A masked wait whose mask holds the signal blocks it for the wait's
/// length: under a storm of the signal (handled, no `SA_RESTART`, not
/// blocked outside the waits), masked waits on every setup but IOPOLL
/// (mask alone, with a timeout, a deadline, a minimum wait) never fail
/// with `EINTR`: each returns once its three completions are there (a NOP
/// and two posted by another thread; a minimum wait: at least one; no
/// timeout op, whose firing would end a masked wait early, as documented),
/// and a timed one that nothing satisfies ends no earlier than its time.
/// The signals are handled between the waits. Every completion once.
#[test]
fn masked_waits_whose_mask_blocks_the_signal_are_not_ended_by_it() {
    const NAME: &str = "masked_waits_whose_mask_blocks_the_signal_are_not_ended_by_it";
    in_own_process(NAME, "a masked wait ended by a signal it blocks", || {
        if uring_tests::under_valgrind() {
            return uring_tests::skip(ONE_THREAD);
        }
        install_handler();
        let mask = sig_set(true);
        let mut rigs: Vec<Rig> = SETUPS
            .iter()
            .filter_map(|&setup| rig::<Sqe64>(setup, 8))
            .collect();
        if !uring_tests::require_kernel(6, 13, "posting completions from no ring") {
            return;
        }
        let storm = Storm::start(200);
        let mut ud = 0u64;
        for rig in &mut rigs {
            let what = rig.what();
            let min_wait = rig.ring.params().has(Features::MIN_TIMEOUT);
            let ring = &mut rig.ring;
            for round in 0..8 {
                let args = match round % 4 {
                    0 => WaitArgs::new().sigmask(&mask),
                    1 => WaitArgs::new()
                        .sigmask(&mask)
                        .timeout(uring_tests::PATIENCE),
                    2 => WaitArgs::new()
                        .sigmask(&mask)
                        .deadline(Instant::now() + uring_tests::PATIENCE),
                    _ if min_wait => WaitArgs::new()
                        .sigmask(&mask)
                        .min_wait(Duration::from_micros(1))
                        .timeout(HOUR),
                    _ => WaitArgs::new().sigmask(&mask),
                };
                let case = format!("{what}: round {round}");
                ud += 10;
                ring.push(Nop::new().user_data(ud)).unwrap();
                let sender = poster(
                    ring.msg_target().unwrap(),
                    ud + 1,
                    2,
                    Duration::from_millis(3),
                );
                let r = if round >= 4 {
                    ring.submit().unwrap();
                    ring.wait_with(3, &args).map(|()| 0)
                } else {
                    ring.submit_and_wait_with(3, &args)
                };
                assert!(r.is_ok(), "{case}: {r:?}");
                let ready = ring.ready();
                assert!(
                    ready >= 3 || (round % 4 == 3 && min_wait && ready >= 1),
                    "{case}: {ready} ready"
                );
                sender.join().unwrap();
                assert_once(&reap(ring, 3), &[ud, ud + 1, ud + 2], &case);
            }
            let start = Instant::now();
            let r = ring.wait_with(1, &WaitArgs::new().sigmask(&mask).timeout(T));
            assert!(timed_out(&r), "{what}: {r:?}");
            assert_ended(start.elapsed(), T, &format!("{what}: masked timeout"));
            let start = Instant::now();
            let r = ring.wait_with(1, &WaitArgs::new().sigmask(&mask).deadline(start + T));
            assert!(timed_out(&r), "{what}: {r:?}");
            assert_ended(start.elapsed(), T, &format!("{what}: masked deadline"));
        }
        let sent = storm.stop();
        assert!(handled() > 0, "{sent} signals sent, none handled");
    });
}

/// A masked wait that a signal it lets through ends "returns `Ok` with
/// them ready" "when completions (fewer than asked for) wait in the
/// kernel's CQ" (`WaitArgs::sigmask`), as on a plain ring with seven of
/// eight ready and the signal pending. On a ring reading the copy a scope
/// set aside, the seven are in the copy and the kernel's CQ is empty, so
/// the kernel reports the signal: the wait fails with `EINTR`, the seven
/// still ready and read once each after.
#[test]
fn a_masked_wait_on_a_cq_set_aside_ends_at_a_signal_with_eintr() {
    const NAME: &str = "a_masked_wait_on_a_cq_set_aside_ends_at_a_signal_with_eintr";
    in_own_process(NAME, "a masked wait a signal did not end", || {
        install_handler();
        block_signal();
        let open = sig_set(false);
        let args = WaitArgs::new()
            .sigmask(&open)
            .timeout(Duration::from_secs(2));
        let mut plain = Ring::new(4).unwrap();
        if !uring_tests::require_features(&plain, Features::EXT_ARG, "masked waits") {
            return;
        }
        let cq = plain.cq_entries();
        overflow_with(&mut plain, 0, u64::from(cq - 1));
        raise_pending();
        let plain_r = plain.wait_with(cq, &args);
        let plain_ready = plain.ready();
        let mut rig = rig::<Sqe64>(Setup::Plain, 4).unwrap();
        set_aside(&mut rig, 100);
        let ring = &mut rig.ring;
        let _ = ring.completions().take(1).count();
        raise_pending();
        let before = handled();
        let aside_r = ring.wait_with(cq, &args);
        let aside_ready = ring.ready();
        assert_eq!(handled(), before + 1, "the handler ran");
        assert_eq!(reap(ring, 7).len(), 7, "nothing lost");
        let aside_eintr = matches!(&aside_r, Err(e) if e.raw_os_error() == Some(libc::EINTR));
        assert!(
            plain_r.is_ok() && plain_ready == 7 && aside_eintr && aside_ready == 7,
            "plain ring: {plain_r:?} with {plain_ready} ready; CQ set aside: {aside_r:?} \
             with {aside_ready} ready"
        );
    });
}

// ---------------------------------------------------------------------------
// A wait for nothing; a registered ring descriptor on another thread
// ---------------------------------------------------------------------------

/// A wait for 0 completions is met at once, whatever its arguments say (a
/// timeout of 0, a deadline past, a minimum wait alone, huge times): `Ok`
/// without sleeping; the submitting forms submit what was pushed and count
/// it. On every setup, in scopes too.
#[test]
fn a_wait_for_nothing_returns_at_once_whatever_its_arguments() {
    let _watch = uring_tests::watchdog();
    type ArgsAt = fn(Instant) -> WaitArgs<'static>;
    let kinds: [(&str, ArgsAt, bool); 6] = [
        (
            "timeout of 0",
            |_| WaitArgs::new().timeout(Duration::ZERO),
            false,
        ),
        (
            "deadline past",
            |_| WaitArgs::new().deadline(ago(Duration::from_secs(1))),
            false,
        ),
        ("deadline now", |now| WaitArgs::new().deadline(now), false),
        (
            "huge timeout",
            |_| WaitArgs::new().timeout(Duration::MAX),
            false,
        ),
        ("min_wait alone", |_| WaitArgs::new().min_wait(HOUR), true),
        (
            "min_wait, deadline far",
            |now| WaitArgs::new().min_wait(T).deadline(now + CENTURY),
            true,
        ),
    ];
    for setup in SETUPS {
        let Some(mut rig) = rig::<Sqe64>(setup, 8) else {
            continue;
        };
        let what = rig.what();
        let sqpoll = rig.sqpoll();
        let min_wait = rig.ring.params().has(Features::MIN_TIMEOUT);
        let ring = &mut rig.ring;
        let mut ud = 0u64;
        for (name, args, needs_min_wait) in kinds {
            if needs_min_wait && !min_wait {
                continue;
            }
            let case = format!("{what}: {name}");
            let start = Instant::now();
            ring.wait_with(0, &args(start))
                .unwrap_or_else(|e| panic!("{case}: {e}"));
            ud += 10;
            ring.push(Nop::new().user_data(ud)).unwrap();
            ring.push(Nop::new().user_data(ud + 1)).unwrap();
            let n = ring
                .submit_and_wait_with(0, &args(Instant::now()))
                .unwrap_or_else(|e| panic!("{case}: {e}"));
            assert!(n == 2 || (sqpoll && n >= 2), "{case}: counted {n}");
            if !sqpoll {
                assert_eq!(ring.pending(), 0, "{case}");
            }
            assert!(start.elapsed() < slack(), "{case}: it waited");
            assert_once(&reap(ring, 2), &[ud, ud + 1], &case);
            let got = ring.scope(|s| {
                s.push(Nop::new().user_data(ud + 2)).unwrap();
                let n = s
                    .submit_and_wait_with(0, &args(Instant::now()))
                    .unwrap_or_else(|e| panic!("{case}: scope: {e}"));
                assert!(n == 1 || (sqpoll && n >= 1), "{case}: scope: counted {n}");
                s.wait_with(0, &args(Instant::now())).unwrap();
                let mut got: Vec<(u64, i32)> =
                    s.completions().map(|c| (c.user_data(), c.res())).collect();
                while got.is_empty() {
                    s.wait_timeout(1, uring_tests::PATIENCE).unwrap();
                    got.extend(s.completions().map(|c| (c.user_data(), c.res())));
                }
                got
            });
            assert_eq!(got, [(ud + 2, 0)], "{case}");
        }
        assert!(reap(ring, 0).is_empty(), "{what}");
    }
}

/// A ring whose descriptor is registered (an index valid only on the
/// thread that registered it), moved to another thread: there every
/// entry point enters through the descriptor and waits as on the first
/// (two completions, one a timeout op; a timeout that times out, a
/// minimum wait), and back on the registering thread through the index.
/// Every completion once.
#[test]
fn a_registered_ring_fd_waits_on_any_thread() {
    let _watch = uring_tests::watchdog();
    let Some(rig) = rig::<Sqe64>(Setup::RingFd, 8) else {
        return;
    };
    fn round(rig: &mut Rig, base: u64, thread: &str) {
        let what = format!("{} on {thread}", rig.what());
        let mut ud = base;
        for entry in ENTRIES {
            if !runs(rig, entry) {
                continue;
            }
            let case = format!("{what}: {entry:?}");
            let ring = &mut rig.ring;
            ring.push(Nop::new().user_data(ud)).unwrap();
            ring.push(Timeout::new(Duration::from_millis(5)).user_data(ud + 1))
                .unwrap();
            if !entry.submits() {
                ring.submit().unwrap();
            }
            entry
                .call(ring, 2)
                .unwrap_or_else(|e| panic!("{case}: {e}"));
            assert_once(&reap(ring, 2), &[ud, ud + 1], &case);
            ud += 10;
        }
        let ring = &mut rig.ring;
        let start = Instant::now();
        assert!(timed_out(&ring.wait_timeout(1, T)), "{what}");
        assert_ended(start.elapsed(), T, &what);
        if ring.params().has(Features::MIN_TIMEOUT) {
            ring.push(Nop::new().user_data(ud)).unwrap();
            let start = Instant::now();
            ring.submit_and_wait_with(2, &WaitArgs::new().min_wait(T).timeout(HOUR))
                .unwrap();
            assert_ended(start.elapsed(), T, &what);
            assert_eq!(take(ring), [(ud, 0)], "{what}");
        }
    }
    let mut rig = std::thread::spawn(move || {
        let mut rig = rig;
        round(&mut rig, 1000, "another thread");
        rig
    })
    .join()
    .unwrap();
    round(&mut rig, 2000, "the registering thread");
}

/// A ring with no descriptor, only a registered index in its thread's
/// table (`registered_fd_only`, 6.5): on that thread every entry point but
/// the registered ones waits as on any ring (NOPs and a timeout op; a
/// timeout that times out; a minimum wait); moved to another thread, its
/// waits fail with `EBADF`, as documented, losing nothing: back home, what
/// was pushed there completes once.
#[test]
fn a_ring_with_only_a_registered_index_waits_on_its_thread_and_says_ebadf_elsewhere() {
    let _watch = uring_tests::watchdog();
    let mut ring = match Builder::new().registered_fd_only().build(8) {
        Ok(ring) => ring,
        Err(e) => return uring_tests::skip(format_args!("no registered_fd_only ring: {e}")),
    };
    let mut ud = 0u64;
    for entry in ENTRIES {
        if entry.registered() || (entry.min_wait() && !ring.params().has(Features::MIN_TIMEOUT)) {
            continue;
        }
        let case = format!("registered_fd_only: {entry:?}");
        ring.push(Nop::new().user_data(ud)).unwrap();
        ring.push(Timeout::new(Duration::from_millis(5)).user_data(ud + 1))
            .unwrap();
        if !entry.submits() {
            ring.submit().unwrap();
        }
        entry
            .call(&mut ring, 2)
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_once(&reap(&mut ring, 2), &[ud, ud + 1], &case);
        ud += 10;
    }
    let start = Instant::now();
    assert!(timed_out(&ring.wait_timeout(1, T)));
    assert_ended(start.elapsed(), T, "registered_fd_only");
    ring.push(Nop::new().user_data(500)).unwrap();
    let mut ring = std::thread::spawn(move || {
        let mut ring = ring;
        for (name, r) in [
            ("submit_and_wait", ring.submit_and_wait(1)),
            (
                "submit_and_wait_timeout",
                ring.submit_and_wait_timeout(1, T),
            ),
            ("wait_timeout", ring.wait_timeout(1, T).map(|()| 0)),
            (
                "wait_with",
                ring.wait_with(1, &WaitArgs::new().deadline(Instant::now() + T))
                    .map(|()| 0),
            ),
            ("get_events", ring.get_events().map(|()| 0)),
        ] {
            assert_eq!(
                r.as_ref().err().and_then(Error::raw_os_error),
                Some(libc::EBADF),
                "{name} on another thread: {r:?}"
            );
        }
        ring
    })
    .join()
    .unwrap();
    assert_eq!(reap(&mut ring, 1), [(500, 0)], "back home");
}
