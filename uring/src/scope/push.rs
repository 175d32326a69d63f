//! Pushing in a scope: every SQE tagged before the kernel can see it.

use super::*;
use crate::chain::Linked;
use crate::entries::{Sqe64, SqeSize};
use crate::error::{PushError, PushErrorKind, Result};
use crate::op::{Prepare, Scoped, Submission};
use crate::squeue::{PushGate, SubmissionQueue};
use crate::sys;
use std::fmt;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;

/// A batch of pushes into a scope, from [`Scope::submission`].
pub struct ScopeSubmissionQueue<'a, 'scope, S: SqeSize = Sqe64> {
    /// Never dropped: each push stores the batch's cursor in the queue at
    /// once (see [`push_tagged`]), which is all a drop would do.
    pub(super) sq: ManuallyDrop<SubmissionQueue<'a, S>>,
    pub(super) table: TableRef<'a>,
    /// Invariant, as for [`Scope`].
    pub(super) _scope: PhantomData<&'scope mut &'scope ()>,
}

impl<'scope, S: SqeSize> ScopeSubmissionQueue<'_, 'scope, S> {
    /// Pushes an op or a chain, as [`Scope::push`] does.
    #[inline]
    pub fn push<T>(&mut self, submission: T) -> Result<(), PushError<T>>
    where
        T: Submission<S> + Scoped + 'scope,
    {
        // SAFETY: the submission outlives 'scope, which the scope outlasts.
        unsafe { push_tagged(&mut self.sq, self.table.get(), submission, NO_OWNED) }
    }

    /// Pushes a chain of run-time length, as [`Scope::push_linked`] does.
    #[inline]
    pub fn push_linked<T>(&mut self, chain: Linked<T>) -> Result<(), PushError<Linked<T>>>
    where
        T: Submission<S> + Scoped + 'scope,
    {
        // SAFETY: every element outlives 'scope, which the scope outlasts.
        unsafe { push_tagged_linked(&mut self.sq, self.table.get(), chain) }
    }

    /// Gives `buf` to the scope and pushes an op or a chain over it, as
    /// [`Scope::push_owned`] does.
    pub fn push_owned<F>(&mut self, buf: Vec<u8>, build: F) -> Result<(), PushError<Vec<u8>>>
    where
        F: for<'b> FnOnce(&'b mut [u8], OwnedPush<'b, 'scope, S>),
    {
        let (entry, ptr, len) = self.table.get().keep_owned(buf);
        // SAFETY: `ptr` and `len` are the kept vector's heap memory, which
        // does not move while the table keeps it (only the vector itself
        // may move, with the table's entries), and the table hands it back
        // only when no op uses it.
        let refused = unsafe { self.build_over(entry, entry, ptr, len, build) };
        // SAFETY: `entry` is the one `keep_owned` handed out above.
        match unsafe { self.table.get().unkeep_owned(entry) } {
            Some(buf) => Err(PushError::new(buf, refused)),
            None => Ok(()),
        }
    }

    /// Gives the claimed `buf` to the scope and pushes an op or a chain
    /// over it, as [`Scope::push_claimed`] does.
    pub fn push_claimed<F>(
        &mut self,
        buf: Buf<'scope>,
        build: F,
    ) -> Result<(), PushError<Buf<'scope>>>
    where
        F: for<'b> FnOnce(&'b mut [u8], OwnedPush<'b, 'scope, S>),
    {
        let (entry, tag, ptr, len) = self.table.get().keep_claimed(buf);
        // SAFETY: `ptr` and `len` are the claimed bytes, in the `BufRing`'s
        // buffers, which outlive 'scope (the `Buf` borrowed the ring for
        // it); the buffer is lent to the `Buf` alone, which the table keeps
        // until no op uses it, and then gives back to the ring.
        let refused = unsafe { self.build_over(entry, tag, ptr, len, build) };
        // SAFETY: `entry` is the one `keep_claimed` handed out above.
        match unsafe { self.table.get().unkeep_claimed(entry) } {
            // SAFETY: the buffer was given as a `Buf<'scope>`.
            Some(kept) => Err(PushError::new(unsafe { kept.into_buf() }, refused)),
            None => Ok(()),
        }
    }

    /// Runs `build` over the `len` bytes at `ptr`, kept in owned entry
    /// `entry`, with an [`OwnedPush`] whose ops' slots carry `owned`;
    /// returns why nothing was pushed, if nothing was.
    ///
    /// # Safety
    ///
    /// The bytes are the entry's, valid and lent to nothing else until no
    /// op pushed over them is left (the table keeps them that long). The
    /// borrow given to `build` is higher-ranked, so it cannot outlive the
    /// call but in the ops pushed over it.
    #[inline(always)]
    unsafe fn build_over<F>(
        &mut self,
        entry: u32,
        owned: u32,
        ptr: *mut u8,
        len: usize,
        build: F,
    ) -> PushErrorKind
    where
        F: for<'b> FnOnce(&'b mut [u8], OwnedPush<'b, 'scope, S>),
    {
        let mut refused = PushErrorKind::NothingPushed;
        // SAFETY: the caller's.
        let bytes = unsafe { std::slice::from_raw_parts_mut(ptr, len) };
        build(
            bytes,
            OwnedPush {
                sq: NonNull::from(&mut *self.sq).cast(),
                table: self.table.reborrow(),
                entry,
                owned,
                refused: &mut refused,
                _buf: PhantomData,
                _scope: PhantomData,
            },
        );
        refused
    }

    /// Free SQ slots.
    pub fn space_left(&mut self) -> u32 {
        let limit = self.table.get().limit();
        // The batch's run goes on ending at the scope's limit.
        self.sq.space_left_within(Some(limit))
    }
}

