//! The [`Arbitrary`] impls of every argument type of the library's op table.

use super::*;

macro_rules! integers {
    ($($ty:ty),*) => {$(
        impl<'r> Arbitrary<'r> for $ty {
            fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
                // Truncated to the type's width (and reinterpreted as
                // signed for signed types), as the edges are meant.
                Some(number(g, cx, site, <$ty>::BITS) as $ty)
            }
        }
    )*};
}

integers!(u8, u16, u32, u64, i32);

impl<'r> Arbitrary<'r> for bool {
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        Some(number(g, cx, site, 1) & 1 == 1)
    }
}

impl<'r, T: Arbitrary<'r>, const N: usize> Arbitrary<'r> for [T; N] {
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        let mut items = Vec::with_capacity(N);
        for _ in 0..N {
            items.push(T::arbitrary(g, cx, site)?);
        }
        items.try_into().ok()
    }
}

macro_rules! flag_sets {
    ($($name:ident: $ty:ty),*) => {$(
        impl<'r> Arbitrary<'r> for $name {
            fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
                if let Some(n) = cx.number(site, g) {
                    return Some($name::from_bits_truncate(n as $ty));
                }
                Some(match g.below(4) {
                    0 => $name::empty(),
                    1 => $name::all(),
                    // Any subset of the named bits.
                    _ => $name::from_bits_truncate(g.next_u64() as $ty),
                })
            }
        }
    )*};
}

flag_sets!(
    RwFlags: i32,
    TimeoutFlags: u32,
    CancelFlags: u32,
    FsyncFlags: u32,
    PollEvents: u32,
    PollFlags: u32,
    SpliceFlags: u32,
    FutexFlags: u32,
    RecvFlags: u16,
    SendFlags: u16,
    SendZcFlags: u16,
    AcceptFlags: u16,
    MsgFlags: i32,
    MsgRingFlags: u32,
    InstallFlags: u32
);

impl<'r> Arbitrary<'r> for Timespec {
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        if let Some(nanos) = cx.number(site, g) {
            return Some(Timespec::from(Duration::from_nanos(nanos)));
        }
        Some(match g.below(12) {
            // Beyond what a `Duration` says: both parts out of range.
            0 => Timespec::new(u64::MAX, u32::MAX),
            _ => Timespec::from(g.duration()),
        })
    }
}

impl<'r> Arbitrary<'r> for &'r mut [u8] {
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        let len = length(g, cx, site);
        Some(cx.bytes(site, len))
    }
}

impl<'r> Arbitrary<'r> for &'r [u8] {
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        let len = length(g, cx, site);
        Some(cx.bytes(site, len))
    }
}

impl<'r> Arbitrary<'r> for &'r mut [IoSliceMut<'r>] {
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        let n = count(g, cx, site);
        let mut slices = Vec::with_capacity(n);
        for _ in 0..n {
            let len = if n > 8 {
                g.below(64) as usize
            } else {
                length(g, cx, site)
            };
            slices.push(IoSliceMut::new(cx.bytes(site, len)));
        }
        Some(cx.keep(slices).as_mut_slice())
    }
}

impl<'r> Arbitrary<'r> for &'r [IoSlice<'r>] {
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        let n = count(g, cx, site);
        let mut slices = Vec::with_capacity(n);
        for _ in 0..n {
            let len = if n > 8 {
                g.below(64) as usize
            } else {
                length(g, cx, site)
            };
            slices.push(IoSlice::new(cx.bytes(site, len)));
        }
        Some(cx.keep(slices).as_slice())
    }
}

impl<'r> Arbitrary<'r> for &'r CStr {
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        Some(cx.c_str(site, g))
    }
}

/// Types whose values only the test's context can supply: each comes from
/// the [`Context`] method named beside it.
macro_rules! from_context {
    ($($ty:ty => $method:ident),* $(,)?) => {$(
        impl<'r> Arbitrary<'r> for $ty {
            fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
                cx.$method(site, g)
            }
        }
    )*};
}

from_context!(
    Fd<'r> => fd,
    Fixed<'r> => fixed,
    FixedBuf => fixed_buf,
    BufferGroup => group,
    RingSlot<'r> => ring_slot,
    SocketFd<'r> => socket,
    BlockDevice<'r> => block_device,
    UringCmdOp => uring_cmd_op,
    MadviseRange => madvise_range,
);

impl<'r> Arbitrary<'r> for BufferSelect {
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        let group = cx.group(site, g)?;
        Some(group.select(number(g, cx, site, 32) as u32))
    }
}

