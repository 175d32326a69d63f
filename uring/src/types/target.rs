//! What an op acts on: a descriptor borrowed for as long as the op may use
//! it ([`Fd`]), or a slot of one ring's registered-file table ([`Fixed`]).
//!
//! Both follow std's I/O safety: an op can only name a descriptor through a
//! borrow of something that owns it, and a registered slot through a borrow
//! of the handle its registration returned. A bare number needs `unsafe`.

use crate::register::FixedFiles;
use crate::ring::Ring;
use crate::sys;
use std::fmt;
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};

pub(crate) mod private {
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot implement this trait: only uring's own types do",
        label = "a trait sealed by uring",
        note = "an op's target is an `Fd` (any `AsFd` converts) or a `Fixed` (from `files.get(index)?` of the table `register_files` returned); a buffer ring claims from a scope's completion, a `ScopeCqe`"
    )]
    pub trait Sealed {}
}

/// The seal of [`IntoOwnedTarget`] and [`IntoOwnedFd`]: an op that takes
/// one closes what it names, so only what gives up its file (something
/// that converts into an `OwnedFd`, a [`FixedMut`]) may be one, never a
/// program's own type, whose conversion could hand over a borrow.
mod owned {
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot give up ownership of a file to an op: only what converts into an `OwnedFd`, or a `FixedMut`, can",
        label = "not an owned file",
        note = "implement `From<{Self}>` for `OwnedFd` (which hands over the descriptor), or pass the `OwnedFd` itself"
    )]
    pub trait Sealed {}
}

impl<F: Into<OwnedFd>> owned::Sealed for F {}

impl owned::Sealed for FixedMut<'_> {}

/// A file descriptor as an op's target, borrowed for `'fd`.
///
/// Made from anything that has a descriptor: `&file`, `&socket`, a
/// `BorrowedFd`, a `&Ring`. The borrow is what keeps the descriptor open and
/// naming the same file for as long as the op may use it: ops that carry an
/// `Fd<'fd>` can be pushed only where `'fd` outlives the op (a
/// [`Scope`](crate::Scope) waits for its ops), or unsafely.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fd<'fd> {
    raw: RawFd,
    _borrow: PhantomData<BorrowedFd<'fd>>,
}

impl Fd<'static> {
    /// `AT_FDCWD`: the working directory, for the directory argument of the
    /// path ops (`OpenAt`, `Statx`, `UnlinkAt`, ...). It names no open
    /// descriptor, so it outlives anything.
    pub const CWD: Fd<'static> = Fd {
        raw: libc::AT_FDCWD,
        _borrow: PhantomData,
    };
}

impl<'fd> Fd<'fd> {
    /// The target for a raw descriptor number.
    ///
    /// # Safety
    ///
    /// As for [`BorrowedFd::borrow_raw`]: `fd` must stay open, naming the
    /// same file, for `'fd`; and every op given this target must have posted
    /// its last completion before `'fd` ends.
    pub const unsafe fn borrow_raw(fd: RawFd) -> Fd<'fd> {
        Fd {
            raw: fd,
            _borrow: PhantomData,
        }
    }

    /// The target for a borrowed descriptor.
    pub fn new(fd: BorrowedFd<'fd>) -> Fd<'fd> {
        Fd {
            raw: fd.as_raw_fd(),
            _borrow: PhantomData,
        }
    }

    /// The raw descriptor.
    pub const fn as_raw(self) -> RawFd {
        self.raw
    }
}

impl fmt::Debug for Fd<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Fd").field(&self.raw).finish()
    }
}

impl<'fd> From<BorrowedFd<'fd>> for Fd<'fd> {
    fn from(fd: BorrowedFd<'fd>) -> Fd<'fd> {
        Fd::new(fd)
    }
}

impl<'fd, F: AsFd + ?Sized> From<&'fd F> for Fd<'fd> {
    fn from(file: &'fd F) -> Fd<'fd> {
        Fd::new(file.as_fd())
    }
}

impl<'r> From<&'r Ring> for Fd<'r> {
    fn from(ring: &'r Ring) -> Fd<'r> {
        // An op may post messages into the ring through this descriptor.
        ring.outside.set(true);
        // SAFETY: the ring's descriptor is open for as long as the ring,
        // which `'r` borrows.
        unsafe { Fd::borrow_raw(ring.as_raw_fd()) }
    }
}