/// Pushes `submission` into a scope: its SQEs are tagged with slots of
/// `table`, noting the owned buffer `owned` they use.
///
/// # Safety
///
/// What the submission borrows must stay valid until the scope ends (the
/// scope does not end before each of its SQEs has posted its last
/// completion, after which a `Scoped` submission's memory is free).
#[inline(always)]
pub(super) unsafe fn push_tagged<S: SqeSize, T: Submission<S> + Scoped>(
    sq: &mut SubmissionQueue<'_, S>,
    table: &mut ScopeTable,
    submission: T,
    owned: u32,
) -> Result<(), PushError<T>> {
    if T::ZERO_COPY && sq.drain() {
        return Err(after_drain(submission));
    }
    // SAFETY: the caller keeps the submission's memory valid for the scope,
    // which waits for every SQE tagged here. The tag and the cleared flag
    // leave each SQE valid.
    let pushed =
        unsafe { sq.push_gated::<true, T, _>(submission, ScopeGate::<T>::new(table, owned)) };
    // The queue learns of every push at once, so that a batch that is
    // forgotten instead of dropped cannot hide ops the scope waits for.
    sq.sync();
    pushed
}

/// [`push_tagged`] for a chain of run-time length.
///
/// # Safety
///
/// As for [`push_tagged`], for every element.
pub(super) unsafe fn push_tagged_linked<S: SqeSize, T: Submission<S> + Scoped>(
    sq: &mut SubmissionQueue<'_, S>,
    table: &mut ScopeTable,
    chain: Linked<T>,
) -> Result<(), PushError<Linked<T>>> {
    if T::ZERO_COPY && sq.drain() {
        return Err(after_drain(chain));
    }
    // SAFETY: as in `push_tagged`.
    let pushed =
        unsafe { sq.push_linked_gated::<true, T, _>(chain, ScopeGate::<T>::new(table, NO_OWNED)) };
    sq.sync();
    pushed
}

/// Refuses a push that may hold a zero-copy send, on a ring that took an
/// SQE flagged `IO_DRAIN`.
///
/// Linux 6.18 never issues a zero-copy send that its drain defers: it
/// issues deferred ops once every request it allocated is deferred, and
/// the send's notification, allocated when the send is prepared, never is.
/// Nothing after the send runs either, and no cancel reaches a deferred
/// op, so the scope could never end. The drain stays on after the drained
/// op completes, until an op without the flag is submitted while the
/// kernel holds no other request, and user space cannot tell when that
/// is: an io-wq worker holds a request for a while after posting its
/// completion (and while the drain is on, every op goes to io-wq). So a
/// ring that took a drain takes no zero-copy send from a scope.
#[cold]
#[inline(never)]
fn after_drain<T>(submission: T) -> PushError<T> {
    PushError::new(submission, PushErrorKind::AfterDrain)
}