impl<'r> Arbitrary<'r> for BufferPool<'r> {
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        let len = length(g, cx, site);
        let buf_len = match g.below(4) {
            0 => number(g, cx, site, 32) as u32,
            _ => g.range(1, 4096) as u32,
        };
        Some(BufferPool::new(cx.bytes(site, len), buf_len))
    }
}

impl<'r> Arbitrary<'r> for SockAddr {
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        cx.sock_addr(site, g).map(SockAddr::from)
    }
}

impl<'r> Arbitrary<'r> for &'r SockAddr {
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        let addr = SockAddr::arbitrary(g, cx, site)?;
        Some(cx.keep(addr))
    }
}

impl<'r> Arbitrary<'r> for Option<&'r SockAddr> {
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        Some(if g.bool() {
            None
        } else {
            <&SockAddr>::arbitrary(g, cx, site)
        })
    }
}

impl<'r> Arbitrary<'r> for &'r mut SockAddrBuf {
    fn arbitrary<C: Context<'r>>(_: &mut Gen, cx: &mut C, _: &Site) -> Option<Self> {
        Some(cx.keep(SockAddrBuf::new()))
    }
}

impl<'r> Arbitrary<'r> for Option<&'r mut SockAddrBuf> {
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, _: &Site) -> Option<Self> {
        Some(g.bool().then(|| cx.keep(SockAddrBuf::new())))
    }
}

impl<'r> Arbitrary<'r> for crate::PiRef<'r> {
    /// No protection information, or a metadata buffer of the context's
    /// with arbitrary checks, tag and seed.
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        if g.bool() {
            return Some(crate::PiRef::NONE);
        }
        let len = g.below(64) as usize;
        let attr = crate::PiAttr::new(cx.bytes(site, len))
            .flags(crate::IntegrityFlags::from_bits_truncate(g.below(8) as u16))
            .app_tag(number(g, cx, site, 16) as u16)
            .seed(number(g, cx, site, 64));
        Some(crate::PiRef::from(cx.keep(attr)))
    }
}

impl<'r> Arbitrary<'r> for DirectSlot<'r> {
    /// The choice is a number of the context's (0 or 1 for a regular
    /// descriptor, 2 for a free slot, 3 for a slot held exclusively), so
    /// that it knows what the op's result names.
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        Some(match number(g, cx, site, 2) & 3 {
            0 | 1 => DirectSlot::NONE,
            2 => DirectSlot::ALLOC,
            _ => cx
                .fixed_mut(site, g)
                .map_or(DirectSlot::ALLOC, DirectSlot::at),
        })
    }
}

impl<'r> Arbitrary<'r> for PipeSlots<'r> {
    /// As for a [`DirectSlot`].
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        DirectSlot::arbitrary(g, cx, site).map(PipeSlots::from)
    }
}

impl<'r> Arbitrary<'r> for FilesAt<'r> {
    /// The choice is a number of the context's: 0 for free slots, 1 for
    /// slots held exclusively.
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        Some(match number(g, cx, site, 1) & 1 {
            0 => FilesAt::ALLOC,
            _ => cx.fixed_mut(site, g).map_or(FilesAt::ALLOC, FilesAt::from),
        })
    }
}

impl<'r> Arbitrary<'r> for &'r mut FileUpdates<'r> {
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        let n = count(g, cx, site).min(64);
        let mut files = Vec::with_capacity(n);
        for _ in 0..n {
            files.push(if g.chance(1, 4) {
                None
            } else {
                Some(cx.file(site, g)?)
            });
        }
        Some(cx.keep(FileUpdates::new(&files)))
    }
}

impl<'r> Arbitrary<'r> for CancelFile<'r> {
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        if g.bool()
            && let Some(fixed) = cx.fixed(site, g)
        {
            return Some(CancelFile::from(fixed));
        }
        cx.fd(site, g).map(CancelFile::from)
    }
}

impl<'r> Arbitrary<'r> for SpliceSource<'r> {
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        if g.bool()
            && let Some(fixed) = cx.fixed(site, g)
        {
            return Some(SpliceSource::from(fixed));
        }
        cx.fd(site, g).map(SpliceSource::from)
    }
}

impl<'r> Arbitrary<'r> for CancelOpcode {
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        let code = match cx.number(site, g) {
            Some(n) => n as u8,
            None if g.chance(3, 4) => g.below(u64::from(crate::sys::IORING_OP_LAST)) as u8,
            None => g.edge(8) as u8,
        };
        Some(CancelOpcode::code(code))
    }
}

