//! Scopes: ops that borrow buffers for the length of a closure, safely.
//!
//! A scope tags every SQE it pushes: the SQE's `user_data` becomes
//! `key ^ (count << 32 | slot)`, where `key` is drawn from the kernel's
//! random source for each scope and the slot keeps the caller's
//! `user_data`. A completion that carries a live tag settles its slot (when
//! it is the op's last) and is handed out with the caller's `user_data`
//! restored; any other completion belongs to someone else (an op pushed
//! before the scope) and passes through untouched. The scope does not
//! return, nor unwind, before every slot has settled: that is what lets its
//! ops borrow.
//!
//! That argument needs every completion that carries a tag to be the
//! kernel's completion of the op the tag names. Tags are no secret (the
//! kernel shows pending SQEs and CQEs in `/proc/self/fdinfo`), so it rests
//! on what can post a completion into the ring while the scope lasts:
//! - the kernel, for the ops of the ring: those pushed before the scope
//!   carry `user_data` chosen before the scope drew its key, which they
//!   match with probability 2^-64 (the key is fresh from the OS, not derived
//!   from anything earlier);
//! - `MSG_RING`, from any ring, into a ring it names by descriptor: a safe
//!   op can name a ring only through a `&Ring` (the ring lends out no
//!   descriptor), which cannot exist while the scope holds the ring
//!   exclusively; an op that took one before the scope borrows it until
//!   that op completes (in a scope of its own ring) or forever
//!   (`Ring::push` needs `'static`).
//!
//! So no safe code can forge a completion that releases a borrow.

mod completions;
mod key;
mod push;
pub(crate) use push::refuse;
mod table;

pub use completions::{ScopeCompletions, ScopeCqe};
pub use push::{OwnedPush, ScopeSubmissionQueue};
pub(crate) use table::ScopeTable;

use table::*;

use crate::buf_ring::Buf;
use crate::cqueue::Completions;
use crate::entries::{Cqe16, CqeSize, Sqe64, SqeSize, UniformCqe};
use crate::error::{Error, PushError, PushErrorKind, Result};
use crate::op::{Scoped, Submission};
use crate::ops::Cancel;
use crate::register::SyncCancel;
use crate::ring::Ring;
use crate::squeue::SubmissionQueue;
use crate::sys;
use std::fmt;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::time::Duration;

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// Runs `f` with a [`Scope`] whose ops may borrow buffers, iovecs,
    /// addresses and paths from outside the scope: safe, zero-copy, and
    /// without an allocation per op.
    ///
    /// The borrow checker keeps everything an op borrows alive and
    /// untouched until the scope returns, and the scope does not return
    /// (nor unwind, if `f` panics) before every op it pushed has posted its
    /// last completion. Ops still in flight when `f` returns are cancelled
    /// and waited for; their completions are discarded, so read what you
    /// need inside `f` (see [`Scope::in_flight`]).
    ///
    /// Cancels are sent again in rounds, 1 ms apart at first, then up to
    /// 100 ms. A multishot op they keep missing (on a `defer_taskrun` ring,
    /// a multishot timeout whose period is shorter than the time between
    /// two waits) is ended after three rounds by letting the CQ fill up in
    /// every other wait: the kernel ends a multishot op whose completion
    /// finds no room. That ends the ring's other multishot ops too, those
    /// pushed outside the scope included: their last completion (without
    /// `IORING_CQE_F_MORE`) tells the program to arm them again, as after
    /// any overflow.
    ///
    /// Completions of ops pushed before the scope pass through the scope's
    /// [`completions`](Scope::completions) untouched, and those not read
    /// there stay in the ring, in order.
    ///
    /// Completions of the scope's own ops that it reads at its end, unread
    /// by the program, are dropped: the descriptors they made (accepts,
    /// opens, sockets, pipes) are closed, but a provided buffer one names
    /// is not given back (as for any completion whose buffer is not
    /// [claimed](crate::BufRing::claim)): its group has one buffer fewer.
    ///
    /// ```
    /// use std::io::Write as _;
    /// use std::os::unix::net::UnixStream;
    /// use uring::{Ring, ops::Read};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (mut tx, rx) = UnixStream::pair()?;
    /// tx.write_all(b"hello, scope")?;
    /// let mut ring = Ring::new(8)?;
    /// let mut buf = [0u8; 32];
    /// let cqe = ring.scope(|s| -> uring::Result<_> {
    ///     s.push(Read::new(&rx, &mut buf[..]).user_data(1))?;
    ///     s.submit_and_wait(1)?;
    ///     // A scope's completions stay in the scope; a plain `Cqe` leaves.
    ///     Ok(s.completions().next().map(|c| c.cqe()))
    /// })?;
    /// let cqe = cqe.expect("the read completed");
    /// assert_eq!(cqe.user_data(), 1);
    /// // The scope has returned: `buf` is ours again.
    /// let n = cqe.result()? as usize;
    /// assert_eq!(&buf[..n], b"hello, scope");
    /// # Ok(())
    /// # }
    /// ```
    pub fn scope<'env, F, T>(&'env mut self, f: F) -> T
    where
        F: for<'scope> FnOnce(&mut Scope<'scope, 'env, S, C>) -> T,
        C: UniformCqe,
    {
        // A disabled ring takes no SQEs: its scope gets no room for ops,
        // and refuses each push as `Disabled`. Nor does a scope of a ring
        // that another thread may post into (see `RingTarget`): `Targeted`.
        // Nor one of a ring without a descriptor, away from the thread that
        // registered its index, where every enter fails with `EBADF` while
        // an SQ thread would still take the SQEs: `OtherThread`.
        let targeted = self.has_msg_targets();
        let other_thread = self.fd < 0 && !self.on_registering_thread();
        let capacity = if self.disabled || targeted || other_thread {
            0
        } else {
            self.cq.entries
        };
        let tail = self.sq.tail();
        // A scope needs no tags for most of its ops when nothing but its
        // own ops can post into the ring, and the kernel can cancel them
        // all at once (`IORING_ASYNC_CANCEL_ANY`, on every kernel that
        // registers ring descriptors by themselves, 6.3).
        let fast = !self.outside.get() && self.params.has(crate::Features::REG_REG_RING);
        self.scope_table.begin(self.id, capacity, tail, fast);
        self.scope_table.fd = self.fd;
        if capacity == 0 {
            // No slot is free: the head only says why.
            self.scope_table.free_head = if targeted {
                TARGETED
            } else if other_thread {
                OTHER_THREAD
            } else {
                NO_SLOT
            };
        }
        self.sq.cap(Some(self.scope_table.limit()));
        let mut scope = Scope {
            ring: self,
            _scope: PhantomData,
            _env: PhantomData,
        };
        f(&mut scope)
        // `scope` drops here, or while unwinding: `Scope::drop` waits.
    }
}

