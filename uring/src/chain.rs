//! Linked chains of ops, typed by what they end with.

use crate::entries::SqeSize;
use crate::op::{
    AcceptsLinkTimeout, AfterLink, ChainNext, ChainStart, FitsSqe, Prepare, Scoped, SqWriter,
    Submission, Unborrowed,
};
use crate::ops::LinkTimeout;
use crate::sys;
use crate::types::Timespec;

/// A chain: `head` (an op or a shorter chain) followed by `tail`, linked by
/// `IOSQE_IO_LINK` or `IOSQE_IO_HARDLINK` on the last SQE of `head`.
///
/// Built with `.link(..)`, `.hard_link(..)` and `.timeout(..)` on ops and
/// chains. The type records the last element, which is how a link timeout is
/// kept from following another one; its length, [`Link::SQES`], is a
/// constant, which is how a push reserves the whole chain or none of it.
/// The last SQE of a pushed chain never carries a link flag.
#[must_use = "a chain does nothing until it is pushed to a ring"]
pub struct Link<H, T> {
    head: H,
    tail: T,
    flag: u8,
}

impl<H, T> Link<H, T> {
    #[inline(always)]
    pub(crate) fn new(head: H, tail: T, flag: u8) -> Self {
        Link { head, tail, flag }
    }

    /// Links `next` after the chain (`IOSQE_IO_LINK`): `next` starts when the
    /// chain's last op succeeds, and is cancelled (`-ECANCELED`) if it
    /// fails. A read or write that moves fewer bytes than asked fails a
    /// link; after a link timeout, the op that counts is the one it bounds
    /// (cut short by it, it fails).
    // `Prepare` (implied by `ChainNext`) comes first so that a `Linked`
    // given here gets the error that says what to write instead.
    #[inline]
    pub fn link<N: Prepare + ChainNext>(self, next: N) -> Link<Self, N> {
        Link::new(self, next, sys::IOSQE_IO_LINK)
    }

    /// Links `next` after the chain (`IOSQE_IO_HARDLINK`): `next` starts when
    /// the chain's last op completes, whatever its result (after a link
    /// timeout: the op it bounds). Unless the chain broke before that op:
    /// an op that fails over a soft link has Linux cancel everything after
    /// it, hard-linked ops included. And an op the kernel refuses as it is
    /// submitted (an unknown personality, a bad field) fails the whole
    /// chain, every op unissued, whatever its links.
    #[inline]
    pub fn hard_link<N: Prepare + ChainNext>(self, next: N) -> Link<Self, N> {
        Link::new(self, next, sys::IOSQE_IO_HARDLINK)
    }

    /// Bounds the last op of the chain with a `LINK_TIMEOUT` of `timeout`.
    ///
    /// A link timeout that fires cancels its op by that op's `user_data`
    /// (the first in flight that carries it): pushed raw, the op needs a
    /// `user_data` no other op in flight carries; a scope tags every op of
    /// a chain with a link timeout, so the timeout cuts its own.
    ///
    /// Linux arms the timeout once its op's first issue returns. One that
    /// fires before the op waits where a cancel finds it (an op whose retry
    /// is queued as task work, say, when the timeout is already due)
    /// completes with `-ENOENT` (or `-EALREADY`), and the op runs on
    /// unbounded: cancel it again then, as the reactor's deadlines do.
    #[inline]
    pub fn timeout<D>(self, timeout: D) -> Link<Self, LinkTimeout>
    where
        D: Into<Timespec>,
        T: AcceptsLinkTimeout<D>,
    {
        Link::new(self, LinkTimeout::new(timeout), sys::IOSQE_IO_LINK)
    }

    /// Bounds the last op of the chain with a `LINK_TIMEOUT` of `timeout`
    /// whose completion carries `user_data`.
    #[inline]
    pub fn timeout_with<D>(self, timeout: D, user_data: u64) -> Link<Self, LinkTimeout>
    where
        D: Into<Timespec>,
        T: AcceptsLinkTimeout<D>,
    {
        Link::new(
            self,
            LinkTimeout::new(timeout).user_data(user_data),
            sys::IOSQE_IO_LINK,
        )
    }