/// The gate of a push of `P` (one op or chain) into a scope: the SQ's
/// limit keeps the scope's ops in flight within what its table tracks (the
/// table moves the limit on as completions are read, when a push meets
/// it), and each SQE is tagged, noting the owned buffer `owned` it uses.
struct ScopeGate<'t, P> {
    table: &'t mut ScopeTable,
    owned: u32,
    /// What the SQEs of the push before the next tell about it.
    chain: ChainState,
    _push: PhantomData<fn(P)>,
}

/// What the SQEs written so far in a push (one op or one chain) tell about
/// the next (the links and sends only in pushes that may hold a zero-copy
/// send), and about the ring (a drain).
#[derive(Default)]
struct ChainState {
    /// The SQE before the next was linked to it.
    after_link: bool,
    /// A zero-copy send of the chain was let through.
    zero_copy: bool,
    /// An SQE of the push is flagged `IO_DRAIN`, as tagged.
    drained: bool,
}

impl<'t, P> ScopeGate<'t, P> {
    #[inline(always)]
    fn new(table: &'t mut ScopeTable, owned: u32) -> Self {
        ScopeGate {
            table,
            owned,
            chain: ChainState::default(),
            _push: PhantomData,
        }
    }
}

impl<P: Prepare> PushGate for ScopeGate<'_, P> {
    #[inline(always)]
    fn admit(&mut self, tail: u32, sqes: u32) -> Result<Option<u32>, PushErrorKind> {
        self.table.admit(tail, sqes)
    }

    #[inline(always)]
    fn each(&mut self, sqe: &mut sys::io_uring_sqe) {
        tag_sqe::<P>(self.table, sqe, self.owned, &mut self.chain);
    }

    const SEES_DRAIN: bool = true;

    #[inline(always)]
    fn drained(&self) -> bool {
        self.chain.drained
    }
}

/// Tags one SQE of a push of `P` (one op or chain) into the scope of
/// `table`, noting the owned buffer `owned` it uses; `chain` carries what
/// the SQEs before it in the push tell.
#[inline(always)]
fn tag_sqe<P: Prepare>(
    table: &mut ScopeTable,
    sqe: &mut sys::io_uring_sqe,
    owned: u32,
    chain: &mut ChainState,
) {
    // Read once, before the stores of the tagging below, which the
    // compiler cannot tell from the SQE's.
    let flags = sqe.flags;
    sqe.flags = flags & !sys::IOSQE_CQE_SKIP_SUCCESS;
    if P::ZERO_COPY {
        screen_drain(sqe, chain);
    } else {
        chain.drained |= flags & sys::IOSQE_IO_DRAIN != 0;
    }
    // A zero-copy send linked after another SQE may get a notification
    // after its last completion (see `ScopeTable::orphans`); nothing
    // else pays for it.
    let zero_copy = P::ZERO_COPY && chain.after_link && is_zero_copy(sqe.opcode);
    if P::ZERO_COPY {
        chain.after_link = sqe.flags & (sys::IOSQE_IO_LINK | sys::IOSQE_IO_HARDLINK) != 0;
    }
    // Read from the SQE as the kernel will read it (after `screen_drain`,
    // which may have turned it into a NOP): an op that makes a descriptor
    // is tagged, so that its completions can be told from any other.
    let new_fd = new_descriptor(sqe);
    // In a fast scope, an op that selects no buffer, uses no owned
    // buffer, names no op, posts one completion (as the library reads its
    // opcode and flags) and carries a `user_data` that cannot pass for a
    // tag keeps its `user_data` and takes no slot: every completion
    // without a live tag is then one of the scope's, the last of its op
    // unless the kernel flags more to come (`settle_untagged_op`). (Not a
    // zero-copy send: its notification follows its completion. Nor an op
    // that makes a descriptor: its completions are marked, see `NEW_FD`.
    // Nor an op of a submission with a link timeout, which cancels its op
    // by `user_data`: a tag names that op alone.)
    let tagged_by_type = P::NAMES_OPS || P::ZERO_COPY || P::HAS_LINK_TIMEOUT;
    if sqe.flags & sys::IOSQE_BUFFER_SELECT == 0
        && owned == NO_OWNED
        && !tagged_by_type
        && !(P::MAY_POST_MORE && crate::op::sqe_may_post_more(sqe))
        && table.untagged(sqe.user_data)
        && !new_fd
    {
        return;
    }
    let mut group = if sqe.flags & sys::IOSQE_BUFFER_SELECT != 0 {
        // SAFETY: both members of the union are a u16.
        u32::from(unsafe { sqe.buf.buf_group })
    } else if new_fd {
        if sqe.opcode == sys::IORING_OP_PIPE {
            table.pipe_marker(sqe, owned)
        } else {
            NEW_FD
        }
    } else {
        NO_GROUP
    };
    if zero_copy {
        group = ZERO_COPY_SEND;
    } else if group != NO_GROUP {
        let incremental = !table.incremental.is_empty() && table.is_incremental(group);
        if incremental && !table.enter_group(group) {
            refuse(sqe, libc::EBUSY);
            group = NO_GROUP;
        } else if screen_selection(sqe, incremental) {
            group |= BUNDLE;
        }
    }
    // Ops that name other ops find the scope's by the caller's
    // `user_data`; nothing else pays for it.
    let owned = if P::NAMES_OPS {
        table.translate(sqe, owned)
    } else {
        owned
    };
    sqe.user_data = table.take(sqe.user_data, extra(group, owned));
}

