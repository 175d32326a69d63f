//! What an op is to the ring: the traits the [`ops!`](crate::ops!) macro
//! implements for each declared op, and the slot an op writes its SQE into.
//!
//! Most users never name these: they build ops from [`crate::ops`](mod@crate::ops) and push
//! them. The traits matter to two kinds of readers: those declaring their own
//! ops with [`ops!`](crate::ops!), and those reading a compile error, since
//! each trait that checks a chain rule carries the message explaining the fix.

#[cfg(feature = "arbitrary-ops")]
#[doc(hidden)]
pub mod arbitrary;
mod field;

pub use crate::types::{FdTarget, FixedTarget};
pub use field::{SelectBuffer, SqeField};

use crate::entries::{Sqe64, SqeSize};
use crate::sys::io_uring_sqe;
use crate::types::{SqeFlags, Timespec};
use std::marker::PhantomData;

/// One SQE: an op or a link timeout, as declared in an op table.
///
/// # Safety
///
/// `prepare` must write one whole, valid SQE for opcode `CODE` whose pointer
/// fields refer only to memory borrowed for the lifetime of `Self` (or owned
/// by the ring through [`SqeSlot::ring_owned`]). Implementations come from
/// [`ops!`](crate::ops!), whose `unsafe struct` declaration carries that
/// promise (and, through [`Scoped`], the promise of when the kernel is done
/// with that memory).
pub unsafe trait Entry: Sized {
    /// The kernel opcode, `IORING_OP_*`.
    const CODE: u8;
    /// The op's name in its table.
    const NAME: &'static str;
    /// The kernel version that added the op, or this form of it
    /// (`"major.minor"`).
    const SINCE: &'static str;
    /// Writes this op's SQE into `slot`, or-ing `link` (`IOSQE_IO_LINK`,
    /// `IOSQE_IO_HARDLINK` or 0) into its flags.
    #[doc(hidden)]
    fn prepare<S: SqeSize>(self, slot: SqeSlot<'_, S>, link: u8);
}

/// One or more SQEs written in order: an op, a link timeout, or a chain.
///
/// # Safety
///
/// `prepare_all` must take exactly `SQES` slots from the writer and fill each
/// with a valid SQE, the last one or-ed with `link`.
pub unsafe trait Prepare: Sized {
    /// How many SQEs it takes.
    const SQES: u32;
    /// Writes all the SQEs; the last gets `link` (0 when pushed).
    #[doc(hidden)]
    fn prepare_all<const WRAP: bool, S: SqeSize>(
        self,
        writer: &mut SqWriter<'_, WRAP, S>,
        link: u8,
    );
    /// Whether every registered file it names belongs to the ring with id
    /// `ring` (a push to another ring is refused). Compiles to nothing for
    /// ops that name none.
    #[doc(hidden)]
    fn fits_ring(&self, ring: u32) -> bool;
    /// Whether an SQE of it names another op by `user_data` (cancel, poll
    /// and timeout removal and update), which a scope translates.
    #[doc(hidden)]
    const NAMES_OPS: bool = false;
    /// Whether an SQE of it is a zero-copy send, whose notification a
    /// scope may have to take in after its last completion.
    #[doc(hidden)]
    const ZERO_COPY: bool = false;
    /// Whether an SQE of it may post more than one completion (see
    /// [`opcode_may_post_more`]): a scope then tracks it by a tag. True
    /// unless an impl knows better.
    #[doc(hidden)]
    const MAY_POST_MORE: bool = true;
    /// Whether it is a link timeout (`LINK_TIMEOUT`), which bounds the SQE
    /// before it: a hard link after it is that op's (see [`Link`](crate::Link)'s
    /// `prepare_all`).
    #[doc(hidden)]
    const LINK_TIMEOUT: bool = false;
    /// Whether one of its SQEs is a link timeout. The kernel's link
    /// timeout cancels the op before it by that op's `user_data`
    /// (`io_req_task_link_timeout`), so a scope tags every op of such a
    /// submission: a `user_data` the program gave could be another op's
    /// too, and the timeout would cut that one.
    #[doc(hidden)]
    const HAS_LINK_TIMEOUT: bool = Self::LINK_TIMEOUT;
}

/// Whether an SQE of opcode `code` may post a completion flagged
/// `IORING_CQE_F_MORE` (more to come for the same SQE), in some form: the
/// multishot forms of polls, timeouts, accepts and receives, send bundles,
/// multishot reads, zero-copy sends (a notification follows), zero-copy
/// receives, commands (a driver may post several), epoll waits, and every
/// opcode this crate does not know.
#[doc(hidden)]
pub const fn opcode_may_post_more(code: u8) -> bool {
    use crate::sys::*;
    matches!(
        code,
        IORING_OP_POLL_ADD
            | IORING_OP_TIMEOUT
            | IORING_OP_ACCEPT
            | IORING_OP_RECV
            | IORING_OP_RECVMSG
            | IORING_OP_SEND
            | IORING_OP_READ_MULTISHOT
            | IORING_OP_SEND_ZC
            | IORING_OP_SENDMSG_ZC
            | IORING_OP_URING_CMD
            | IORING_OP_RECV_ZC
            | IORING_OP_EPOLL_WAIT
    ) || code >= IORING_OP_LAST
}

/// Whether `sqe` may post a completion flagged `IORING_CQE_F_MORE`: as
/// [`opcode_may_post_more`], except that a poll, a timeout, an accept or a
/// receive may only when its SQE asks for the multishot form or (a
/// receive) a bundle, and a send only when it asks for a bundle (the
/// kernel runs a send bundle as a multishot op: a completion flagged
/// `F_MORE` for each send until one sends nothing or the group runs dry,
/// with or without a provided buffer). (A scope refuses the updates that
/// would make a poll or a timeout it did not tag multishot after its
/// push.)
pub(crate) fn sqe_may_post_more(sqe: &crate::sys::io_uring_sqe) -> bool {
    use crate::sys::*;
    match sqe.opcode {
        IORING_OP_POLL_ADD => sqe.len & IORING_POLL_ADD_MULTI != 0,
        IORING_OP_TIMEOUT => {
            // SAFETY: every member of the op flags union is a plain integer.
            let flags = unsafe { sqe.op_flags.timeout_flags };
            flags & IORING_TIMEOUT_MULTISHOT != 0
        }
        IORING_OP_ACCEPT => sqe.ioprio & IORING_ACCEPT_MULTISHOT != 0,
        IORING_OP_RECV | IORING_OP_RECVMSG => {
            sqe.ioprio & (IORING_RECV_MULTISHOT | IORING_RECVSEND_BUNDLE) != 0
        }
        IORING_OP_SEND => sqe.ioprio & IORING_RECVSEND_BUNDLE != 0,
        code => opcode_may_post_more(code),
    }
}

/// What a ring can push: one op or a whole chain, of a length known at compile
/// time ([`Prepare::SQES`]), reserved and written all at once.
///
/// `S` is the size of the ring's SQEs: every op and chain fits both sizes,
/// except the ops that carry an 80-byte command, which need
/// [`Sqe128`](crate::Sqe128).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be pushed on its own",
    label = "not an op or a complete chain (for a ring of `{S}` SQEs)",
    note = "a link timeout bounds the op before it: push `op.timeout(duration)` or `op.link_timeout(timeout)` instead",
    note = "an op with an 80-byte command (`UringCmd80`) needs 128-byte SQEs: `Builder::new().build_sized::<Sqe128, Cqe32>(entries)`"
)]
/// # Safety
///
/// Implemented by the [`ops!`](crate::ops!) macro and the library's chain
/// type; an impl must keep the kernel's rules for links and SQE sizes that
/// the trait stands for (the typestate of chains and link timeouts rests
/// on it).
pub unsafe trait Submission<S: SqeSize = Sqe64>: Prepare {}