    /// Bounds the last op of the chain with a link timeout built by hand.
    #[inline]
    pub fn link_timeout<L>(self, timeout: L) -> Link<Self, L>
    where
        L: AfterLink,
        T: AcceptsLinkTimeout<L>,
    {
        Link::new(self, timeout, sys::IOSQE_IO_LINK)
    }
}

impl<H: std::fmt::Debug, T: std::fmt::Debug> std::fmt::Debug for Link<H, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.flag == sys::IOSQE_IO_HARDLINK {
            "HardLink"
        } else {
            "Link"
        };
        f.debug_tuple(kind)
            .field(&self.head)
            .field(&self.tail)
            .finish()
    }
}

// SAFETY: the head takes its `H::SQES` slots and the tail its `T::SQES`,
// which is `SQES`; the head's last SQE gets the link flag and the tail's last
// the caller's `link`, so the last SQE of a pushed chain (pushed with 0)
// carries no link flag.
unsafe impl<H: Prepare, T: Prepare> Prepare for Link<H, T> {
    const SQES: u32 = H::SQES + T::SQES;
    const NAMES_OPS: bool = H::NAMES_OPS || T::NAMES_OPS;
    const ZERO_COPY: bool = H::ZERO_COPY || T::ZERO_COPY;
    const MAY_POST_MORE: bool = H::MAY_POST_MORE || T::MAY_POST_MORE;
    const HAS_LINK_TIMEOUT: bool = H::HAS_LINK_TIMEOUT || T::HAS_LINK_TIMEOUT;

    #[inline(always)]
    fn prepare_all<const WRAP: bool, S: SqeSize>(
        self,
        writer: &mut SqWriter<'_, WRAP, S>,
        link: u8,
    ) {
        // A chain that ends with a link timeout, hard-linked to what
        // follows: the op the timeout bounds carries the hard link. The
        // kernel runs or cancels the rest of a chain by the flag of the op
        // that failed (the timeout only cuts it short), so a hard link on
        // the timeout alone would still cancel `next` when the timeout
        // fires. The op's hard link attaches the timeout as a link does.
        let head_link = if T::LINK_TIMEOUT && link == sys::IOSQE_IO_HARDLINK {
            link
        } else {
            self.flag
        };
        self.head.prepare_all(writer, head_link);
        self.tail.prepare_all(writer, link);
    }

    #[inline(always)]
    fn fits_ring(&self, ring: u32) -> bool {
        self.head.fits_ring(ring) && self.tail.fits_ring(ring)
    }
}

/// A chain fits the SQEs its elements all fit.
#[diagnostic::do_not_recommend]
// SAFETY: a chain's SQEs are its elements'.
unsafe impl<S: SqeSize, H: FitsSqe<S>, T: FitsSqe<S>> FitsSqe<S> for Link<H, T> {}

/// A chain borrows nothing when none of its elements does.
#[diagnostic::do_not_recommend]
// SAFETY: a chain borrows what its ops borrow: nothing, when neither does.
unsafe impl<H: Unborrowed, T: Unborrowed> Unborrowed for Link<H, T> {}

/// A chain can only be built by the methods that check its order, so every
/// chain may be pushed.
#[diagnostic::do_not_recommend]
// SAFETY: a chain is built only by the methods that check its order.
unsafe impl<S: SqeSize, H: Prepare + FitsSqe<S>, T: Prepare + FitsSqe<S>> Submission<S>
    for Link<H, T>
{
}

// SAFETY: a chain borrows what its elements borrow; each releases its memory
// at its own last completion.
#[diagnostic::do_not_recommend]
unsafe impl<H: Scoped, T: Scoped> Scoped for Link<H, T> {}