impl<'r> Arbitrary<'r> for crate::args::SockOpt {
    /// One of the options safe code can set: the constants.
    fn arbitrary<C: Context<'r>>(g: &mut Gen, _cx: &mut C, _site: &Site) -> Option<Self> {
        g.pick(crate::args::SockOpt::PLAIN)
    }
}

impl<'r> Arbitrary<'r> for crate::args::SocketDomain {
    /// An arbitrary number, through the safe conversion (another family
    /// than the three it keeps becomes -1).
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        Some(i32::arbitrary(g, cx, site)?.into())
    }
}

impl<'r> Arbitrary<'r> for crate::args::SocketType {
    /// An arbitrary number, through the safe conversion.
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        Some(i32::arbitrary(g, cx, site)?.into())
    }
}

impl<'r> Arbitrary<'r> for NopResult {
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        Some(match g.below(3) {
            0 => NopResult::NONE,
            // An errno, which fails the NOP (and what is linked after it).
            1 => NopResult::from(-(g.range(1, 133) as i32)),
            _ => NopResult::from(i32::arbitrary(g, cx, site)?),
        })
    }
}

impl<'r> Arbitrary<'r> for NopBigCqe {
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        Some(match g.bool() {
            true => NopBigCqe::NONE,
            false => NopBigCqe::from(<[u64; 2]>::arbitrary(g, cx, site)?),
        })
    }
}

impl<'r> Arbitrary<'r> for PollEventsUpdate {
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        Some(match g.bool() {
            true => PollEventsUpdate::NONE,
            false => PollEventsUpdate::from(PollEvents::arbitrary(g, cx, site)?),
        })
    }
}

impl<'r> Arbitrary<'r> for CancelUserData {
    /// Any `user_data`, or an arbitrary one to match too.
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        Some(match g.bool() {
            true => CancelUserData::ANY,
            false => CancelUserData::from(u64::arbitrary(g, cx, site)?),
        })
    }
}

impl<'r> Arbitrary<'r> for UserDataUpdate {
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        Some(match g.bool() {
            true => UserDataUpdate::NONE,
            false => UserDataUpdate::from(u64::arbitrary(g, cx, site)?),
        })
    }
}

impl<'r> Arbitrary<'r> for PassCqeFlags {
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        Some(match g.bool() {
            true => PassCqeFlags::NONE,
            false => PassCqeFlags::from(u32::arbitrary(g, cx, site)?),
        })
    }
}

impl<'r> Arbitrary<'r> for &'r MsgHdr<'r> {
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        let buffers = <&[IoSlice<'r>]>::arbitrary(g, cx, site)?;
        let mut to: Option<&'r SockAddr> = None;
        if g.chance(1, 4)
            && let Some(addr) = cx.sock_addr(site, g)
        {
            to = Some(cx.keep(SockAddr::from(addr)));
        }
        let message = || match to {
            Some(addr) => MsgHdr::new(buffers).to(addr),
            None => MsgHdr::new(buffers),
        };
        let mut msg = message();
        if g.chance(1, 4) {
            let len = g.below(128) as usize;
            let control = cx.bytes(site, len);
            for byte in control.iter_mut() {
                *byte = g.next_u64() as u8;
            }
            // Control data that passes descriptors is refused: the message
            // then goes without.
            if let Ok(with) = message().control(control) {
                msg = with;
            }
        }
        Some(cx.keep(msg))
    }
}

impl<'r> Arbitrary<'r> for &'r mut MsgHdrMut<'r> {
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        let buffers = <&mut [IoSliceMut<'r>]>::arbitrary(g, cx, site)?;
        let mut msg = MsgHdrMut::new(buffers);
        if g.bool() {
            msg = msg.from(cx.keep(SockAddrBuf::new()));
        }
        if g.bool() {
            let len = g.below(256) as usize;
            msg = msg.control(cx.bytes(site, len));
        }
        Some(cx.keep(msg))
    }
}

impl<'r> Arbitrary<'r> for &'r MsgLayout {
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        let (name, control) = match g.below(4) {
            0 => (
                number(g, cx, site, 32) as u32,
                number(g, cx, site, 64) as usize,
            ),
            _ => (g.below(129) as u32, g.below(129) as usize),
        };
        Some(cx.keep(MsgLayout::new(name, control)))
    }
}

impl<'r> Arbitrary<'r> for &'r mut libc::statx {
    fn arbitrary<C: Context<'r>>(_: &mut Gen, cx: &mut C, _: &Site) -> Option<Self> {
        // SAFETY: all-zero bytes are a valid `statx`.
        Some(cx.keep(unsafe { std::mem::zeroed() }))
    }
}