/// An op or chain that borrows nothing the kernel uses after the push
/// returns: no buffer, no descriptor, no registered file. Only these can go
/// through the safe [`Ring::push`](crate::Ring::push); everything else goes
/// through a [`Scope`](crate::Scope), which waits for the kernel before the
/// borrows end, or `unsafe` [`Ring::push_unchecked`](crate::Ring::push_unchecked).
///
/// The [`ops!`](crate::ops!) macro implements it for every op that declares
/// no lifetime and no target.
///
/// # Safety
///
/// No SQE the submission writes may point to, or name, anything borrowed
/// for less than the kernel's use of it: memory, a descriptor or a
/// registered slot. (`Ring::push` relies on it alone: a type that wraps a
/// borrowing op and forwards to its [`Prepare`] must not implement it.)
#[diagnostic::on_unimplemented(
    message = "`{Self}` borrows memory, a descriptor or a registered file, so the ring's safe pushes (`push`, `push_linked`) cannot take it",
    label = "the kernel uses what this op borrows after the push returns",
    note = "push it in a scope, which waits for the kernel before the borrows end: `ring.scope(|s| s.push(op))` (`s.push_linked(chain)` for a `Linked` chain)",
    note = "or, if you keep everything it borrows alive until its last completion yourself: `unsafe {{ ring.push_unchecked(op) }}` (`push_linked_unchecked` for a `Linked` chain)"
)]
pub unsafe trait Unborrowed {}