/// A chain may be linked after an op or another chain; its first element is
/// always an op.
#[diagnostic::do_not_recommend]
// SAFETY: a chain's first element is an op that may follow another.
unsafe impl<H: Prepare, T: Prepare> ChainNext for Link<H, T> {}

/// A chain may start a longer one, as its own `link` and `hard_link` do:
/// what lets an [`Either`] of two chains be continued.
#[diagnostic::do_not_recommend]
// SAFETY: a chain's first element is an op that started it, and anything
// that may follow an op may follow a chain's last element (a link timeout
// included, which bounds the op before it and lets the chain go on).
unsafe impl<H, T, N> ChainStart<N> for Link<H, T> {}

/// A link timeout may follow a chain whose last element accepts one.
// SAFETY: the link timeout follows the chain's last element, which accepts
// one.
unsafe impl<H, T: AcceptsLinkTimeout<D>, D> AcceptsLinkTimeout<D> for Link<H, T> {}

/// One of two ops (or chains), chosen at run time: what lets one
/// [`Linked`] chain hold ops of two types (writes, then an fsync), or one
/// push site take either. `Either<A, Either<B, C>>` holds three.
///
/// It is everything both sides are: pushed alone when both may be, an
/// element of a chain (after `.link(..)`, or in a `Linked`) when both may
/// follow another op, continued with `.link(..)` when both may start a
/// chain (every op but a link timeout, and every chain), followed by a link
/// timeout when both accept one, lent in a scope when both may be. Both sides must take as many SQEs
/// (every op takes one; a chain of two ops, two): an `Either` of two
/// lengths does not compile.
///
/// ```
/// use uring::{Either, Linked, Ring, ops::{Fsync, Write}};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut ring = Ring::new(16)?;
/// let path = std::env::temp_dir().join(format!("uring-either-{}", std::process::id()));
/// let file = std::fs::File::options().read(true).write(true).create(true).truncate(true).open(&path)?;
/// std::fs::remove_file(&path)?;
/// let blocks = [[1u8; 512], [2u8; 512], [3u8; 512]];
/// ring.scope(|s| -> uring::Result<()> {
///     // Three writes, then an fsync that runs only if all of them succeed.
///     let mut ops: Vec<_> = blocks
///         .iter()
///         .enumerate()
///         .map(|(i, b)| Either::Left(Write::new(&file, &b[..]).offset(512 * i as u64).user_data(i as u64)))
///         .collect();
///     ops.push(Either::Right(Fsync::new(&file).user_data(9)));
///     s.push_linked(Linked::new(ops))?;
///     s.submit_and_wait(4)?;
///     let done: Vec<_> = s.completions().map(|c| (c.user_data(), c.res())).collect();
///     assert_eq!(done, [(0, 512), (1, 512), (2, 512), (9, 0)]);
///     Ok(())
/// })?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "an op does nothing until it is pushed to a ring"]
pub enum Either<L, R> {
    /// The first kind.
    Left(L),
    /// The second kind.
    Right(R),
}

/// The one length of the two sides of an [`Either`]; a compile error when
/// they differ.
const fn same_length(left: u32, right: u32) -> u32 {
    assert!(
        left == right,
        "the two sides of an `Either` take different numbers of SQEs: give it two ops, or two chains of one length"
    );
    left
}

// SAFETY: the side present takes its `SQES` slots, which both sides take
// (`same_length`), and gets the caller's `link` on its last SQE, as it
// would pushed alone.
unsafe impl<L: Prepare, R: Prepare> Prepare for Either<L, R> {
    const SQES: u32 = same_length(L::SQES, R::SQES);
    const NAMES_OPS: bool = L::NAMES_OPS || R::NAMES_OPS;
    const ZERO_COPY: bool = L::ZERO_COPY || R::ZERO_COPY;
    const MAY_POST_MORE: bool = L::MAY_POST_MORE || R::MAY_POST_MORE;
    const HAS_LINK_TIMEOUT: bool = L::HAS_LINK_TIMEOUT || R::HAS_LINK_TIMEOUT;