impl<S: SqeSize, C: UniformCqe> Ring<S, C> {
    /// Settles everything the scope left: what completed is reaped, what is
    /// still in flight is cancelled and waited for.
    #[cold]
    #[inline(never)]
    pub(super) fn end_scope(&mut self) {
        self.settle_cq();
        if self.scope_settled() {
            return;
        }
        self.cancel_scope();
        let mut backoff = Duration::from_millis(1);
        // When to cancel again, whether or not completions keep coming: a
        // multishot op whose cancel has not reached it (held behind an op
        // flagged `IO_DRAIN`, say) posts one after another, and each ends
        // the wait before it times out.
        let mut next_round = std::time::Instant::now() + backoff;
        // Whether the kernel refused SQEs and the scope took its own back:
        // from then on it only waits.
        let mut retracted = false;
        let mut orphans_since = None;
        // Rounds of cancels so far.
        let mut rounds = 0u32;
        loop {
            let mut foreign = self.settle_cq();
            if self.scope_settled() {
                return;
            }
            if self.scope_table.only_orphans(self.sq.tail()) {
                // Every op has posted its last completion; what is left is
                // notifications the kernel posts after some of them (see
                // `ScopeTable::orphans`). Wait a little for them, no more:
                // a kernel that does not post them would keep the scope
                // forever, and none borrows anything.
                // (mutants: `<` for `>=` below goes uncaught: Linux 6.18
                // posts the notification in the same batch as the failure,
                // so no test sees a scope left with orphans only.)
                let since = *orphans_since.get_or_insert_with(std::time::Instant::now);
                if since.elapsed() >= ORPHAN_PATIENCE {
                    self.scope_table.orphans.clear();
                    return;
                }
            }
            if foreign >= self.cq.entries && self.virtual_cq.is_none() {
                // The CQ is full of completions that are not the scope's,
                // and the scope's wait in the kernel's overflow list behind
                // them: move them to a copy the ring reads first, still
                // first in line, so that the kernel can post the rest.
                self.enter_virtual_cq();
                foreign = self.settle_cq();
            }
            // Wake up now and then to cancel again: an op linked after a
            // head that could not be cancelled starts only later.
            let now = std::time::Instant::now();
            let timeout = self
                .params
                .has(crate::Features::EXT_ARG)
                .then(|| next_round.saturating_duration_since(now));
            // A multishot op that the cancels keep missing (on a
            // `defer_taskrun` ring, a multishot timeout is out of the
            // kernel's list from its firing to the task work that re-arms
            // it, which runs only in a wait) posts on and on. Once the
            // rounds have not ended it, every other wait lets the CQ fill
            // up: the kernel ends a multishot op whose completion finds no
            // room, and posts its last one to the overflow list. Only with
            // a timeout, so that a ring whose ops post nothing more still
            // wakes up on time.
            let fill = timeout.is_some()
                && self.virtual_cq.is_none()
                && rounds >= FILL_AFTER_ROUNDS
                && rounds % 2 == 1;
            let want = if fill { self.cq.entries } else { foreign + 1 };
            let waited =
                self.enter_and_wait(!retracted, want, &crate::wait::WaitSpec::timeout(timeout));
            let waited = match waited {
                // The kernel took no SQE and waited for nothing: it could not
                // allocate a request (`EAGAIN`, `ENOMEM`), for as long as the
                // memory pressure lasts. Entering again at once would spin:
                // wait without submitting until the round of cancels is due
                // (whose synchronous cancel needs no SQE), or, should that
                // wait fail too, sleep until then. (An `EBUSY`, of a CQ
                // whose overflow could not be flushed, goes round at once:
                // the loop reads the CQ first.)
                Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::ENOMEM)) => {
                    self.wait_without_submitting(want, timeout, next_round);
                    Ok(0)
                }
                other => other,
            };
            // A round of cancels is due however the wait ended.
            let waited = match waited {
                Ok(_) if std::time::Instant::now() >= next_round => Err(Error::TimedOut),
                other => other,
            };
            match waited {
                Ok(_) => {}
                Err(Error::TimedOut) => {
                    if self.scope_table.internal == 0 {
                        self.cancel_scope();
                        // Submit them, even after a refusal: it may have
                        // been the kernel's last. (mutants: `!=` goes
                        // uncaught: the synchronous cancel below reaches the
                        // ops the SQEs would have.)
                        retracted &= self.scope_table.internal == 0;
                    }
                    // A cancel SQE starts only after an op flagged
                    // `IO_DRAIN` before it has completed, which an op
                    // waiting for input never does: cancel without SQEs
                    // too.
                    self.cancel_scope_sync();
                    // (mutants: `/` for `*` is equivalent but for how often
                    // the scope wakes up to cancel again.)
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    next_round = std::time::Instant::now() + backoff;
                    rounds += 1;
                }
                Err(e) if is_transient(&e) => {}
                Err(e)
                    if e.raw_os_error() == Some(libc::EOWNERDEAD)
                        && self.has_setup(sys::IORING_SETUP_SQPOLL) =>
                {
                    // The SQ thread is gone for good. Before it went, the
                    // kernel completed every op it had taken, and each
                    // enter, this one too, moves their completions from the
                    // overflow list to the CQ; the SQEs it did not take,
                    // nothing will. Take those back, and read the rest.
                    self.retract_scope(true);
                    retracted = true;
                    self.settle_cq();
                    // (mutants: deleting the second `!` goes uncaught: it
                    // differs only when the SQ thread dies with completions
                    // of the scope in the overflow list, which no test
                    // provokes.)
                    if !self.scope_settled() && !self.sq.cq_needs_flush() {
                        fatal(&e);
                    }
                }
                Err(e) => {
                    // The kernel takes no SQEs from this ring (a disabled
                    // ring, a single issuer on another thread): those it
                    // never saw can be taken back. What it did take must be
                    // waited for, with a call that submits nothing.
                    if retracted || !self.retract_scope(false) {
                        fatal(&e);
                    }
                    retracted = true;
                }
            }
        }
    }

    /// After a submission the kernel refused for want of memory: waits for
    /// `want` completions without submitting, for `timeout` (none without
    /// `IORING_FEAT_EXT_ARG`), and sleeps until `next_round` instead should
    /// that wait fail or be impossible, so that a refusal that lasts does
    /// not make the scope's end spin.
    #[cold]
    fn wait_without_submitting(
        &mut self,
        want: u32,
        timeout: Option<Duration>,
        next_round: std::time::Instant,
    ) {
        let waited = match timeout {
            Some(_) => self.enter_and_wait(false, want, &crate::wait::WaitSpec::timeout(timeout)),
            None => Err(Error::TimedOut),
        };
        match waited {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
            Err(_) => {
                std::thread::sleep(next_round.saturating_duration_since(std::time::Instant::now()))
            }
        }
    }

    /// Reads every completion in the CQ: the scope's settle and are dropped
    /// (with the descriptor one carries, which no one could take), the
    /// others stay, in order, at the end of the queue. Returns how many
    /// stay.
    pub(super) fn settle_cq(&mut self) -> u32 {
        let head = self.cq.head();
        let tail = self.cq.tail();
        let table = &mut self.scope_table;
        let mut foreign: Vec<C::Cqe> = Vec::new();
        let mut pos = head;
        while pos != tail {
            // SAFETY: `pos` is between the head and a tail just read.
            let mut cqe = unsafe { self.cq.read(pos) };
            // An owned buffer whose ops are done is dropped here.
            let (owner, group, _) = table.settle(C::cqe_mut(&mut cqe));
            if owner == Owner::Foreign {
                foreign.push(cqe);
            } else if group == NEW_FD {
                close_unread(C::cqe_mut(&mut cqe).res());
            } else if group == NEW_PIPE && C::cqe_mut(&mut cqe).res() == 0 {
                close_unread_pipe(table.returned.as_deref());
            }
            table.returned = None;
            pos = pos.wrapping_add(1);
        }
        let kept = foreign.len() as u32;
        let new_head = tail.wrapping_sub(kept);
        if new_head != head {
            for (i, &cqe) in foreign.iter().enumerate() {
                // SAFETY: `new_head + i` is before `tail`, in the range user
                // space owns until the head is stored below.
                unsafe { self.cq.write(new_head.wrapping_add(i as u32), cqe) };
            }
        }
        // Stored even when it did not move here: a forgotten iterator may
        // have moved only the ring's copy, and the kernel must not see, in
        // its own head, completions that were read already (a resize
        // copies the CQ from there).
        self.cq.set_head(new_head);
        kept
    }

    /// Asks the kernel to cancel every op of the scope still in flight, with
    /// as many cancel requests as fit in the SQ (a later round tries again).
    pub(super) fn cancel_scope(&mut self) {
        if self.scope_table.fast {
            // Every op in flight is the scope's: one request cancels them
            // all, tagged or not.
            let cancel = Cancel::new(0)
                .cancel_flags(crate::CancelFlags::ANY | crate::CancelFlags::ALL)
                .user_data(self.scope_table.key ^ INTERNAL);
            if let Err(full) = self.push_internal(cancel) {
                // Submit to make room; errors show again in the wait.
                let _ = self.submit();
                let _ = self.push_internal(full.into_inner());
            }
            return;
        }
        // (mutants: deleting the `!` below goes uncaught on kernels with
        // `IORING_REGISTER_SYNC_CANCEL` (6.0): the synchronous cancel of the
        // next round reaches every live op by its tag.)
        for index in 0..self.scope_table.slots.len() as u32 {
            if !self.scope_table.is_live(index) {
                continue;
            }
            if self.push_scope_cancel(index).is_err() {
                // Submit to make room; errors show again in the wait.
                let _ = self.submit();
                if self.push_scope_cancel(index).is_err() {
                    return;
                }
            }
        }
    }

    /// Asks the kernel to cancel every op of the scope still in flight
    /// without going through the SQ (`IORING_REGISTER_SYNC_CANCEL`, 6.0),
    /// waiting for none: their completions come as usual. Errors are left
    /// to the next round: the op completed meanwhile (`ENOENT`), it runs in
    /// a worker and cannot be stopped (`ETIME`), the kernel has no such
    /// call (the cancel SQEs stand).
    pub(super) fn cancel_scope_sync(&mut self) {
        if self.scope_table.fast {
            // Every op in flight is the scope's.
            let _ = self.cancel_sync(SyncCancel::any().all(), Some(Duration::ZERO));
            return;
        }
        for index in 0..self.scope_table.slots.len() as u32 {
            if self.scope_table.is_live(index) {
                let tag = self.scope_table.tag(index);
                let _ = self.cancel_sync(SyncCancel::user_data(tag), Some(Duration::ZERO));
            }
        }
    }

    /// Queues a cancel request, of the scope's own, for the op in the live
    /// slot `index`.
    pub(super) fn push_scope_cancel(&mut self, index: u32) -> Result<(), PushError<Cancel>> {
        let table = &self.scope_table;
        let cancel = Cancel::new(table.tag(index)).user_data(table.key ^ INTERNAL);
        self.push_internal(cancel)
    }

    /// Pushes a cancel request of the scope's own, past the scope's limit:
    /// it is no op of the scope (see `ScopeTable::done`), and no op needs
    /// room in the scope more than a cancel that ends one.
    pub(super) fn push_internal(&mut self, cancel: Cancel) -> Result<(), PushError<Cancel>> {
        // Not `Ring::push`: the scope's own requests leave the ring clean.
        // A ring push keeps to no limit (a run the last cap ended short is
        // refreshed without one).
        let pushed = SubmissionQueue::new(&mut self.sq).push(cancel);
        if pushed.is_ok() {
            self.scope_table.pushed_internal();
        }
        // The run the scope's next batch starts from ends at its limit.
        self.sq.cap(Some(self.scope_table.limit()));
        pushed
    }

    /// Whether nothing of the scope is in flight.
    pub(super) fn scope_settled(&self) -> bool {
        self.scope_table.settled(self.sq.tail())
    }

    /// The scope's ops that have not posted their last completion.
    pub(super) fn scope_live(&self) -> u32 {
        self.scope_table.live(self.sq.tail())
    }

    /// Takes back the scope's SQEs that the kernel has not consumed, when
    /// no SQ thread can be consuming them (there is none, or, with
    /// `sq_thread_dead`, it is gone for good). Returns whether any was.
    pub(super) fn retract_scope(&mut self, sq_thread_dead: bool) -> bool {
        if self.has_setup(sys::IORING_SETUP_SQPOLL) && !sq_thread_dead {
            return false;
        }
        let tail = self.sq.tail();
        let unconsumed = self.sq.unconsumed();
        let head = tail.wrapping_sub(unconsumed);
        let start = self.scope_table.start_tail;
        // The scope's SQEs are those from `start` on; any the kernel
        // consumed are in flight and must be waited for. (mutants: `>=` is
        // equivalent: both are `start` when the head is there.)
        let from = if head.wrapping_sub(start) as i32 > 0 {
            head
        } else {
            start
        };
        if from == tail {
            return false;
        }
        let mut pos = from;
        while pos != tail {
            // SAFETY: the slot is between the kernel's head and the tail:
            // written by a push of the scope, not consumed.
            let user_data =
                unsafe { (*S::sqe(self.sq.sqes.add((pos & self.sq.mask) as usize))).user_data };
            self.scope_table.unpush(user_data);
            pos = pos.wrapping_add(1);
        }
        // SAFETY: `from` is between the kernel's head and the tail; without
        // an SQ thread, the kernel reads the SQ only in an enter, and none
        // can run while the scope holds the ring (an SQ thread gone for
        // good reads nothing, and enters of its ring never read the SQ).
        unsafe { self.sq.retract(from) };
        true
    }
}

