//! Ops built from arbitrary argument values, for property tests.
//!
//! This module exists only with the `arbitrary-ops` cargo feature, which the
//! library never enables (its tests do). With it, the [`ops!`](crate::ops!)
//! macro writes for every op of a table an [`ArbitraryOp`] impl, which
//! builds the op from an arbitrary value of each argument and hands it to a
//! [`Visit`]or, and for a table with a list (`#![list(pub const ALL)]`):
//!
//! - `ALL_KINDS`, the [`Kind`] of each op of the list, in its order, and
//! - `all_arbitrary(index, gen, cx, base, visit)`, which builds the op at
//!   `index` of the list the same way (`None` past the end).
//!
//! So an op added to a table is built, pushed and checked by the property
//! tests without a test written for it.
//!
//! Numbers, flags, durations and lengths come from a seeded [`Gen`], biased
//! towards edges (0, 1, the type's maximum, powers of two); what an op
//! borrows or names (descriptors, buffers, paths, registered files,
//! provided-buffer groups) comes from a [`Context`] the test supplies, which
//! may also override any number by the [`Site`] it is for. Every argument
//! type of the table has an [`Arbitrary`] impl here; a table that declares
//! an argument of another type needs one for it when the feature is on.

use crate::args::{
    BlockDevice, CancelFile, CancelOpcode, CancelUserData, Cmd16, Cmd80, DirectSlot, FileUpdates,
    FilesAt, FixedBuf, FutexWaitV, MadviseRange, MsgHdr, MsgHdrMut, MsgLayout, NopBigCqe,
    NopResult, NvmeCmd, PassCqeFlags, PipeFds, PipeSlots, PollEventsUpdate, RingSlot, SocketFd,
    SpliceSource, UringCmdOp, UserDataUpdate, WaitIdTarget,
};
use crate::entries::{Sqe64, Sqe128};
use crate::op::{AfterLink, FitsSqe, OpInfo, Prepare, Scoped, Submission};
use crate::register::Personality;
use crate::types::{
    AcceptFlags, BufferGroup, BufferPool, BufferSelect, CancelFlags, Fd, Fixed, FixedMut,
    FsyncFlags, FutexFlags, InstallFlags, MsgFlags, MsgRingFlags, PollEvents, PollFlags, RecvFlags,
    RwFlags, SendFlags, SendZcFlags, SockAddr, SockAddrBuf, SpliceFlags, SqeFlags, TimeoutFlags,
    Timespec,
};
use std::ffi::CStr;
use std::fmt;
use std::io::{IoSlice, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::{BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// A seeded source of arbitrary values (splitmix64): the same seed gives
/// the same values, so that a failing case can be run again.
#[derive(Clone, Debug)]
pub struct Gen {
    state: u64,
}

impl Gen {
    /// A source seeded with `seed`.
    pub fn new(seed: u64) -> Gen {
        Gen { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// A number in `lo..=hi` (`lo` when the range is empty).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo).saturating_add(1))
    }

    /// True `num` times in `den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    /// True or false, even odds.
    pub fn bool(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }

    /// One of `items`; `None` when there are none.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        let i = self.below(items.len() as u64) as usize;
        items.get(i).copied()
    }

    /// A number of `bits` bits (1 to 64), biased towards the edges: 0, 1,
    /// small numbers, the largest value and its neighbours, the largest
    /// signed value, powers of two; otherwise uniform. Cast to a signed type
    /// of the same width, the edges include -1 and the smallest value.
    pub fn edge(&mut self, bits: u32) -> u64 {
        let bits = bits.clamp(1, 64);
        let max = u64::MAX >> (64 - bits);
        let value = match self.below(12) {
            0 => 0,
            1 => 1,
            2 => self.below(8),
            3 => self.below(4096),
            4 => max,
            5 => max - self.below(3).min(max),
            6 => max >> 1,
            7 => (max >> 1) + 1,
            8 => 1u64 << self.below(u64::from(bits)),
            _ => self.next_u64(),
        };
        value & max
    }

    /// A buffer length: mostly small, sometimes a page or its neighbours, a
    /// large buffer now and then (at most 1 MiB).
    pub fn buf_len(&mut self) -> usize {
        match self.below(16) {
            0 => 0,
            1 => 1,
            2 => self.range(2, 16) as usize,
            3 => 4095,
            4 => 4096,
            5 => 4097,
            6 => 65536,
            7 if self.chance(1, 8) => 1 << 20,
            _ => self.range(1, 8192) as usize,
        }
    }

    /// A duration: none, a nanosecond, a few milliseconds, a second, an
    /// hour, or the longest there is.
    pub fn duration(&mut self) -> Duration {
        match self.below(10) {
            0 => Duration::ZERO,
            1 => Duration::from_nanos(1),
            2..=4 => Duration::from_micros(self.range(1, 2_000)),
            5 | 6 => Duration::from_millis(self.range(1, 50)),
            7 => Duration::from_secs(1),
            8 => Duration::from_secs(3600),
            _ => Duration::MAX,
        }
    }
}

/// The argument an arbitrary value is for: the op, its opcode, and the
/// argument's name in the table (`"target"` for the target).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Site {
    /// The op's name in its table.
    pub op: &'static str,
    /// Its opcode.
    pub code: u8,
    /// The argument's name.
    pub arg: &'static str,
}

/// The fields every op carries besides its arguments, chosen by the test.
#[derive(Clone, Copy, Debug, Default)]
pub struct Base {
    /// The op's `user_data`.
    pub user_data: u64,
    /// Its SQE flags.
    pub flags: SqeFlags,
    /// The personality it runs with, if any.
    pub personality: Option<Personality>,
}

/// An argument the [`Context`] could not supply, so the op was not built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unavailable {
    /// The argument.
    pub site: Site,
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no `{}` argument for {} in this context",
            self.site.arg, self.site.op
        )
    }
}

