//! Reading completions in a scope: tags settled, `user_data` restored.

use super::*;
use crate::cqueue::{Completions, Cqe};
use crate::entries::{Cqe16, UniformCqe};
use std::fmt;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// The completions of [`Scope::completions`]: read in order, the head moving
/// past those iterated when this is dropped.
pub struct ScopeCompletions<'a, 'scope, C: UniformCqe = Cqe16> {
    pub(super) inner: Completions<'a, C>,
    pub(super) table: TableRef<'a>,
    /// The table's `untagged_below`, which stays the same for the whole scope:
    /// kept here, it is read from a register rather than from the table at
    /// every completion.
    pub(super) untagged_below: u64,
    pub(super) _scope: PhantomData<&'scope mut &'scope ()>,
}

impl<'scope, C: UniformCqe> ScopeCompletions<'_, 'scope, C> {
    /// Settles a completion that is not an untagged op's: a tagged op's,
    /// the scope's own (`None`: not handed out) or a foreign one.
    #[inline]
    fn settle(&mut self, cqe: C::Cqe) -> Option<ScopeCqe<'scope, C>> {
        let cqe = settle::<C>(self.table.get(), C::to_bits(cqe));
        // The CQ learns of every completion read at once, so that an
        // iterator that is forgotten instead of dropped cannot leave settled
        // completions behind.
        self.inner.sync();
        cqe
    }

    /// An untagged op of a fast scope (nearly every completion of one),
    /// counted, or `None` for any other completion.
    #[inline(always)]
    fn settle_untagged(&mut self, cqe: C::Cqe) -> Option<ScopeCqe<'scope, C>> {
        if !ScopeTable::untagged_in(cqe.as_ref().user_data(), self.untagged_below) {
            return None;
        }
        let table = self.table.get();
        table.settle_untagged_op(cqe.as_ref().flags());
        // As in `settle`: the CQ learns of each completion at once.
        self.inner.sync();
        Some(untagged::<C>(table.ring, cqe))
    }
}

/// Marks the branch that calls it as the rarely taken one, for the layout
/// of the code around it.
#[cold]
#[inline]
fn rarely() {}

/// [`ScopeCompletions::settle`], without moving the CQ's head.
#[inline]
fn settle<'scope, C: UniformCqe>(
    table: &mut ScopeTable,
    cqe: C::Bits,
) -> Option<ScopeCqe<'scope, C>> {
    let mut cqe = C::from_bits(cqe);
    let (owner, group, learned) = table.settle(C::cqe_mut(&mut cqe));
    let mut stamp = table.stamp(group);
    if owner == Owner::Internal {
        return None;
    }
    if learned & HEAD_READ != 0 {
        stamp |= STAMP_HEAD_READ | u64::from(learned & HEAD_ODD != 0) << STAMP_HEAD_ODD_BIT;
    }
    let buf = if learned & RETURNED != 0 {
        ReturnedBuf::new(table.returned.take())
    } else {
        ReturnedBuf::NONE
    };
    Some(ScopeCqe {
        cqe,
        ring: if owner == Owner::Op { table.ring } else { 0 },
        group,
        stamp,
        buf,
        _scope: PhantomData,
    })
}

/// A stamp's mark that the scope read the kernel's head of the op's
/// incremental group as it settled the completion (see
/// [`ScopeTable::leave_group`]), whose lowest bit is then the stamp's bit
/// [`STAMP_HEAD_ODD_BIT`]. Stamps count completions from 1, and never come
/// near either bit.
const STAMP_HEAD_READ: u64 = 1 << 63;

/// See [`STAMP_HEAD_READ`].
const STAMP_HEAD_ODD_BIT: u32 = 62;

/// An untagged op's completion of the scope on ring `ring`, settled.
#[inline(always)]
fn untagged<'scope, C: UniformCqe>(ring: u32, cqe: C::Cqe) -> ScopeCqe<'scope, C> {
    ScopeCqe {
        cqe,
        ring,
        group: NO_GROUP,
        stamp: 0,
        buf: ReturnedBuf::none(),
        _scope: PhantomData,
    }
}