/// Keeps a drain and a zero-copy send out of one chain. The kernel drains
/// a chain as a whole (an `IO_DRAIN` on any of its SQEs drains its head),
/// and never issues a zero-copy send a drain defers (see [`after_drain`]):
/// a zero-copy send flagged `IO_DRAIN`, or after an SQE so flagged in its
/// chain, fails with `EINVAL` instead, and so does an SQE flagged
/// `IO_DRAIN` after a zero-copy send of its chain, which loses the flag.
#[inline(always)]
fn screen_drain(sqe: &mut sys::io_uring_sqe, chain: &mut ChainState) {
    let drain = sqe.flags & sys::IOSQE_IO_DRAIN != 0;
    let zero_copy = is_zero_copy(sqe.opcode);
    if zero_copy && (drain || chain.drained) || drain && chain.zero_copy {
        refuse(sqe, libc::EINVAL);
        if chain.zero_copy {
            // A send of the chain runs: no drain may hold the chain.
            sqe.flags &= !sys::IOSQE_IO_DRAIN;
        } else {
            // The refused SQE keeps its place, and its drain.
            chain.drained |= drain;
        }
    } else if zero_copy {
        chain.zero_copy = true;
    } else if drain {
        chain.drained = true;
    }
}

/// Whether `sqe` makes a new regular descriptor of the process, whose
/// number is its result when it succeeds: an accept (each completion of a
/// multishot one), an open (`openat`, `openat2`), a socket, or the install
/// of a registered file as a regular descriptor, asking for no direct
/// descriptor (`file_index` 0: otherwise the result is a slot of the
/// ring's table, or 0). An SQE flagged `IOSQE_BUFFER_SELECT` is none: the
/// kernel refuses buffer selection on these ops.
///
/// One test of the opcode for every other SQE: the opcodes are below 64,
/// so they are bits of one word.
#[inline(always)]
fn new_descriptor(sqe: &sys::io_uring_sqe) -> bool {
    const OPCODES: u64 = 1 << sys::IORING_OP_ACCEPT
        | 1 << sys::IORING_OP_OPENAT
        | 1 << sys::IORING_OP_OPENAT2
        | 1 << sys::IORING_OP_SOCKET
        | 1 << sys::IORING_OP_FIXED_FD_INSTALL
        | 1 << sys::IORING_OP_PIPE;
    sqe.opcode < 64 && OPCODES >> sqe.opcode & 1 != 0 && regular_descriptor(sqe)
}

/// For an SQE of an op that makes a descriptor: whether it makes a regular
/// one, as [`new_descriptor`] says.
#[cold]
fn regular_descriptor(sqe: &sys::io_uring_sqe) -> bool {
    // SAFETY: every member of the `file` union is a plain integer (or two
    // u16), of its full size or less.
    let file_index = unsafe { sqe.file.file_index };
    file_index == 0 && sqe.flags & sys::IOSQE_BUFFER_SELECT == 0
}

/// Whether `opcode` is a zero-copy send.
fn is_zero_copy(opcode: u8) -> bool {
    opcode == sys::IORING_OP_SEND_ZC || opcode == sys::IORING_OP_SENDMSG_ZC
}