/// Where an op may go, as its table entry says; the [`Visit`] method an
/// arbitrary op is handed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Alone, in chains, in scopes, on rings of either SQE size.
    Op,
    /// As `Op`, but not in a scope: the kernel keeps its memory after it
    /// completes (`#[retains_memory]`).
    Retaining,
    /// Only on rings of 128-byte SQEs (`#[sqe128]`).
    Sqe128,
    /// Only after a linked op (`#[after_link]`).
    AfterLink,
}

/// What a test lends arbitrary ops for `'r`: the memory they borrow and the
/// files, registrations and groups they name. A test implements it over
/// the resources of one case; each method is told the [`Site`] it supplies,
/// so that it can choose by op and argument.
///
/// The methods that return `Option` may answer `None` when the context has
/// nothing to offer (no registered files, say): the op is then not built
/// (see [`Unavailable`]), or, for an optional argument, keeps its default.
pub trait Context<'r> {
    /// Called before the arguments of each op are drawn.
    fn begin_op(&mut self, info: &'static OpInfo) {
        let _ = info;
    }

    /// Stores `value` for `'r` and lends it.
    fn keep<T: 'r>(&mut self, value: T) -> &'r mut T;

    /// A number for the integer, flags or duration (in nanoseconds)
    /// argument at `site`; `None` lets the [`Gen`] pick.
    fn number(&mut self, site: &Site, g: &mut Gen) -> Option<u64> {
        let _ = (site, g);
        None
    }

    /// `len` bytes for the op to read or write (inside a registered buffer
    /// for the ops that name one, if the context has one).
    fn bytes(&mut self, site: &Site, len: usize) -> &'r mut [u8];

    /// A NUL-terminated string: a path, an attribute's name.
    fn c_str(&mut self, site: &Site, g: &mut Gen) -> &'r CStr;

    /// A descriptor to act on.
    fn fd(&mut self, site: &Site, g: &mut Gen) -> Option<Fd<'r>>;

    /// A descriptor where a `BorrowedFd` is taken (files to install, a
    /// pidfd).
    fn file(&mut self, site: &Site, g: &mut Gen) -> Option<BorrowedFd<'r>>;

    /// A descriptor for the op to own (and close).
    fn owned_fd(&mut self, site: &Site, g: &mut Gen) -> Option<OwnedFd>;

    /// A registered file of the ring the op goes to.
    fn fixed(&mut self, site: &Site, g: &mut Gen) -> Option<Fixed<'r>>;

    /// A registered slot held exclusively (to close or replace its file).
    fn fixed_mut(&mut self, site: &Site, g: &mut Gen) -> Option<FixedMut<'r>>;

    /// The registered buffer the op's bytes lie in.
    fn fixed_buf(&mut self, site: &Site, g: &mut Gen) -> Option<FixedBuf>;

    /// A provided-buffer group.
    fn group(&mut self, site: &Site, g: &mut Gen) -> Option<BufferGroup>;

    /// A socket address (never one outside the machine).
    fn sock_addr(&mut self, site: &Site, g: &mut Gen) -> Option<SocketAddr>;

    /// A socket, for the socket commands.
    fn socket(&mut self, site: &Site, g: &mut Gen) -> Option<SocketFd<'r>>;

    /// A block device whose contents the op may discard.
    fn block_device(&mut self, site: &Site, g: &mut Gen) -> Option<BlockDevice<'r>> {
        let _ = (site, g);
        None
    }

    /// A slot of another ring's file table, for `MsgRingFd`.
    fn ring_slot(&mut self, site: &Site, g: &mut Gen) -> Option<RingSlot<'r>> {
        let _ = (site, g);
        None
    }

    /// A driver command safe for every target the context hands out.
    fn uring_cmd_op(&mut self, site: &Site, g: &mut Gen) -> Option<UringCmdOp> {
        let _ = (site, g);
        None
    }

    /// Memory the op may give any advice about.
    fn madvise_range(&mut self, site: &Site, g: &mut Gen) -> Option<MadviseRange> {
        let _ = (site, g);
        None
    }

    /// Room for the two descriptors an op creates (`Pipe`).
    fn new_fds(&mut self, site: &Site) -> &'r mut [RawFd; 2] {
        let _ = site;
        self.keep([-1; 2])
    }
}