/// An op (or a chain) that may be linked after another with `.link(..)` or
/// `.hard_link(..)`. Every one is [`Prepare`], which lets the bounds that
/// ask for both give one error where both are missing.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be linked with `.link()` or `.hard_link()`",
    label = "not an op that can follow another",
    note = "a link timeout is appended with `.timeout(duration)` or `.link_timeout(timeout)`"
)]
/// # Safety
///
/// Implemented by the [`ops!`](crate::ops!) macro and the library's chain
/// type; an impl must keep the kernel's rules for links and SQE sizes that
/// the trait stands for (the typestate of chains and link timeouts rests
/// on it).
pub unsafe trait ChainNext: Prepare {}

/// An op that may start a chain followed by `N`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot start a chain",
    label = "a link timeout must follow the op it bounds",
    note = "write `op.timeout(duration)` and continue the chain from there with `.link(next)`"
)]
/// # Safety
///
/// Implemented by the [`ops!`](crate::ops!) macro and the library's chain
/// type; an impl must keep the kernel's rules for links and SQE sizes that
/// the trait stands for (the typestate of chains and link timeouts rests
/// on it).
pub unsafe trait ChainStart<N> {}

/// An op that a link timeout may follow (the parameter only keeps the check
/// at the call site).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be followed by a link timeout",
    label = "a link timeout cannot follow another link timeout",
    note = "each link timeout bounds the one op before it: link another op first, or keep one timeout"
)]
/// # Safety
///
/// Implemented by the [`ops!`](crate::ops!) macro and the library's chain
/// type; an impl must keep the kernel's rules for links and SQE sizes that
/// the trait stands for (the typestate of chains and link timeouts rests
/// on it).
pub unsafe trait AcceptsLinkTimeout<D> {}

/// An op or chain whose memory the kernel is done with once the op's last
/// completion is posted (for a chain, each op's), so that a
/// [`Scope`](crate::Scope) may lend it for the length of the scope.
///
/// Every op of an [`ops!`](crate::ops!) table is, unless its entry says
/// `#[retains_memory]`: [`ProvideBuffers`](crate::ops::ProvideBuffers) hands
/// its buffers to the kernel, which fills them for later ops, long after
/// its own completion.
///
/// # Safety
///
/// The kernel must not read or write any memory the submission borrows after
/// the last completion of each of its SQEs (the one without
/// `IORING_CQE_F_MORE`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` leaves its memory in the kernel's hands after it completes, so a scope cannot lend it",
    label = "the kernel keeps using this op's buffers after its completion",
    note = "for provided buffers, register a `BufRing` instead: ops select from it safely, in a scope or not",
    note = "or push it outside the scope with `unsafe {{ ring.push_unchecked(op) }}`, keeping its memory valid and untouched until the kernel has used up or removed (`RemoveBuffers`) every buffer"
)]
pub unsafe trait Scoped {}