/// Whether `sqe`, which selects a buffer (from an incrementally consumed
/// group if `incremental`), is a bundle: a receive or send that may fill
/// (or send) several buffers of its group. A send or receive whose
/// completion would not tell which bytes of the group the kernel took is
/// made invalid (`EINVAL`): a bundle, a receive or a one-shot `recvmsg`
/// flagged `MSG_TRUNC`, whose result would count bytes beyond those it
/// placed (a datagram's whole length; on a stream, bytes it discarded), and
/// so bytes of the buffer, or buffers, the kernel did not fill for it (a
/// multishot `recvmsg` caps its result at the payload's room, which on a
/// datagram or sequenced-packet socket is what it placed, reporting the
/// whole length in its header: it is let through on those alone, a
/// descriptor of the ring's table refused as one whose socket cannot be
/// told); and a bundle, or any op of an incremental group, flagged
/// `MSG_WAITALL`, which the kernel retries after a short transfer into the
/// buffers it mapped first, charging the group only for those the first
/// piece touched, while its completion reports the whole.
///
/// A read (`read`, `readv`) of an incremental group is sent to an io-wq
/// worker (`IOSQE_ASYNC`), which takes the whole buffer off the ring as it
/// selects it. Run inline, a short read of a regular file that can be
/// polled (procfs, sysfs, FUSE) keeps what it read in `io->bytes_done`,
/// puts its selection back uncommitted (`io_read`), and reads 0 bytes at
/// its retry: its completion reports the earlier bytes, flagged `BUF_MORE`,
/// while the kernel still counts them unused (Linux 6.18). A claim would
/// lend them, and the group's next op would write over the lent `Buf`.
#[cold]
fn screen_selection(sqe: &mut sys::io_uring_sqe, incremental: bool) -> bool {
    if incremental && matches!(sqe.opcode, sys::IORING_OP_READ | sys::IORING_OP_READV) {
        sqe.flags |= sys::IOSQE_ASYNC;
        return false;
    }
    let sends_or_receives = matches!(
        sqe.opcode,
        sys::IORING_OP_RECV | sys::IORING_OP_SEND | sys::IORING_OP_RECVMSG | sys::IORING_OP_SENDMSG
    );
    if !sends_or_receives {
        return false;
    }
    let bundle = sqe.ioprio & sys::IORING_RECVSEND_BUNDLE != 0;
    // SAFETY: every member of the op flags union is a plain integer.
    let msg_flags = unsafe { sqe.op_flags.msg_flags };
    let counts_past_its_buffer = || {
        bundle
            || sqe.opcode == sys::IORING_OP_RECV
            || (sqe.opcode == sys::IORING_OP_RECVMSG
                && (sqe.ioprio & sys::IORING_RECV_MULTISHOT == 0 || !places_what_it_counts(sqe)))
    };
    let truncates = msg_flags & libc::MSG_TRUNC as u32 != 0 && counts_past_its_buffer();
    let waits_for_all = (incremental || bundle) && msg_flags & libc::MSG_WAITALL as u32 != 0;
    if truncates || waits_for_all {
        // Refused: the receive completes with `EINVAL`, reading nothing.
        refuse(sqe, libc::EINVAL);
        return false;
    }
    bundle
}

/// Whether the multishot `recvmsg` of `sqe` flagged `MSG_TRUNC` places
/// every byte its result counts: on a datagram or sequenced-packet socket,
/// which copies what fits and reports the rest in the header. On a stream
/// (TCP), `MSG_TRUNC` discards the bytes it counts without placing them,
/// and the buffer would be lent with what it held before. A registered
/// descriptor's socket cannot be asked, nor can a number that is not a
/// socket's: neither is let through.
#[cold]
fn places_what_it_counts(sqe: &sys::io_uring_sqe) -> bool {
    sqe.flags & sys::IOSQE_FIXED_FILE == 0
        && matches!(
            sys::socket_type(sqe.fd),
            Ok(libc::SOCK_DGRAM | libc::SOCK_SEQPACKET)
        )
}

