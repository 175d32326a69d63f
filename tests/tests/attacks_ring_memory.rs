//! Attacks, in safe code, on where a ring lives and on what its newest
//! entries carry:
//!
//! - rings in memory the program gives (`RingRegion`, `Builder::build_in`,
//!   `build_sized_in`, `Ring::resize_in`): every SQE and CQE size with and
//!   without the SQ array and with odd CQ sizes, each in exactly the bytes
//!   reported and never a byte outside them (canaries in the slack and in
//!   a red page after); regions whose addresses are mapped again once the
//!   ring dropped them or a resize left them, while the kernel ring lives
//!   on and is posted into; resizes to sizes that round to the current
//!   ones, resizes racing messages from another thread, resizes the kernel
//!   or the library refuses (each releasing the memory it was given), a
//!   ring forgotten, a scope that panics with reads in flight on a ring of
//!   big entries in given memory, huge pages the system does not have;
//! - completions a safe program can forge (`MSG_RING` with any flags, NOPs
//!   with any extra words) on rings of 32-byte and mixed CQEs: what the
//!   readers make of them, what a scope makes of tags hidden in them, and
//!   what `BigCqe::tx_timestamp` reads in them;
//! - the transmit-timestamp command in a scope that panics, cancels it,
//!   and resizes the ring in between;
//! - `Ring::register_file_slots`: slots keep their files when the numbers
//!   are reused, empty slots fail, the ring cannot be put in its own
//!   table, and tables past the kernel's limits are errors.
//!
//! Memory regions are checked by reading them (a test's own `unsafe`
//! reads of memory the test owns); memfd-backed regions are counted in
//! `/proc/self/maps`. The other tests of this file run in parallel
//! threads, so nothing here counts every mapping or descriptor of the
//! process.

use std::io::{Read as _, Write as _};
use std::net::UdpSocket;
use std::os::fd::{AsFd as _, AsRawFd as _};
use std::os::unix::fs::FileExt as _;
use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use uring::ops::{Cancel, MsgRing, Nop, NopFile, Read, Timeout, TxTimestamp, Write};
use uring::sys::{
    self, IORING_CQE_F_32, IORING_CQE_F_MORE, IORING_CQE_F_SKIP, IORING_CQE_F_TSTAMP_HW,
    IORING_TIMESTAMP_TYPE_SHIFT,
};
use uring::{
    BigCqe, Builder, Cqe16, Cqe32, CqeMixed, CqeSize, Error, Ring, RingRegion, RingTarget, Sqe64,
    Sqe128, SqeSize, TimestampType,
};
use uring_tests::{PATIENCE, assert_nothing_writes_after, require_kernel, skip};

/// What a canary byte holds where nothing may write.
const CANARY: u8 = 0xC5;