/// Whether a failed enter may succeed if tried again. (`EBADR` says that
/// completions were dropped, once: the kernel forgets it once it said it.)
fn is_transient(e: &Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EINTR | libc::EAGAIN | libc::EBUSY | libc::ENOMEM | libc::EBADR)
    )
}

/// The kernel holds ops that borrow memory the scope is about to release,
/// and refuses the calls that would wait for them: nothing sound is left to
/// do.
#[cold]
fn fatal(e: &Error) -> ! {
    eprintln!(
        "uring: a scope cannot wait for its ops, which still borrow its memory ({e}); aborting"
    );
    std::process::abort()
}

/// A ring lent to [`Ring::scope`]: its pushes may borrow from outside the
/// scope, for as long as the scope lasts.
///
/// The two lifetimes follow [`std::thread::Scope`]: `'scope` is the scope's
/// own, which everything pushed must outlive; `'env` is the borrow of the
/// ring (and bounds `'scope`).
pub struct Scope<'scope, 'env: 'scope, S: SqeSize = Sqe64, C: UniformCqe = Cqe16> {
    pub(super) ring: &'env mut Ring<S, C>,
    /// Invariant, so that no scope can pass for another.
    pub(super) _scope: PhantomData<&'scope mut &'scope ()>,
    pub(super) _env: PhantomData<&'env mut &'env ()>,
}