impl<'scope, C: UniformCqe> Iterator for ScopeCompletions<'_, 'scope, C> {
    type Item = ScopeCqe<'scope, C>;

    #[inline]
    fn next(&mut self) -> Option<ScopeCqe<'scope, C>> {
        loop {
            let cqe = self.inner.next()?;
            if let Some(cqe) = self.settle_untagged(cqe) {
                return Some(cqe);
            }
            if let Some(cqe) = self.settle(cqe) {
                return Some(cqe);
            }
        }
    }

    /// The loop of `for_each`, `fold`, `sum`, ...: each completion goes
    /// straight to `f`, with no `Option` in between.
    ///
    /// The CQ's head moves once, when the walk ends (or unwinds, past the
    /// completions `f` was given): a fold runs to its end or unwinds, and
    /// cannot be forgotten half-way as an iterator can.
    #[inline]
    fn fold<B, F>(self, init: B, mut f: F) -> B
    where
        F: FnMut(B, ScopeCqe<'scope, C>) -> B,
    {
        let ScopeCompletions {
            inner,
            mut table,
            untagged_below,
            _scope,
        } = self;
        inner.fold(init, |acc, cqe| {
            let table = table.get();
            if ScopeTable::untagged_in(cqe.as_ref().user_data(), untagged_below) {
                table.settle_untagged_op(cqe.as_ref().flags());
                f(acc, untagged::<C>(table.ring, cqe))
            } else {
                // (Not in `next`: there it moved a tagged loop's values to
                // the stack, 20 instructions per owned read.)
                rarely();
                match settle::<C>(table, C::to_bits(cqe)) {
                    Some(cqe) => f(acc, cqe),
                    None => acc,
                }
            }
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, self.inner.size_hint().1)
    }
}

impl<C: UniformCqe> fmt::Debug for ScopeCompletions<'_, '_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeCompletions").finish_non_exhaustive()
    }
}

/// A completion read in a scope: a [`Cqe`] (which it dereferences to), and,
/// for the scope's own ops, what the scope knows of it: that the kernel
/// posted it, the provided-buffer group the op selected from, and whether
/// the op makes a new descriptor. That is what lets
/// [`BufRing::claim`](crate::BufRing::claim) hand out the buffer it names,
/// and [`take_fd`](ScopeCqe::take_fd) the descriptor, safely.
///
/// Not `Clone`: a buffer is claimed from a completion once, and its
/// descriptor taken once. It cannot leave its scope either, which keeps the
/// group it names the one registered when the op ran (no group can be
/// registered again while a scope holds the ring).
pub struct ScopeCqe<'scope, C: UniformCqe = Cqe16> {
    pub(super) cqe: C::Cqe,
    /// The id of the ring whose scope settled it; 0 for a completion that
    /// is not a scope op's.
    pub(super) ring: u32,
    /// Of a scope op's completion, the group of its slot (see
    /// `Slot::extra`): the buffer group it selected from, or a marker of
    /// an op that selects none: [`NEW_FD`] for one that makes a
    /// descriptor, until [`take_fd`](Self::take_fd) takes it. Else
    /// [`NO_GROUP`].
    pub(super) group: u32,
    /// Of an op that selected a buffer whose buffer has not been claimed:
    /// the completion's place among those of the ring (see
    /// `ScopeTable::stamps`, which starts at 1); else 0.
    ///
    /// Of the last completion of an op that selected a buffer of an
    /// incremental group, took no data and is not flagged `BUF_MORE`,
    /// marked with the kernel's head as the scope settled it (see
    /// [`STAMP_HEAD_READ`]).
    pub(super) stamp: u64,
    /// The owned buffer its op was pushed over, back from the scope.
    pub(super) buf: ReturnedBuf,
    pub(super) _scope: PhantomData<&'scope mut &'scope ()>,
}