/// The size of the pages `mmap` maps.
fn page() -> usize {
    // SAFETY: sysconf reads a constant of the system.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

/// The bytes of a ring's memory the kernel says it uses, from the
/// parameters it reported: the SQE array and its page-rounded length, then
/// the end of the rings (header, CQEs doubled for 32-byte ones, the SQ
/// index array at the next cache line) and their page-rounded length.
struct KernelLayout {
    sqes_end: usize,
    sqes_len: usize,
    rings_end: usize,
    rings_len: usize,
}

fn kernel_layout(p: &sys::io_uring_params) -> KernelLayout {
    let sqe = if p.flags & sys::IORING_SETUP_SQE128 != 0 {
        128
    } else {
        64
    };
    let cqe32 = p.flags & sys::IORING_SETUP_CQE32 != 0;
    let cqes_end = ((p.cq_off.cqes as usize + p.cq_entries as usize * 16) << usize::from(cqe32))
        .next_multiple_of(64);
    let rings_end = if p.flags & sys::IORING_SETUP_NO_SQARRAY == 0 {
        assert!(p.sq_off.array as usize >= cqes_end, "{p:?}");
        p.sq_off.array as usize + p.sq_entries as usize * 4
    } else {
        cqes_end
    };
    let sqes_end = p.sq_entries as usize * sqe;
    KernelLayout {
        sqes_end,
        sqes_len: sqes_end.next_multiple_of(page()),
        rings_end,
        rings_len: rings_end.next_multiple_of(page()),
    }
}

/// The `u32` at byte `offset` of memory the test keeps mapped.
///
/// # Safety
///
/// `base + offset` must be a mapped, aligned `u32` for the whole call.
unsafe fn word_at(base: *const u8, offset: usize) -> u32 {
    // SAFETY: forwarded from the caller; volatile, since the kernel writes
    // it behind the compiler's back.
    unsafe { base.add(offset).cast::<u32>().read_volatile() }
}

/// Fills `len` bytes from `base + from` with [`CANARY`].
///
/// # Safety
///
/// The bytes must be mapped, and used by nothing else: the slack of a
/// ring's memory that the kernel's layout leaves unused, or a red page.
unsafe fn fill_canary(base: *mut u8, from: usize, len: usize) {
    for i in 0..len {
        // SAFETY: forwarded from the caller.
        unsafe { base.add(from + i).write_volatile(CANARY) };
    }
}

/// Whether every byte of `len` from `base + from` still holds [`CANARY`];
/// the first that does not, otherwise.
///
/// # Safety
///
/// As for [`fill_canary`].
unsafe fn first_not_canary(base: *const u8, from: usize, len: usize) -> Option<usize> {
    // SAFETY: forwarded from the caller.
    (0..len).find(|&i| unsafe { base.add(from + i).read_volatile() } != CANARY)
}

/// The number of bytes of `len` from `base` that are not zero.
///
/// # Safety
///
/// The bytes must be mapped and the test's own.
unsafe fn nonzero_bytes(base: *const u8, len: usize) -> usize {
    // SAFETY: forwarded from the caller.
    (0..len)
        .filter(|&i| unsafe { base.add(i).read_volatile() } != 0)
        .count()
}

/// A region over all of the memfd `file`.
fn memfd_region(file: &std::fs::File) -> RingRegion {
    let len = file.metadata().unwrap().len() as usize;
    // SAFETY: each memfd of this file is its test's alone: nothing writes
    // it, maps it elsewhere or shrinks it while a kernel ring may use it
    // (the tests only read it, and drop it last).
    unsafe { RingRegion::from_file(file.as_fd(), 0, len) }.unwrap()
}

/// How many mappings of the memfd named `name` the process has.
fn mappings_of(name: &str) -> usize {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let tag = format!("/memfd:{name} ");
    maps.lines()
        .filter(|l| format!("{l} ").contains(&tag))
        .count()
}

/// A memfd name no other test of the process uses.
fn unique(tag: &str) -> String {
    format!("uring-attack-{tag}-{}", std::process::id())
}

/// The errno of an error, asserting it has one.
fn errno(e: &Error) -> i32 {
    e.raw_os_error()
        .unwrap_or_else(|| panic!("not a system error: {e:?}"))
}

/// Whether the library refused the call before the kernel saw it.
fn is_invalid_argument(e: &Error) -> bool {
    matches!(e, Error::InvalidArgument(_))
}

/// `user_data` of every completion that arrives within `quiet` of the
/// last one, until `n` arrived (or none came for `quiet`).
fn drain<S: SqeSize, C: CqeSize>(ring: &mut Ring<S, C>, n: usize, quiet: Duration) -> Vec<u64> {
    let mut got = Vec::new();
    let mut last = Instant::now();
    while got.len() < n && last.elapsed() < quiet {
        let _ = ring.wait_timeout(1, Duration::from_millis(10));
        let before = got.len();
        got.extend(ring.completions().map(|c| c.as_ref().user_data()));
        if got.len() > before {
            last = Instant::now();
        }
    }
    got
}

/// A ring in given memory that the kernel lets resize (6.13: deferred task
/// work), or `None` with a skip message.
fn resizable_in<S: SqeSize, C: CqeSize>(entries: u32) -> Option<Ring<S, C>> {
    if !require_kernel(6, 13, "IORING_REGISTER_RESIZE_RINGS") {
        return None;
    }
    let builder = Builder::new().single_issuer().defer_taskrun();
    let size = builder.ring_memory_size_sized::<S, C>(entries).unwrap();
    Some(
        builder
            .build_sized_in::<S, C>(entries, RingRegion::anonymous(size).unwrap())
            .unwrap(),
    )
}

/// Posts `(user_data, res, flags)` into the ring `target` names with
/// `MSG_RING` (`IORING_MSG_RING_FLAGS_PASS`) from a scope of `source`, and
/// checks each message left.
fn post_with_flags(source: &mut Ring, target: &RingTarget, forged: &[(u64, i32, u32)]) {
    for chunk in forged.chunks(4) {
        source.scope(|s| {
            for &(ud, res, flags) in chunk {
                s.push(MsgRing::new(target, res, ud).cqe_flags(flags).user_data(9))
                    .unwrap();
            }
            s.submit().unwrap();
            let mut seen = 0;
            while seen < chunk.len() {
                s.wait_timeout(1, PATIENCE).unwrap();
                for c in s.completions() {
                    assert_eq!((c.user_data(), c.res()), (9, 0), "MSG_RING failed: {c:?}");
                    seen += 1;
                }
            }
        });
    }
}

// ----------------------------------------------------------------------
// Rings in given memory
// ----------------------------------------------------------------------

/// One ring of `S` SQEs and `C` CQEs made by `builder` with `entries`, in
/// given memory: a page less than reported is refused before the kernel
/// sees it; a byte less is the same whole pages; in exactly the bytes
/// reported (plus a red page after), the kernel's rings sit where the
/// library put them and it writes none of the slack its layout leaves nor
/// the red page, while `rounds` batches of NOPs (32-byte ones where the
/// CQ has them) wrap the CQ.
fn fits_exactly<S: SqeSize, C: CqeSize>(
    builder: &Builder<'static>,
    entries: u32,
    big: bool,
    rounds: u64,
) {
    let what = format!(
        "{} SQEs, {} CQEs, flags {:#x}, {entries} entries",
        std::any::type_name::<S>(),
        std::any::type_name::<C>(),
        builder.flags()
    );
    let size = builder.ring_memory_size_sized::<S, C>(entries).unwrap();
    assert_eq!(size % page(), 0, "{what}: whole pages");
    let short = RingRegion::anonymous(size - page()).unwrap();
    let e = builder.build_sized_in::<S, C>(entries, short).unwrap_err();
    assert!(is_invalid_argument(&e), "{what}: {e:?}");
    assert_eq!(
        RingRegion::anonymous(size - 1).unwrap().len(),
        size,
        "{what}: a byte less is the same pages"
    );
    let region = RingRegion::anonymous(size + page()).unwrap();
    let base = region.as_ptr();
    let mut ring = builder.build_sized_in::<S, C>(entries, region).unwrap();
    let p = *ring.params().as_raw();
    let k = kernel_layout(&p);
    assert!(
        k.sqes_len + k.rings_len <= size,
        "{what}: the kernel uses more than {size}"
    );
    assert_eq!(p.sq_off.user_addr, base as u64, "{what}");
    assert_eq!(
        p.cq_off.user_addr,
        base as u64 + k.sqes_len as u64,
        "{what}"
    );
    let rings_at = k.sqes_len;
    // The slack after the SQEs, after the rings, and the red page.
    let slack = [
        (k.sqes_end, k.sqes_len - k.sqes_end),
        (
            rings_at + k.rings_end,
            size + page() - (rings_at + k.rings_end),
        ),
    ];
    for &(from, len) in &slack {
        // SAFETY: bytes of the region (alive with the ring) that the
        // kernel's layout leaves unused; the ring uses only the kernel's.
        unsafe { fill_canary(base, from, len) };
    }
    // SAFETY: the entry counts are in the rings, written once at setup.
    let counts = unsafe {
        (
            word_at(base, rings_at + p.sq_off.ring_entries as usize),
            word_at(base, rings_at + p.cq_off.ring_entries as usize),
        )
    };
    assert_eq!(
        counts,
        (p.sq_entries, p.cq_entries),
        "{what}: the rings are in the region"
    );
    let batch = u64::from(p.sq_entries.min(32));
    let mut next = 0u64;
    for round in 0..rounds {
        for i in 0..batch {
            let ud = round * batch + i;
            let nop = Nop::new().user_data(ud);
            let pushed = if big && ud % 2 == 0 {
                ring.push(nop.big_cqe([ud, !ud])).is_ok()
            } else {
                ring.push(nop).is_ok()
            };
            assert!(pushed, "{what}: the SQ is full at {ud}");
        }
        ring.submit().unwrap();
        let mut seen = 0;
        while seen < batch {
            ring.wait_timeout(1, PATIENCE).unwrap();
            for c in ring.completions() {
                let c = c.as_ref();
                assert_eq!((c.user_data(), c.res()), (next, 0), "{what}");
                next += 1;
                seen += 1;
            }
        }
        for &(from, len) in &slack {
            // SAFETY: as above.
            let bad = unsafe { first_not_canary(base, from, len) };
            assert_eq!(
                bad, None,
                "{what}: slack at {from} written in round {round}"
            );
        }
    }
    // SAFETY: the CQ tail is in the rings; the ring is alive.
    let tail = unsafe { word_at(base, rings_at + p.cq_off.tail as usize) };
    if p.flags & sys::IORING_SETUP_CQE_MIXED == 0 {
        assert_eq!(
            u64::from(tail),
            next,
            "{what}: the kernel posted into the region"
        );
    } else {
        // Slots: two for a big CQE, one for padding.
        assert!(
            u64::from(tail) >= next,
            "{what}: the kernel posted into the region"
        );
    }
}

/// Every SQE and CQE size, with the SQ array and without, with the
/// default CQ and CQ sizes that are not powers of two, for SQ sizes that
/// are and are not: each ring fits the size reported, and the kernel
/// writes nothing of the given memory outside its layout.
#[test]
fn every_layout_fits_the_size_reported_and_the_kernel_writes_only_inside_it() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(
        6,
        18,
        "rings in given memory of every CQE size (mixed CQEs, 32-byte NOPs)",
    ) {
        return;
    }
    for entries in [1u32, 3, 100, 1000] {
        let cq = 3 * entries + 1;
        let builders = [
            Builder::new(),
            Builder::new().no_sqarray(),
            Builder::new().cq_entries(cq),
            Builder::new().no_sqarray().cq_entries(cq),
        ];
        for b in &builders {
            let cq_entries = if b.flags() & sys::IORING_SETUP_CQSIZE != 0 {
                cq.next_power_of_two()
            } else {
                2 * entries.next_power_of_two()
            };
            let batch = u64::from(entries.next_power_of_two().min(32));
            let rounds = (2 * u64::from(cq_entries)).div_ceil(batch);
            fits_exactly::<Sqe64, Cqe16>(b, entries, false, rounds);
            fits_exactly::<Sqe128, Cqe16>(b, entries, false, rounds);
            fits_exactly::<Sqe64, Cqe32>(b, entries, true, rounds);
            fits_exactly::<Sqe128, Cqe32>(b, entries, true, rounds);
            // (Big CQEs on a mixed CQ of two entries hang the kernel: see
            // `a_wait_on_a_two_entry_mixed_cq_returns`.)
            let mixed_big = cq_entries > 2;
            fits_exactly::<Sqe64, CqeMixed>(b, entries, mixed_big, rounds);
            fits_exactly::<Sqe128, CqeMixed>(b, entries, mixed_big, rounds);
        }
    }
    // Clamped past the maximum: counted as the kernel clamps.
    let clamped = Builder::new().clamp().cq_entries(u32::MAX);
    assert_eq!(
        clamped
            .ring_memory_size_sized::<Sqe128, Cqe32>(u32::MAX)
            .unwrap(),
        Builder::new()
            .cq_entries(sys::IORING_MAX_CQ_ENTRIES)
            .ring_memory_size_sized::<Sqe128, Cqe32>(sys::IORING_MAX_ENTRIES)
            .unwrap()
    );
    fits_exactly::<Sqe128, Cqe32>(&clamped, u32::MAX, true, 4);
}

/// The kernel ring outlives the `Ring` built in a region (a `RingTarget`
/// holds its descriptor) and is posted into after the ring is dropped,
/// its timeout firing then too: the region's addresses, mapped again by
/// the program (the kernel gives them back at once), get none of it. The
/// pages the kernel writes stayed pinned for it alone.
#[test]
fn a_dropped_ring_s_region_is_never_written_after_its_addresses_are_mapped_again() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 13, "IORING_SETUP_NO_MMAP, IORING_REGISTER_SEND_MSG_RING") {
        return;
    }
    let builder = Builder::new();
    let size = builder.ring_memory_size_sized::<Sqe128, Cqe32>(8).unwrap();
    let mut reused = 0;
    for round in 0..4 {
        let region = RingRegion::anonymous(size).unwrap();
        let base = region.as_ptr() as usize;
        let mut ring = builder.build_sized_in::<Sqe128, Cqe32>(8, region).unwrap();
        let target = ring.msg_target().unwrap();
        ring.push(Timeout::new(Duration::from_millis(30)).user_data(1))
            .unwrap();
        ring.push(Nop::new().user_data(2).big_cqe([3, 4])).unwrap();
        ring.submit().unwrap();
        drop(ring);
        let again = RingRegion::anonymous(size).unwrap();
        reused += usize::from(again.as_ptr() as usize == base);
        for i in 0..64 {
            target.post(i, 0x5a5a_0000 + i as u64).unwrap();
        }
        std::thread::sleep(Duration::from_millis(60));
        for i in 0..8 {
            target.post(i, 0x6b6b_0000 + i as u64).unwrap();
        }
        // SAFETY: the new region is this test's, mapped until it drops.
        let written = unsafe { nonzero_bytes(again.as_ptr(), again.len()) };
        assert_eq!(
            written, 0,
            "round {round}: the kernel wrote into memory mapped anew"
        );
    }
    eprintln!("the dropped region's addresses were mapped again in {reused} of 4 rounds");
}