    #[inline(always)]
    fn prepare_all<const WRAP: bool, S: SqeSize>(
        self,
        writer: &mut SqWriter<'_, WRAP, S>,
        link: u8,
    ) {
        // Evaluated for every `Either` pushed, so that one of two lengths
        // fails to compile wherever it is used.
        let _ = Self::SQES;
        match self {
            Either::Left(l) => l.prepare_all(writer, link),
            Either::Right(r) => r.prepare_all(writer, link),
        }
    }

    #[inline(always)]
    fn fits_ring(&self, ring: u32) -> bool {
        match self {
            Either::Left(l) => l.fits_ring(ring),
            Either::Right(r) => r.fits_ring(ring),
        }
    }
}

#[diagnostic::do_not_recommend]
// SAFETY: its SQEs are those of one side, which both fit.
unsafe impl<S: SqeSize, L: FitsSqe<S>, R: FitsSqe<S>> FitsSqe<S> for Either<L, R> {}

#[diagnostic::do_not_recommend]
// SAFETY: it borrows what the side present borrows: nothing.
unsafe impl<L: Unborrowed, R: Unborrowed> Unborrowed for Either<L, R> {}

#[diagnostic::do_not_recommend]
// SAFETY: the side present may be pushed alone, as both may.
unsafe impl<S: SqeSize, L: Submission<S>, R: Submission<S>> Submission<S> for Either<L, R> {}

#[diagnostic::do_not_recommend]
// SAFETY: the side present releases its memory at its last completions.
unsafe impl<L: Scoped, R: Scoped> Scoped for Either<L, R> {}

#[diagnostic::do_not_recommend]
// SAFETY: the side present may follow another op, as both may.
unsafe impl<L: ChainNext, R: ChainNext> ChainNext for Either<L, R> {}

#[diagnostic::do_not_recommend]
// SAFETY: the side present may start a chain followed by `N`, as both may.
unsafe impl<N, L: ChainStart<N>, R: ChainStart<N>> ChainStart<N> for Either<L, R> {}

#[diagnostic::do_not_recommend]
// SAFETY: the side present accepts a link timeout, as both do.
unsafe impl<D, L: AcceptsLinkTimeout<D>, R: AcceptsLinkTimeout<D>> AcceptsLinkTimeout<D>
    for Either<L, R>
{
}

impl<L, R> Either<L, R> {
    /// Links `next` after it (`IOSQE_IO_LINK`), as an op's `link` does.
    #[inline]
    pub fn link<N: Prepare + ChainNext>(self, next: N) -> Link<Self, N>
    where
        Self: ChainStart<N>,
    {
        Link::new(self, next, sys::IOSQE_IO_LINK)
    }

    /// Links `next` after it (`IOSQE_IO_HARDLINK`), as an op's `hard_link`
    /// does.
    #[inline]
    pub fn hard_link<N: Prepare + ChainNext>(self, next: N) -> Link<Self, N>
    where
        Self: ChainStart<N>,
    {
        Link::new(self, next, sys::IOSQE_IO_HARDLINK)
    }

    /// Bounds it with a `LINK_TIMEOUT` of `timeout`, as an op's `timeout`
    /// does.
    #[inline]
    pub fn timeout<D>(self, timeout: D) -> Link<Self, LinkTimeout>
    where
        D: Into<Timespec>,
        Self: AcceptsLinkTimeout<D>,
    {
        Link::new(self, LinkTimeout::new(timeout), sys::IOSQE_IO_LINK)
    }

    /// Bounds it with a `LINK_TIMEOUT` of `timeout` whose completion
    /// carries `user_data`.
    #[inline]
    pub fn timeout_with<D>(self, timeout: D, user_data: u64) -> Link<Self, LinkTimeout>
    where
        D: Into<Timespec>,
        Self: AcceptsLinkTimeout<D>,
    {
        Link::new(
            self,
            LinkTimeout::new(timeout).user_data(user_data),
            sys::IOSQE_IO_LINK,
        )
    }