impl<C: UniformCqe> ScopeCqe<'_, C> {
    /// The completion: a [`Cqe`], or a [`BigCqe`](crate::BigCqe) on a ring
    /// of [`Cqe32`](crate::Cqe32) CQEs.
    pub fn cqe(&self) -> C::Cqe {
        self.cqe
    }

    /// Whether the completion is of an op pushed in the scope (rather than
    /// one passing through).
    pub fn is_scope_op(&self) -> bool {
        self.ring != 0
    }

    /// The buffer given to [`Scope::push_owned`], back with the last
    /// completion of the ops pushed over it; `None` for any other
    /// completion, or once taken.
    pub fn take_buf(&mut self) -> Option<Vec<u8>> {
        self.buf.take()
    }

    /// The new descriptor the completion carries, as the program's own:
    /// `Some` for a completion of an op pushed in this scope that makes a
    /// regular descriptor and succeeded (`res() >= 0`): an
    /// [`Accept`](crate::ops::Accept) (every completion of a multishot one
    /// carries its own connection), a [`Socket`](crate::ops::Socket), an
    /// [`OpenAt`](crate::ops::OpenAt) or [`OpenAt2`](crate::ops::OpenAt2),
    /// or a [`FixedFdInstall`](crate::ops::FixedFdInstall). `None` for
    /// any other completion, or once taken.
    ///
    /// The scope vouches for the number as it does for a claimed buffer:
    /// it noted, when it tagged the op's SQE, that the kernel would install
    /// a descriptor in the process's table and complete with its number,
    /// and it hands out only completions the kernel posted for its ops (no
    /// safe code can post into a ring while its scope runs). So `None` comes
    /// from an op that asked for a direct descriptor (its result is a slot
    /// of the ring's table, or 0, not a descriptor), from a NOP whatever
    /// result it injects, from a message (`MsgRing`,
    /// [`RingTarget::post`](crate::RingTarget::post)), from an op pushed
    /// outside the scope, raw or not, and from a failure (`-errno`).
    ///
    /// A descriptor not taken stays open: dropping the completion closes
    /// nothing, so a program that reads [`res`](Cqe::res) and takes the
    /// number itself (`unsafe { OwnedFd::from_raw_fd(..) }`) keeps working,
    /// and one that does neither leaks it, as it would without a scope. The
    /// completions the program never read, those left in the CQ when the
    /// closure returns and those of the ops the scope then cancels, are
    /// the scope's to drop as it ends: it closes their descriptors.
    ///
    /// ```
    /// use std::io::Read as _;
    /// use uring::{Fd, Ring, ops::OpenAt};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut ring = Ring::new(8)?;
    /// let fd = ring.scope(|s| -> uring::Result<_> {
    ///     s.push(OpenAt::new(Fd::CWD, c"/dev/null").user_data(1))?;
    ///     s.submit_and_wait(1)?;
    ///     let mut cqe = s.completions().next().expect("a completion");
    ///     Ok(cqe.take_fd())
    /// })?;
    /// let mut file = std::fs::File::from(fd.expect("/dev/null opened"));
    /// assert_eq!(file.read(&mut [0; 8])?, 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn take_fd(&mut self) -> Option<OwnedFd> {
        let res = self.cqe.as_ref().res();
        if self.group != NEW_FD || res < 0 {
            return None;
        }
        debug_assert!(self.ring != 0, "a descriptor's op is the scope's");
        // Taken once.
        self.group = NO_GROUP;
        // SAFETY: the group is `NEW_FD` only in a completion that the scope
        // settled for a live tag of its own (foreign and untagged
        // completions get `NO_GROUP`), of an SQE it tagged whose opcode, as
        // the kernel read it, installs a new descriptor in the process's
        // table and completes with its number, asking for no direct
        // descriptor (`push::new_descriptor`); no safe code can post a
        // completion into the ring while the scope runs (see the scope
        // module), and the kernel posts each completion once, each of a
        // multishot accept with a descriptor of its own. A result of 0 or
        // more is then a descriptor the kernel opened for this completion,
        // whose number only the completion tells, handed out once (the
        // group is cleared above, and a `ScopeCqe` is not `Clone`).
        Some(unsafe { OwnedFd::from_raw_fd(res) })
    }

    /// The two ends of the pipe the completion's op made, read end first,
    /// as the program's own: `Some` for the completion of a
    /// [`Pipe`](crate::ops::Pipe) pushed in this scope with
    /// [`push_owned`](Scope::push_owned) over the first eight bytes of the
    /// owned buffer (`Pipe::new(buf.first_chunk_mut().unwrap())`), alone
    /// or last of its chain, that made regular descriptors and succeeded. The buffer, which holds
    /// their numbers, goes with them: [`take_buf`](Self::take_buf) gives
    /// `None` after, and `take_pipe` gives `None` once the buffer was taken.
    /// `None` for any other completion, or once taken.
    ///
    /// A pipe followed by other ops of its chain over the buffer hands the
    /// buffer back with the chain's last completion, not its own: its ends
    /// stay open, owned by no one.
    ///
    /// ```
    /// use std::io::{Read as _, Write as _};
    /// use uring::{Ring, ops::Pipe};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut ring = Ring::new(8)?;
    /// let ends = ring.scope(|s| -> uring::Result<_> {
    ///     s.push_owned(vec![0; 8], |buf, sq| {
    ///         let fds: &mut [u8; 8] = buf.first_chunk_mut().expect("eight bytes");
    ///         sq.push(Pipe::new(fds).user_data(1))
    ///     })?;
    ///     s.submit_and_wait(1)?;
    ///     let mut cqe = s.completions().next().expect("a completion");
    ///     Ok(cqe.take_pipe())
    /// })?;
    /// # let Some((rx, tx)) = ends else { return Ok(()) }; // before Linux 6.16
    /// let (mut rx, mut tx) = (std::fs::File::from(rx), std::fs::File::from(tx));
    /// tx.write_all(b"through the pipe")?;
    /// drop(tx);
    /// let mut got = String::new();
    /// rx.read_to_string(&mut got)?;
    /// assert_eq!(got, "through the pipe");
    /// # Ok(())
    /// # }
    /// ```
    pub fn take_pipe(&mut self) -> Option<(OwnedFd, OwnedFd)> {
        if self.group != NEW_PIPE || self.cqe.as_ref().res() != 0 {
            return None;
        }
        let bytes = self.buf.take()?;
        // Taken once.
        self.group = NO_GROUP;
        let (read, write) = pipe_ends(&bytes)?;
        // SAFETY: the group is `NEW_PIPE` only in a completion that the
        // scope settled for a live tag of its own (see `take_fd`), of a
        // `Pipe` SQE it tagged that, as the kernel read it, makes regular
        // descriptors and writes them to the first eight bytes of the owned
        // vector it was pushed over (`ScopeTable::pipe_marker`), which the
        // scope held, lent to nothing else (the op borrowed those bytes
        // exclusively), until this completion brought it back: with a
        // result of 0 the kernel opened both ends for this op and wrote
        // their numbers there. Handed out once: the vector is taken above,
        // and the group cleared.
        Some(unsafe { (OwnedFd::from_raw_fd(read), OwnedFd::from_raw_fd(write)) })
    }
}