/// A resize moves the rings to a new region and lets the kernel go of the
/// old one, which the ring unmaps: mapped again by the program, those
/// addresses get nothing of the messages and the timeout that complete
/// afterwards, which the kernel writes into the new region (its tail
/// there counts them) and the ring hands out once each.
#[test]
fn the_region_a_resize_leaves_is_never_written_after_its_addresses_are_mapped_again() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = resizable_in::<Sqe64, Cqe16>(8) else {
        return;
    };
    let old_base = ring.params().as_raw().sq_off.user_addr as usize;
    let old_size = Builder::new().ring_memory_size(8).unwrap();
    let target = ring.msg_target().unwrap();
    ring.push(Timeout::new(Duration::from_millis(30)).user_data(1))
        .unwrap();
    ring.submit().unwrap();
    let need = ring.resize_memory_size(8, 64).unwrap();
    let new = RingRegion::anonymous(need).unwrap();
    let new_base = new.as_ptr();
    ring.resize_in(8, 64, new).unwrap();
    let again = RingRegion::anonymous(old_size).unwrap();
    let reused = again.as_ptr() as usize == old_base;
    for i in 0..20 {
        target.post(0, 100 + i).unwrap();
    }
    let mut got = drain(&mut ring, 21, PATIENCE);
    got.sort_unstable();
    let mut want: Vec<u64> = (100..120).collect();
    want.insert(0, 1);
    assert_eq!(got, want, "each completion once");
    // SAFETY: the region mapped anew is this test's, alive until it drops.
    let written = unsafe { nonzero_bytes(again.as_ptr(), again.len()) };
    assert_eq!(
        written, 0,
        "the kernel wrote into the old region's addresses (mapped again: {reused})"
    );
    let p = *ring.params().as_raw();
    assert_eq!(p.sq_off.user_addr, new_base as u64);
    let k = kernel_layout(&p);
    // SAFETY: the new region is the ring's, alive with it; the tail is in
    // its rings.
    let tail = unsafe { word_at(new_base, k.sqes_len + p.cq_off.tail as usize) };
    assert_eq!(tail, 21, "the kernel posted into the new region");
}

/// A resize to sizes that round up to the ones the ring has (7 and 13 for
/// 8 and 16) is still a resize into the memory given: the ring reads its
/// queues there, and the kernel writes them there. (A kernel that does
/// nothing for such sizes, as 6.13 to 6.17 did, would leave its rings in
/// the old memory while the ring read the new.) The exact sizes it has
/// are no resize: that memory is released unused.
#[test]
fn a_resize_to_sizes_that_round_to_the_current_ones_moves_the_rings() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = resizable_in::<Sqe64, Cqe16>(8) else {
        return;
    };
    for i in 0..3 {
        ring.push(Nop::new().user_data(i)).unwrap();
    }
    ring.submit_and_wait(3).unwrap();
    let need = ring.resize_memory_size(7, 13).unwrap();
    assert_eq!(need, ring.resize_memory_size(8, 16).unwrap());
    let region = RingRegion::anonymous(need).unwrap();
    let base = region.as_ptr();
    ring.resize_in(7, 13, region).unwrap();
    let p = *ring.params().as_raw();
    assert_eq!((p.sq_entries, p.cq_entries), (8, 16));
    assert_eq!(
        p.sq_off.user_addr, base as u64,
        "the ring reads the new region"
    );
    let k = kernel_layout(&p);
    let rings = k.sqes_len;
    // SAFETY: the region is the ring's now, alive with it; these words are
    // in its rings.
    let (entries, tail) = unsafe {
        (
            word_at(base, rings + p.cq_off.ring_entries as usize),
            word_at(base, rings + p.cq_off.tail as usize),
        )
    };
    assert_eq!(
        (entries, tail),
        (16, 3),
        "the kernel's rings are in the new region"
    );
    let kept: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    assert_eq!(kept, [0, 1, 2]);
    for i in 0..40 {
        ring.push(Nop::new().user_data(10 + i)).unwrap();
        ring.submit_and_wait_timeout(1, PATIENCE).unwrap();
        let got: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
        assert_eq!(got, [10 + i], "the kernel reads the SQ the ring writes");
    }
    // SAFETY: as above.
    let tail = unsafe { word_at(base, rings + p.cq_off.tail as usize) };
    assert_eq!(tail, 43);
    // The sizes it has: no resize, and the memory given is released.
    let name = unique("same-size");
    let file = uring_tests::memfd(&name, need);
    ring.resize_in(8, 16, memfd_region(&file)).unwrap();
    assert_eq!(mappings_of(&name), 0, "released unused");
    assert_eq!(ring.params().as_raw().sq_off.user_addr, base as u64);
    ring.push(Nop::new().user_data(99)).unwrap();
    ring.submit_and_wait_timeout(1, PATIENCE).unwrap();
    assert_eq!(
        ring.completions()
            .map(|c| c.user_data())
            .collect::<Vec<_>>(),
        [99]
    );
}

/// Another thread posts messages into a ring (through its `RingTarget`)
/// while the ring's thread resizes it over and over, into given memory
/// and into the library's, to CQs smaller than what waits in them (which
/// the kernel refuses), with timeouts in flight and completion iterators
/// forgotten half-way: every message and every timeout comes out once.
#[test]
fn messages_and_timeouts_across_resizes_are_neither_lost_nor_repeated() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = resizable_in::<Sqe64, Cqe16>(8) else {
        return;
    };
    const MESSAGES: u64 = 600;
    const TIMEOUTS: u64 = 1 << 40;
    let target = ring.msg_target().unwrap();
    let poster = std::thread::spawn(move || {
        for i in 0..MESSAGES {
            target.post(i as i32, i).unwrap();
            if i % 16 == 0 {
                std::thread::yield_now();
            }
        }
    });
    let sizes = [(16u32, 32u32), (2, 2), (32, 128), (4, 8), (8, 16), (1, 4)];
    let mut got: Vec<(u64, i32)> = Vec::new();
    let mut timeouts = 0u64;
    let (mut resized, mut refused) = (0, 0);
    let deadline = Instant::now() + 4 * PATIENCE;
    let mut round = 0usize;
    loop {
        if ring.space_left() > 0 && timeouts < 200 {
            ring.push(Timeout::new(Duration::from_millis(1)).user_data(TIMEOUTS + timeouts))
                .unwrap();
            timeouts += 1;
        }
        ring.submit().unwrap();
        let _ = ring.wait_timeout(1, Duration::from_millis(5));
        uring_tests::let_peers_run();
        if round.is_multiple_of(3) {
            // Read two, forget the iterator: they come again.
            let mut it = ring.completions();
            let _ = it.next();
            let _ = it.next();
            std::mem::forget(it);
        } else {
            got.extend(ring.completions().map(|c| (c.user_data(), c.res())));
        }
        let (sq, cq) = sizes[round % sizes.len()];
        let result = if round.is_multiple_of(2) {
            let need = ring.resize_memory_size(sq, cq).unwrap();
            ring.resize_in(sq, cq, RingRegion::anonymous(need).unwrap())
        } else {
            ring.resize(sq, cq)
        };
        match result {
            Ok(()) => resized += 1,
            Err(e) if errno(&e) == libc::EOVERFLOW => refused += 1,
            Err(e) => panic!("resize to {sq}/{cq}: {e}"),
        }
        round += 1;
        if poster.is_finished() && got.len() as u64 == MESSAGES + timeouts {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} completions after {round} rounds",
            got.len(),
            MESSAGES + timeouts
        );
    }
    poster.join().unwrap();
    let mut ids: Vec<u64> = got.iter().map(|&(ud, _)| ud).collect();
    ids.sort_unstable();
    let mut want: Vec<u64> = (0..MESSAGES).collect();
    want.extend((0..timeouts).map(|t| TIMEOUTS + t));
    assert_eq!(ids, want, "each message and timeout once");
    for &(ud, res) in &got {
        let expect = if ud >= TIMEOUTS {
            -libc::ETIME
        } else {
            ud as i32
        };
        assert_eq!(res, expect, "{ud}");
    }
    assert!(resized > 0, "no resize went through");
    eprintln!("{resized} resizes, {refused} refused for a full CQ, {round} rounds");
    assert_eq!(
        drain(&mut ring, 1, Duration::from_millis(30)),
        [] as [u64; 0]
    );
}

/// A scope on a ring of 128-byte SQEs and 32-byte CQEs in given memory
/// panics with reads in flight: the panic comes out once the reads are
/// done, and their buffers are never written afterwards; the ring is then
/// resized into new memory and into the library's, between more scopes
/// that read and panic.
#[test]
fn scopes_that_panic_on_a_big_ring_in_given_memory_and_resizes_between_them() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = resizable_in::<Sqe128, Cqe32>(4) else {
        return;
    };
    for step in 0..3 {
        let (mut tx, rx): (Vec<UnixStream>, Vec<UnixStream>) =
            (0..3).map(|_| UnixStream::pair().unwrap()).unzip();
        let mut bufs = [[CANARY; 16]; 3];
        let panicked = catch_unwind(AssertUnwindSafe(|| {
            ring.scope(|s| {
                for (i, (rx, buf)) in rx.iter().zip(bufs.iter_mut()).enumerate() {
                    s.push(Read::new(rx, &mut buf[..]).user_data(i as u64))
                        .unwrap();
                }
                s.submit().unwrap();
                panic!("a panic with reads in flight");
            })
        }))
        .is_err();
        assert!(panicked, "step {step}: the panic came out");
        let mut writers: Vec<&mut UnixStream> = tx.iter_mut().collect();
        let views: Vec<&[u8]> = bufs.iter().map(|b| &b[..]).collect();
        assert_nothing_writes_after(&mut writers, &views, CANARY);
        let (sq, cq) = [(32, 64), (2, 4), (16, 16)][step];
        if step == 1 {
            ring.resize(sq, cq).unwrap();
        } else {
            let need = ring.resize_memory_size(sq, cq).unwrap();
            ring.resize_in(sq, cq, RingRegion::anonymous(need).unwrap())
                .unwrap();
        }
        assert_eq!((ring.sq_entries(), ring.cq_entries()), (sq, cq));
        // A read that completes, with its big CQE whole.
        let (mut tx, rx) = UnixStream::pair().unwrap();
        tx.write_all(b"after").unwrap();
        let mut buf = [0u8; 8];
        let (res, words) = ring.scope(|s| {
            s.push(Read::new(&rx, &mut buf[..]).user_data(5)).unwrap();
            s.submit_and_wait(1).unwrap();
            let c = s.completions().next().expect("the read's completion");
            assert!(c.is_scope_op());
            (c.res(), c.big_cqe())
        });
        assert_eq!((res, words), (5, [0, 0]));
        assert_eq!(&buf[..5], b"after");
    }
}