impl<'r> Arbitrary<'r> for &'r mut libc::siginfo_t {
    fn arbitrary<C: Context<'r>>(_: &mut Gen, cx: &mut C, _: &Site) -> Option<Self> {
        // SAFETY: all-zero bytes are a valid `siginfo_t`.
        Some(cx.keep(unsafe { std::mem::zeroed() }))
    }
}

impl<'r> Arbitrary<'r> for &'r libc::open_how {
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        let flags = match g.below(3) {
            0 => number(g, cx, site, 64),
            // `O_*` bits only, the most common.
            _ => g.next_u64() & 0o37_777_777,
        };
        let mode = match g.bool() {
            true => g.below(0o10000),
            false => number(g, cx, site, 64),
        };
        let resolve = match g.bool() {
            true => 0,
            false => g.next_u64() & 0x3f,
        };
        // SAFETY: all-zero bytes are a valid `open_how`.
        let mut how: libc::open_how = unsafe { std::mem::zeroed() };
        how.flags = flags;
        how.mode = mode;
        how.resolve = resolve;
        Some(cx.keep(how))
    }
}

impl<'r> Arbitrary<'r> for &'r libc::epoll_event {
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        let events = number(g, cx, site, 32) as u32;
        Some(cx.keep(libc::epoll_event {
            events,
            u64: g.next_u64(),
        }))
    }
}

impl<'r> Arbitrary<'r> for &'r mut [libc::epoll_event] {
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        let n = count(g, cx, site);
        let events = vec![libc::epoll_event { events: 0, u64: 0 }; n];
        Some(cx.keep(events).as_mut_slice())
    }
}

impl<'r> Arbitrary<'r> for &'r AtomicU32 {
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        let value = number(g, cx, site, 32) as u32;
        Some(cx.keep(AtomicU32::new(value)))
    }
}

impl<'r> Arbitrary<'r> for &'r [FutexWaitV<'r>] {
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        let n = match g.below(8) {
            0 => 0,
            1 => 129,
            _ => g.range(1, 4) as usize,
        };
        let mut waits = Vec::with_capacity(n);
        for _ in 0..n {
            let word = <&AtomicU32>::arbitrary(g, cx, site)?;
            let value = number(g, cx, site, 32) as u32;
            let flags = FutexFlags::arbitrary(g, cx, site)?;
            waits.push(FutexWaitV::new(word, value, flags));
        }
        Some(cx.keep(waits).as_slice())
    }
}

impl<'r> Arbitrary<'r> for PipeFds<'r> {
    fn arbitrary<C: Context<'r>>(_: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        Some(PipeFds::from(cx.new_fds(site)))
    }
}

impl<'r> Arbitrary<'r> for WaitIdTarget<'r> {
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        Some(match g.below(4) {
            0 => WaitIdTarget::all(),
            1 => WaitIdTarget::pid(i32::arbitrary(g, cx, site)?),
            2 => WaitIdTarget::pgid(i32::arbitrary(g, cx, site)?),
            _ => cx
                .file(site, g)
                .map_or(WaitIdTarget::all(), WaitIdTarget::pidfd),
        })
    }
}

/// A command area of zeros: the SQE of a `UringCmd` (none), which is what
/// the context's [`uring_cmd_op`](Context::uring_cmd_op) vouches for.
impl<'r> Arbitrary<'r> for Cmd16<'r> {
    fn arbitrary<C: Context<'r>>(_: &mut Gen, _: &mut C, _: &Site) -> Option<Self> {
        // SAFETY: with the command area zero the SQE is a `UringCmd`'s, whose
        // command the context made safe for every target it hands out.
        Some(unsafe { Cmd16::from_bytes([0; 16]) })
    }
}

/// The NVM command set's Flush (opcode 0), which moves no data: the one
/// command safe on whatever device the op is aimed at (the context's
/// descriptors are the program's to choose).
impl<'r> Arbitrary<'r> for Cmd80<'r> {
    fn arbitrary<C: Context<'r>>(g: &mut Gen, cx: &mut C, site: &Site) -> Option<Self> {
        let nsid = u32::arbitrary(g, cx, site)?;
        // SAFETY: a flush reads and writes no memory of the program's.
        let cmd = unsafe { NvmeCmd::new(0, nsid, cx.bytes(site, 0), [0; 6]) };
        Some(cmd.into())
    }
}