    /// Bounds it with a link timeout built by hand.
    #[inline]
    pub fn link_timeout<T>(self, timeout: T) -> Link<Self, T>
    where
        T: AfterLink,
        Self: AcceptsLinkTimeout<T>,
    {
        Link::new(self, timeout, sys::IOSQE_IO_LINK)
    }
}

/// A chain of any number of ops (or chains) of one type (an [`Either`]
/// for two), linked in order,
/// for chains whose length is known only at run time: `Linked::new(ops)`
/// links each to the next with `IOSQE_IO_LINK`, `Linked::hard(ops)` with
/// `IOSQE_IO_HARDLINK`.
///
/// Pushed whole or not at all by the `push_linked` methods of
/// [`Ring`](crate::Ring::push_linked),
/// [`SubmissionQueue`](crate::SubmissionQueue::push_linked) and
/// [`Scope`](crate::Scope::push_linked), which hand it back when it does not
/// fit. Its elements are complete ops or chains that may follow another
/// (`ChainNext`), so a link timeout is never first nor alone; each
/// element's last SQE carries the link to the next, and the last
/// element's none.
///
/// ```
/// use uring::{Linked, Ring, ops::Nop};
/// # fn main() -> uring::Result<()> {
/// let mut ring = Ring::new(16)?;
/// let n = 5;
/// ring.push_linked(Linked::new((0..n).map(|i| Nop::new().user_data(i)).collect()))?;
/// ring.submit_and_wait(5)?;
/// let order: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
/// assert_eq!(order, [0, 1, 2, 3, 4]);
/// # Ok(())
/// # }
/// ```
#[must_use = "a chain does nothing until it is pushed to a ring"]
pub struct Linked<T> {
    pub(crate) ops: Vec<T>,
    pub(crate) flag: u8,
}

// `Prepare` (implied by `ChainNext`) comes first so that a `Linked` given as
// an element gets the error that says what to write instead.
impl<T: Prepare + ChainNext> Linked<T> {
    /// `ops`, each linked to the next with `IOSQE_IO_LINK`: an op starts
    /// when the one before succeeds, and is cancelled if it fails (a short
    /// read or write fails), with all after it.
    pub fn new(ops: Vec<T>) -> Linked<T> {
        Linked {
            ops,
            flag: sys::IOSQE_IO_LINK,
        }
    }

    /// `ops`, each linked to the next with `IOSQE_IO_HARDLINK`: an op
    /// starts when the one before completes, whatever its result. An
    /// element that is itself a soft chain (a `then_write` pair) and breaks
    /// inside cancels everything after it, as in any chain.
    pub fn hard(ops: Vec<T>) -> Linked<T> {
        Linked {
            ops,
            flag: sys::IOSQE_IO_HARDLINK,
        }
    }
}

mod length {
    /// What the ops of a [`Linked`](super::Linked) chain would need for the
    /// chain to be one op, or an element of another chain: a number known
    /// at compile time. No type has it.
    ///
    /// The traits of a single submission are implemented for `Linked<T>`
    /// only where `Vec<T>` has it, so that the compiler's error for a
    /// `Linked` where an op is expected is this one. Its `Self` is the
    /// vector, not the chain, so that the compiler reports this trait's
    /// message rather than that of the trait asked for.
    #[diagnostic::on_unimplemented(
        message = "a `Linked` chain is not an op: it cannot be pushed as one, nor be part of another chain",
        label = "a chain of run-time length (its ops are a `{Self}`)",
        note = "push it whole with `push_linked`: `ring.push_linked(chain)`, or `s.push_linked(chain)` in a scope",
        note = "to join chains, put all their ops in one `Linked` (`Linked::new(first.into_inner().into_iter().chain(second.into_inner()).collect())`); to chain ops known at compile time, link them: `a.link(b).link(c)`"
    )]
    pub trait FixedLength {}
}