impl<'scope, S: SqeSize, C: UniformCqe> Scope<'scope, '_, S, C> {
    /// Pushes an op or a chain whose borrows outlive the scope: all its SQEs
    /// or none. Hands it back in a [`PushError`] when the SQ lacks room, when
    /// as many ops are in flight in the scope as the CQ has entries, when
    /// the ring was created disabled and is not enabled yet, or when a
    /// registered file of it belongs to another ring.
    ///
    /// A full SQ ([`QueueFull`](crate::PushErrorKind::QueueFull)) makes room
    /// when submitted; a full scope
    /// ([`ScopeFull`](crate::PushErrorKind::ScopeFull)) only when
    /// completions are read (a submit succeeds and frees nothing: a loop
    /// that answers every refusal with a submit never ends). So the scope
    /// never has more ops in flight than its CQ holds, and its CQ never
    /// overflows.
    ///
    /// **Drains and zero-copy sends.** The kernel never issues a zero-copy
    /// send that an `IO_DRAIN` holds back (Linux 6.18 waits for the send's
    /// own notification, which cannot come first), no cancel reaches it,
    /// and it keeps its drain on after the drained op completes for as long
    /// as user space cannot tell. So a zero-copy send flagged `IO_DRAIN`, or
    /// in a chain with an SQE so flagged, fails with `EINVAL` (the later of
    /// the two in the chain does: an SQE flagged `IO_DRAIN` after a send of
    /// its chain fails, and the send runs), and once the ring has taken an
    /// op flagged `IO_DRAIN` (in a scope or not), zero-copy sends are handed
    /// back ([`PushErrorKind::AfterDrain`](crate::PushErrorKind::AfterDrain)):
    /// send from a ring that takes no drain.
    ///
    /// The scope needs to see every op finish, so an op flagged
    /// `CQE_SKIP_SUCCESS` posts its completion anyway. Ops that name another
    /// op by `user_data` (`Cancel`, `PollRemove`, `PollUpdate`,
    /// `TimeoutRemove`, `TimeoutUpdate`, `LinkTimeoutUpdate`) find a
    /// scope's op that was pushed with that `user_data` (one of them if
    /// several were, not always the first pushed; each further op that
    /// names the value gets the next of them in turn:
    /// [`cancel`](Scope::cancel) cancels them all), or
    /// else an op pushed before the scope. A `Cancel` flagged
    /// [`CancelFlags::ALL`](crate::CancelFlags::ALL) whose `user_data`
    /// several of a tagging scope's ops carry fails with `-EINVAL`, ending
    /// none: [`cancel`](Scope::cancel) is the way. A `PollUpdate` can give a new `user_data`
    /// only to a poll of the scope; for another it completes with
    /// `-EINVAL`.
    #[inline]
    pub fn push<T>(&mut self, submission: T) -> Result<(), PushError<T>>
    where
        T: Submission<S> + Scoped + 'scope,
    {
        self.submission().push(submission)
    }

    /// Pushes a chain whose length is known only at run time
    /// ([`Linked`](crate::Linked)), whose elements' borrows outlive the
    /// scope: all its SQEs or none, refused as [`push`](Scope::push) is.
    #[inline]
    pub fn push_linked<T>(
        &mut self,
        chain: crate::Linked<T>,
    ) -> Result<(), PushError<crate::Linked<T>>>
    where
        T: Submission<S> + Scoped + 'scope,
    {
        self.submission().push_linked(chain)
    }

    /// A batch of pushes, as [`Ring::submission`]: the SQ's cursor stays in
    /// registers until the batch is dropped.
    #[inline]
    pub fn submission(&mut self) -> ScopeSubmissionQueue<'_, 'scope, S> {
        let ring = &mut *self.ring;
        ScopeSubmissionQueue {
            sq: ManuallyDrop::new(SubmissionQueue::new(&mut ring.sq)),
            table: TableRef::new(&mut ring.scope_table),
            _scope: PhantomData,
        }
    }

    /// A batch of pushes and the ready completions at once, as
    /// [`Ring::split`]: each completion can be answered with a new op (over
    /// a buffer it gave back, with
    /// [`ScopeSubmissionQueue::push_owned`]) while the rest are read. What
    /// is pushed goes to the kernel at the next submit, once both are
    /// dropped.
    ///
    /// ```
    /// use uring::{Ring, ops::Nop};
    /// # fn main() -> uring::Result<()> {
    /// let mut ring = Ring::new(8)?;
    /// ring.scope(|s| -> uring::Result<()> {
    ///     s.push(Nop::new().user_data(1))?;
    ///     s.submit_and_wait(1)?;
    ///     let (mut sq, completions) = s.split();
    ///     for cqe in completions {
    ///         sq.push(Nop::new().user_data(cqe.user_data() + 1))?;
    ///     }
    ///     drop(sq);
    ///     s.submit_and_wait(1)?;
    ///     assert_eq!(s.completions().next().map(|c| c.user_data()), Some(2));
    ///     Ok(())
    /// })?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn split(
        &mut self,
    ) -> (
        ScopeSubmissionQueue<'_, 'scope, S>,
        ScopeCompletions<'_, 'scope, C>,
    ) {
        let ring = &mut *self.ring;
        let tail = ring.ready_tail();
        let untagged_below = ring.scope_table.untagged_below;
        let (pushes, reads) = TableRef::pair(&mut ring.scope_table);
        (
            ScopeSubmissionQueue {
                sq: ManuallyDrop::new(SubmissionQueue::new(&mut ring.sq)),
                table: pushes,
                _scope: PhantomData,
            },
            ScopeCompletions {
                inner: Completions::new(&mut ring.cq, tail),
                untagged_below,
                table: reads,
                _scope: PhantomData,
            },
        )
    }

    /// Gives `buf` to the scope and pushes an op or a chain over it, built
    /// by `build` from the buffer (its `len` bytes, borrowed) and pushed
    /// with the [`OwnedPush`] it is given. The buffer comes back, untouched
    /// but for what the ops wrote, with the last completion of those ops
    /// ([`ScopeCqe::take_buf`]); or at once, in the error, when nothing was
    /// pushed (the queue was full, or `build` did not push).
    ///
    /// This is how an event loop that runs in one long scope gives each op
    /// a buffer of its own, without borrowing it from outside the scope.
    ///
    /// ```
    /// use std::io::Write as _;
    /// use std::os::unix::net::UnixStream;
    /// use uring::{Ring, ops::Read};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (mut tx, rx) = UnixStream::pair()?;
    /// tx.write_all(b"owned")?;
    /// let mut ring = Ring::new(8)?;
    /// let buf = ring.scope(|s| -> uring::Result<Vec<u8>> {
    ///     s.push_owned(vec![0; 16], |buf, sq| sq.push(Read::new(&rx, buf).user_data(7)))?;
    ///     s.submit_and_wait(1)?;
    ///     let mut cqe = s.completions().next().expect("a completion");
    ///     let mut buf = cqe.take_buf().expect("the buffer, back");
    ///     buf.truncate(cqe.res().max(0) as usize);
    ///     Ok(buf)
    /// })?;
    /// assert_eq!(buf, b"owned");
    /// # Ok(())
    /// # }
    /// ```
    pub fn push_owned<F>(&mut self, buf: Vec<u8>, build: F) -> Result<(), PushError<Vec<u8>>>
    where
        F: for<'b> FnOnce(&'b mut [u8], OwnedPush<'b, 'scope, S>),
    {
        self.submission().push_owned(buf, build)
    }

    /// Gives a buffer claimed from a [`BufRing`](crate::BufRing) to the
    /// scope and pushes an op or a chain over it, built by `build` from the
    /// buffer's bytes (the claimed ones, borrowed) and pushed with the
    /// [`OwnedPush`] it is given: the way to send back what a receive
    /// selected without copying it. The scope holds the `Buf` until the
    /// last completion of those ops, and then gives the buffer back to its
    /// ring (the completion carries no buffer); or hands the `Buf` back at
    /// once, in the error, when nothing was pushed.
    ///
    /// The buffer ring must outlive the scope (a `Buf` claimed from a ring
    /// made inside it does not live for `'scope`). A scope that moves to
    /// another thread before the buffer's ops complete cannot give it back
    /// (a `BufRing` is used by one thread): it stays lent, and the ring
    /// has one buffer fewer.
    ///
    /// ```
    /// use std::io::{Read as _, Write as _};
    /// use std::os::unix::net::UnixStream;
    /// use uring::{BufferGroup, Ring, ops::{Recv, Send}};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (mut client, server) = UnixStream::pair()?;
    /// client.write_all(b"echo me")?;
    /// let mut ring = Ring::new(8)?;
    /// let pool = ring.register_buf_ring(BufferGroup::new(1), 4, 64)?;
    /// ring.scope(|s| -> uring::Result<()> {
    ///     s.push(Recv::new(&server, pool.select()))?;
    ///     s.submit_and_wait(1)?;
    ///     let mut cqe = s.completions().next().expect("the receive");
    ///     let buf = pool.claim(&mut cqe)?;
    ///     // The received bytes go back out of the ring's own buffer.
    ///     s.push_claimed(buf, |bytes, sq| sq.push(Send::new(&server, bytes).user_data(2)))?;
    ///     s.submit_and_wait(1)?;
    ///     let cqe = s.completions().next().expect("the send");
    ///     assert_eq!(cqe.res(), 7);
    ///     Ok(())
    /// })?;
    /// let mut back = [0; 7];
    /// client.read_exact(&mut back)?;
    /// assert_eq!(&back, b"echo me");
    /// # Ok(())
    /// # }
    /// ```
    pub fn push_claimed<F>(
        &mut self,
        buf: Buf<'scope>,
        build: F,
    ) -> Result<(), PushError<Buf<'scope>>>
    where
        F: for<'b> FnOnce(&'b mut [u8], OwnedPush<'b, 'scope, S>),
    {
        self.submission().push_claimed(buf, build)
    }

    /// Cancels the scope's ops in flight whose `user_data` is `user_data`:
    /// queues cancel requests (they go to the kernel at the next submit)
    /// and returns how many. The cancelled ops complete with `-ECANCELED`,
    /// or with their own result if they finished first; the cancel
    /// requests' own completions are not shown.
    ///
    /// A scope that [tags every op](Scope::tags_every_op) queues one request
    /// per op it finds, so the count is that of the ops. Otherwise the ops
    /// it did not tag are the kernel's to find: while any is in flight, one
    /// more request cancels all of them that carry `user_data`, and counts
    /// once whether it finds any or not. The requests are queued all or
    /// none: a full SQ hands back [`PushErrorKind::QueueFull`](crate::PushErrorKind::QueueFull)
    /// (submit, then cancel again), and so does a count of requests over
    /// the SQ's size, which no submit makes room for: there,
    /// [`cancel_sync`](Scope::cancel_sync) with
    /// [`SyncCancel::all`](crate::SyncCancel::all) cancels them all.
    ///
    /// Like every SQE, a cancel request starts only once an op flagged
    /// `IO_DRAIN` before it has completed; the scope's end cancels without
    /// SQEs too. On a `defer_taskrun` ring, Linux 6.18 issues an enter's
    /// SQEs before it runs the ring's task work, so a request misses a
    /// multishot op whose last firing still waits in that task work (a
    /// multishot timeout is out of the kernel's list until then): the op
    /// goes on. [`cancel_sync`](Scope::cancel_sync) runs the task work
    /// first, and again after a miss when that posts a completion, and so
    /// finds it (unless it fires again between each of a few runs of its
    /// task work and the call that follows: a multishot timeout of a
    /// period shorter than a system call).
    pub fn cancel(&mut self, user_data: u64) -> Result<u32, PushError<()>> {
        let ring = &mut *self.ring;
        if ring.refuses_sqe(Cancel::CODE, 0) {
            return Err(PushError::new((), PushErrorKind::Restricted));
        }
        let table = &ring.scope_table;
        let targets: Vec<u32> = table.carriers(user_data).collect();
        let untagged = table.may_carry_untagged(user_data, ring.sq.tail());
        let requests = targets.len() as u32 + u32::from(untagged);
        if ring.sq.space_left() < requests {
            return Err(PushError::full(()));
        }
        for &index in &targets {
            if ring.push_scope_cancel(index).is_err() {
                unreachable!("room was checked above");
            }
        }
        if untagged {
            let cancel = Cancel::new(user_data)
                .cancel_flags(crate::CancelFlags::ALL)
                .user_data(ring.scope_table.key ^ INTERNAL);
            if ring.push_internal(cancel).is_err() {
                unreachable!("room was checked above");
            }
        }
        Ok(requests)
    }

    /// Cancels the requests `what` names and waits until they are gone, as
    /// [`Ring::cancel_sync`] does (`IORING_REGISTER_SYNC_CANCEL`, 6.0): when
    /// it returns `Ok`, the kernel no longer uses their memory, and their
    /// completions come as usual, not always in the CQ yet (see
    /// [`Ring::cancel_sync`](crate::Ring::cancel_sync); a wait brings
    /// them, and the scope still waits for them). By `user_data`, it finds
    /// the scope's ops pushed with that value, as
    /// [`cancel`](Scope::cancel) does (one of them, as a `Cancel` op
    /// finds it, or every one with
    /// [`SyncCancel::all`](crate::SyncCancel::all)), or else
    /// ops pushed before the scope; a `user_data` beside a descriptor or
    /// an opcode ([`SyncCancel::and_user_data`](crate::SyncCancel::and_user_data))
    /// finds those of them that are also on that file or of that op.
    /// [`Error::TimedOut`](crate::Error::TimedOut) if `timeout` passes
    /// first, an `ENOENT` error when nothing matched (but for `all` and
    /// `any`).
    pub fn cancel_sync(
        &mut self,
        what: crate::SyncCancel<'_>,
        timeout: Option<Duration>,
    ) -> crate::Result<()> {
        let ring = &mut *self.ring;
        let Some((user_data, all)) = what.by_user_data() else {
            // By descriptor, opcode or any: the kernel's keys, which tags
            // leave alone.
            return ring.cancel_sync(what, timeout);
        };
        // Whether other keys narrow the `user_data`: then which of the
        // ops carrying it they match is the kernel's to tell, and each is
        // asked in turn until one matches.
        let narrowed = what.narrows_user_data();
        let table = &mut ring.scope_table;
        let tags: Vec<u64> = if all || narrowed {
            table.carriers(user_data).map(|i| table.tag(i)).collect()
        } else {
            table
                .pick(user_data)
                .0
                .map(|i| table.tag(i))
                .into_iter()
                .collect()
        };
        // In a fast scope, ops with an ordinary `user_data` keep it; with no
        // op of the scope carrying it, it names ops pushed before the scope.
        let raw = tags.is_empty() || table.may_carry_untagged(user_data, ring.sq.tail());
        let deadline = crate::types::Deadline::after(timeout);
        let mut found = false;
        // Each tag names one op: the other keys kept, the first request
        // alone.
        let requests = tags
            .into_iter()
            .map(|tag| what.with_tag(tag))
            .chain(raw.then_some(what));
        for request in requests {
            if found && !all {
                break;
            }
            match ring.cancel_sync(request, deadline.left()) {
                Ok(()) => found = true,
                Err(crate::Error::Os { source, .. })
                    if source.raw_os_error() == Some(libc::ENOENT) => {}
                Err(e) => return Err(e),
            }
        }
        if found || all {
            Ok(())
        } else {
            Err(crate::register::no_request_matched())
        }
    }

    /// Whether the scope tags every op it pushes. It does when ops were
    /// pushed to the ring outside scopes, or the ring was lent as the target
    /// of messages (`MsgRing`, [`Ring::post`]), or the kernel is older than
    /// 6.3: completions that are not the scope's may then reach the ring,
    /// and a tag is how the scope tells its own. Otherwise only the ops it
    /// must keep track of are tagged (those that select a buffer, use an
    /// owned buffer, name another op, make a descriptor
    /// ([`ScopeCqe::take_fd`]), or may complete more than once: the
    /// multishot ones, zero-copy sends, commands), and any `user_data` that
    /// could pass for a tag (its top bit set); the others reach the kernel
    /// with their own `user_data`, which costs less.
    ///
    /// An op that names another by `user_data` (a cancel, a poll or
    /// timeout removal or update) is rewritten to name the tagged op of
    /// the scope that carries it; an untagged op is named only by a value
    /// no tagged op of the scope carries. Give an op that others will name
    /// a `user_data` of its own, or cancel through [`Scope::cancel`],
    /// which reaches tagged and untagged ops alike.
    pub fn tags_every_op(&self) -> bool {
        !self.ring.scope_table.fast
    }

    /// Resizes the ring's SQ and CQ with the scope's ops in flight, as
    /// [`Ring::resize`] does (`IORING_REGISTER_RESIZE_RINGS`, 6.13, rings
    /// built with [`Builder::defer_taskrun`](crate::Builder::defer_taskrun)):
    /// what was pushed is submitted first, the completions waiting in the CQ
    /// move to the new one, and the ops in flight go on, their buffers
    /// borrowed as before. The scope may then have as many ops in flight as
    /// the new CQ has entries.
    ///
    /// A CQ smaller than the ops now in flight is refused
    /// ([`Error::InvalidArgument`](crate::Error::InvalidArgument)) before
    /// anything is submitted, as are sizes the kernel never takes; the
    /// other errors are [`Ring::resize`]'s, after what was pushed was
    /// submitted. Among them the kernel's `EOVERFLOW`, when the completions
    /// waiting do not fit the new CQ: the scope's own cancel requests'
    /// completions, which [`in_flight`](Scope::in_flight) does not count,
    /// take room there too until the scope reads past them. On an error the
    /// kernel returned, the ring's sizes and the scope's room stay as they
    /// were.
    pub fn resize(&mut self, sq_entries: u32, cq_entries: u32) -> Result<()> {
        let live = self.in_flight();
        if cq_entries.checked_next_power_of_two().unwrap_or(u32::MAX) < live {
            return Err(crate::Error::InvalidArgument(format!(
                "a CQ of {cq_entries} entries for the scope's {live} ops in flight"
            )));
        }
        let resized = self.ring.resize(sq_entries, cq_entries);
        // The SQ may be new: it learns the scope's limit again, at the new
        // room or the old.
        // (After an error too: one the kernel returned left the CQ as it
        // was, and one after the kernel switched queues, the new CQ.)
        let ring = &mut *self.ring;
        let tail = ring.sq.tail();
        ring.scope_table.set_room(ring.cq.entries, tail);
        ring.sq.cap(Some(ring.scope_table.limit()));
        resized
    }

    /// Submits what was pushed, as [`Ring::submit`].
    #[inline]
    pub fn submit(&mut self) -> Result<u32> {
        self.ring.submit()
    }

    /// Makes the kernel post what it holds back (task work, overflowed
    /// completions), without submitting or waiting, as
    /// [`Ring::get_events`].
    pub fn get_events(&mut self) -> Result<()> {
        self.ring.get_events()
    }

    /// Submits what was pushed and makes the kernel post what it holds
    /// back, in one enter, as [`Ring::submit_and_get_events`].
    pub fn submit_and_get_events(&mut self) -> Result<u32> {
        self.ring.submit_and_get_events()
    }

    /// Submits and waits for `want` completions, as [`Ring::submit_and_wait`].
    #[inline]
    pub fn submit_and_wait(&mut self, want: u32) -> Result<u32> {
        self.ring.submit_and_wait(want)
    }

    /// Waits for `want` completions, as [`Ring::wait`].
    #[inline]
    pub fn wait(&mut self, want: u32) -> Result<()> {
        self.ring.wait(want)
    }

    /// Waits for `want` completions or `timeout`, as [`Ring::wait_timeout`].
    pub fn wait_timeout(&mut self, want: u32, timeout: Duration) -> Result<()> {
        self.ring.wait_timeout(want, timeout)
    }

    /// Submits and waits for `want` completions or `timeout`, as
    /// [`Ring::submit_and_wait_timeout`].
    pub fn submit_and_wait_timeout(&mut self, want: u32, timeout: Duration) -> Result<u32> {
        self.ring.submit_and_wait_timeout(want, timeout)
    }

    /// Waits for `want` completions, or until what `args` says ends the
    /// wait, as [`Ring::wait_with`].
    pub fn wait_with(&mut self, want: u32, args: &crate::WaitArgs<'_>) -> Result<()> {
        self.ring.wait_with(want, args)
    }

    /// Submits and waits as [`Ring::submit_and_wait_with`].
    pub fn submit_and_wait_with(&mut self, want: u32, args: &crate::WaitArgs<'_>) -> Result<u32> {
        self.ring.submit_and_wait_with(want, args)
    }

    /// Waits with registered wait argument `slot`, as
    /// [`Ring::wait_registered`].
    pub fn wait_registered(&mut self, want: u32, slot: u32) -> Result<()> {
        self.ring.wait_registered(want, slot)
    }

    /// Submits and waits with registered wait argument `slot`, as
    /// [`Ring::submit_and_wait_registered`].
    pub fn submit_and_wait_registered(&mut self, want: u32, slot: u32) -> Result<u32> {
        self.ring.submit_and_wait_registered(want, slot)
    }

    /// The completions that are ready, in order, as [`Ring::completions`]:
    /// those of the scope's ops carry the `user_data` they were pushed with.
    ///
    /// In a hot loop, `for_each` (or `fold`, `count`, ...) is the cheaper
    /// way to read them: it hands each completion to the closure from the
    /// step that settled it, where a `for` loop goes through an `Option`
    /// and a drop check per completion.
    #[inline]
    pub fn completions(&mut self) -> ScopeCompletions<'_, 'scope, C> {
        let ring = &mut *self.ring;
        let tail = ring.ready_tail();
        ScopeCompletions {
            inner: Completions::new(&mut ring.cq, tail),
            untagged_below: ring.scope_table.untagged_below,
            table: TableRef::new(&mut ring.scope_table),
            _scope: PhantomData,
        }
    }

    /// Completions ready to be read, as [`Ring::ready`].
    pub fn ready(&self) -> u32 {
        self.ring.ready()
    }

    /// Free SQ slots.
    pub fn space_left(&mut self) -> u32 {
        self.ring.space_left()
    }

    /// Ops pushed in this scope whose last completion the scope has not
    /// read yet (an op that has posted it still counts until the
    /// completions are read: a loop that waits while this is above 0 must
    /// read them).
    #[inline]
    pub fn in_flight(&self) -> u32 {
        self.ring.scope_live()
    }
}