/// A registered file: a slot of one ring's fixed-file table, from one
/// registration, borrowed from the handle it returned.
///
/// [`FixedFiles::get`](crate::FixedFiles::get) is the only source, so an
/// index that was never registered cannot be named; the borrow of the
/// handle keeps the registration (and the slot's occupant) as it is for as
/// long as the `Fixed` lives, since unregistering, updating and closing
/// slots need the handle exclusively. An empty slot is the exception: an op
/// that allocates a direct descriptor (`DirectSlot::ALLOC`, `FilesAt::ALLOC`,
/// `RingSlot::alloc`) may fill it meanwhile, since the kernel allocates only
/// empty slots; an op that names a slot empty when it was pushed fails with
/// `EBADF`, or runs on the file found there when the kernel issues it.
/// A `Fixed` pushed to another ring than
/// the one that registered it is refused ([`PushErrorKind::ForeignFile`])
/// by the safe pushes; `push_unchecked` leaves that to its caller.
/// An op given a `Fixed` target sets `IOSQE_FIXED_FILE` by itself.
///
/// [`PushErrorKind::ForeignFile`]: crate::PushErrorKind::ForeignFile
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fixed<'f> {
    index: u32,
    ring: u32,
    _table: PhantomData<&'f FixedFiles>,
}

impl<'f> Fixed<'f> {
    /// Made by the registration handle only, after its bounds check.
    pub(crate) fn new(index: u32, ring: u32) -> Fixed<'f> {
        Fixed {
            index,
            ring,
            _table: PhantomData,
        }
    }

    /// The index in the fixed-file table.
    pub const fn index(self) -> u32 {
        self.index
    }
}

impl fmt::Debug for Fixed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Fixed").field(&self.index).finish()
    }
}

/// A registered slot held exclusively, from
/// [`FixedFiles::get_mut`](crate::FixedFiles::get_mut): what an op that
/// empties or replaces the slot's file needs (`Close` of a fixed file,
/// a direct descriptor installed at the slot).
///
/// It borrows the handle mutably, so no [`Fixed`] of the table is alive
/// while it is, and it is not `Copy`: an op that closes a slot cannot be
/// pushed twice, and cannot close a file installed in the slot later.
#[derive(PartialEq, Eq, Hash)]
pub struct FixedMut<'f> {
    index: u32,
    ring: u32,
    /// Whether it holds the whole table ([`FixedFiles::get_mut`]) rather
    /// than its one slot ([`FixedFiles::get_many_mut`]): only then may an
    /// op write the slots after it too (`FilesUpdate`, a direct `Pipe`).
    whole_table: bool,
    _table: PhantomData<&'f mut FixedFiles>,
}

impl<'f> FixedMut<'f> {
    /// Made by the registration handle only, after its bounds check;
    /// `whole_table` if it borrows the whole table alone.
    pub(crate) fn new(index: u32, ring: u32, whole_table: bool) -> FixedMut<'f> {
        FixedMut {
            index,
            ring,
            whole_table,
            _table: PhantomData,
        }
    }

    /// The index in the fixed-file table.
    pub const fn index(&self) -> u32 {
        self.index
    }

    /// The id of the ring whose table the slot is in.
    pub(crate) const fn ring(&self) -> u32 {
        self.ring
    }

    /// Whether no other handle of the table is alive while it is.
    pub(crate) const fn whole_table(&self) -> bool {
        self.whole_table
    }

    /// The slot as a target.
    fn into_fixed(self) -> Fixed<'f> {
        Fixed::new(self.index, self.ring)
    }
}

impl fmt::Debug for FixedMut<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("FixedMut").field(&self.index).finish()
    }
}

/// What a [`Fixed`] could be converted from: nothing. A fixed file is taken
/// from the registration handle; this trait exists so that trying to make
/// one from a number fails with a message that says so.
#[diagnostic::on_unimplemented(
    message = "a `Fixed` file cannot be made from `{Self}`",
    label = "not a registered file",
    note = "a `Fixed` comes from the handle registration returned: `let files = ring.register_files(&fds)?; let slot = files.get(index)?;`"
)]
pub trait FromRegisterFiles: private::Sealed {
    /// The fixed file.
    fn into_fixed<'f>(self) -> Fixed<'f>;
}

impl<'f, T: FromRegisterFiles> From<T> for Fixed<'f> {
    fn from(source: T) -> Fixed<'f> {
        source.into_fixed()
    }
}