/// The two descriptor numbers a `Pipe` wrote to the first eight bytes of
/// `bytes`, read end first.
pub(super) fn pipe_ends(bytes: &[u8]) -> Option<(RawFd, RawFd)> {
    let read = bytes.first_chunk::<4>()?;
    let write = bytes.get(4..8)?.first_chunk::<4>()?;
    Some((RawFd::from_ne_bytes(*read), RawFd::from_ne_bytes(*write)))
}

/// An owned buffer back from the scope, held as its raw parts: a completion
/// without one (nearly all of them) drops with one check of a pointer.
pub(super) struct ReturnedBuf {
    ptr: *mut u8,
    /// The vector's length and capacity, set whenever `ptr` is not null:
    /// left unset without a buffer, so that a completion without one
    /// (nearly all of them) is made with no more than a null pointer.
    len: MaybeUninit<usize>,
    cap: MaybeUninit<usize>,
}

impl ReturnedBuf {
    pub(super) const NONE: ReturnedBuf = ReturnedBuf {
        ptr: std::ptr::null_mut(),
        len: MaybeUninit::new(0),
        cap: MaybeUninit::new(0),
    };

    /// No buffer, with its length and capacity unset, for an untagged op's
    /// completion: the loop that reads completions then merges a null
    /// pointer alone with a tagged op's buffer. (A function rather than a
    /// constant: a constant's unset bytes are made zeroes, which the
    /// completion would then carry.)
    #[inline(always)]
    pub(super) fn none() -> ReturnedBuf {
        ReturnedBuf {
            ptr: std::ptr::null_mut(),
            len: MaybeUninit::uninit(),
            cap: MaybeUninit::uninit(),
        }
    }