/// Resizes that are refused (for a CQ holding more completions than the
/// new one would, for sizes the kernel never takes, from a thread that
/// cannot name a ring with only a registered index) release the memory
/// they were given and leave every completion in place, once.
#[test]
fn refused_resizes_release_their_region_and_lose_nothing() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = resizable_in::<Sqe64, Cqe16>(8) else {
        return;
    };
    let name = unique("refused-resize");
    for i in 0..12 {
        ring.push(Nop::new().user_data(i)).unwrap();
        ring.submit().unwrap();
    }
    ring.wait_timeout(12, PATIENCE).unwrap();
    // Twelve waiting completions do not fit a CQ of four.
    let need = ring.resize_memory_size(2, 4).unwrap();
    let file = uring_tests::memfd(&name, need);
    let e = ring.resize_in(2, 4, memfd_region(&file)).unwrap_err();
    assert_eq!(errno(&e), libc::EOVERFLOW, "{e}");
    assert_eq!(mappings_of(&name), 0, "released after the kernel refused");
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (8, 16));
    let got: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    assert_eq!(got, (0..12).collect::<Vec<_>>());
    // Sizes the kernel never takes.
    for (sq, cq) in [(0, 8), (16, 8), (8, u32::MAX)] {
        let file = uring_tests::memfd(&name, need);
        let e = ring.resize_in(sq, cq, memfd_region(&file)).unwrap_err();
        assert_eq!(errno(&e), libc::EINVAL, "{sq}/{cq}: {e}");
        assert_eq!(mappings_of(&name), 0, "{sq}/{cq}: released");
    }
    ring.push(Nop::new().user_data(50)).unwrap();
    ring.submit_and_wait(1).unwrap();
    assert_eq!(
        ring.completions()
            .map(|c| c.user_data())
            .collect::<Vec<_>>(),
        [50]
    );

    // A ring named by a registered index alone, resized on its thread,
    // then from another one, which cannot name it.
    let builder = Builder::new()
        .single_issuer()
        .defer_taskrun()
        .registered_fd_only();
    let size = builder.ring_memory_size(4).unwrap();
    let mut only = builder
        .build_in(4, RingRegion::anonymous(size).unwrap())
        .unwrap();
    let need = only.resize_memory_size(16, 32).unwrap();
    only.resize_in(16, 32, RingRegion::anonymous(need).unwrap())
        .unwrap();
    let name_there = unique("refused-resize-there");
    let mut only = std::thread::spawn(move || {
        let need = only.resize_memory_size(8, 8).unwrap();
        let file = uring_tests::memfd(&name_there, need);
        let e = only.resize_in(8, 8, memfd_region(&file)).unwrap_err();
        assert_eq!(errno(&e), libc::EBADF, "{e}");
        assert_eq!(mappings_of(&name_there), 0, "released on the other thread");
        only
    })
    .join()
    .unwrap();
    assert_eq!((only.sq_entries(), only.cq_entries()), (16, 32));
    only.push(Nop::new().user_data(7)).unwrap();
    only.submit_and_wait_timeout(1, PATIENCE).unwrap();
    assert_eq!(
        only.completions()
            .map(|c| c.user_data())
            .collect::<Vec<_>>(),
        [7]
    );
}

/// The completions a scope set aside from a full CQ: a resize is refused
/// while they wait (they are in the library's copy, not the kernel's CQ),
/// and releases the memory given. Once they are all read, nothing is set
/// aside any more, and the resize goes through.
#[test]
fn a_resize_after_the_set_aside_completions_were_read_goes_through() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = resizable_in::<Sqe64, Cqe16>(4) else {
        return;
    };
    for i in 0..8 {
        ring.push(Nop::new().user_data(100 + i)).unwrap();
        ring.submit().unwrap();
    }
    ring.wait_timeout(8, PATIENCE).unwrap();
    assert_eq!(
        ring.ready(),
        ring.cq_entries(),
        "a full CQ of foreign completions"
    );
    let (rx, mut tx) = UnixStream::pair().unwrap();
    tx.write_all(b"r").unwrap();
    let mut buf = [0u8; 1];
    ring.scope(|s| {
        s.push(Read::new(&rx, &mut buf[..]).user_data(1)).unwrap();
        s.submit().unwrap();
    });
    assert_eq!(&buf, b"r");
    let name = unique("set-aside");
    let need = ring.resize_memory_size(16, 32).unwrap();
    let file = uring_tests::memfd(&name, need);
    let e = ring.resize_in(16, 32, memfd_region(&file)).unwrap_err();
    assert!(is_invalid_argument(&e), "{e:?}");
    assert_eq!(mappings_of(&name), 0, "released");
    let got: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    assert_eq!(got, (100..108).collect::<Vec<_>>(), "each once, in order");
    // Every completion set aside has been read.
    let resized = ring.resize_in(16, 32, RingRegion::anonymous(need).unwrap());
    assert!(
        resized.is_ok(),
        "refused with nothing set aside: {resized:?}"
    );
}

/// A ring in a memfd region, forgotten while its kernel ring is posted
/// into: the memory is leaked with it (still mapped, so no one else can
/// get its addresses), and the kernel's completions land there, in the
/// file's pages.
#[test]
fn a_forgotten_ring_keeps_its_region_and_the_kernel_writes_only_there() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 13, "IORING_REGISTER_SEND_MSG_RING") {
        return;
    }
    let name = unique("forgotten");
    let builder = Builder::new();
    let size = builder.ring_memory_size_sized::<Sqe64, Cqe32>(4).unwrap();
    let file = uring_tests::memfd(&name, size);
    let mut ring = builder
        .build_sized_in::<Sqe64, Cqe32>(4, memfd_region(&file))
        .unwrap();
    let p = *ring.params().as_raw();
    let target = ring.msg_target().unwrap();
    ring.push(Nop::new().user_data(1)).unwrap();
    ring.submit_and_wait(1).unwrap();
    std::mem::forget(ring);
    assert_eq!(mappings_of(&name), 1, "leaked with the ring");
    for i in 0..3 {
        target.post(0, 10 + i).unwrap();
    }
    let k = kernel_layout(&p);
    let mut word = [0u8; 4];
    file.read_exact_at(&mut word, (k.sqes_len + p.cq_off.tail as usize) as u64)
        .unwrap();
    assert_eq!(
        u32::from_ne_bytes(word),
        4,
        "the kernel wrote its CQ in the file"
    );
    let mut ud = [0u8; 8];
    let third = k.sqes_len + p.cq_off.cqes as usize + 3 * 32;
    file.read_exact_at(&mut ud, third as u64).unwrap();
    assert_eq!(u64::from_ne_bytes(ud), 12);
}

/// A region mapped from a file shorter than it (an `unsafe` region whose
/// contract nothing here breaks): populating it and building a ring in it
/// are errors (`EFAULT`: the pages past the end cannot be had), never a
/// `SIGBUS`, and the mapping is released; an offset past what `mmap`
/// takes is an error value.
#[test]
fn a_region_past_the_end_of_its_file_is_an_error() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 5, "IORING_SETUP_NO_MMAP") {
        return;
    }
    let name = unique("short-file");
    let builder = Builder::new();
    let size = builder.ring_memory_size(8).unwrap();
    let file = uring_tests::memfd(&name, page());
    // SAFETY: the memfd is this test's alone, as for `memfd_region`.
    let mut region = unsafe { RingRegion::from_file(file.as_fd(), 0, size) }.unwrap();
    assert_eq!(errno(&region.populate().unwrap_err()), libc::EFAULT);
    let e = builder.build_in(8, region).unwrap_err();
    assert_eq!(errno(&e), libc::EFAULT, "{e}");
    assert_eq!(mappings_of(&name), 0, "released after the failed setup");
    // SAFETY: as above.
    let e = unsafe { RingRegion::from_file(file.as_fd(), u64::MAX, size) }.unwrap_err();
    assert!(is_invalid_argument(&e), "{e:?}");
    // SAFETY: as above.
    let e = unsafe { RingRegion::from_file(file.as_fd(), (i64::MAX as u64) & !4095, size) }
        .unwrap_err();
    assert!(e.raw_os_error().is_some(), "{e:?}");
    // The whole file, at its length: a ring fits when it is long enough.
    file.set_len(size as u64).unwrap();
    let mut ring = builder.build_in(8, memfd_region(&file)).unwrap();
    ring.push(Nop::new().user_data(3)).unwrap();
    ring.submit_and_wait(1).unwrap();
    assert_eq!(
        ring.completions()
            .map(|c| c.user_data())
            .collect::<Vec<_>>(),
        [3]
    );
}