/// A value of an argument type, drawn from a [`Gen`] and a [`Context`].
pub trait Arbitrary<'r>: Sized {
    /// An arbitrary value for `site`; `None` when the context cannot supply
    /// what it needs.
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self>;
}

/// What a test does with an arbitrary op: one method per [`Kind`], each
/// bounded by where that kind may go.
pub trait Visit<'r> {
    /// What the visit returns.
    type Output;

    /// An op of [`Kind::Op`].
    fn op<O>(self, op: O, info: &'static OpInfo) -> Self::Output
    where
        O: Submission<Sqe64>
            + Submission<Sqe128>
            + FitsSqe<Sqe64>
            + FitsSqe<Sqe128>
            + Scoped
            + fmt::Debug
            + 'r;

    /// An op of [`Kind::Retaining`].
    fn retaining<O>(self, op: O, info: &'static OpInfo) -> Self::Output
    where
        O: Submission<Sqe64>
            + Submission<Sqe128>
            + FitsSqe<Sqe64>
            + FitsSqe<Sqe128>
            + fmt::Debug
            + 'r;

    /// An op of [`Kind::Sqe128`].
    fn sqe128<O>(self, op: O, info: &'static OpInfo) -> Self::Output
    where
        O: Submission<Sqe128> + FitsSqe<Sqe128> + Scoped + fmt::Debug + 'r;

    /// An op of [`Kind::AfterLink`].
    fn after_link<O>(self, op: O, info: &'static OpInfo) -> Self::Output
    where
        O: AfterLink + Prepare + FitsSqe<Sqe64> + FitsSqe<Sqe128> + Scoped + fmt::Debug + 'r;
}

/// An op that can be built from arbitrary arguments; the
/// [`ops!`](crate::ops!) macro implements it for every op of a table.
pub trait ArbitraryOp<'r> {
    /// Where the op may go.
    const KIND: Kind;

    /// Builds the op from an arbitrary value of each required argument and,
    /// for each optional one, its default or an arbitrary value; sets
    /// `base`; hands the op to `visit`.
    fn arbitrary<C, V>(
        g: &mut Gen,
        cx: &mut C,
        base: Base,
        visit: V,
    ) -> Result<V::Output, Unavailable>
    where
        C: Context<'r>,
        V: Visit<'r>;
}

/// One of two values: what the generated code uses for a target that may
/// be a descriptor or a registered file, and for a buffer that may be a
/// selection.
#[derive(Debug)]
pub enum Either<L, R> {
    /// The first.
    Left(L),
    /// The second.
    Right(R),
}

/// A required argument: an arbitrary value, or the site it is missing for.
#[inline]
pub fn required<'r, T: Arbitrary<'r>, C: Context<'r>>(
    g: &mut Gen,
    cx: &mut C,
    site: &Site,
) -> Result<T, Unavailable> {
    T::arbitrary(g, cx, site).ok_or(Unavailable { site: *site })
}

/// An optional argument: `None` (its default) half of the time, or when
/// the context cannot supply a value.
#[inline]
pub fn optional<'r, T: Arbitrary<'r>, C: Context<'r>>(
    g: &mut Gen,
    cx: &mut C,
    site: &Site,
) -> Option<T> {
    if g.bool() {
        None
    } else {
        T::arbitrary(g, cx, site)
    }
}