/// An op or chain that fits a ring's SQEs: every op fits both sizes,
/// except the ops that carry an 80-byte command, which need
/// [`Sqe128`](crate::Sqe128) SQEs.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not fit this ring's SQEs",
    label = "this op needs 128-byte SQEs",
    note = "make the ring with 128-byte SQEs: `Builder::new().build_sized::<Sqe128, Cqe32>(entries)` (NVMe passthrough posts 32-byte CQEs too)"
)]
/// # Safety
///
/// Implemented by the [`ops!`](crate::ops!) macro and the library's chain
/// type; an impl must keep the kernel's rules for links and SQE sizes that
/// the trait stands for (the typestate of chains and link timeouts rests
/// on it).
pub unsafe trait FitsSqe<S: SqeSize> {}

/// An entry that exists only after a linked op (`LINK_TIMEOUT`): it cannot be
/// pushed alone, start a chain, or follow another one of its kind.
///
/// # Safety
///
/// Implemented by the [`ops!`](crate::ops!) macro and the library's chain
/// type; an impl must keep the kernel's rules for links and SQE sizes that
/// the trait stands for (the typestate of chains and link timeouts rests
/// on it).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a link timeout, which is all `.link_timeout(..)` takes",
    label = "not a `LinkTimeout`",
    note = "bound the op with `.link_timeout(LinkTimeout::new(duration))` or `.timeout(duration)`; to run `{Self}` after the op, link it: `op.link(next)`"
)]
pub unsafe trait AfterLink: Entry {}

/// The name, opcode and kernel version of one op, as an op table lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpInfo {
    /// The op's type name (`"Read"`).
    pub name: &'static str,
    /// Its opcode.
    pub code: u8,
    /// The kernel version that added it (`"5.6"`).
    pub since: &'static str,
}

/// The target of an op that takes ownership of its file (`target: owned`
/// in a table, CLOSE): not `Copy`, made only from an owned file or a slot
/// held exclusively, and given back only through `unsafe`, so that code in
/// the module of an op (a user's own op table) can neither copy the
/// descriptor out, to use it after the kernel closed it, nor put in one
/// that the op does not own.
#[doc(hidden)]
pub struct OwnedTarget<T>(T);

impl<T: crate::Target> OwnedTarget<T> {
    #[inline(always)]
    pub fn new(target: impl crate::IntoOwnedTarget<Target = T>) -> Self {
        OwnedTarget(target.into_owned_target())
    }

    #[inline(always)]
    pub fn new_fd(target: impl crate::IntoOwnedFd<Target = T>) -> Self
    where
        T: FdTarget,
    {
        OwnedTarget(target.into_owned_fd())
    }

    #[inline(always)]
    pub fn fits_ring(&self, ring: u32) -> bool {
        self.0.fits_ring(ring)
    }

    /// The target, for the op's SQE.
    ///
    /// # Safety
    ///
    /// Only the op's `Entry::prepare` calls it, which writes the target
    /// into the SQE whose op closes it: nothing else may keep or use it.
    #[inline(always)]
    pub unsafe fn into_sqe_target(self) -> T {
        self.0
    }
}

/// The fields every op carries besides its arguments.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Common {
    user_data: u64,
    flags: u8,
    personality: u16,
}

/// The fields are private and set only through typed values, so that code
/// in the module of an op (a user's own op table) cannot put raw flag bits
/// (a link, a fixed file, a buffer selection) or a raw personality in it.
impl Common {
    #[inline(always)]
    pub const fn new() -> Self {
        Common {
            user_data: 0,
            flags: 0,
            personality: 0,
        }
    }

    #[inline(always)]
    pub fn user_data(&self) -> u64 {
        self.user_data
    }

    #[inline(always)]
    pub fn set_user_data(&mut self, user_data: u64) {
        self.user_data = user_data;
    }

