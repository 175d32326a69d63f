//! Submitting and waiting: `io_uring_enter(2)` and the rules around it.

use crate::entries::{CqeSize, SqeSize};
use crate::error::{Error, Result};
use crate::ring::Ring;
use crate::sys;
use crate::types::Timespec;
use crate::wait::{SIGSET_SIZE, WaitSpec, usec};
use std::io;
use std::time::{Duration, Instant};

/// The argument of one `io_uring_enter(2)`.
#[derive(Clone, Copy)]
pub(crate) enum EnterArg<'a> {
    /// None.
    None,
    /// An extended argument (`IORING_ENTER_EXT_ARG`).
    Ext(&'a sys::io_uring_getevents_arg),
    /// A registered wait argument, by its offset in the region
    /// (`IORING_ENTER_EXT_ARG_REG`).
    Registered(usize),
}

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// One `io_uring_enter(2)`, with the registered ring fd when there is one.
    pub(crate) fn enter(
        &self,
        to_submit: u32,
        min_complete: u32,
        flags: u32,
        arg: EnterArg<'_>,
    ) -> io::Result<u32> {
        // (mutants: `^` for any `|` below is equivalent: no caller passes
        // the extended-argument or registered-ring bits in `flags`.)
        let (ptr, size, flags) = match arg {
            EnterArg::Ext(arg) => (
                arg as *const sys::io_uring_getevents_arg as *const libc::c_void,
                std::mem::size_of::<sys::io_uring_getevents_arg>(),
                flags | sys::IORING_ENTER_EXT_ARG,
            ),
            EnterArg::Registered(offset) => (
                offset as *const libc::c_void,
                std::mem::size_of::<sys::io_uring_reg_wait>(),
                flags | sys::IORING_ENTER_EXT_ARG | sys::IORING_ENTER_EXT_ARG_REG,
            ),
            EnterArg::None => (std::ptr::null(), 0, flags),
        };
        // The registered index is valid only in the thread that registered
        // it; elsewhere the descriptor itself is used.
        let (mut fd, mut flags) = (self.fd, flags);
        if self.enter_flags != 0 && self.on_registering_thread() {
            (fd, flags) = (self.enter_fd, flags | self.enter_flags);
        }
        // SAFETY: `fd` is this ring (or its registered index, with the
        // matching flag, on the thread that registered it); every SQE in the
        // queue was written by a push whose caller vouched for its memory;
        // `arg` outlives the call (a registered argument is an offset into
        // the ring's own region, which the kernel checks).
        unsafe { sys::io_uring_enter(fd, to_submit, min_complete, flags, ptr, size) }
    }

    /// Makes the pushed SQEs visible to the kernel and submits them, without
    /// waiting. Returns how many the kernel consumed (with SQPOLL, how many
    /// were pending for the SQ thread).
    ///
    /// Enters the kernel only when there is something to do: SQEs to submit
    /// (or a sleeping SQ thread to wake), or completions held back in an
    /// overflow list.
    #[inline]
    pub fn submit(&mut self) -> Result<u32> {
        self.sq.publish();
        let pending = self.sq.unconsumed();
        // (mutants: `|` or `^` for `&`, and `^` for `|`, are equivalent:
        // this only picks the fast path, and `submit_slow` does the same for
        // a ring without SQPOLL or IOPOLL that has nothing to flush.)
        if self.setup_flags & (sys::IORING_SETUP_SQPOLL | sys::IORING_SETUP_IOPOLL) != 0
            || self.sq.cq_needs_flush()
        {
            return self.submit_slow(pending, false);
        }
        if pending == 0 {
            return Ok(0);
        }
        let n = self
            .enter(pending, 0, 0, EnterArg::None)
            .map_err(|e| Error::os("io_uring_enter", e))?;
        // The head was read just above: `n` more are consumed.
        self.sq.consumed(n);
        Ok(n)
    }

    /// Submits the pushed SQEs and makes the kernel post what it holds
    /// back, in one enter whether or not there is anything to submit
    /// (`IORING_ENTER_GETEVENTS` without a wait; liburing's
    /// `io_uring_submit_and_get_events`): [`submit`](Ring::submit) and
    /// [`get_events`](Ring::get_events) at the cost of one system call. On
    /// a [`defer_taskrun`](crate::Builder::defer_taskrun) ring, that is
    /// what runs the task work that posts completions, for a loop that
    /// reads them without waiting. Returns how many SQEs the kernel
    /// consumed, as `submit` does.
    pub fn submit_and_get_events(&mut self) -> Result<u32> {
        self.sq.publish();
        let pending = self.sq.unconsumed();
        self.submit_slow(pending, true)
    }

    #[cold]
    #[inline(never)]
    fn submit_slow(&mut self, pending: u32, get_events: bool) -> Result<u32> {
        let mut flags = 0;
        if get_events || self.sq.cq_needs_flush() || self.has_setup(sys::IORING_SETUP_IOPOLL) {
            flags |= sys::IORING_ENTER_GETEVENTS;
        }
        if self.has_setup(sys::IORING_SETUP_SQPOLL) {
            if pending > 0 && self.sq.need_wakeup() {
                flags |= sys::IORING_ENTER_SQ_WAKEUP;
            }
            if flags != 0 {
                self.enter(pending, 0, flags, EnterArg::None)
                    .map_err(|e| Error::os("io_uring_enter", e))?;
            }
            return Ok(pending);
        }
        // (mutants: `!=` for the first `==` is equivalent: without SQPOLL,
        // this is reached only for IOPOLL or a flush, with GETEVENTS set.)
        if pending == 0 && flags == 0 {
            return Ok(0);
        }
        self.enter(pending, 0, flags, EnterArg::None)
            .map_err(|e| Error::os("io_uring_enter", e))
    }

    /// Waits until the SQ has a free slot, and returns how many it has.
    ///
    /// On an SQPOLL ring, the SQ thread frees slots as it consumes SQEs: this
    /// publishes what was pushed, wakes the thread if it sleeps, and sleeps
    /// until it has taken some (`IORING_ENTER_SQ_WAIT`, 5.10). The thread
    /// posts the completions of a batch before it moves the SQ's head past
    /// the batch's SQEs, so a push right after the last completion can
    /// still find the queue full: this is the wait for it. On other rings
    /// only a submit frees slots, so this returns at once.
    pub fn wait_for_sq_space(&mut self) -> Result<u32> {
        if !self.has_setup(sys::IORING_SETUP_SQPOLL) {
            return Ok(self.sq.space_left());
        }
        self.sq.publish();
        loop {
            let space = self.sq.space_left();
            if space > 0 {
                return Ok(space);
            }
            let mut flags = sys::IORING_ENTER_SQ_WAIT;
            if self.sq.need_wakeup() {
                flags |= sys::IORING_ENTER_SQ_WAKEUP;
            }
            match self.enter(0, 0, flags, EnterArg::None) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                Err(e) => return Err(Error::os("io_uring_enter", e)),
            }
        }
    }

    /// Submits the pushed SQEs and waits until at least `want` completions
    /// are ready. Returns how many SQEs the kernel consumed.
    ///
    /// Interrupted waits are resumed. `want` may not exceed the CQ size (on
    /// a ring reading a copy of completions a scope set aside, what is
    /// ready plus the CQ size).
    /// When the kernel stops at an SQE it refuses (it completes that one
    /// with the error, and does not wait), this submits the SQEs after it
    /// too and then waits, where [`submit`](Ring::submit) leaves them
    /// queued: `Ok` always means `want` completions are ready. On a ring
    /// of mixed CQEs, whose 32-byte completions take two slots (and
    /// padding one, at the array's end), a wait that may not be met before
    /// completions are read fails with `EBUSY`: one that needs every slot
    /// of the CQ, or any more while the kernel holds back a 32-byte
    /// completion the free slots cannot take.
    #[inline(always)]
    pub fn submit_and_wait(&mut self, want: u32) -> Result<u32> {
        // SQPOLL rings, a virtual CQ and waits for more than the CQ holds
        // take the slow path (see `fast_wait_limit`). (mutants: `>` for
        // `>=` is equivalent: it only picks the slow path for one more
        // `want`, which makes the same enter.)
        if want >= self.fast_wait_limit {
            return self
                .submit_and_wait_rest(want, None)
                .map_err(|()| self.take_wait_error());
        }
        // One enter submits everything and returns once `want` completions
        // are ready, unless it was interrupted or stopped early; the slow
        // path handles those.
        let to_submit = self.sq.publish_pending();
        // (mutants: the guard `false` is equivalent: with everything
        // submitted and enough ready, the slow path returns without a call.)
        match self.enter(to_submit, want, sys::IORING_ENTER_GETEVENTS, EnterArg::None) {
            Ok(n) if n == to_submit && self.cq.completions_ready() >= want => {
                // The cached head was the kernel's: it took as many as
                // there were from it. (Were the cached head behind, the
                // kernel would have taken fewer than asked, and the slow
                // path reads the head again.)
                self.sq.consumed(n);
                Ok(n)
            }
            other => self
                .submit_and_wait_rest(want, Some(other))
                .map_err(|()| self.take_wait_error()),
        }
    }

    /// What is left of a [`submit_and_wait`](Ring::submit_and_wait) whose
    /// first enter returned `first` (or that made none). An error is kept
    /// in the ring for [`take_wait_error`](Ring::take_wait_error): the
    /// result then comes back in a register, and the loop around the fast
    /// path does not build the fast path's own result in memory to join
    /// this one.
    #[cold]
    #[inline(never)]
    fn submit_and_wait_rest(
        &mut self,
        want: u32,
        first: Option<std::io::Result<u32>>,
    ) -> std::result::Result<u32, ()> {
        let rest = match first {
            None => self.enter_and_wait(true, want, &WaitSpec::NONE),
            Some(Ok(n)) => self
                .enter_and_wait(true, want, &WaitSpec::NONE)
                .map(|m| m + n),
            Some(Err(e)) if e.raw_os_error() == Some(libc::EINTR) => {
                self.enter_and_wait(true, want, &WaitSpec::NONE)
            }
            Some(Err(e)) => Err(Error::os("io_uring_enter", e)),
        };
        rest.map_err(|e| self.wait_error = Some(e))
    }

    /// The error [`submit_and_wait_rest`](Ring::submit_and_wait_rest) kept.
    #[inline(always)]
    fn take_wait_error(&mut self) -> Error {
        // Always there: `submit_and_wait_rest` keeps one with each error it
        // returns.
        debug_assert!(self.wait_error.is_some());
        self.wait_error
            .take()
            .unwrap_or(Error::Unsupported("a failed wait that kept no error"))
    }

    /// Waits until at least `want` completions are ready, submitting nothing
    /// (SQEs pushed and not submitted stay so: a wait for their completions
    /// never ends). Returns at once when they already are, without a system
    /// call unless the kernel holds completions back after an overflow,
    /// which one enter brings in (should the kernel refuse that enter, the
    /// wait is met all the same).
    #[inline]
    pub fn wait(&mut self, want: u32) -> Result<()> {
        self.enter_and_wait(false, want, &WaitSpec::NONE).map(drop)
    }

    /// Whether the ring's waits count as waiting for I/O (the default,
    /// shown in the CPU's iowait time and, on some systems, raising its
    /// frequency for the wake-up). `set_iowait(false)` makes every later
    /// wait pass `IORING_ENTER_NO_IOWAIT` (6.15; liburing's
    /// `io_uring_set_iowait`); an [`Unsupported`](Error::Unsupported) error
    /// on a kernel without it
    /// ([`Features::NO_IOWAIT`](crate::Features::NO_IOWAIT)).
    pub fn set_iowait(&mut self, iowait: bool) -> Result<()> {
        if iowait {
            self.wait_flags &= !sys::IORING_ENTER_NO_IOWAIT;
        } else if !self.params.has(crate::Features::NO_IOWAIT) {
            return Err(Error::Unsupported(
                "waits that do not count as iowait (IORING_ENTER_NO_IOWAIT, 6.15)",
            ));
        } else {
            self.wait_flags |= sys::IORING_ENTER_NO_IOWAIT;
        }
        self.set_fast_wait_limit();
        Ok(())
    }

    /// Makes the kernel post what it holds back, without submitting or
    /// waiting (`IORING_ENTER_GETEVENTS` alone; liburing's
    /// `io_uring_get_events`): completions of an overflow list, and the
    /// task work that a [`defer_taskrun`](crate::Builder::defer_taskrun)
    /// ring runs only when asked, which no flag announces unless the ring
    /// was made with [`taskrun_flag`](crate::Builder::taskrun_flag).
    pub fn get_events(&mut self) -> Result<()> {
        self.enter(0, 0, sys::IORING_ENTER_GETEVENTS, EnterArg::None)
            .map(drop)
            .map_err(|e| Error::os("io_uring_enter", e))
    }

    /// Waits until at least `want` completions are ready or `timeout` has
    /// passed, submitting nothing; [`Error::TimedOut`] when time ran out
    /// first (the completions that did arrive are still in the queue).
    ///
    /// The timeout goes to the kernel as an argument of the wait
    /// (`IORING_ENTER_EXT_ARG`, 5.11): no timeout SQE is queued and no
    /// `user_data` value is reserved. A timeout beyond
    /// [`Timespec::MAX_WAIT`] (`Duration::MAX`, say) waits as long as the
    /// kernel can time, about 136 years.
    pub fn wait_timeout(&mut self, want: u32, timeout: Duration) -> Result<()> {
        self.enter_and_wait(false, want, &WaitSpec::timeout(Some(timeout)))
            .map(drop)
    }

    /// [`submit_and_wait`](Ring::submit_and_wait) with a timeout on the wait,
    /// as for [`wait_timeout`](Ring::wait_timeout). When time runs out
    /// first, the SQEs submitted are still counted, as liburing's
    /// `io_uring_submit_and_wait_timeout` counts them: `Ok` with their
    /// number once any were, [`Error::TimedOut`] when none were (compare
    /// [`ready`](Ring::ready) with `want` to tell a timeout from a full
    /// wait). On an SQPOLL ring the count is what the SQ thread had not
    /// taken yet, and never less than what this call handed it.
    pub fn submit_and_wait_timeout(&mut self, want: u32, timeout: Duration) -> Result<u32> {
        self.enter_and_wait(true, want, &WaitSpec::timeout(Some(timeout)))
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn enter_and_wait(
        &mut self,
        submit: bool,
        want: u32,
        spec: &WaitSpec<'_>,
    ) -> Result<u32> {
        if self.virtual_cq.is_some() {
            return self.wait_virtual_cq(submit, want, spec);
        }
        if want > self.cq.entries {
            return Err(Error::InvalidArgument(format!(
                "cannot wait for {want} completions on a CQ of {} entries",
                self.cq.entries
            )));
        }
        // What a registered slot holds, for the enters after the first.
        let slot_args;
        let (args, registered) = match *spec {
            WaitSpec::Args(args) => (args, None),
            WaitSpec::Registered(slot) => {
                slot_args = self
                    .wait_region
                    .as_ref()
                    .map(|region| region.args(slot))
                    .unwrap_or_default();
                (
                    slot_args.wait_args(),
                    Some(slot as usize * std::mem::size_of::<sys::io_uring_reg_wait>()),
                )
            }
        };
        if args.extended() && !self.params.has(crate::Features::EXT_ARG) {
            return Err(Error::Unsupported(
                "waits with a timeout or a signal mask (IORING_FEAT_EXT_ARG, Linux 5.11)",
            ));
        }
        if registered.is_some() && self.has_setup(sys::IORING_SETUP_IOPOLL) {
            return Err(Error::Unsupported(
                "registered wait arguments on an IOPOLL ring (the kernel takes no extended \
                 argument there)",
            ));
        }
        if args.sigmask.is_some() && self.has_setup(sys::IORING_SETUP_IOPOLL) {
            return Err(Error::Unsupported(
                "waits with a signal mask on an IOPOLL ring (the kernel polls for its \
                 completions without installing the mask)",
            ));
        }
        if args.min_wait.is_some() && !self.params.has(crate::Features::MIN_TIMEOUT) {
            return Err(Error::Unsupported(
                "waits with a minimum wait (IORING_FEAT_MIN_TIMEOUT, Linux 6.12)",
            ));
        }
        let sqpoll = self.has_setup(sys::IORING_SETUP_SQPOLL);
        let mut submitted = 0;
        if submit {
            let handed = self.sq.unpublished();
            self.sq.publish();
            if sqpoll {
                // The SQ thread submits; what is pending is what it will
                // take, and at least what this call hands it (which it may
                // have taken already: a count of 0 would turn a timed-out
                // wait into a `TimedOut` that submitted nothing).
                submitted = self.sq.unconsumed().max(handed);
            }
        }
        // A wait longer than the kernel can time is as long as it can
        // (see `Timespec::MAX_WAIT`).
        let deadline = args.end(Instant::now());
        // A deadline the kernel times itself, against the absolute time on
        // the ring's clock (6.12, with the minimum wait): it holds across
        // the enters of this loop without being counted down again. Not in
        // a time namespace with an offset, which kernels before the fix
        // leave out of absolute times: there, the time left.
        let absolute = match deadline {
            Some(d)
                if args.deadline.is_some()
                    && self.params.has(crate::Features::MIN_TIMEOUT)
                    && !sys::time_namespace_offset() =>
            {
                Some(Timespec::at(self.wait_clock, d))
            }
            _ => None,
        };
        let start = Instant::now();
        // The kernel starts the timeout once the minimum wait is over: a
        // minimum wait longer than the time to the deadline lasts as long
        // as that time (as a registered wait slot's does). One under a
        // microsecond is none, as the kernel reads a `min_wait_usec` of 0.
        let min_wait = args
            .min_wait
            .map(|min| match deadline {
                Some(d) => min.min(d.saturating_duration_since(start)),
                None => min,
            })
            .filter(|min| usec(*min) > 0);
        let mut entered = false;
        loop {
            let unconsumed = if submit { self.sq.unconsumed() } else { 0 };
            let to_submit = if sqpoll { 0 } else { unconsumed };
            let wake = sqpoll && unconsumed > 0 && self.sq.need_wakeup();
            // Enough is ready: done, after one enter to flush what the kernel
            // holds back if it holds any. (The overflow flag stays set until
            // the CQ has room, so it cannot be waited away.)
            if to_submit == 0
                && !wake
                && self.cq.completions_ready() >= want
                && (entered || !self.sq.cq_needs_flush())
            {
                return Ok(submitted);
            }
            if to_submit > 0 && args.sigmask.is_some() {
                // A wait with a signal mask submits in an enter of its own,
                // without the mask: an enter that submits returns its count
                // even when a signal ended its wait, and the signal, spent
                // on its handler, would leave nothing to end the wait with.
                match self.enter(to_submit, 0, 0, EnterArg::None) {
                    Ok(0) => return Ok(submitted),
                    Ok(n) => submitted += n,
                    Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                    Err(e) => return Err(Error::os("io_uring_enter", e)),
                }
                continue;
            }
            let mut flags = self.wait_flags;
            if wake {
                flags |= sys::IORING_ENTER_SQ_WAKEUP;
            }
            // The minimum wait runs from the start of this call, not of
            // each enter: what is left of it. Once it is over, the first
            // completion ends the wait, as the kernel ends one whose
            // minimum wait passed with none.
            let (min_wait_usec, wait_for) = match min_wait {
                Some(min) => match min.checked_sub(start.elapsed()) {
                    Some(left) if !left.is_zero() => (usec(left).max(1), want),
                    _ => (0, want.min(1)),
                },
                None => (0, want),
            };
            let ts;
            let mut ext = sys::io_uring_getevents_arg::default();
            let arg = if let (Some(offset), false) = (registered, entered) {
                EnterArg::Registered(offset)
            } else if args.extended() {
                ext.min_wait_usec = min_wait_usec;
                if let Some(deadline) = deadline {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if let Some(at) = &absolute {
                        flags |= sys::IORING_ENTER_ABS_TIMER;
                        ext.ts = at as *const Timespec as u64;
                    } else {
                        ts = Timespec::for_wait(left);
                        ext.ts = &ts as *const Timespec as u64;
                    }
                    // The kernel starts the timeout only once the minimum
                    // wait is over: one longer than the time left would
                    // outlast the timeout.
                    ext.min_wait_usec = min_wait_usec.min(usec(left));
                }
                if let Some(mask) = args.sigmask {
                    ext.sigmask = mask as *const libc::sigset_t as u64;
                    ext.sigmask_sz = SIGSET_SIZE;
                }
                EnterArg::Ext(&ext)
            } else {
                EnterArg::None
            };
            // The kernel counts the completions ready from the head it
            // sees: one a forgotten iterator moved only in our copy would
            // make the wait return at once, again and again.
            self.cq.skip_padding();
            self.cq.publish_head();
            // (On a mixed CQ the kernel counts slots.)
            let (wait_for, short) = self.cq.wait_target(wait_for, self.sq.flags());
            let tail_before = self.cq.tail();
            // An enter with nothing to submit for a wait already met only
            // flushes what the kernel holds back: should the kernel refuse
            // it (a single-issuer ring's other threads get `EEXIST`), the
            // wait is met all the same.
            let satisfied = to_submit == 0 && !wake && self.cq.completions_ready() >= want;
            let result = self.enter(to_submit, wait_for, flags, arg);
            entered = true;
            // An enter that submitted and stopped short, at an SQE the
            // kernel refused, leaves SQEs this call must still submit,
            // whatever its time: the checks below go on to them, as long as
            // each enter gets further.
            let stopped_short =
                !sqpoll && to_submit > 0 && matches!(result, Ok(n) if n > 0 && n < to_submit);
            match result {
                Ok(n) => {
                    if !sqpoll {
                        submitted += n;
                        // (mutants: `<` for `>` goes uncaught: no test makes
                        // the kernel take none of the SQEs without an error.)
                        if n == 0 && to_submit > 0 {
                            // The kernel took none of the SQEs without an
                            // error; report instead of spinning.
                            return Ok(submitted);
                        }
                    }
                    // A wait a mixed CQ may be unable to meet asked for
                    // less (see `wait_target`): if nothing came meanwhile,
                    // the CQ must be read before more can: `EBUSY`, as
                    // kernels before 5.19 said of a CQ that could not take
                    // what they held back.
                    if short && self.cq.tail() == tail_before && self.cq.completions_ready() < want
                    {
                        return Err(Error::os(
                            "io_uring_enter (the CQ must be read before the completion \
                             the kernel holds back fits)",
                            std::io::Error::from_raw_os_error(libc::EBUSY),
                        ));
                    }
                    // A wait that returns early with a completion, once its
                    // minimum wait has passed, has ended by it. (Before
                    // then, the kernel ends a wait early when a timeout op
                    // fires, or for a signal: it goes on.)
                    if min_wait.is_some_and(|min| start.elapsed() >= min)
                        && self.cq.ready() > 0
                        && !stopped_short
                    {
                        return Ok(submitted);
                    }
                    // The kernel reports a signal that ended a wait (`EINTR`)
                    // only when its CQ is empty: with completions there, it
                    // returns 0, the handler having run. A masked wait that
                    // comes back short with completions ready was ended by a
                    // signal (or a timeout op that fired): it ends there, with
                    // what is ready, as liburing's does.
                    let ready = self.cq.completions_ready();
                    if args.sigmask.is_some() && ready > 0 && ready < want && !stopped_short {
                        return Ok(submitted);
                    }
                }
                // A signal the wait's own mask lets through ends it, as it
                // ends `ppoll(2)`: that mask is how a caller that blocks a
                // signal elsewhere takes it only while waiting, and gets
                // control back when it comes. Any other signal's handler
                // has run, and the wait goes on.
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {
                    if args.sigmask.is_some() {
                        return Err(Error::os("io_uring_enter", e));
                    }
                }
                Err(e) if e.raw_os_error() == Some(libc::ETIME) => {
                    // Without a timeout of the caller's, the `ETIME` is the
                    // minimum wait's: Linux ends a wait whose minimum wait
                    // passed with no completion when it has no timeout to go
                    // on to. That is no end of this one: it waits on, for
                    // one completion, its minimum wait over.
                    if deadline.is_none() && min_wait.is_some() && self.cq.completions_ready() == 0
                    {
                        continue;
                    }
                    // What was submitted is counted even when the wait
                    // timed out, as liburing counts it. A minimum wait over
                    // with a completion there has ended the wait.
                    if self.cq.completions_ready() >= want
                        || submitted > 0
                        || (min_wait.is_some_and(|min| start.elapsed() >= min)
                            && self.cq.ready() > 0)
                    {
                        return Ok(submitted);
                    }
                    return Err(Error::TimedOut);
                }
                Err(_) if satisfied => return Ok(submitted),
                Err(e) => return Err(Error::os("io_uring_enter", e)),
            }
            // (mutants: `<=` goes uncaught: it differs only when the last
            // completion wanted arrives just as the deadline passes.)
            if deadline.is_some_and(|d| Instant::now() >= d)
                && self.cq.completions_ready() < want
                && !stopped_short
            {
                return if submitted > 0 {
                    Ok(submitted)
                } else {
                    Err(Error::TimedOut)
                };
            }
        }
    }

    /// [`enter_and_wait`](Ring::enter_and_wait) while the ring reads a copy
    /// of its completions: what the kernel posted joins the copy, and the
    /// wait for the rest runs on the kernel's CQ.
    fn wait_virtual_cq(&mut self, submit: bool, want: u32, spec: &WaitSpec<'_>) -> Result<u32> {
        if let Some(v) = &mut self.virtual_cq {
            v.absorb(&mut self.cq);
        }
        self.leave_virtual_cq();
        let Some(mut v) = self.virtual_cq.take() else {
            // Everything copied had been read: wait as usual.
            return self.enter_and_wait(submit, want, spec);
        };
        let ready = self.cq.ready();
        // The copy holds what is ready; the kernel's CQ, at most its size
        // more.
        if want - ready.min(want) > self.cq.entries {
            self.virtual_cq = Some(v);
            return Err(Error::InvalidArgument(format!(
                "cannot wait for {want} completions: {ready} are ready, and the CQ holds {} more",
                self.cq.entries
            )));
        }
        let result = if ready >= want {
            if submit { self.submit() } else { Ok(0) }
        } else {
            // A minimum wait ends the wait once it is over if a completion
            // is there, and the copy's are: on the kernel's CQ, where none
            // may come, it is the wait's timeout instead (the earlier of
            // the two ends it).
            let slot_args;
            let args = match *spec {
                WaitSpec::Args(args) => Some(args),
                WaitSpec::Registered(slot) => {
                    slot_args = self.wait_region.as_ref().map(|r| r.args(slot));
                    slot_args.as_ref().map(|a| a.wait_args())
                }
            };
            let bounded = args.and_then(|args| {
                let min = args.min_wait.filter(|min| ready > 0 && usec(*min) > 0)?;
                Some(crate::WaitArgs {
                    timeout: Some(args.timeout.map_or(min, |t| t.min(min))),
                    min_wait: None,
                    ..args
                })
            });
            let spec = bounded.map_or(*spec, WaitSpec::Args);
            // The kernel's CQ is empty now: wait there for the rest.
            v.swap(&mut self.cq);
            let result = self.enter_and_wait(submit, want - ready, &spec);
            v.swap(&mut self.cq);
            v.absorb(&mut self.cq);
            // (mutants: the guard `false` is equivalent but for a
            // completion posted between the timed-out wait and the absorb.)
            match result {
                Err(Error::TimedOut) if self.cq.ready() >= want => Ok(0),
                // The minimum wait ended it, with the copy's completions.
                Err(Error::TimedOut) if bounded.is_some() => Ok(0),
                other => other,
            }
        };
        self.virtual_cq = Some(v);
        result
    }
}