/// Huge pages the system has not reserved: a region of them, and a ring
/// whose library memory is in them, are `ENOMEM` errors. (Where huge pages
/// are reserved, a ring of big entries runs in them.)
#[test]
fn huge_pages_the_system_lacks_are_errors() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 5, "IORING_SETUP_NO_MMAP") {
        return;
    }
    let read = |path: &str| -> u64 {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    };
    let size = Builder::new()
        .ring_memory_size_sized::<Sqe128, Cqe32>(64)
        .unwrap();
    let reserved = read("/proc/sys/vm/nr_hugepages") + read("/proc/sys/vm/nr_overcommit_hugepages");
    if reserved > 0 {
        let Ok(region) = RingRegion::anonymous_huge(size) else {
            return skip("huge pages reserved but none free");
        };
        let mut ring = Builder::new()
            .build_sized_in::<Sqe128, Cqe32>(64, region)
            .unwrap();
        ring.push(Nop::new().user_data(1).big_cqe([2, 3])).unwrap();
        ring.submit_and_wait(1).unwrap();
        let c = ring.completions().next().unwrap();
        assert_eq!((c.user_data(), c.big_cqe()), (1, [2, 3]));
        return skip("the system has huge pages: only their use was checked");
    }
    let e = RingRegion::anonymous_huge(size).unwrap_err();
    assert_eq!(errno(&e), libc::ENOMEM, "{e}");
    let e = Builder::new().no_mmap_huge_pages().build(8).unwrap_err();
    assert_eq!(errno(&e), libc::ENOMEM, "{e}");
    let e = Builder::new()
        .no_mmap_huge_pages()
        .build_sized::<Sqe128, CqeMixed>(8)
        .unwrap_err();
    assert_eq!(errno(&e), libc::ENOMEM, "{e}");
}

/// A ring of mixed CQEs needs two CQ entries (one 32-byte CQE): asked
/// for one, setup is an `Error::Setup` saying so (before the kernel, whose
/// answer is a bare `EOVERFLOW`), and the memory given is released; with four, it runs big and small completions in turn, the
/// big ones wrapping past the padding the kernel puts at the end.
#[test]
fn a_mixed_ring_of_one_cq_entry_is_refused_and_its_region_released() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 18, "IORING_SETUP_CQE_MIXED") {
        return;
    }
    let name = unique("mixed-one");
    let builder = Builder::new().cq_entries(1);
    // Its size is refused as its setup is; the region is one of a CQ of 2.
    let e = builder
        .ring_memory_size_sized::<Sqe64, CqeMixed>(1)
        .unwrap_err();
    assert!(matches!(e, uring::Error::Setup(_)), "{e}");
    let size = Builder::new()
        .cq_entries(2)
        .ring_memory_size_sized::<Sqe64, CqeMixed>(1)
        .unwrap();
    let file = uring_tests::memfd(&name, size);
    let e = builder
        .build_sized_in::<Sqe64, CqeMixed>(1, memfd_region(&file))
        .unwrap_err();
    assert!(matches!(e, uring::Error::Setup(_)), "{e}");
    assert_eq!(mappings_of(&name), 0);
    let builder = Builder::new().cq_entries(4);
    let size = builder
        .ring_memory_size_sized::<Sqe64, CqeMixed>(1)
        .unwrap();
    let mut ring = builder
        .build_sized_in::<Sqe64, CqeMixed>(1, RingRegion::anonymous(size).unwrap())
        .unwrap();
    for i in 0..16u64 {
        let nop = Nop::new().user_data(i);
        if i % 2 == 0 {
            ring.push(nop.big_cqe([i, i])).unwrap();
        } else {
            ring.push(nop).unwrap();
        }
        ring.submit_and_wait(1).unwrap();
        let got: Vec<_> = ring
            .completions()
            .map(|c| (c.user_data(), c.is_big(), c.big_cqe()))
            .collect();
        let want = if i % 2 == 0 { [i, i] } else { [0, 0] };
        assert_eq!(got, [(i, i % 2 == 0, want)]);
    }
}

/// The `u32` at `addr` in the memory of process `pid`.
fn peek_u32(pid: u32, addr: u64) -> u32 {
    let mem = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap();
    let mut word = [0u8; 4];
    mem.read_exact_at(&mut word, addr).unwrap();
    u32::from_ne_bytes(word)
}

/// Writes `value` at `addr` in the memory of process `pid`.
fn poke_u32(pid: u32, addr: u64, value: u32) {
    let mem = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/proc/{pid}/mem"))
        .unwrap();
    mem.write_all_at(&value.to_ne_bytes(), addr).unwrap();
}

/// A ring of mixed CQEs whose CQ has two entries (one SQ entry, the
/// default CQ): a big NOP, a small one, each read, then a big one, which
/// the kernel cannot post: the tail is at the last slot, so it pads that
/// slot and finds no room for two slots after it until the padding is
/// read. A wait that asked the kernel for two slots past the head (the
/// padding, and one for the completion missing) could never end, and the
/// kernel's wait spins on its overflow list without looking at signals:
/// the thread could be neither woken nor killed. The ring moves its head
/// past the padding before it waits.
#[test]
fn a_wait_on_a_two_entry_mixed_cq_returns() {
    wait_in_child_with_rescue("a_wait_on_a_two_entry_mixed_cq_returns", 1, |ring| {
        assert_eq!(ring.cq_entries(), 2);
        for (i, big) in [(1u64, true), (2, false), (3, true)] {
            let nop = Nop::new().user_data(i);
            if big {
                ring.push(nop.big_cqe([i, i])).unwrap();
            } else {
                ring.push(nop).unwrap();
            }
            ring.submit_and_wait(1).unwrap();
            let got: Vec<(u64, bool)> = ring
                .completions()
                .map(|c| (c.user_data(), c.is_big()))
                .collect();
            assert_eq!(got, [(i, big)]);
        }
    });
}

/// A 4-entry mixed CQ with two small completions unread and a big one the
/// kernel holds back (the tail at the last slot: padding there, and no two
/// slots free after it). A wait for three completions cannot be met before
/// the two are read; it fails with `EBUSY` rather than spin in the kernel,
/// and once they are read, the padding is passed and the big one comes.
#[test]
fn a_wait_for_more_than_a_full_mixed_cq_can_take_is_busy() {
    wait_in_child_with_rescue(
        "a_wait_for_more_than_a_full_mixed_cq_can_take_is_busy",
        2,
        |ring| {
            assert_eq!(ring.cq_entries(), 4);
            ring.push(Nop::new().user_data(1)).unwrap();
            ring.submit_and_wait(1).unwrap();
            assert_eq!(ring.completions().count(), 1);
            for ud in [2, 3] {
                ring.push(Nop::new().user_data(ud)).unwrap();
            }
            ring.submit_and_wait(2).unwrap();
            ring.push(Nop::new().user_data(4).big_cqe([4, 4])).unwrap();
            let busy = ring.submit_and_wait(3).unwrap_err();
            assert_eq!(busy.raw_os_error(), Some(libc::EBUSY), "{busy}");
            let got: Vec<(u64, bool)> = ring
                .completions()
                .map(|c| (c.user_data(), c.is_big()))
                .collect();
            assert_eq!(
                got,
                [(2, false), (3, false)],
                "the two read, the big one held back"
            );
            ring.submit_and_wait(1).unwrap();
            let got: Vec<(u64, bool, u64)> = ring
                .completions()
                .map(|c| (c.user_data(), c.is_big(), c.big_cqe()[0]))
                .collect();
            assert_eq!(got, [(4, true, 4)]);
        },
    );
}