    #[inline(always)]
    pub fn flags(&self) -> u8 {
        self.flags
    }

    #[inline(always)]
    pub fn set_flags(&mut self, flags: crate::SqeFlags) {
        self.flags = flags.bits();
    }

    #[inline(always)]
    pub fn personality(&self) -> u16 {
        self.personality
    }

    #[inline(always)]
    pub fn set_personality(&mut self, personality: crate::Personality) {
        self.personality = personality.id();
    }
}

/// The SQE slot one entry writes to, and the ring-owned storage beside it.
pub struct SqeSlot<'a, S: SqeSize = Sqe64> {
    sqe: *mut S::Slot,
    sqes: *mut S::Slot,
    stable: *mut Timespec,
    _ring: PhantomData<&'a mut S::Slot>,
}

impl<S: SqeSize> SqeSlot<'_, S> {
    /// Writes the whole SQE (and zeroes the rest of a 128-byte one).
    #[inline(always)]
    pub fn write(&mut self, sqe: io_uring_sqe) {
        // SAFETY: `SqWriter::next_slot` only hands out slots that the ring
        // reserved for this push: in bounds, owned by user space until the
        // tail is published, and not aliased. Every byte of `sqe` is
        // initialised: safe code builds no other (see `io_uring_sqe`).
        unsafe { S::write(self.sqe, sqe, None) }
    }

    /// Writes the SQE, then the 80-byte command from its `addr3` on, for
    /// ops that take a 128-byte SQE ([`FitsSqe`]).
    #[inline(always)]
    pub fn write_with_cmd(&mut self, sqe: io_uring_sqe, cmd: &[u8; 80]) {
        // SAFETY: as for `write`.
        unsafe { S::write(self.sqe, sqe, Some(cmd)) }
    }

    /// Copies `value` into storage the ring owns until the kernel has consumed
    /// this SQE, and returns its address for an SQE field.
    #[inline(always)]
    pub fn ring_owned(&mut self, value: Timespec) -> u64 {
        // SAFETY: the ring keeps one timespec per SQ slot, at the slot's
        // index; it belongs to this SQE until the kernel has consumed it,
        // which is also the earliest the slot can be handed out again.
        unsafe {
            let index = self.sqe.offset_from(self.sqes) as usize;
            let stable = self.stable.add(index);
            stable.write(value);
            stable as u64
        }
    }
}

/// Hands out the slots a push reserved, in order. With `WRAP`, the slots may
/// run past the end of the SQE array and continue at its start.
pub struct SqWriter<'a, const WRAP: bool, S: SqeSize = Sqe64> {
    next: *mut S::Slot,
    sqes: *mut S::Slot,
    end: *mut S::Slot,
    stable: *mut Timespec,
    _ring: PhantomData<&'a mut S::Slot>,
}

impl<const WRAP: bool, S: SqeSize> SqWriter<'_, WRAP, S> {
    /// A writer whose first slot is `next`, in the SQE array
    /// `sqes .. sqes + entries`.
    ///
    /// # Safety
    ///
    /// `sqes` and `stable` must be the queue's arrays of `entries` entries;
    /// as many slots from `next` on as the push takes must be free (consumed
    /// by the kernel) and unpublished; without `WRAP` they must not run past
    /// the end of the array.
    #[inline(always)]
    pub(crate) unsafe fn new(
        next: *mut S::Slot,
        sqes: *mut S::Slot,
        entries: u32,
        stable: *mut Timespec,
    ) -> Self {
        SqWriter {
            next,
            sqes,
            // SAFETY: one past the end of the array.
            end: unsafe { sqes.add(entries as usize) },
            stable,
            _ring: PhantomData,
        }
    }

    /// The next reserved slot.
    #[inline(always)]
    pub fn next_slot(&mut self) -> SqeSlot<'_, S> {
        let sqe = self.next;
        // SAFETY: at most one past the end of the array (see `new`).
        self.next = unsafe { self.next.add(1) };
        if WRAP && self.next == self.end {
            self.next = self.sqes;
        }
        SqeSlot {
            sqe,
            sqes: self.sqes,
            stable: self.stable,
            _ring: PhantomData,
        }
    }

    /// Where the next slot would be.
    #[inline(always)]
    pub(crate) fn position(&self) -> *mut S::Slot {
        self.next
    }
}