    pub(super) fn new(buf: Option<Vec<u8>>) -> ReturnedBuf {
        match buf {
            Some(buf) => {
                let mut buf = std::mem::ManuallyDrop::new(buf);
                ReturnedBuf {
                    // A vector's pointer is never null, even when empty.
                    ptr: buf.as_mut_ptr(),
                    len: MaybeUninit::new(buf.len()),
                    cap: MaybeUninit::new(buf.capacity()),
                }
            }
            None => ReturnedBuf::NONE,
        }
    }

    /// Drops the buffer held. Cold: with the vector's own check of its
    /// capacity kept here, a completion's drop tests one pointer.
    #[cold]
    fn drop_buf(&mut self) {
        drop(self.take());
    }

    fn take(&mut self) -> Option<Vec<u8>> {
        let parts = std::mem::replace(self, ReturnedBuf::NONE);
        let parts = std::mem::ManuallyDrop::new(parts);
        if parts.ptr.is_null() {
            return None;
        }
        // SAFETY: with a pointer, the parts are those of a vector given up
        // in `new`, all set there, taken once (`self` is emptied above).
        Some(unsafe {
            Vec::from_raw_parts(parts.ptr, parts.len.assume_init(), parts.cap.assume_init())
        })
    }
}

impl Drop for ReturnedBuf {
    #[inline(always)]
    fn drop(&mut self) {
        if !self.ptr.is_null() {
            self.drop_buf();
        }
    }
}

// SAFETY: it owns a `Vec<u8>`'s allocation, as the vector did, and hands
// it out only through `&mut self`.
unsafe impl Send for ReturnedBuf {}

// SAFETY: as for `Send`; a shared reference reads nothing through it.
unsafe impl Sync for ReturnedBuf {}

impl<C: UniformCqe> ScopeCqe<'_, C> {
    /// For a claim: the ring and buffer group of a scope op's completion
    /// whose buffer has not been claimed, whether the op was a bundle (its
    /// bytes may run over several buffers), and the completion's stamp.
    pub(crate) fn provenance(&self) -> Option<(u32, u16, bool, u64)> {
        // No marker of a group-less op leaves an id under the bit.
        let group = u16::try_from(self.group & !BUNDLE).ok()?;
        let bundle = self.group & BUNDLE != 0;
        let stamp = self.stamp & !(STAMP_HEAD_READ | 1 << STAMP_HEAD_ODD_BIT);
        (self.ring != 0 && stamp != 0).then_some((self.ring, group, bundle, stamp))
    }

    /// Whether the kernel's head of the op's group was odd when the scope
    /// settled the completion, if the scope read it (see
    /// [`ScopeTable::leave_group`]).
    pub(crate) fn head_was_odd(&self) -> Option<bool> {
        (self.stamp & STAMP_HEAD_READ != 0).then_some(self.stamp & 1 << STAMP_HEAD_ODD_BIT != 0)
    }

    /// Marks the buffer claimed: a claim happens once per completion.
    pub(crate) fn set_claimed(&mut self) {
        self.stamp = 0;
    }
}

impl<C: UniformCqe> std::ops::Deref for ScopeCqe<'_, C> {
    type Target = C::Cqe;

    fn deref(&self) -> &C::Cqe {
        &self.cqe
    }
}

impl<C: UniformCqe> fmt::Debug for ScopeCqe<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.cqe, f)
    }
}

/// A scope's completions turn, and collect, into plain [`Cqe`]s (or
/// [`BigCqe`](crate::BigCqe)s).
macro_rules! into_plain {
    ($size:ty, $cqe:ty) => {
        impl<'scope> From<ScopeCqe<'scope, $size>> for $cqe {
            fn from(cqe: ScopeCqe<'scope, $size>) -> $cqe {
                cqe.cqe
            }
        }

        impl<'scope> FromIterator<ScopeCqe<'scope, $size>> for Vec<$cqe> {
            fn from_iter<I: IntoIterator<Item = ScopeCqe<'scope, $size>>>(iter: I) -> Self {
                iter.into_iter().map(|c| c.cqe).collect()
            }
        }

        impl<'scope> Extend<ScopeCqe<'scope, $size>> for Vec<$cqe> {
            fn extend<I: IntoIterator<Item = ScopeCqe<'scope, $size>>>(&mut self, iter: I) {
                Extend::extend(self, iter.into_iter().map(|c| c.cqe));
            }
        }
    };
}

into_plain!(Cqe16, Cqe);
into_plain!(crate::Cqe32, crate::BigCqe);