/// Runs `steps` on a ring of mixed CQEs with `sq_entries` SQ entries, in
/// a child process named `name`. A wait the kernel cannot end spins there
/// unkillably: if the child has not finished after three seconds, this
/// process moves the child's CQ head to its tail (in the child's memory,
/// through `/proc/<pid>/mem`), which lets the kernel post what it held
/// back and the wait end, and the test fails. (Nothing else ends such a
/// child: not even `SIGKILL`.)
fn wait_in_child_with_rescue(name: &str, sq_entries: u32, steps: fn(&mut Ring<Sqe64, CqeMixed>)) {
    if !require_kernel(6, 18, "IORING_SETUP_CQE_MIXED, 32-byte NOP completions") {
        return;
    }
    if uring_tests::in_child(name) {
        let builder = Builder::new();
        let size = builder
            .ring_memory_size_sized::<Sqe64, CqeMixed>(sq_entries)
            .unwrap();
        let region = RingRegion::anonymous(size).unwrap();
        let base = region.as_ptr() as u64;
        let mut ring = builder
            .build_sized_in::<Sqe64, CqeMixed>(sq_entries, region)
            .unwrap();
        let p = *ring.params().as_raw();
        let rings = base + kernel_layout(&p).sqes_len as u64;
        println!(
            "CQ-HEAD {:#x} CQ-TAIL {:#x}",
            rings + u64::from(p.cq_off.head),
            rings + u64::from(p.cq_off.tail)
        );
        std::io::stdout().flush().unwrap();
        steps(&mut ring);
        println!("RETURNED");
        return;
    }
    use std::io::BufRead as _;
    let mut child = uring_tests::child_command(name)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    // The child's first words: where its CQ head and tail are.
    let addresses = loop {
        let line = rx.recv_timeout(PATIENCE).expect("the child's CQ addresses");
        // (The test harness's own words may precede them on the line.)
        if let Some(at) = line.find("CQ-HEAD") {
            break line[at..].to_owned();
        }
    };
    let words: Vec<u64> = addresses
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("0x"))
        .filter_map(|w| u64::from_str_radix(w, 16).ok())
        .collect();
    let [head_at, tail_at] = words[..] else {
        panic!("not the CQ addresses: {addresses}")
    };
    let mut rescues = 0;
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(3 + 2 * rescues) {
            // Read everything the child's kernel ring posted, padding
            // included: what it held back then fits.
            poke_u32(pid, head_at, peek_u32(pid, tail_at));
            rescues += 1;
            assert!(rescues < 10, "the child (pid {pid}) cannot be released");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Every line the child wrote, to its end.
    reader.join().unwrap();
    let said: Vec<String> = rx.try_iter().collect();
    assert_eq!(
        rescues, 0,
        "the wait returned only once its CQ head was moved from outside ({said:?}, {status})"
    );
    assert!(
        status.success() && said.iter().any(|l| l.contains("RETURNED")),
        "{said:?} {status}"
    );
}

// ----------------------------------------------------------------------
// Forged completions on rings of big CQEs
// ----------------------------------------------------------------------

/// Messages posted into a ring of mixed CQEs with the two flags that say
/// how the CQ is laid out (`IORING_CQE_F_32`, `IORING_CQE_F_SKIP`), alone,
/// together and among all the others, each followed by a NOP: the reader
/// hands out every NOP once and in order, every message it shows once,
/// and nothing the kernel did not post. (The kernel lays a message flagged
/// `F_32` out as a 32-byte CQE, flagged `F_SKIP` or not; a reader that
/// takes `F_SKIP` for the one-slot padding the kernel puts before a big
/// CQE at the array's end steps into the second half of the entry, and
/// hands out its zeroed words as a completion with `user_data` 0.)
#[test]
fn forged_layout_flags_on_a_mixed_ring_neither_lose_nor_invent_completions() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 18, "IORING_SETUP_CQE_MIXED") {
        return;
    }
    let mut ring = Builder::new()
        .cq_entries(32)
        .build_sized::<Sqe64, CqeMixed>(8)
        .unwrap();
    let target = ring.msg_target().unwrap();
    let mut source = Ring::new(8).unwrap();
    let forged = [
        IORING_CQE_F_32,
        IORING_CQE_F_SKIP,
        IORING_CQE_F_32 | IORING_CQE_F_SKIP,
        u32::MAX,
        IORING_CQE_F_MORE,
        IORING_CQE_F_32 | IORING_CQE_F_SKIP | IORING_CQE_F_MORE,
    ];
    for (i, &flags) in forged.iter().enumerate() {
        post_with_flags(&mut source, &target, &[(100 + i as u64, 7, flags)]);
        ring.push(Nop::new().user_data(1000 + i as u64)).unwrap();
        ring.submit_and_wait(1).unwrap();
    }
    let got: Vec<(u64, i32, u32, bool)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res(), c.flags(), c.is_big()))
        .collect();
    let nops: Vec<u64> = got.iter().map(|c| c.0).filter(|&ud| ud >= 1000).collect();
    assert_eq!(
        nops,
        (1000..1006).collect::<Vec<_>>(),
        "every NOP once, in order: {got:x?}"
    );
    let invented: Vec<_> = got
        .iter()
        .filter(|c| !(100..106).contains(&c.0) && c.0 < 1000)
        .collect();
    assert!(
        invented.is_empty(),
        "completions no one posted: {invented:x?} in {got:x?}"
    );
    let mut messages: Vec<u64> = got.iter().map(|c| c.0).filter(|&ud| ud < 1000).collect();
    let shown = messages.len();
    messages.dedup();
    assert_eq!(messages.len(), shown, "a message shown twice: {got:x?}");
    // Those the kernel laid out plainly come as posted.
    for (ud, flags) in [(100, IORING_CQE_F_32), (104, IORING_CQE_F_MORE)] {
        let c = got.iter().find(|c| c.0 == ud).expect("shown");
        assert_eq!((c.1, c.2), (7, flags));
    }
}

/// The `fdinfo` words (`user_data`, and the extra words of 32-byte CQEs)
/// of the completions in the CQ of the ring `fd`.
fn fdinfo_words(fd: i32) -> Vec<u64> {
    let text = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap();
    let mut words = Vec::new();
    for line in text.lines() {
        for field in ["user_data:", "extra1:", "extra2:"] {
            if let Some(rest) = line.split(field).nth(1) {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                if let Ok(w) = digits.parse::<u64>()
                    && w != 0
                {
                    words.push(w);
                }
            }
        }
    }
    words
}

/// On a ring of 128-byte SQEs and 32-byte CQEs in given memory whose
/// scopes tag every op: NOPs of a scope whose extra words (and messages
/// planted before the next scope, whose `user_data`) carry the tags of a
/// read in flight and of its neighbours, read from `/proc/self/fdinfo`,
/// come back as they were made, and settle nothing: the read stays in
/// flight, and its buffer is untouched once each scope has returned.
#[test]
fn tags_hidden_in_extra_words_and_planted_messages_settle_nothing() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 18, "32-byte NOP completions") {
        return;
    }
    let builder = Builder::new();
    let size = builder.ring_memory_size_sized::<Sqe128, Cqe32>(8).unwrap();
    let mut ring = builder
        .build_sized_in::<Sqe128, Cqe32>(8, RingRegion::anonymous(size).unwrap())
        .unwrap();
    // An op outside a scope: every later scope tags every op.
    ring.push(Nop::new().user_data(7)).unwrap();
    ring.submit_and_wait(1).unwrap();
    assert_eq!(ring.completions().count(), 1);
    let fd = ring.as_raw_fd();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let mut buf = [CANARY; 16];
    let (leaked, words) = ring.scope(|s| {
        assert!(s.tags_every_op());
        s.push(Read::new(&rx, &mut buf[..]).user_data(1)).unwrap();
        s.push(Nop::new().user_data(2)).unwrap();
        s.submit_and_wait(1).unwrap();
        let seen = fdinfo_words(fd);
        assert_eq!(s.completions().count(), 1);
        let leaked = seen
            .iter()
            .copied()
            .find(|&w| w >> 63 == 1)
            .unwrap_or_else(|| panic!("no tag among {seen:x?}"));
        let words: Vec<[u64; 2]> = (0..4u64)
            .flat_map(|g| (0..3u64).map(move |slot| [leaked ^ (g << 32 | slot), leaked ^ slot]))
            .collect();
        for (i, &w) in words.iter().enumerate() {
            s.push(Nop::new().user_data(100 + i as u64).big_cqe(w))
                .unwrap();
            s.submit().unwrap();
        }
        let mut back = Vec::new();
        while back.len() < words.len() {
            s.submit_and_wait(1).unwrap();
            for c in s.completions() {
                assert!(c.is_scope_op(), "{:?}", c.cqe());
                back.push((c.user_data(), c.big_cqe()));
            }
        }
        back.sort_unstable();
        let want: Vec<(u64, [u64; 2])> = words
            .iter()
            .enumerate()
            .map(|(i, &w)| (100 + i as u64, w))
            .collect();
        assert_eq!(back, want, "each NOP as it was made");
        assert_eq!(s.in_flight(), 1, "the read is still in flight");
        (leaked, words)
    });
    assert_nothing_writes_after(&mut [&mut tx], &[&buf[..]], CANARY);
    // Messages carrying those tags and their neighbours, with every flag
    // that speaks of more completions or of a buffer, planted before the
    // next scope.
    let target = ring.msg_target().unwrap();
    let mut source = Ring::new(8).unwrap();
    let planted: Vec<(u64, i32, u32)> = (0..4u64)
        .flat_map(|g| {
            (0..3u64).map(move |slot| {
                (
                    leaked ^ (g << 32 | slot),
                    16,
                    IORING_CQE_F_MORE | sys::IORING_CQE_F_BUFFER,
                )
            })
        })
        .collect();
    post_with_flags(&mut source, &target, &planted);
    for (i, &(ud, _, _)) in planted.iter().enumerate().take(4) {
        target.post(-(i as i32), ud).unwrap();
    }
    drop(target);
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let mut buf = [CANARY; 16];
    let mut stale = 0;
    let foreign = ring.scope(|s| {
        s.push(Read::new(&rx, &mut buf[..]).user_data(1)).unwrap();
        s.submit().unwrap();
        let mut foreign = Vec::new();
        while foreign.len() < planted.len() + 4 {
            s.wait_timeout(1, PATIENCE).unwrap();
            for c in s.completions() {
                assert!(
                    !c.is_scope_op(),
                    "a planted message settled an op: {:?}",
                    c.cqe()
                );
                // Linux 6.18 leaves a message's extra words as the slot
                // held them: words of this ring's own earlier completions,
                // never anything else.
                assert!(
                    c.big_cqe() == [0, 0] || words.contains(&c.big_cqe()),
                    "extra words from nowhere: {:x?}",
                    c.cqe()
                );
                stale += usize::from(c.big_cqe() != [0, 0]);
                foreign.push(c.user_data());
            }
        }
        assert_eq!(s.in_flight(), 1, "the read is still in flight");
        foreign
    });
    let mut want: Vec<u64> = planted.iter().map(|p| p.0).collect();
    want.extend(planted.iter().take(4).map(|p| p.0));
    let mut foreign = foreign;
    foreign.sort_unstable();
    want.sort_unstable();
    assert_eq!(foreign, want, "each planted message once");
    eprintln!(
        "{stale} of {} messages showed earlier completions' extra words",
        want.len()
    );
    assert_nothing_writes_after(&mut [&mut tx], &[&buf[..]], CANARY);
}