/// Turns `sqe` into a NOP that completes with `-errno`, keeping its
/// `user_data` and its place in a chain: an op refused once it was
/// written (in a scope, one that would select from an incremental buffer
/// group while another op consumes it; in the reactor, one that selects
/// from a group the reactor did not register). Before Linux 6.10 a NOP
/// ignores `IORING_NOP_INJECT_RESULT` and would complete with 0, as if the
/// op had run: there the SQE takes an opcode the kernel does not know
/// instead, and fails with `EINVAL` whatever `errno` was.
#[cold]
pub(crate) fn refuse(sqe: &mut sys::io_uring_sqe, errno: i32) {
    // (mutants: `^` for either `|` is equivalent: the bits are distinct.)
    let keep = sqe.flags & (sys::IOSQE_IO_LINK | sys::IOSQE_IO_HARDLINK | sys::IOSQE_IO_DRAIN);
    if !nop_injects_results() {
        *sqe = sys::io_uring_sqe {
            opcode: u8::MAX,
            flags: keep,
            user_data: sqe.user_data,
            ..Default::default()
        };
        return;
    }
    // (mutants: without the `opcode` field this is equivalent: NOP is
    // opcode 0, the default.)
    *sqe = sys::io_uring_sqe {
        opcode: sys::IORING_OP_NOP,
        flags: keep,
        user_data: sqe.user_data,
        len: errno.wrapping_neg() as u32,
        op_flags: sys::io_uring_sqe_op_flags {
            nop_flags: sys::IORING_NOP_INJECT_RESULT,
        },
        ..Default::default()
    };
}

/// Whether the running kernel's NOP completes with the result its SQE
/// asks for (`IORING_NOP_INJECT_RESULT`, 6.10), read once from its
/// release (a kernel whose release cannot be read is taken for one that
/// does not).
fn nop_injects_results() -> bool {
    static INJECTS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *INJECTS.get_or_init(|| sys::kernel_release().is_some_and(|release| release >= (6, 10)))
}

/// The push of ops over a buffer given to [`Scope::push_owned`]: its
/// closure gets the buffer, borrowed for `'b`, and this, to push one op or
/// chain over it. What else the op borrows must outlive the scope (`'scope`
/// outlives `'b`).
pub struct OwnedPush<'b, 'scope: 'b, S: SqeSize = Sqe64> {
    /// The batch that `push_owned` was called on (or made for), borrowed
    /// for 'b: pushes go through its cursor.
    pub(super) sq: NonNull<SubmissionQueue<'b, S>>,
    pub(super) table: TableRef<'b>,
    pub(super) entry: u32,
    /// What the slots of the ops over it carry as their owned buffer: the
    /// entry, or for a claimed buffer the entry marked as one.
    pub(super) owned: u32,
    /// Why the push did not happen, for `push_owned`'s error.
    pub(super) refused: &'b mut PushErrorKind,
    /// Invariant, so that the buffer's borrow cannot be stretched.
    pub(super) _buf: PhantomData<&'b mut &'b ()>,
    /// Invariant, as for [`Scope`].
    pub(super) _scope: PhantomData<&'scope mut &'scope ()>,
}

impl<'b, S: SqeSize> OwnedPush<'b, '_, S> {
    /// Pushes an op or a chain over the buffer: all its SQEs or none. The
    /// buffer comes back with the last of their completions; if the push
    /// does not fit, [`Scope::push_owned`] hands the buffer back instead.
    pub fn push<T>(mut self, submission: T)
    where
        T: Submission<S> + Scoped + 'b,
    {
        // SAFETY: the submission borrows the owned buffer (and what else
        // outlives 'b, which the closure of `push_owned` outlasts, which the
        // scope outlasts): the scope keeps the buffer until the SQEs tagged
        // with its entry have completed, and ends after them.
        let pushed = unsafe {
            push_tagged(
                // SAFETY: the batch outlives 'b, and nothing else uses it
                // while `push_owned`'s closure runs. (Its lifetime is seen
                // as 'b, which it outlives; nothing is stored in it.)
                self.sq.as_mut(),
                self.table.get(),
                submission,
                self.owned,
            )
        };
        match pushed {
            // SAFETY: the entry `push_owned` got from `keep_owned`.
            Ok(()) => unsafe { self.table.get().owned_entry(self.entry) }.remaining = T::SQES,
            Err(e) => *self.refused = e.kind(),
        }
    }
}

impl<S: SqeSize> fmt::Debug for OwnedPush<'_, '_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPush").finish_non_exhaustive()
    }
}

impl<S: SqeSize> Drop for ScopeSubmissionQueue<'_, '_, S> {
    /// Ends the batch. Nothing is left to store: each push stored the
    /// batch's cursor in the queue at once, and the pushes wait there for
    /// the scope's next submit.
    #[inline(always)]
    fn drop(&mut self) {}
}

impl<S: SqeSize> fmt::Debug for ScopeSubmissionQueue<'_, '_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeSubmissionQueue")
            .field("sq", &*self.sq)
            .finish_non_exhaustive()
    }
}