/// A provided-buffer group, as an op that always selects its buffer
/// (`ReadMultishot`) takes it where other ops take a buffer. Each completion
/// uses one whole buffer of the group.
///
/// # Safety
///
/// As for [`SelectBuffer`]: `into_parts` passes no address.
#[diagnostic::on_unimplemented(
    message = "this op selects a provided buffer: it takes a `BufferGroup`, not `{Self}`",
    label = "a buffer cannot be given to this op",
    note = "provide buffers to a group (`ProvideBuffers`) and pass the `BufferGroup`; each completion names the buffer it used"
)]
pub unsafe trait SelectOnly {
    /// `(0, 0, buf_group, IOSQE_BUFFER_SELECT)`.
    fn into_parts(self) -> (u64, u32, u16, u8);
}

// SAFETY: a group passes no address.
unsafe impl SelectOnly for crate::types::BufferGroup {
    #[inline(always)]
    fn into_parts(self) -> (u64, u32, u16, u8) {
        (0, 0, self.id(), crate::sys::IOSQE_BUFFER_SELECT)
    }
}

/// Converts what `.flags(..)` is given into the SQE flags a caller may set:
/// [`SqeFlags`] only. Raw bits, and the bits that follow from an op's type
/// ([`SqeFlags::FIXED_FILE`](crate::SqeFlags::FIXED_FILE), `IO_LINK`,
/// `IO_HARDLINK`, `BUFFER_SELECT`), fail to compile.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a set of SQE flags you can set by hand",
    label = "expected `SqeFlags`",
    note = "pass named flags: `SqeFlags::IO_DRAIN`, `SqeFlags::ASYNC`, `SqeFlags::CQE_SKIP_SUCCESS`, or-ed with `|`; raw bits are not accepted, since some of them make the kernel read what the op does not carry",
    note = "the other bits follow from the op's type: IOSQE_FIXED_FILE from a `Fixed` target (`files.get(index)?`), IO_LINK / IO_HARDLINK from `a.link(b)` / `a.hard_link(b)`, BUFFER_SELECT from a `BufferSelect` buffer (`group.select(len)`)"
)]
pub trait IntoSqeFlags {
    /// The flags.
    fn into_sqe_flags(self) -> SqeFlags;
}

impl IntoSqeFlags for SqeFlags {
    #[inline(always)]
    fn into_sqe_flags(self) -> SqeFlags {
        self
    }
}

/// How a chain element is joined to the next: the only SQE flags a link
/// sets.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkKind {
    /// `IOSQE_IO_LINK`: the next starts if this one succeeds.
    Soft,
    /// `IOSQE_IO_HARDLINK`: the next starts once this one completes.
    Hard,
}

/// Builds a chain element; used by the generated `.link()` methods.
///
/// # Safety
///
/// `tail` must be allowed to follow `head` in a chain joined by `kind`,
/// as the bounds of the generated methods check (`ChainStart`,
/// `ChainNext`, `AcceptsLinkTimeout`, `AfterLink`): a link timeout only
/// linked right after the op it bounds (soft-linked here: the op's flag
/// becomes a hard link when the chain is hard-linked on after the
/// timeout), never first nor after another link timeout. What the library
/// tells of a pushed chain rests on it.
#[doc(hidden)]
#[inline(always)]
pub unsafe fn link<H, T>(head: H, tail: T, kind: LinkKind) -> crate::Link<H, T> {
    let flag = match kind {
        LinkKind::Soft => crate::sys::IOSQE_IO_LINK,
        LinkKind::Hard => crate::sys::IOSQE_IO_HARDLINK,
    };
    crate::chain::Link::new(head, tail, flag)
}