/// What `BigCqe::tx_timestamp` reads in completions a program can forge:
/// messages with any flags and results, NOPs with any extra words. It
/// never panics; it reads a timestamp exactly where its documentation
/// says (a 32-byte CQE flagged `IORING_CQE_F_MORE`, nanoseconds below a
/// second), so a forged message flagged so reads as one, at the epoch, as
/// the documentation warns (ask only the op's own completions); every
/// other completion reads as none.
#[test]
fn forged_completions_read_as_timestamps_only_as_documented() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 18, "32-byte NOP completions, mixed CQEs") {
        return;
    }
    let mut source = Ring::new(8).unwrap();
    let ack = sys::SCM_TSTAMP_ACK << IORING_TIMESTAMP_TYPE_SHIFT;
    let flags = [
        0,
        IORING_CQE_F_MORE,
        IORING_CQE_F_MORE | IORING_CQE_F_TSTAMP_HW | ack,
        IORING_CQE_F_MORE | (0x7fff << IORING_TIMESTAMP_TYPE_SHIFT),
        IORING_CQE_F_TSTAMP_HW | ack,
        !IORING_CQE_F_SKIP,
    ];
    let results = [0, -1, i32::MIN, i32::MAX];
    let check = |c: &BigCqe| {
        let _ = format!("{c:?}");
        let stamp = c.tx_timestamp();
        let expect =
            c.is_big() && c.flags() & IORING_CQE_F_MORE != 0 && c.big_cqe()[1] < 1_000_000_000;
        assert_eq!(stamp.is_some(), expect, "{c:?}: {stamp:?}");
        if let Some(t) = stamp {
            let _ = format!("{t:?}");
            assert_eq!(t.key(), c.res() as u32);
            assert_eq!(
                t.tstype(),
                TimestampType::new(c.flags() >> IORING_TIMESTAMP_TYPE_SHIFT)
            );
            assert_eq!(t.is_hardware(), c.flags() & IORING_CQE_F_TSTAMP_HW != 0);
            assert_eq!(
                t.time(),
                Duration::new(c.big_cqe()[0], c.big_cqe()[1] as u32)
            );
            assert_eq!(
                t.system_time().is_some(),
                !t.is_hardware() && c.big_cqe()[0] < 1 << 62
            );
        }
        stamp.is_some()
    };
    let words = [
        [u64::MAX, 999_999_999],
        [0, 1_000_000_000],
        [0, u64::MAX],
        [1, 2],
    ];

    // 32-byte CQEs.
    let mut big = Builder::new()
        .cq_entries(64)
        .build_sized::<Sqe64, Cqe32>(8)
        .unwrap();
    let target = big.msg_target().unwrap();
    let forged: Vec<(u64, i32, u32)> = flags
        .iter()
        .flat_map(|&f| {
            results
                .iter()
                .map(move |&r| (u64::from(f) << 8 | (r as u8) as u64, r, f))
        })
        .collect();
    post_with_flags(&mut source, &target, &forged);
    for (i, w) in words.iter().enumerate() {
        big.push(Nop::new().user_data(i as u64).result(-7).big_cqe(*w))
            .unwrap();
    }
    big.submit().unwrap();
    let mut cqes: Vec<BigCqe> = Vec::new();
    while cqes.len() < forged.len() + words.len() {
        big.wait_timeout(1, PATIENCE).unwrap();
        cqes.extend(big.completions());
    }
    let stamps = cqes.iter().filter(|c| check(c)).count();
    let with_more = forged
        .iter()
        .filter(|f| f.2 & IORING_CQE_F_MORE != 0)
        .count();
    assert_eq!(
        stamps, with_more,
        "the forged messages flagged MORE, and nothing else"
    );
    for c in cqes.iter().filter(|c| c.res() == -7) {
        assert_eq!(c.tx_timestamp(), None, "a NOP's completion: {c:?}");
    }

    // Mixed CQEs: a message without `F_32` is a 16-byte CQE, never a
    // timestamp; with it, a 32-byte one of zeroed words.
    let mut mixed = Builder::new()
        .cq_entries(64)
        .build_sized::<Sqe64, CqeMixed>(8)
        .unwrap();
    let target = mixed.msg_target().unwrap();
    let forged = [
        (1, 5, IORING_CQE_F_MORE),
        (2, 5, IORING_CQE_F_MORE | IORING_CQE_F_32),
        (
            3,
            5,
            IORING_CQE_F_MORE | IORING_CQE_F_32 | IORING_CQE_F_TSTAMP_HW | ack,
        ),
        (4, 5, IORING_CQE_F_32),
    ];
    post_with_flags(&mut source, &target, &forged);
    for (i, w) in words.iter().enumerate() {
        mixed
            .push(Nop::new().user_data(10 + i as u64).big_cqe(*w))
            .unwrap();
    }
    mixed.push(Nop::new().user_data(20)).unwrap();
    mixed.submit().unwrap();
    let mut cqes: Vec<BigCqe> = Vec::new();
    while cqes.len() < forged.len() + words.len() + 1 {
        mixed.wait_timeout(1, PATIENCE).unwrap();
        cqes.extend(mixed.completions());
    }
    let seen: Vec<(u64, bool, bool)> = cqes
        .iter()
        .map(|c| (c.user_data(), c.is_big(), check(c)))
        .collect();
    assert_eq!(
        seen,
        [
            (1, false, false),
            (2, true, true),
            (3, true, true),
            (4, true, false),
            (10, true, false),
            (11, true, false),
            (12, true, false),
            (13, true, false),
            (20, false, false),
        ]
    );
}

// ----------------------------------------------------------------------
// The transmit-timestamp command in scopes
// ----------------------------------------------------------------------

/// `SO_TIMESTAMPING` flags: software transmit timestamps, keyed by a
/// counter, queued without the packet.
const STAMPING: u32 = libc::SOF_TIMESTAMPING_SOFTWARE
    | libc::SOF_TIMESTAMPING_TX_SOFTWARE
    | libc::SOF_TIMESTAMPING_OPT_ID
    | libc::SOF_TIMESTAMPING_OPT_TSONLY;