/// What an op's file argument resolves to: a raw [`Fd`] or a [`Fixed`] file.
/// The type decides the `IOSQE_FIXED_FILE` bit.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an op's target",
    label = "an op targets a descriptor (`Fd`) or a registered file (`Fixed`)",
    note = "name a descriptor with `Fd::from(&file)` (or pass `&file`), a registered file with a `Fixed` from `register_files`"
)]
pub trait Target: Copy + private::Sealed {
    /// Whether this is a fixed-file index.
    const FIXED: bool;
    /// `IOSQE_FIXED_FILE` for a fixed file, else 0.
    const SQE_FLAGS: u8;
    /// The descriptor or index, as the SQE's `fd` field takes it.
    fn raw(&self) -> i32;
    /// Whether the target may be pushed to the ring with id `ring`: a
    /// descriptor anywhere, a fixed file only on the ring that registered
    /// it.
    fn fits_ring(&self, ring: u32) -> bool;
    /// The id of the ring a fixed file belongs to; 0 for a descriptor.
    fn ring(&self) -> u32;
}

/// A target that is a descriptor ([`Fd`]): the bound of the ops whose kernel
/// side cannot take a fixed file.
#[diagnostic::on_unimplemented(
    message = "this op takes a descriptor, not `{Self}`",
    label = "the kernel's side of this op cannot take a registered file",
    note = "pass the file itself (`&file` or `Fd::from(&file)`), not its `Fixed` slot"
)]
pub trait FdTarget: Target {}

/// A target that is a registered file ([`Fixed`]): the bound of the ops
/// that act on nothing else.
#[diagnostic::on_unimplemented(
    message = "this op takes a registered file, not `{Self}`",
    label = "the kernel's side of this op acts on registered files only",
    note = "register the file first (`ring.register_files(&fds)?`) and pass its `Fixed` slot"
)]
pub trait FixedTarget: Target {}

impl private::Sealed for Fd<'_> {}
impl private::Sealed for Fixed<'_> {}

impl Target for Fd<'_> {
    const FIXED: bool = false;
    const SQE_FLAGS: u8 = 0;
    #[inline(always)]
    fn raw(&self) -> i32 {
        self.raw
    }
    #[inline(always)]
    fn fits_ring(&self, _ring: u32) -> bool {
        true
    }
    #[inline(always)]
    fn ring(&self) -> u32 {
        0
    }
}

impl Target for Fixed<'_> {
    const FIXED: bool = true;
    const SQE_FLAGS: u8 = sys::IOSQE_FIXED_FILE;
    #[inline(always)]
    fn raw(&self) -> i32 {
        self.index as i32
    }
    #[inline(always)]
    fn fits_ring(&self, ring: u32) -> bool {
        self.ring == ring
    }
    #[inline(always)]
    fn ring(&self) -> u32 {
        self.ring
    }
}

impl FdTarget for Fd<'_> {}
impl FixedTarget for Fixed<'_> {}

/// Anything an op that takes `fd | fixed` can act on.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a file an op can act on",
    label = "expected a borrowed file descriptor or a `Fixed` file",
    note = "pass `&file`, a `BorrowedFd`, or a `Fixed` from the handle `Ring::register_files` returned; a raw fd number needs `unsafe {{ Fd::borrow_raw(fd) }}`"
)]
pub trait IntoTarget {
    /// [`Fd`] or [`Fixed`].
    type Target: Target;
    /// The target.
    fn into_target(self) -> Self::Target;
}

/// Anything an op that takes only a raw descriptor can act on.
#[diagnostic::on_unimplemented(
    message = "this op takes a borrowed file descriptor, not `{Self}`",
    label = "expected `&file`, a `BorrowedFd` or an `Fd`",
    note = "pass the file itself (`&file`, `file.as_fd()`); only ops whose target is `fd | fixed` accept a `Fixed`; a raw fd number needs `unsafe {{ Fd::borrow_raw(fd) }}`"
)]
pub trait IntoFd {
    /// The [`Fd`].
    type Target: FdTarget;
    /// The descriptor.
    fn into_fd(self) -> Self::Target;
}

macro_rules! fd_sources {
    ($(($($generics:tt)*) $source:ty => $fd:ty, |$x:ident| $make:expr;)*) => {$(
        impl<$($generics)*> IntoTarget for $source {
            type Target = $fd;
            #[inline(always)]
            fn into_target(self) -> $fd {
                let $x = self;
                $make
            }
        }

        impl<$($generics)*> IntoFd for $source {
            type Target = $fd;
            #[inline(always)]
            fn into_fd(self) -> $fd {
                let $x = self;
                $make
            }
        }
    )*};
}