// The impls below hold only where `Vec<T>: FixedLength`, which is never:
// they give `Linked` no trait, only the compiler's reason for refusing it.
// `Prepare` recommends its impl, so that where it is asked for first (the
// elements of a `Linked`, the chain after `.link(..)`), the error is
// `FixedLength`'s; the others do not, so that no error of another type
// lists them, and the errors of a `Linked` where one op is expected come
// down to one (each would otherwise say something of its own: that it
// borrows memory, that it keeps it after its completion).

#[doc(hidden)]
// SAFETY: never holds: `FixedLength` has no impl, and no code outside its
// module can name it to add one.
unsafe impl<T> Prepare for Linked<T>
where
    Vec<T>: length::FixedLength,
{
    const SQES: u32 = 0;

    fn prepare_all<const WRAP: bool, S: SqeSize>(self, _: &mut SqWriter<'_, WRAP, S>, _: u8) {
        unreachable!("a `Linked` has no fixed length")
    }

    fn fits_ring(&self, _: u32) -> bool {
        unreachable!("a `Linked` has no fixed length")
    }
}

#[doc(hidden)]
#[diagnostic::do_not_recommend]
// SAFETY: never holds (see `Prepare`).
unsafe impl<S: SqeSize, T> Submission<S> for Linked<T> where Vec<T>: length::FixedLength {}

#[doc(hidden)]
#[diagnostic::do_not_recommend]
// SAFETY: never holds (see `Prepare`).
unsafe impl<S: SqeSize, T> FitsSqe<S> for Linked<T> where Vec<T>: length::FixedLength {}

#[doc(hidden)]
#[diagnostic::do_not_recommend]
// SAFETY: never holds (see `Prepare`).
unsafe impl<T> ChainNext for Linked<T> where Vec<T>: length::FixedLength {}

#[doc(hidden)]
#[diagnostic::do_not_recommend]
// SAFETY: never holds (see `Prepare`).
unsafe impl<T> Unborrowed for Linked<T> where Vec<T>: length::FixedLength {}

#[doc(hidden)]
#[diagnostic::do_not_recommend]
// SAFETY: never holds (see `Prepare`).
unsafe impl<T> Scoped for Linked<T> where Vec<T>: length::FixedLength {}

impl<T> Linked<T> {
    /// The number of elements.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether there is none (a push of an empty chain pushes nothing).
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The elements, in order.
    pub fn into_inner(self) -> Vec<T> {
        self.ops
    }
}

impl<T: Prepare> Linked<T> {
    /// The SQEs the whole chain takes; `None` past `u32`.
    pub(crate) fn sqes(&self) -> Option<u32> {
        u32::try_from(self.ops.len()).ok()?.checked_mul(T::SQES)
    }

    /// Writes every element, each but the last linked to the next.
    pub(crate) fn prepare_all<const WRAP: bool, S: SqeSize>(
        self,
        writer: &mut SqWriter<'_, WRAP, S>,
    ) {
        let last = self.ops.len().saturating_sub(1);
        for (i, op) in self.ops.into_iter().enumerate() {
            op.prepare_all(writer, if i == last { 0 } else { self.flag });
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Linked<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.flag == sys::IOSQE_IO_HARDLINK {
            "Linked::hard"
        } else {
            "Linked::new"
        };
        f.debug_tuple(kind).field(&self.ops).finish()
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::{LinkTimeout, Nop};
    use std::time::Duration;

    #[test]
    fn chains_and_ops_print_what_they_carry() {
        let chain = Nop::new()
            .user_data(1)
            .hard_link(Nop::new().user_data(2))
            .link_timeout(LinkTimeout::new(Duration::from_millis(1)).user_data(3));
        assert_eq!(
            format!("{chain:?}"),
            "Link(HardLink(Nop { user_data: 1, flags: 0x0, .. }, \
             Nop { user_data: 2, flags: 0x0, .. }), \
             LinkTimeout { user_data: 3, flags: 0x0, .. })"
        );
    }
}