/// The keys of the timestamp records waiting on `socket`'s error queue,
/// taken off it with `recvmsg(2)` and `MSG_ERRQUEUE`.
fn take_error_queue(socket: &UdpSocket) -> Vec<u32> {
    let mut keys = Vec::new();
    loop {
        let mut control = [0u64; 64];
        // SAFETY: all-zero bytes are a valid `msghdr`.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control);
        // SAFETY: the socket is open; `msg` names a control area that lives
        // across the call, and no payload buffer.
        let n = unsafe {
            libc::recvmsg(
                socket.as_raw_fd(),
                &mut msg,
                libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            assert_eq!(e.raw_os_error(), Some(libc::EAGAIN), "{e}");
            return keys;
        }
        // SAFETY: the kernel filled `msg`; its control length says how
        // much of `control` holds records.
        let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
        while !cmsg.is_null() {
            // SAFETY: a record header inside `control`.
            let (level, kind) = unsafe { ((*cmsg).cmsg_level, (*cmsg).cmsg_type) };
            if level == libc::SOL_IP && kind == libc::IP_RECVERR {
                // SAFETY: an IP_RECVERR record holds a `sock_extended_err`,
                // possibly unaligned.
                let err: libc::sock_extended_err = unsafe {
                    libc::CMSG_DATA(cmsg)
                        .cast::<libc::sock_extended_err>()
                        .read_unaligned()
                };
                keys.push(err.ee_data);
            }
            // SAFETY: as for CMSG_FIRSTHDR.
            cmsg = unsafe { libc::CMSG_NXTHDR(&msg, cmsg) };
        }
    }
}

/// The timestamp command in scopes of a ring of 32-byte CQEs in given
/// memory: a scope that panics with it armed ends it (later sends leave
/// their timestamps on the socket's queue, and the ring gets nothing); a
/// scope's own cancel ends it with one last `-ECANCELED` completion that
/// reads as no timestamp, a second cancel finding nothing; after a resize
/// into new memory it arms again and reads the keys where they stand.
#[test]
fn the_timestamp_command_ends_with_its_scope_and_survives_a_resize() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 17, "SOCKET_URING_OP_TX_TIMESTAMP") {
        return;
    }
    let Some(mut ring) = resizable_in::<Sqe64, Cqe32>(8) else {
        return;
    };
    const STAMPS: u64 = 43;
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.connect(rx.local_addr().unwrap()).unwrap();
    uring_tests::set_int_option(
        &tx,
        libc::SOL_SOCKET,
        libc::SO_TIMESTAMPING,
        STAMPING as i32,
    )
    .unwrap();
    let send = |n: usize| {
        for _ in 0..n {
            assert_eq!(tx.send(&[1u8; 10]).unwrap(), 10);
        }
    };
    let stamps_of = |s: &mut uring::Scope<'_, '_, Sqe64, Cqe32>, n: usize| {
        let mut keys = Vec::new();
        while keys.len() < n {
            s.wait_timeout(1, PATIENCE).unwrap();
            for c in s.completions() {
                assert!(c.is_scope_op());
                assert_eq!(c.user_data(), STAMPS);
                let t = c
                    .tx_timestamp()
                    .unwrap_or_else(|| panic!("no timestamp: {:?}", c.cqe()));
                assert_eq!(t.tstype(), TimestampType::SND);
                keys.push(t.key());
            }
        }
        keys
    };
    // A panic with the command armed.
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        ring.scope(|s| {
            s.push(TxTimestamp::new(&tx).user_data(STAMPS)).unwrap();
            s.submit().unwrap();
            send(2);
            assert_eq!(stamps_of(s, 2), [0, 1]);
            panic!("a panic with the command armed");
        })
    }))
    .is_err();
    assert!(panicked);
    send(1);
    assert_eq!(
        drain(&mut ring, 1, Duration::from_millis(50)),
        [] as [u64; 0]
    );
    assert_eq!(take_error_queue(&tx), [2], "the ended command took nothing");
    // A cancel of the scope's own.
    let last = ring.scope(|s| {
        s.push(TxTimestamp::new(&tx).user_data(STAMPS)).unwrap();
        s.submit().unwrap();
        send(1);
        assert_eq!(stamps_of(s, 1), [3]);
        assert!(s.cancel(STAMPS).unwrap() >= 1);
        s.submit().unwrap();
        let mut last = Vec::new();
        while s.in_flight() > 0 {
            s.wait_timeout(1, PATIENCE).unwrap();
            for c in s.completions() {
                last.push((c.user_data(), c.res(), c.has_more(), c.tx_timestamp()));
            }
        }
        // Nothing of the scope's is left for a second cancel.
        s.push(Cancel::new(STAMPS).user_data(44)).unwrap();
        s.submit_and_wait(1).unwrap();
        let again: Vec<(u64, i32)> = s.completions().map(|c| (c.user_data(), c.res())).collect();
        assert_eq!(again, [(44, -libc::ENOENT)]);
        last
    });
    assert_eq!(last, [(STAMPS, -libc::ECANCELED, false, None)]);
    // Resized into new memory, it arms again.
    let need = ring.resize_memory_size(16, 64).unwrap();
    ring.resize_in(16, 64, RingRegion::anonymous(need).unwrap())
        .unwrap();
    let keys = ring.scope(|s| {
        s.push(TxTimestamp::new(&tx).user_data(STAMPS)).unwrap();
        s.submit().unwrap();
        send(3);
        stamps_of(s, 3)
    });
    assert_eq!(keys, [4, 5, 6]);
    send(1);
    assert_eq!(
        drain(&mut ring, 1, Duration::from_millis(50)),
        [] as [u64; 0]
    );
    assert_eq!(take_error_queue(&tx), [7]);
    let mut byte = [0u8; 10];
    let mut n = 0;
    rx.set_nonblocking(true).unwrap();
    while rx.recv(&mut byte).is_ok() {
        n += 1;
    }
    assert_eq!(n, 8, "every datagram arrived");
}

// ----------------------------------------------------------------------
// Fixed-file tables registered slot by slot
// ----------------------------------------------------------------------

/// A table registered slot by slot holds the files, not their numbers:
/// once the program closes them and the numbers name other files, writes
/// through the slots still reach the first files; an empty slot fails
/// with `EBADF` (a read through it leaves its buffer as it was); a table
/// naming the ring itself (the only file safe code can make of it: an
/// `O_PATH` reopening) is refused whole, with nothing registered.
#[test]
fn file_slots_hold_their_files_whatever_the_numbers_name_later() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (a_tx, mut a_rx) = UnixStream::pair().unwrap();
    let a_number = a_tx.as_raw_fd();
    // The ring itself, as an `O_PATH` file.
    let by_path = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH)
            .open(format!("/proc/self/fd/{}", ring.as_raw_fd()))
            .unwrap()
    };
    let e = ring
        .register_file_slots(&[Some(a_tx.as_fd()), None, Some(by_path.as_fd())])
        .unwrap_err();
    assert_eq!(errno(&e), libc::EBADF, "{e}");
    drop(by_path);
    let files = ring
        .register_file_slots(&[Some(a_tx.as_fd()), None, Some(a_tx.as_fd())])
        .unwrap();
    drop(a_tx);
    // The numbers are given out again (the lowest free first).
    let pairs: Vec<(UnixStream, UnixStream)> =
        (0..4).map(|_| UnixStream::pair().unwrap()).collect();
    let reused = pairs
        .iter()
        .any(|(x, y)| x.as_raw_fd() == a_number || y.as_raw_fd() == a_number);
    let results: Vec<(u64, i32)> = [(0u32, &b"zero"[..]), (1, b"one"), (2, b"two")]
        .iter()
        .map(|&(slot, bytes)| {
            let op = Write::new(files.get(slot).unwrap(), bytes).user_data(u64::from(slot));
            let c = uring_tests::complete(&mut ring, op);
            (c.user_data(), c.res())
        })
        .collect();
    assert_eq!(results, [(0, 4), (1, -libc::EBADF), (2, 3)]);
    let mut got = [0u8; 7];
    a_rx.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"zerotwo", "the first file got the writes");
    for (x, y) in &pairs {
        for s in [x, y] {
            s.set_nonblocking(true).unwrap();
            let mut b = [0u8; 8];
            let e = (&*s).read(&mut b).unwrap_err();
            assert_eq!(
                e.kind(),
                std::io::ErrorKind::WouldBlock,
                "a new file got bytes (number reused: {reused})"
            );
        }
    }
    // Reads and file NOPs on the empty slot.
    let mut buf = [CANARY; 16];
    let c = uring_tests::complete(
        &mut ring,
        Read::new(files.get(1).unwrap(), &mut buf[..]).user_data(5),
    );
    assert_eq!((c.user_data(), c.res()), (5, -libc::EBADF));
    assert!(buf.iter().all(|&b| b == CANARY));
    if require_kernel(6, 13, "NOP on a file") {
        let c = uring_tests::complete(&mut ring, NopFile::new(files.get(1).unwrap()).user_data(6));
        assert_eq!((c.user_data(), c.res()), (6, -libc::EBADF));
        let c = uring_tests::complete(&mut ring, NopFile::new(files.get(0).unwrap()).user_data(7));
        assert_eq!((c.user_data(), c.res()), (7, 0));
    }
    eprintln!("the closed descriptor's number was given out again: {reused}");
}

/// The soft and hard `RLIMIT_NOFILE` of the process, from
/// `/proc/self/limits`.
fn open_files_limits() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/self/limits").unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("a limit on open files");
    let mut words = line["Max open files".len()..].split_whitespace();
    let mut next = || words.next().unwrap().parse().unwrap_or(u64::MAX);
    let soft = next();
    (soft, next())
}

/// Tables the kernel does not take are errors, each leaving the ring with
/// no table: none at all (`EINVAL`), one slot past the process's hard
/// limit on open files (the soft one the library raises, as liburing does)
/// or past the kernel's limit on fixed files (`EMFILE`); a second table
/// while one is registered is `EBUSY`. A table of empty slots the size of
/// the soft limit is taken.
#[test]
fn file_slot_tables_past_the_kernel_s_limits_are_errors() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    let e = ring.register_file_slots(&[]).unwrap_err();
    assert_eq!(errno(&e), libc::EINVAL, "{e}");
    let most = u64::from(sys::IORING_MAX_FIXED_FILES);
    let (limit, hard) = open_files_limits();
    if hard < most {
        let e = ring
            .register_file_slots(&vec![None; hard as usize + 1])
            .unwrap_err();
        assert_eq!(errno(&e), libc::EMFILE, "{e}");
    }
    let e = ring
        .register_file_slots(&vec![None; most as usize + 1])
        .unwrap_err();
    assert_eq!(errno(&e), libc::EMFILE, "{e}");
    let fits = limit.min(most).min(1 << 16) as usize;
    let table = ring.register_file_slots(&vec![None; fits]).unwrap();
    assert_eq!(table.len() as usize, fits);
    let e = ring.register_file_slots(&[None]).unwrap_err();
    assert_eq!(errno(&e), libc::EBUSY, "{e}");
    let last = table.get(table.len() - 1).unwrap();
    let c = uring_tests::complete(&mut ring, Write::new(last, b"x"));
    assert_eq!(c.res(), -libc::EBADF, "the last slot is empty");
    ring.unregister_files(table).unwrap();
    let (tx, _rx) = UnixStream::pair().unwrap();
    let table = ring.register_file_slots(&[Some(tx.as_fd())]).unwrap();
    assert_eq!(table.len(), 1);
}