fd_sources! {
    ('fd) Fd<'fd> => Fd<'fd>, |fd| fd;
    ('fd) BorrowedFd<'fd> => Fd<'fd>, |fd| Fd::new(fd);
    ('fd, F: AsFd + ?Sized) &'fd F => Fd<'fd>, |file| Fd::new(file.as_fd());
    ('r) &'r Ring => Fd<'r>, |ring| Fd::from(ring);
    ('r) &'r crate::RingTarget => Fd<'r>, |target| Fd::from(target);
}

impl<'f> IntoTarget for Fixed<'f> {
    type Target = Fixed<'f>;
    #[inline(always)]
    fn into_target(self) -> Fixed<'f> {
        self
    }
}

/// A file an op takes ownership of, to close it: anything that converts into
/// an `OwnedFd` (an `OwnedFd`, a `File`, a socket), or a registered slot held
/// exclusively ([`FixedMut`]).
///
/// A borrowed or raw descriptor is not accepted: closing a descriptor that
/// something else owns would close it under its owner (and the number may
/// be reused by an unrelated file before the owner closes it again). A
/// shared [`Fixed`] is not accepted either: it is `Copy`, and a second close
/// of the slot would close whatever was installed there in between.
///
/// Sealed: a program's own type converts into an `OwnedFd` to be closed by
/// an op, since an implementation of this trait could hand over a borrow.
#[diagnostic::on_unimplemented(
    message = "this op closes its file, so it takes ownership, which `{Self}` does not give",
    label = "the file would be closed under its owner",
    note = "pass the owned file (`file`, an `OwnedFd`) or a slot held exclusively (`files.get_mut(index)?`); a raw fd you own becomes an `OwnedFd` with `unsafe {{ OwnedFd::from_raw_fd(fd) }}`"
)]
pub trait IntoOwnedTarget: owned::Sealed {
    /// [`Fd`] or [`Fixed`].
    type Target: Target;
    /// The target; a descriptor is released from its owner.
    fn into_owned_target(self) -> Self::Target;
}

#[diagnostic::do_not_recommend]
impl<F: Into<OwnedFd>> IntoOwnedTarget for F {
    type Target = Fd<'static>;
    #[inline]
    fn into_owned_target(self) -> Fd<'static> {
        // SAFETY: the descriptor is released from its owner and belongs to
        // the op from now on: nothing else closes or reuses it.
        unsafe { Fd::borrow_raw(self.into().into_raw_fd()) }
    }
}

impl<'f> IntoOwnedTarget for FixedMut<'f> {
    type Target = Fixed<'f>;
    #[inline(always)]
    fn into_owned_target(self) -> Fixed<'f> {
        self.into_fixed()
    }
}

/// A file an op takes ownership of, where only a raw descriptor will do:
/// anything that converts into an `OwnedFd`. Sealed, as
/// [`IntoOwnedTarget`] is.
#[diagnostic::on_unimplemented(
    message = "this op takes ownership of a raw descriptor, which `{Self}` does not give",
    label = "expected an owned file",
    note = "pass the owned file (`file`, an `OwnedFd`); a raw fd you own becomes an `OwnedFd` with `unsafe {{ OwnedFd::from_raw_fd(fd) }}`"
)]
pub trait IntoOwnedFd: owned::Sealed {
    /// The [`Fd`], `'static`: the op owns the descriptor.
    type Target: FdTarget;
    /// The descriptor, released from its owner.
    fn into_owned_fd(self) -> Self::Target;
}

#[diagnostic::do_not_recommend]
impl<F: Into<OwnedFd>> IntoOwnedFd for F {
    type Target = Fd<'static>;
    #[inline]
    fn into_owned_fd(self) -> Fd<'static> {
        // SAFETY: as for `IntoOwnedTarget`: the op owns the descriptor now.
        unsafe { Fd::borrow_raw(self.into().into_raw_fd()) }
    }
}

/// A registered file, for ops that act on nothing else.
#[diagnostic::on_unimplemented(
    message = "this op acts on a registered file, not on `{Self}`",
    label = "expected a `Fixed` file",
    note = "register the file with `Ring::register_files` and pass the `Fixed` its handle gives: `files.get(index)?`"
)]
pub trait IntoFixed {
    /// The [`Fixed`].
    type Target: FixedTarget;
    /// The fixed file.
    fn into_fixed(self) -> Self::Target;
}

impl<'f> IntoFixed for Fixed<'f> {
    type Target = Fixed<'f>;
    #[inline(always)]
    fn into_fixed(self) -> Fixed<'f> {
        self
    }
}