impl<S: SqeSize, C: UniformCqe> Drop for Scope<'_, '_, S, C> {
    fn drop(&mut self) {
        if !self.ring.scope_settled() {
            self.ring.end_scope();
        }
        self.ring.scope_table.end();
        self.ring.sq.cap(None);
    }
}

impl<S: SqeSize, C: UniformCqe> fmt::Debug for Scope<'_, '_, S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("in_flight", &self.ring.scope_live())
            .finish_non_exhaustive()
    }
}

/// Closes the descriptor `res` names, if it is one: the result of a
/// completion of the scope's own op that makes a descriptor (its group is
/// `NEW_FD`), which the scope drops unread as it ends.
#[cold]
fn close_unread(res: i32) {
    if res >= 0 {
        // SAFETY: as for `ScopeCqe::take_fd`: the kernel opened this
        // descriptor for a completion of the scope's own op, which it
        // posted once; the scope drops the completion here, past the CQ's
        // head (no iterator or fold handed it out: they move the head past
        // each completion they give), so no one else owns the number.
        drop(unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(res) });
    }
}

/// Closes the two ends of a pipe made for an unread completion of the
/// scope's own `Pipe` (group `NEW_PIPE`, result 0), whose numbers are in
/// `bytes`, the owned buffer it brought back (`None` when it brought none:
/// a pipe in a chain, whose ends stay open).
fn close_unread_pipe(bytes: Option<&[u8]>) {
    if let Some((read, write)) = bytes.and_then(completions::pipe_ends) {
        // SAFETY: as for `ScopeCqe::take_pipe`, for a completion the scope
        // drops here unread (see `close_unread`): no one else owns them.
        unsafe {
            drop(<std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(read));
            drop(<std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(write));
        }
    }
}