/// The target of a `fd | fixed` op: a registered file half of the time
/// when the context has one, else a descriptor.
pub fn fd_or_fixed<'r, C: Context<'r>>(
    g: &mut Gen,
    cx: &mut C,
    site: &Site,
) -> Result<Either<Fd<'r>, Fixed<'r>>, Unavailable> {
    if g.bool()
        && let Some(fixed) = cx.fixed(site, g)
    {
        return Ok(Either::Right(fixed));
    }
    cx.fd(site, g)
        .map(Either::Left)
        .ok_or(Unavailable { site: *site })
}

/// The target of an op that closes it: a slot held exclusively half of the
/// time when the context has one, else a descriptor it owns.
pub fn owned_or_fixed<'r, C: Context<'r>>(
    g: &mut Gen,
    cx: &mut C,
    site: &Site,
) -> Result<Either<OwnedFd, FixedMut<'r>>, Unavailable> {
    if g.bool()
        && let Some(slot) = cx.fixed_mut(site, g)
    {
        return Ok(Either::Right(slot));
    }
    cx.owned_fd(site, g)
        .map(Either::Left)
        .ok_or(Unavailable { site: *site })
}

/// A buffer argument that may be a selection instead: a selection from a
/// group of the context half of the time.
pub fn buffer_or_select<'r, T: Arbitrary<'r>, C: Context<'r>>(
    g: &mut Gen,
    cx: &mut C,
    site: &Site,
) -> Result<Either<T, BufferSelect>, Unavailable> {
    if g.bool()
        && let Some(select) = BufferSelect::arbitrary(g, cx, site)
    {
        return Ok(Either::Right(select));
    }
    required(g, cx, site).map(Either::Left)
}

/// A number of `bits` bits for `site`: the context's, or an edge-biased
/// one.
fn number<'r, C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site, bits: u32) -> u64 {
    match cx.number(site, g) {
        Some(n) => n,
        None => g.edge(bits),
    }
}

/// A length for `site`: the context's, or [`Gen::buf_len`].
fn length<'r, C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> usize {
    match cx.number(site, g) {
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        None => g.buf_len(),
    }
}

/// A count of array elements: mostly a few, sometimes the kernel's limits
/// and past them.
fn count<'r, C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> usize {
    if let Some(n) = cx.number(site, g) {
        return usize::try_from(n).unwrap_or(usize::MAX).min(4096);
    }
    match g.below(16) {
        0 => 0,
        1 => 1024,
        2 => 1025,
        _ => g.range(1, 8) as usize,
    }
}

mod values;
