//! Edge values and calls made in the wrong state, at the public entry points
//! the other bad-input suites leave out: ring sizes at each power of two and
//! one past it, builder options the library refuses before the kernel, the
//! registered ring descriptor in every state, rings without a descriptor,
//! `enable` and restrictions before and after a ring is enabled, file and
//! buffer tables registered twice or named through another ring, eventfds of
//! the wrong kind, NAPI ids, wait regions registered twice or too late,
//! deadlines at the far end of `Instant`, resizes below the completions a
//! ring holds, buffer rings registered twice or under groups past the mmap
//! range, reactors handed another reactor's ids and groups, and the network
//! types given addresses and paths they cannot use.
//!
//! Every call runs under `catch_unwind`: it must return (an error value
//! whose kind or errno is the documented one, or a documented success),
//! never panic. After each refused call the ring still serves a NOP round
//! trip, and every op pushed completes exactly once.

use std::cell::{Cell, RefCell};
use std::io::Write as _;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::time::{Duration, Instant};

use uring::ops::{Cancel, Nop, Recv, Timeout};
use uring::reactor::{Reactor, SharedFd};
use uring::{
    BufferGroup, Builder, Error, IoWqWorkers, NapiSettings, NapiTracking, PushErrorKind,
    Restriction, Ring, RingSlot, SlotUpdate, SyncCancel, WaitArgs,
};
use uring_tests::{PATIENCE, reap_one, skip, watchdog};

/// Runs `f`, failing the test with `what` if it panics.
fn no_panic<T>(what: &str, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(payload) => {
            let text = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            panic!("{what} panicked: {text}")
        }
    }
}

fn assert_invalid_argument<T: std::fmt::Debug>(what: &str, r: uring::Result<T>) {
    match r {
        Err(Error::InvalidArgument(_)) => {}
        other => panic!("{what}: {other:?}"),
    }
}

fn assert_errno<T: std::fmt::Debug>(what: &str, r: uring::Result<T>, want: i32) {
    match r {
        Err(e) if e.raw_os_error() == Some(want) => {}
        other => panic!("{what}: expected errno {want}, got {other:?}"),
    }
}

/// A NOP pushed, submitted and reaped: exactly one completion, with its
/// `user_data` and 0, and nothing else in the CQ.
fn nop_round_trip(ring: &mut Ring, user_data: u64) {
    ring.push(Nop::new().user_data(user_data)).unwrap();
    let cqe = reap_one(ring);
    assert_eq!((cqe.user_data(), cqe.res()), (user_data, 0));
    assert!(
        uring_tests::stray(ring).is_empty(),
        "nothing else completed"
    );
}

// ----------------------------------------------------------------------
// Setup
// ----------------------------------------------------------------------

/// Each power of two up to the kernel's maximum and the size one past it
/// make a ring of the next power of two (whose CQ is twice its SQ), and
/// each serves a NOP. Sizes are what a program computes, so every boundary
/// must round, not fail or panic.
#[test]
fn ring_sizes_at_each_power_of_two_and_one_past_it() {
    let _watch = watchdog();
    for shift in 0..=15u32 {
        let n = 1u32 << shift;
        for entries in [n, n + 1] {
            let result = no_panic("Ring::new", || Ring::new(entries));
            if entries > 32768 {
                assert!(matches!(result, Err(Error::Setup(_))), "{entries}");
                continue;
            }
            let mut ring = result.unwrap_or_else(|e| panic!("{entries}: {e:?}"));
            let sq = entries.next_power_of_two();
            assert_eq!((ring.sq_entries(), ring.cq_entries()), (sq, 2 * sq));
            if shift % 5 == 0 {
                nop_round_trip(&mut ring, u64::from(entries));
            }
        }
    }
    // A CQ size one past a power of two rounds up too, and the largest CQ
    // the kernel takes is accepted as it is.
    for (cq, want) in [(9, 16), (17, 32), (65535, 65536), (65536, 65536)] {
        let mut ring = no_panic("cq_entries", || Builder::new().cq_entries(cq).build(8)).unwrap();
        assert_eq!((ring.sq_entries(), ring.cq_entries()), (8, want), "cq {cq}");
        nop_round_trip(&mut ring, 1);
    }
}

/// Options that need another are refused before the kernel, with a
/// setup error that says which: `taskrun_flag` alone, `defer_taskrun`
/// without `single_issuer` or with `sqpoll`, `hybrid_iopoll` without
/// `iopoll`.
#[test]
fn options_that_need_another_are_setup_errors() {
    let _watch = watchdog();
    let cases: [(&str, Builder<'static>); 4] = [
        ("taskrun_flag", Builder::new().taskrun_flag()),
        ("defer_taskrun alone", Builder::new().defer_taskrun()),
        (
            "defer_taskrun with sqpoll",
            Builder::new()
                .single_issuer()
                .defer_taskrun()
                .sqpoll(Duration::from_millis(1)),
        ),
        ("hybrid_iopoll", Builder::new().hybrid_iopoll()),
    ];
    for (what, builder) in cases {
        match no_panic(what, || builder.build(4)) {
            Err(Error::Setup(why)) => assert!(!why.is_empty()),
            other => panic!("{what}: {other:?}"),
        }
        // The memory size of a ring that cannot be made is an error too.
        assert!(no_panic(what, || builder.ring_memory_size(4)).is_err());
    }
}

/// A worker pool attached to from a ring that has no descriptor
/// (`registered_fd_only`, whose descriptor reads as -1) is refused by the
/// kernel, which finds no file for the `wq_fd` (`ENXIO`); attached to from
/// a ring that has one, it works.
#[test]
fn attaching_to_a_ring_without_a_descriptor_fails_with_enxio() {
    let _watch = watchdog();
    let owner = match Builder::new().registered_fd_only().build(4) {
        Ok(ring) => ring,
        Err(e) => return skip(format_args!("no registered_fd_only (6.5): {e}")),
    };
    let r = no_panic("attach_wq", || Builder::new().attach_wq(&owner).build(4));
    assert_errno("attach_wq to a ring without fd", r.map(drop), libc::ENXIO);
    let plain = Ring::new(4).unwrap();
    let mut attached = Builder::new().attach_wq(&plain).build(4).unwrap();
    assert_eq!(
        attached.attached_wq(),
        Some(std::os::fd::AsRawFd::as_raw_fd(&plain))
    );
    nop_round_trip(&mut attached, 2);
}

// ----------------------------------------------------------------------
// The ring descriptor, registered or absent
// ----------------------------------------------------------------------

/// The registered ring descriptor in every state: unregistering or closing
/// when nothing is registered, registering twice (the same index back),
/// unregistering twice, and each of them from a thread that did not
/// register it. Each is a success the docs name or `InvalidArgument`, and
/// the ring serves NOPs throughout.
#[test]
fn ring_fd_registration_in_every_state() {
    let _watch = watchdog();
    let mut ring = Ring::new(4).unwrap();
    assert_eq!(ring.registered_ring_fd(), None);
    no_panic("unregister_ring_fd", || ring.unregister_ring_fd()).unwrap();
    assert_invalid_argument(
        "close_ring_fd unregistered",
        no_panic("close_ring_fd", || ring.close_ring_fd()),
    );
    nop_round_trip(&mut ring, 1);
    let index = ring.register_ring_fd().unwrap();
    assert_eq!(
        no_panic("register twice", || ring.register_ring_fd()).unwrap(),
        index
    );
    assert_eq!(ring.registered_ring_fd(), Some(index));
    nop_round_trip(&mut ring, 2);
    // Another thread may not use, replace or close the index.
    let mut ring = std::thread::scope(|t| {
        t.spawn(move || {
            assert_invalid_argument("register elsewhere", ring.register_ring_fd());
            assert_invalid_argument("close elsewhere", ring.close_ring_fd());
            assert_invalid_argument("unregister elsewhere", ring.unregister_ring_fd().map(drop));
            // Pushes and waits from here go through the descriptor.
            nop_round_trip(&mut ring, 3);
            ring
        })
        .join()
        .unwrap()
    });
    assert_eq!(ring.registered_ring_fd(), Some(index));
    ring.unregister_ring_fd().unwrap();
    no_panic("unregister twice", || ring.unregister_ring_fd()).unwrap();
    assert_eq!(ring.registered_ring_fd(), None);
    nop_round_trip(&mut ring, 4);
}

/// A ring made with only a registered index refuses, with the errors its
/// docs name, what needs a descriptor: closing or unregistering the index
/// (`InvalidArgument`), buffer rings, message targets and completions
/// posted to it from no ring (`EBADF`, nothing arriving). What
/// is left works: NOPs, registering again (the same index), a sparse file
/// table.
#[test]
fn a_ring_without_a_descriptor_refuses_what_needs_one() {
    let _watch = watchdog();
    let mut ring = match Builder::new().registered_fd_only().build(4) {
        Ok(ring) => ring,
        Err(e) => return skip(format_args!("no registered_fd_only (6.5): {e}")),
    };
    let index = ring.registered_ring_fd().expect("a registered index");
    assert_eq!(ring.register_ring_fd().unwrap(), index);
    assert_invalid_argument("close_ring_fd", no_panic("close", || ring.close_ring_fd()));
    assert_invalid_argument(
        "unregister_ring_fd",
        no_panic("unregister", || ring.unregister_ring_fd()),
    );
    nop_round_trip(&mut ring, 1);
    let group = BufferGroup::new(3);
    assert_errno(
        "register_buf_ring",
        no_panic("buf ring", || ring.register_buf_ring(group, 4, 64)).map(drop),
        libc::EBADF,
    );
    assert_errno(
        "register_buf_ring_raw",
        no_panic("raw", || ring.register_buf_ring_raw(group, 4)).map(drop),
        libc::EBADF,
    );
    assert_errno(
        "msg_target",
        no_panic("target", || ring.msg_target()).map(drop),
        libc::EBADF,
    );
    if uring_tests::require_kernel(6, 13, "IORING_REGISTER_SEND_MSG_RING") {
        // A completion posted to no descriptor: refused, nothing arrives.
        assert_errno("post", no_panic("post", || ring.post(5, 77)), libc::EBADF);
    }
    nop_round_trip(&mut ring, 2);
    let table = ring.register_files_sparse(4).unwrap();
    assert_eq!(table.len(), 4);
    ring.unregister_files(table).unwrap();
    nop_round_trip(&mut ring, 3);
}

// ----------------------------------------------------------------------
// Enabling and restrictions
// ----------------------------------------------------------------------

/// A disabled ring's scope hands a push back (`Disabled`), the kernel
/// refuses to take its SQEs (`EBADFD`, the SQE kept and run once after
/// `enable`); it takes restrictions
/// once (`EBUSY` the second time), refuses an opcode past the last
/// (`EINVAL`), and is enabled once: enabling again, or restricting after,
/// is `EBADFD` (`EACCES` on a ring whose restrictions allow no register
/// call). A ring never disabled refuses both with `EBADFD`. The
/// restricted ring runs its allowed NOP and fails a timeout with `EACCES`.
#[test]
fn enable_and_restrictions_in_the_wrong_state() {
    let _watch = watchdog();
    // An opcode no kernel has, or a register opcode past the last.
    let mut ring = Builder::new().r_disabled().build(4).unwrap();
    for rule in [
        Restriction::opcode(u8::MAX),
        Restriction::register_op(u8::MAX),
    ] {
        assert_errno(
            "restriction past the last opcode",
            no_panic("restrict", || ring.register_restrictions(&[rule])),
            libc::EINVAL,
        );
    }
    // Still disabled: a scope refuses the push and hands it back; the
    // ring takes it, but the kernel refuses its submission (`EBADFD`),
    // which leaves it queued until the ring is enabled.
    let nop = ring.scope(|s| {
        let refused = no_panic("scope push", || s.push(Nop::new().user_data(9))).unwrap_err();
        assert_eq!(refused.kind(), PushErrorKind::Disabled);
        assert_eq!(s.in_flight(), 0);
        refused.into_inner()
    });
    ring.push(nop).unwrap();
    assert_errno(
        "submit while disabled",
        no_panic("submit", || ring.submit()),
        libc::EBADFD,
    );
    assert_eq!(ring.pending(), 1, "the SQE stays queued");
    ring.enable().unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!((cqe.user_data(), cqe.res()), (9, 0));
    // Enabled and unrestricted: enabling or restricting again is `EBADFD`.
    assert_errno(
        "enable twice",
        no_panic("enable", || ring.enable()),
        libc::EBADFD,
    );
    assert_errno(
        "restrictions after enable",
        ring.register_restrictions(&[Restriction::op::<Nop>()]),
        libc::EBADFD,
    );
    nop_round_trip(&mut ring, 10);

    let mut ring = Builder::new().r_disabled().build(4).unwrap();
    ring.register_restrictions(&[Restriction::op::<Nop>()])
        .unwrap();
    assert_errno(
        "restrictions twice",
        no_panic("restrict twice", || {
            ring.register_restrictions(&[Restriction::op::<Nop>()])
        }),
        libc::EBUSY,
    );
    ring.enable().unwrap();
    // Restricted to no register opcode: every register call is `EACCES`.
    assert_errno(
        "enable twice, restricted",
        no_panic("enable", || ring.enable()),
        libc::EACCES,
    );
    assert_errno(
        "restrictions after enable, restricted",
        ring.register_restrictions(&[Restriction::op::<Nop>()]),
        libc::EACCES,
    );
    nop_round_trip(&mut ring, 1);
    ring.push(Timeout::new(Duration::ZERO).user_data(2))
        .unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!((cqe.user_data(), cqe.res()), (2, -libc::EACCES));

    let mut plain = Ring::new(4).unwrap();
    assert_errno("enable an enabled ring", plain.enable(), libc::EBADFD);
    assert_errno(
        "restrict an enabled ring",
        plain.register_restrictions(&[Restriction::op::<Nop>()]),
        libc::EBADFD,
    );
    nop_round_trip(&mut plain, 3);
}

// ----------------------------------------------------------------------
// File and buffer tables
// ----------------------------------------------------------------------

/// A file table registered twice (`EBUSY`, the first intact), a ring's own
/// descriptor in its table (`EBADF`: the kernel keeps io_uring files out),
/// another ring's table given to every call that takes one
/// (`InvalidArgument`, the handle handed back), allocation ranges at the
/// table's edges (`EINVAL`, `EOVERFLOW`, or success for an empty one at
/// 0), and `SlotUpdate::Keep` over every slot.
#[test]
fn file_tables_in_the_wrong_state_or_of_another_ring() {
    let _watch = watchdog();
    let mut a = Ring::new(4).unwrap();
    let mut b = Ring::new(4).unwrap();
    let file = tempfile::tempfile().unwrap();
    let mut ta = a.register_files(&[file.as_fd(), file.as_fd()]).unwrap();
    assert_errno(
        "register_files twice",
        no_panic("twice", || a.register_files(&[file.as_fd()])).map(drop),
        libc::EBUSY,
    );
    assert_errno(
        "sparse after a table",
        no_panic("sparse twice", || a.register_files_sparse(8)).map(drop),
        libc::EBUSY,
    );
    // A ring's own descriptor in its table.
    let other = Ring::new(2).unwrap();
    // SAFETY: `other` is open for the whole call; the borrow does not
    // outlive it.
    let ring_fd =
        unsafe { std::os::fd::BorrowedFd::borrow_raw(std::os::fd::AsRawFd::as_raw_fd(&other)) };
    assert_errno(
        "an io_uring descriptor in a file table",
        no_panic("ring fd", || b.register_files(&[ring_fd])).map(drop),
        libc::EBADF,
    );
    // Another ring's table, everywhere a table is taken.
    assert_invalid_argument(
        "update through another ring",
        no_panic("update", || b.update_files(&mut ta, 0, &[None])),
    );
    assert_invalid_argument(
        "slot update through another ring",
        no_panic("slots", || {
            b.update_file_slots(&mut ta, 0, &[SlotUpdate::Tagged(file.as_fd(), 7)])
        }),
    );
    assert_invalid_argument(
        "alloc range through another ring",
        no_panic("range", || b.set_file_alloc_range(&ta, 0, 1)),
    );
    let slot = ta.get_mut(1).unwrap();
    assert_invalid_argument(
        "RingSlot::at of another ring's slot",
        no_panic("RingSlot::at", || RingSlot::at(&b, slot)).map(drop),
    );
    let back = no_panic("unregister elsewhere", || b.unregister_files(ta)).unwrap_err();
    assert!(matches!(back.error, Error::InvalidArgument(_)), "{back:?}");
    let mut ta = back.handle;
    assert_eq!(ta.len(), 2, "the handle comes back as it was");
    // Allocation ranges at the table's edges.
    a.set_file_alloc_range(&ta, 0, 0).unwrap();
    a.set_file_alloc_range(&ta, 0, 2).unwrap();
    assert_errno(
        "range past the table",
        a.set_file_alloc_range(&ta, 1, 2),
        libc::EINVAL,
    );
    assert_errno(
        "range that wraps",
        a.set_file_alloc_range(&ta, u32::MAX, 2),
        libc::EOVERFLOW,
    );
    // Keep every slot: the kernel counts them as updated, changes none.
    let n = no_panic("keep", || {
        a.update_file_slots(&mut ta, 0, &[SlotUpdate::Keep, SlotUpdate::Keep])
    })
    .unwrap();
    assert_eq!(n, 2);
    assert_invalid_argument(
        "keep past the end",
        a.update_file_slots(&mut ta, 1, &[SlotUpdate::Keep, SlotUpdate::Keep]),
    );
    assert_invalid_argument(
        "tagged past the end",
        a.update_file_slots(&mut ta, u32::MAX, &[SlotUpdate::Tagged(file.as_fd(), 1)]),
    );
    nop_round_trip(&mut a, 1);
    a.unregister_files(ta).unwrap();
    nop_round_trip(&mut a, 2);
    nop_round_trip(&mut b, 3);
}

/// A buffer table registered twice (`EBUSY`); another ring's table given to
/// its updates, clones and unregistration (`InvalidArgument`, the handle
/// back); clones of no buffers or past the source table (`InvalidArgument`)
/// and into a ring that has a table (`EBUSY`). Only empty slots are
/// registered: no memory is lent.
#[test]
fn buffer_tables_in_the_wrong_state_or_of_another_ring() {
    let _watch = watchdog();
    let mut a = Ring::new(4).unwrap();
    let mut b = Ring::new(4).unwrap();
    let ta = a.register_buffers_sparse(4).unwrap();
    assert_errno(
        "register_buffers_sparse twice",
        no_panic("twice", || a.register_buffers_sparse(4)).map(drop),
        libc::EBUSY,
    );
    for index in [4, 5, 8, u32::from(u16::MAX), u32::MAX] {
        assert_invalid_argument("get past the table", no_panic("get", || ta.get(index)));
    }
    // SAFETY: only empty slots are written: no memory is registered.
    let r = no_panic("update elsewhere", || unsafe {
        b.update_buffers(&ta, 0, &[None])
    });
    assert_invalid_argument("update through another ring", r);
    for (offset, n) in [(4u32, 1usize), (3, 2), (u32::MAX, 1)] {
        let slots: Vec<Option<std::io::IoSliceMut<'_>>> = (0..n).map(|_| None).collect();
        // SAFETY: only empty slots, refused before the kernel.
        let r = no_panic("update past", || unsafe {
            a.update_buffers(&ta, offset, &slots)
        });
        assert_invalid_argument("update past the table", r);
    }
    // SAFETY: empty slots only.
    let n = unsafe { a.update_buffers(&ta, 3, &[None]) }.unwrap();
    assert_eq!(n, 1);
    if uring_tests::require_kernel(6, 12, "IORING_REGISTER_CLONE_BUFFERS") {
        // SAFETY: the source table holds only empty slots: nothing is lent.
        unsafe {
            // The handle names `a`'s table but is given as `b`'s.
            assert_invalid_argument("clone from a handle of another ring", {
                let empty = Ring::new(2).unwrap();
                no_panic("clone", || b.clone_buffers(&empty, &ta, 0, 1)).map(drop)
            });
            for (off, count) in [(0, 0), (0, 5), (4, 1), (u32::MAX, 2)] {
                assert_invalid_argument(
                    "clone out of range",
                    no_panic("clone range", || b.clone_buffers(&a, &ta, off, count)).map(drop),
                );
            }
            let tb = b.clone_buffers(&a, &ta, 0, 4).unwrap();
            assert_eq!(tb.len(), 4);
            // A second clone into a ring that has its table now.
            assert_errno(
                "clone into a ring with a table",
                b.clone_buffers(&a, &ta, 0, 1).map(drop),
                libc::EBUSY,
            );
            let back = a.unregister_buffers(tb).unwrap_err();
            assert!(matches!(back.error, Error::InvalidArgument(_)), "{back:?}");
            b.unregister_buffers(back.handle).unwrap();
        }
    }
    let back = no_panic("unregister elsewhere", || b.unregister_buffers(ta)).unwrap_err();
    assert!(matches!(back.error, Error::InvalidArgument(_)));
    a.unregister_buffers(back.handle).unwrap();
    nop_round_trip(&mut a, 1);
    nop_round_trip(&mut b, 2);
}

// ----------------------------------------------------------------------
// Eventfds, NAPI, io-wq, clocks
// ----------------------------------------------------------------------

/// An eventfd that is not one (`EINVAL`), registered twice (`EBUSY`),
/// unregistered when none is (`ENXIO`); turning the CQ's eventfd off and
/// on without one registered only flips the flag. The ring works after
/// each.
#[test]
fn eventfds_of_the_wrong_kind_twice_or_absent() {
    let _watch = watchdog();
    let mut ring = Ring::new(4).unwrap();
    let file = tempfile::tempfile().unwrap();
    for async_only in [false, true] {
        assert_errno(
            "a file as an eventfd",
            no_panic("eventfd", || {
                ring.register_eventfd(file.as_fd(), async_only)
            }),
            libc::EINVAL,
        );
    }
    assert_errno(
        "unregister none",
        no_panic("unregister", || ring.unregister_eventfd()),
        libc::ENXIO,
    );
    nop_round_trip(&mut ring, 1);
    // SAFETY: eventfd takes a count and flags.
    let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    assert!(efd >= 0);
    // SAFETY: a fresh descriptor, owned from here on.
    let efd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(efd) };
    ring.register_eventfd(efd.as_fd(), false).unwrap();
    assert_errno(
        "register twice",
        ring.register_eventfd(efd.as_fd(), false),
        libc::EBUSY,
    );
    ring.unregister_eventfd().unwrap();
    assert_errno("unregister twice", ring.unregister_eventfd(), libc::ENXIO);
    for enabled in [false, false, true, true] {
        no_panic("set_cq_eventfd", || ring.set_cq_eventfd(enabled)).unwrap();
        assert_eq!(ring.cq_eventfd_enabled(), enabled);
    }
    nop_round_trip(&mut ring, 2);
}

/// NAPI ids as the docs list them: `Inactive` tracking is refused before
/// the kernel; on a ring tracking dynamically an id is `EINVAL`; tracking
/// statically, an id below the kernel's minimum is `EINVAL`, one added
/// twice `EEXIST`, one removed that is not there `ENOENT`, and `u32::MAX`
/// is an id like any other.
#[test]
fn napi_ids_at_their_edges_and_in_the_wrong_mode() {
    let _watch = watchdog();
    let mut ring = Ring::new(4).unwrap();
    let settings = |tracking| NapiSettings {
        busy_poll: Duration::from_micros(10),
        prefer_busy_poll: false,
        tracking,
    };
    assert_invalid_argument(
        "Inactive",
        no_panic("napi inactive", || {
            ring.register_napi_with(settings(NapiTracking::Inactive))
        }),
    );
    match ring.register_napi_with(settings(NapiTracking::Dynamic)) {
        Ok(_) => {}
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::EOPNOTSUPP)) => {
            return skip(format_args!("no NAPI busy polling: {e}"));
        }
        Err(e) => panic!("{e:?}"),
    }
    assert_errno(
        "add an id while tracking dynamically",
        no_panic("add", || ring.napi_add_id(u32::MAX)),
        libc::EINVAL,
    );
    ring.unregister_napi().unwrap();
    if !uring_tests::require_kernel(6, 13, "static NAPI tracking") {
        return;
    }
    ring.register_napi_with(settings(NapiTracking::Static))
        .unwrap();
    for id in [0, 1] {
        assert_errno(
            "an id below the minimum",
            ring.napi_add_id(id),
            libc::EINVAL,
        );
    }
    assert_errno(
        "remove an id never added",
        no_panic("del", || ring.napi_del_id(u32::MAX)),
        libc::ENOENT,
    );
    no_panic("add", || ring.napi_add_id(u32::MAX)).unwrap();
    assert_errno("add twice", ring.napi_add_id(u32::MAX), libc::EEXIST);
    ring.napi_del_id(u32::MAX).unwrap();
    assert_errno("remove twice", ring.napi_del_id(u32::MAX), libc::ENOENT);
    ring.unregister_napi().unwrap();
    nop_round_trip(&mut ring, 1);
}

/// io-wq worker limits past `INT_MAX` are the kernel's `EINVAL` and change
/// nothing; `i32::MAX` is clamped, never wrapped: the limits read back are
/// at most the process's `RLIMIT_NPROC`, and the old ones come back. A
/// clock registered twice is fine and waits time out on it.
#[test]
fn worker_limits_of_u32_max_and_clocks_registered_twice() {
    let _watch = watchdog();
    let mut ring = Ring::new(4).unwrap();
    // A submit makes the io-wq this thread's limits apply to.
    nop_round_trip(&mut ring, 1);
    let before = ring.iowq_max_workers().unwrap();
    // Past `INT_MAX`: the kernel's `EINVAL`, the limits unchanged.
    for huge in [u32::MAX, 1 << 31] {
        let r = no_panic("max workers", || {
            ring.set_iowq_max_workers(IoWqWorkers {
                bounded: huge,
                unbounded: huge,
            })
        });
        assert_errno("limits past INT_MAX", r, libc::EINVAL);
        assert_eq!(ring.iowq_max_workers().unwrap(), before);
    }
    let old = ring
        .set_iowq_max_workers(IoWqWorkers {
            bounded: i32::MAX as u32,
            unbounded: i32::MAX as u32,
        })
        .unwrap();
    assert_eq!(old, before);
    let now = ring.iowq_max_workers().unwrap();
    // SAFETY: all-zero bytes are a valid rlimit, which getrlimit fills.
    let mut limit: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: a valid resource and a valid out pointer.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NPROC, &mut limit) };
    assert_eq!(rc, 0);
    let cap = u32::try_from(limit.rlim_cur).unwrap_or(u32::MAX);
    assert!(now.bounded <= cap && now.unbounded <= cap, "{now:?}");
    assert!(now.bounded > 0 && now.unbounded > 0, "{now:?}");
    ring.set_iowq_max_workers(before).unwrap();
    if uring_tests::require_kernel(6, 12, "IORING_REGISTER_CLOCK") {
        for clock in [
            uring::Clock::Boottime,
            uring::Clock::Boottime,
            uring::Clock::Monotonic,
        ] {
            no_panic("register_clock", || ring.register_clock(clock)).unwrap();
            let args = WaitArgs::new().timeout(Duration::from_millis(1));
            assert!(matches!(ring.wait_with(1, &args), Err(Error::TimedOut)));
        }
    }
    nop_round_trip(&mut ring, 2);
}

// ----------------------------------------------------------------------
// Waits
// ----------------------------------------------------------------------

/// The latest `Instant` this platform can represent, found by halving.
fn far_instant() -> Instant {
    let now = Instant::now();
    let mut step = Duration::from_secs(u64::MAX);
    let mut far = now;
    while step >= Duration::from_secs(1) {
        if let Some(t) = far.checked_add(step) {
            far = t;
        } else {
            step /= 2;
        }
    }
    assert!(far > now + Duration::from_secs(1 << 40));
    far
}

/// Deadlines at the far end of `Instant` and in the past, alone and with
/// timeouts, minimum waits of `Duration::MAX`: a wait with its completion
/// ready returns at once; one without times out at the earlier end
/// (`TimedOut`), never at once for a far deadline and never never.
#[test]
fn waits_with_deadlines_at_the_ends_of_instant() {
    let _watch = watchdog();
    let mut ring = Ring::new(4).unwrap();
    let far = far_instant();
    let past = Instant::now()
        .checked_sub(Duration::from_secs(1))
        .unwrap_or_else(Instant::now);
    let min_wait = ring.params().has(uring::Features::MIN_TIMEOUT);
    // Ready before the wait: every wait returns with it.
    ring.push(Nop::new().user_data(1)).unwrap();
    let args = WaitArgs::new().deadline(far);
    let start = Instant::now();
    assert_eq!(
        no_panic("far deadline", || ring.submit_and_wait_with(1, &args)).unwrap(),
        1
    );
    assert!(start.elapsed() < PATIENCE);
    for args in [
        WaitArgs::new().deadline(far),
        WaitArgs::new().deadline(past),
        WaitArgs::new().deadline(far).timeout(Duration::MAX),
    ] {
        no_panic("wait_with ready", || ring.wait_with(1, &args)).unwrap();
    }
    if min_wait {
        let args = WaitArgs::new().deadline(far).min_wait(Duration::MAX);
        no_panic("min wait MAX", || ring.wait_with(1, &args)).unwrap();
    }
    assert_eq!(ring.completions().count(), 1);
    // Nothing coming: a past deadline is a check, a far one with a short
    // timeout ends at the timeout.
    let start = Instant::now();
    let r = no_panic("past deadline", || {
        ring.wait_with(1, &WaitArgs::new().deadline(past))
    });
    assert!(matches!(r, Err(Error::TimedOut)), "{r:?}");
    assert!(start.elapsed() < PATIENCE);
    let start = Instant::now();
    let args = WaitArgs::new()
        .deadline(far)
        .timeout(Duration::from_millis(20));
    assert!(matches!(ring.wait_with(1, &args), Err(Error::TimedOut)));
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(15) && took < PATIENCE,
        "{took:?}"
    );
    if min_wait {
        let args = WaitArgs::new()
            .deadline(Instant::now() + Duration::from_millis(20))
            .min_wait(Duration::MAX);
        let start = Instant::now();
        assert!(matches!(ring.wait_with(1, &args), Err(Error::TimedOut)));
        assert!(start.elapsed() < PATIENCE);
    }
    // A far deadline on a submitting wait: the NOP is submitted and
    // counted once.
    ring.push(Nop::new().user_data(2)).unwrap();
    let n = ring
        .submit_and_wait_with(1, &WaitArgs::new().deadline(far).timeout(PATIENCE))
        .unwrap();
    assert_eq!(n, 1);
    let cqes: Vec<_> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    assert_eq!(cqes, [(2, 0)]);
    nop_round_trip(&mut ring, 3);
}

/// A wait region registered twice (`InvalidArgument`), on a ring never
/// disabled or after `enable` (the kernel's `EINVAL`), and set or used
/// before any region exists (`InvalidArgument`); the ring works after.
#[test]
fn wait_regions_registered_twice_or_too_late() {
    let _watch = watchdog();
    if !uring_tests::require_kernel(6, 13, "registered wait regions") {
        return;
    }
    let mut plain = Ring::new(4).unwrap();
    assert_errno(
        "a region on a ring never disabled",
        no_panic("region", || plain.register_wait_region(1)),
        libc::EINVAL,
    );
    assert_invalid_argument(
        "a slot set with no region",
        no_panic("set", || plain.set_registered_wait(0, None, None)),
    );
    assert_invalid_argument(
        "a submitting wait with no region",
        no_panic("wait", || plain.submit_and_wait_registered(0, 0)),
    );
    nop_round_trip(&mut plain, 1);
    let mut ring = Builder::new().r_disabled().build(4).unwrap();
    ring.register_wait_region(1).unwrap();
    assert_invalid_argument(
        "a region twice",
        no_panic("twice", || ring.register_wait_region(1)),
    );
    ring.enable().unwrap();
    assert_invalid_argument("a region after enable", ring.register_wait_region(1));
    // The one region registered serves a wait (from a slot other than the
    // last: see `the_last_wait_slot_times_the_wait_by_its_own_arguments`).
    ring.set_registered_wait(62, Some(Duration::from_millis(1)), None)
        .unwrap();
    assert!(matches!(ring.wait_registered(1, 62), Err(Error::TimedOut)));
    nop_round_trip(&mut ring, 2);

    let mut fresh = Builder::new().r_disabled().build(4).unwrap();
    fresh.enable().unwrap();
    assert_errno(
        "a region after enable, none before",
        fresh.register_wait_region(1),
        libc::EINVAL,
    );
    nop_round_trip(&mut fresh, 3);
}

/// Every slot `register_wait_region` makes addressable times a wait by its
/// own arguments. Linux 6.18 finds a registered wait argument with
/// `array_index_nospec(offset, cq_wait_size - size)`, which maps the
/// region's last slot (its offset equal to that bound) to 0, so the library
/// never hands that slot out: of a page's 64 slots, 0 to 62 are accepted
/// and 63 is refused, and of two pages' 128, 0 to 126. Here slot 0 says
/// 5 ms and each slot near the end 300 ms, and each wait lasts its own
/// 300 ms; with slot 0 unset, the last slot's 1 ms wait ends.
#[test]
fn the_last_wait_slot_times_the_wait_by_its_own_arguments() {
    let _watch = watchdog();
    if !uring_tests::require_kernel(6, 13, "registered wait regions") {
        return;
    }
    for (asked, last) in [(1, 62), (63, 62), (64, 126)] {
        let mut ring = Builder::new().r_disabled().build(4).unwrap();
        ring.register_wait_region(asked).unwrap();
        ring.enable().unwrap();
        assert_invalid_argument(
            "the slot past the last",
            ring.set_registered_wait(last + 1, None, None),
        );
        assert_invalid_argument(
            "a wait on the slot past the last",
            no_panic("wait_registered", || ring.wait_registered(1, last + 1)),
        );
        // Slot 0 unset: the last slot's own 1 ms ends its wait.
        ring.set_registered_wait(last, Some(Duration::from_millis(1)), None)
            .unwrap();
        let start = Instant::now();
        let r = no_panic("wait_registered", || ring.wait_registered(1, last));
        assert!(matches!(r, Err(Error::TimedOut)), "{r:?}");
        assert!(start.elapsed() < Duration::from_secs(5));
        ring.set_registered_wait(0, Some(Duration::from_millis(5)), None)
            .unwrap();
        for slot in [last - 1, last] {
            ring.set_registered_wait(slot, Some(Duration::from_millis(300)), None)
                .unwrap();
            let start = Instant::now();
            let r = no_panic("wait_registered", || ring.wait_registered(1, slot));
            assert!(matches!(r, Err(Error::TimedOut)), "{r:?}");
            let took = start.elapsed();
            assert!(
                took >= Duration::from_millis(250),
                "slot {slot}'s 300 ms wait ended after {took:?}: the kernel read another slot"
            );
        }
    }
}

// ----------------------------------------------------------------------
// Full queues
// ----------------------------------------------------------------------

/// Every push surface on a full SQ hands its op back untouched and writes
/// nothing: `push`, `push_linked`, a batch's `push`, `next_sqe`, and in a
/// scope `push`, `push_owned` (the very `Vec`, same address and bytes) and
/// a `push_owned` whose closure pushes nothing (`NothingPushed`). Once
/// room is made, the ops handed back complete exactly once.
#[test]
fn a_full_queue_hands_back_every_kind_of_push() {
    let _watch = watchdog();
    let mut ring = Ring::new(2).unwrap();
    ring.push(Nop::new().user_data(1)).unwrap();
    ring.push(Nop::new().user_data(2)).unwrap();
    let e = no_panic("push", || ring.push(Nop::new().user_data(3))).unwrap_err();
    assert_eq!(e.kind(), PushErrorKind::QueueFull);
    let third = e.into_inner();
    let chain = Nop::new().user_data(4).link(Nop::new().user_data(5));
    let e = no_panic("push_linked", || ring.push(chain).unwrap_err());
    assert!(e.is_full());
    let chain = e.into_inner();
    {
        let mut sq = ring.submission();
        let e = no_panic("batch push", || sq.push(Nop::new().user_data(6))).unwrap_err();
        assert!(e.is_full());
    }
    assert!(no_panic("next_sqe", || ring.next_sqe()).is_none());
    assert_eq!(ring.pending(), 2, "nothing more was written");
    let got = uring_tests::submit_and_reap(&mut ring, 2);
    uring_tests::assert_user_data_once(&got, [1, 2]);
    ring.push(third).unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!(cqe.user_data(), 3);
    ring.push(chain).unwrap();
    let got = uring_tests::submit_and_reap(&mut ring, 2);
    uring_tests::assert_user_data_once(&got, [4, 5]);

    // In a scope.
    let file = tempfile::tempfile().unwrap();
    ring.scope(|s| {
        s.push(Nop::new().user_data(10)).unwrap();
        s.push(Nop::new().user_data(11)).unwrap();
        let e = no_panic("scope push", || s.push(Nop::new().user_data(12))).unwrap_err();
        assert_eq!(e.kind(), PushErrorKind::QueueFull);
        let buf = b"owned bytes".to_vec();
        let addr = buf.as_ptr();
        let e = no_panic("push_owned", || {
            s.push_owned(buf, |b, sq| {
                sq.push(uring::ops::Read::new(&file, b).user_data(13));
            })
        })
        .unwrap_err();
        assert_eq!(e.kind(), PushErrorKind::QueueFull);
        let buf = e.into_inner();
        assert_eq!((buf.as_ptr(), &buf[..]), (addr, &b"owned bytes"[..]));
        let got = uring_tests::scope_reap(s, 2);
        uring_tests::assert_user_data_once(&got, [10, 11]);
        let e = no_panic("push_owned of nothing", || s.push_owned(buf, |_, _| {})).unwrap_err();
        assert_eq!(e.kind(), PushErrorKind::NothingPushed);
        let buf = e.into_inner();
        assert_eq!((buf.as_ptr(), &buf[..]), (addr, &b"owned bytes"[..]));
        assert_eq!(s.in_flight(), 0);
    });
    assert!(uring_tests::stray(&mut ring).is_empty());
    nop_round_trip(&mut ring, 20);
}

// ----------------------------------------------------------------------
// Resizes
// ----------------------------------------------------------------------

/// A resize to a CQ smaller than the completions waiting in it is refused
/// (the kernel's `EOVERFLOW`) and loses none: each is read once after. A
/// resize below the ops in flight succeeds; their completions, more than
/// the new CQ holds, all arrive once through the overflow list. A resize
/// into caller memory of a ring in the kernel's is `InvalidArgument`.
#[test]
fn resizes_below_what_the_ring_holds_lose_and_repeat_nothing() {
    let _watch = watchdog();
    let Some(mut ring) = uring_tests::resizable_ring(8) else {
        return;
    };
    for i in 0..8 {
        ring.push(Nop::new().user_data(i)).unwrap();
    }
    ring.submit_and_wait(8).unwrap();
    let r = no_panic("resize", || ring.resize(2, 4));
    assert_errno("resize below the ready completions", r, libc::EOVERFLOW);
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (8, 16));
    let got: Vec<_> = ring.completions().map(|c| c.user_data()).collect();
    assert_eq!(got, (0..8).collect::<Vec<_>>());
    // Six timeouts in flight, then a CQ of four.
    for i in 0..6 {
        ring.push(Timeout::new(Duration::from_secs(3600)).user_data(100 + i))
            .unwrap();
    }
    ring.submit().unwrap();
    no_panic("resize", || ring.resize(2, 4)).unwrap();
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (2, 4));
    for i in 0..6u64 {
        // Two SQEs: push, and submit when the SQ is full.
        loop {
            match ring.push(Cancel::new(100 + i).user_data(200 + i)) {
                Ok(()) => break,
                Err(e) => {
                    assert!(e.is_full());
                    ring.submit().unwrap();
                }
            }
        }
    }
    ring.submit().unwrap();
    let got = uring_tests::drain_until_quiet(&mut ring, 12, Duration::from_millis(50));
    let mut got = got;
    got.sort();
    let mut want: Vec<(u64, i32)> = (0..6)
        .flat_map(|i| [(100 + i, -libc::ECANCELED), (200 + i, 0)])
        .collect();
    want.sort();
    assert_eq!(got, want);
    assert!(!ring.cq_has_overflow());
    nop_round_trip(&mut ring, 1);
    // A resize into caller memory on a ring whose memory is the kernel's
    // is refused before the kernel.
    let region = uring::RingRegion::anonymous(1 << 20).unwrap();
    assert_invalid_argument(
        "resize_in",
        no_panic("resize_in", || ring.resize_in(4, 8, region)),
    );
    nop_round_trip(&mut ring, 2);
}

/// `resize_memory_size` counts the memory of a resize the ring can make,
/// as `Builder::ring_memory_size` does for a setup: sizes no resize takes
/// (no SQ or CQ entries, a CQ smaller than the SQ, sizes past the kernel's
/// maxima) are the error `resize` gives (`EINVAL`), not byte counts of
/// memory nobody can use (`u32::MAX` entries would come to 336 GiB).
#[test]
fn resize_memory_sizes_of_sizes_no_resize_takes_are_errors() {
    let _watch = watchdog();
    let Some(mut ring) = uring_tests::resizable_ring(8) else {
        return;
    };
    for (sq, cq) in [(0, 0), (0, 8), (8, 0), (8, 4), (u32::MAX, u32::MAX)] {
        // The resize itself is refused with the kernel's EINVAL ...
        assert_errno("resize", ring.resize(sq, cq), libc::EINVAL);
        // ... and so must the count of its memory be.
        let r = no_panic("resize_memory_size", || ring.resize_memory_size(sq, cq));
        assert_errno("resize_memory_size", r, libc::EINVAL);
    }
    // Sizes a resize takes are counted.
    assert!(ring.resize_memory_size(16, 32).unwrap() > 0);
    nop_round_trip(&mut ring, 1);
}

// ----------------------------------------------------------------------
// Buffer rings
// ----------------------------------------------------------------------

/// Buffer rings registered twice under one group (`EEXIST`, of either
/// kind), groups past the mmap range (`InvalidArgument`, for groups 2048
/// and `u16::MAX`), descriptor counts that are not powers of two
/// (`InvalidArgument`), the head of a group nobody registered (`ENOENT`),
/// null and empty buffers and one add too many (`InvalidArgument`). The
/// first ring registered keeps serving a receive.
#[test]
fn buffer_rings_registered_twice_or_out_of_range() {
    let _watch = watchdog();
    let mut ring = Ring::new(4).unwrap();
    let Some(pool) = uring_tests::plain_buf_ring(&mut ring, 7, 2, 16) else {
        return;
    };
    let g7 = BufferGroup::new(7);
    assert_errno(
        "a buffer ring twice",
        no_panic("twice", || ring.register_buf_ring(g7, 2, 16)).map(drop),
        libc::EEXIST,
    );
    assert_errno(
        "a raw ring over a buffer ring",
        no_panic("raw twice", || ring.register_buf_ring_raw(g7, 2)).map(drop),
        libc::EEXIST,
    );
    for group in [2048, u16::MAX] {
        let g = BufferGroup::new(group);
        assert_invalid_argument(
            "mmap group",
            no_panic("mmap", || ring.register_buf_ring_mmap(g, 2, 16)).map(drop),
        );
        assert_invalid_argument(
            "incremental mmap group",
            no_panic("inc mmap", || {
                ring.register_buf_ring_incremental_mmap(g, 2, 16)
            })
            .map(drop),
        );
        assert_invalid_argument(
            "raw mmap group",
            no_panic("raw mmap", || ring.register_buf_ring_raw_mmap(g, 2)).map(drop),
        );
    }
    for entries in [0, 3, 5, 32767, 32769, u16::MAX] {
        assert_invalid_argument(
            "raw entries",
            no_panic("raw entries", || {
                ring.register_buf_ring_raw(BufferGroup::new(8), entries)
            })
            .map(drop),
        );
    }
    if uring_tests::require_kernel(6, 8, "IORING_REGISTER_PBUF_STATUS") {
        for group in [8, u16::MAX] {
            assert_errno(
                "head of no group",
                no_panic("head", || ring.buf_ring_head(BufferGroup::new(group))),
                libc::ENOENT,
            );
        }
        assert_eq!(ring.buf_ring_head(g7).unwrap(), 0);
    }
    // A raw ring of the largest size, and of one entry.
    let mut raw = ring
        .register_buf_ring_raw(BufferGroup::new(9), 32768)
        .unwrap();
    assert_eq!(raw.entries(), 32768);
    drop(raw);
    raw = ring.register_buf_ring_raw(BufferGroup::new(9), 1).unwrap();
    let mut memory = vec![0u8; 8];
    // SAFETY: a null address and an empty buffer are refused before
    // anything is written.
    unsafe {
        assert_invalid_argument("null", raw.add(std::ptr::null_mut(), 8, 0));
        assert_invalid_argument("empty", raw.add(memory.as_mut_ptr(), 0, 0));
    }
    // SAFETY: `memory` outlives `raw`, which is unregistered below, and no
    // op selects from the group.
    unsafe { raw.add(memory.as_mut_ptr(), 8, u16::MAX) }.unwrap();
    // SAFETY: refused: the ring's one descriptor is written.
    let r = no_panic("add past entries", || unsafe {
        raw.add(memory.as_mut_ptr(), 8, 1)
    });
    assert_invalid_argument("one add too many", r);
    assert_eq!(raw.pending(), 1);
    raw.advance();
    raw.advance();
    assert_eq!((raw.tail(), raw.pending()), (1, 0));
    raw.unregister().unwrap();
    drop(memory);
    // The first ring still serves a receive.
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(b"xyz").unwrap();
    let got = ring.scope(|s| {
        s.push(Recv::new(&rx, pool.select()).user_data(1)).unwrap();
        let mut cqe = uring_tests::next_scope_cqe(s);
        pool.claim(&mut cqe).unwrap().to_vec()
    });
    assert_eq!(got, b"xyz");
    nop_round_trip(&mut ring, 2);
}

// ----------------------------------------------------------------------
// Scopes
// ----------------------------------------------------------------------

/// In a scope: `user_data` of 0 and `u64::MAX` come back as given; a
/// synchronous cancel that matches nothing is `ENOENT`; registered waits
/// without a region are `InvalidArgument`; a claim of a NOP's completion
/// from a buffer ring is an error and leaves the completion readable.
#[test]
fn scope_calls_with_extreme_ids_and_in_the_wrong_state() {
    let _watch = watchdog();
    let mut ring = Ring::new(4).unwrap();
    let Some(pool) = uring_tests::plain_buf_ring(&mut ring, 4, 1, 8) else {
        return;
    };
    ring.scope(|s| {
        for ud in [0, u64::MAX] {
            s.push(Nop::new().user_data(ud)).unwrap();
        }
        let got = uring_tests::scope_reap(s, 2);
        uring_tests::assert_user_data_once(&got, [0, u64::MAX]);
        for ud in [0, u64::MAX] {
            let r = no_panic("cancel_sync", || {
                s.cancel_sync(SyncCancel::user_data(ud), Some(Duration::ZERO))
            });
            match r {
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT)) => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL)) => {
                    skip(format_args!("no synchronous cancellation: {e}"));
                }
                other => panic!("{other:?}"),
            }
        }
        assert_invalid_argument(
            "scope wait_registered",
            no_panic("wait_registered", || s.wait_registered(1, 0)),
        );
        assert_invalid_argument(
            "scope submit_and_wait_registered",
            s.submit_and_wait_registered(0, u32::MAX),
        );
        s.push(Nop::new().user_data(7)).unwrap();
        let mut cqe = uring_tests::next_scope_cqe(s);
        assert!(no_panic("claim a NOP", || pool.claim(&mut cqe)).is_err());
        assert_eq!((cqe.user_data(), cqe.res()), (7, 0));
        assert_eq!(s.in_flight(), 0);
    });
    assert_eq!(pool.available().unwrap_or(1), 1);
    nop_round_trip(&mut ring, 1);
}

// ----------------------------------------------------------------------
// Reactors
// ----------------------------------------------------------------------

/// An op id of another reactor cancels nothing there (`Ok(false)`), and
/// its op completes normally on its own reactor; a `Remote` of a reactor
/// handed an id of another cancels nothing either.
#[test]
fn reactor_ids_of_another_reactor_cancel_nothing() {
    let _watch = watchdog();
    let a = Reactor::new().unwrap();
    let b = Reactor::new().unwrap();
    let done_a = Rc::new(Cell::new(None));
    let d = done_a.clone();
    let id_a = a
        .queue(
            uring::reactor::ops::Timeout::new(Duration::from_millis(30)),
            move |r, ()| d.set(Some(r.map_err(|e| e.raw_os_error()))),
        )
        .unwrap();
    let done_b = Rc::new(Cell::new(None));
    let d = done_b.clone();
    let id_b = b
        .queue(
            uring::reactor::ops::Timeout::new(Duration::from_millis(30)),
            move |r, ()| d.set(Some(r.map_err(|e| e.raw_os_error()))),
        )
        .unwrap();
    a.submit().unwrap();
    b.submit().unwrap();
    assert!(!no_panic("cancel elsewhere", || b.cancel(id_a)).unwrap());
    assert!(!no_panic("cancel elsewhere", || a.cancel(id_b)).unwrap());
    b.handle().remote().cancel(id_a).unwrap();
    a.run().unwrap();
    b.run().unwrap();
    assert_eq!(done_a.get(), Some(Err(Some(libc::ETIME))));
    assert_eq!(done_b.get(), Some(Err(Some(libc::ETIME))));
    // Stale ids, once their ops are done, cancel nothing either.
    assert!(!a.cancel(id_a).unwrap());
    assert!(!b.cancel(id_b).unwrap());
    assert_eq!((a.in_flight(), b.in_flight()), (0, 0));
}

/// A buffer group of another reactor: on a reactor without that group the
/// receive fails once with `EINVAL` and no buffer; on one whose group of
/// the same id has smaller buffers, the kernel fills one of those, never
/// more than its length. Each callback runs once.
#[test]
fn reactor_buffer_groups_of_another_reactor() {
    let _watch = watchdog();
    let a = Reactor::new().unwrap();
    let b = Reactor::new().unwrap();
    let big = a.register_buf_ring(BufferGroup::new(11), 2, 64).unwrap();
    let (rx, mut tx) = UnixStream::pair().unwrap();
    tx.write_all(&[0x5a; 40]).unwrap();
    let fd = SharedFd::new(rx);
    let results = Rc::new(RefCell::new(Vec::new()));
    let r = results.clone();
    no_panic("queue", || {
        b.queue(
            uring::reactor::ops::RecvRing::new(&fd, big),
            move |res, buf| {
                r.borrow_mut()
                    .push((res.map_err(|e| e.raw_os_error()), buf.map(|b| b.len())))
            },
        )
    })
    .unwrap();
    b.run().unwrap();
    assert_eq!(*results.borrow(), [(Err(Some(libc::EINVAL)), None)]);
    // The same id with smaller buffers on `b`.
    let small = b.register_buf_ring(BufferGroup::new(11), 2, 16).unwrap();
    assert_eq!((small.buf_len(), big.buf_len()), (16, 64));
    results.borrow_mut().clear();
    let r = results.clone();
    b.queue(
        uring::reactor::ops::RecvRing::new(&fd, big),
        move |res, buf| {
            r.borrow_mut()
                .push((res.map_err(|e| e.raw_os_error()), buf.map(|b| b.len())))
        },
    )
    .unwrap();
    b.run().unwrap();
    assert_eq!(*results.borrow(), [(Ok(16), Some(16))]);
    // `a` is untouched and still receives the rest into its own buffers.
    let (res, buf) = a
        .run_until(a.op(uring::reactor::ops::RecvRing::new(&fd, big)))
        .unwrap();
    assert_eq!(res.unwrap(), 24);
    let buf = buf.unwrap();
    assert_eq!(&buf[..], &[0x5a; 24][..]);
    assert_eq!((a.in_flight(), b.in_flight()), (0, 0));
}

/// A reactor refuses a buffer group twice and after shutting down, and a
/// `Remote` of a reactor that has shut down refuses its jobs with an
/// error, dropping them unrun; the callbacks of ops it refuses never run.
#[test]
fn reactor_calls_after_shutdown_are_errors() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let remote = reactor.handle().remote();
    reactor.shutdown();
    assert!(reactor.is_shut_down());
    let ran = Rc::new(Cell::new(0));
    let r = ran.clone();
    let e = no_panic("queue after shutdown", || {
        reactor.queue(uring::reactor::ops::Nop, move |_, ()| r.set(r.get() + 1))
    });
    assert!(e.is_err());
    let e = no_panic("buf ring after shutdown", || {
        reactor.register_buf_ring(BufferGroup::new(1), 1, 8)
    });
    assert!(e.is_err());
    // A shut-down reactor does not run again: an error, not a hang.
    assert!(no_panic("run after shutdown", || reactor.run()).is_err());
    drop(reactor);
    let e = no_panic("remote after drop", || remote.execute(|_| {}));
    assert!(e.is_err());
    assert!(remote.shutdown().is_err());
    assert_eq!(ran.get(), 0);
}

// ----------------------------------------------------------------------
// Network types
// ----------------------------------------------------------------------

/// Unix-domain paths that cannot be addresses (empty, with a NUL, 108
/// bytes and more) are `InvalidInput` before any system call; a path with
/// no socket is `NotFound`, a port in use `AddrInUse`, a closed port
/// `ConnectionRefused`, an address not on this host `AddrNotAvailable`.
/// The reactor runs a NOP after each.
#[test]
fn network_calls_with_addresses_they_cannot_use() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let long = "x".repeat(108);
    for path in ["", "a\0b", long.as_str()] {
        let e = no_panic("bind", || uring::net::UnixListener::bind(&h, path)).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{path:?}");
        let e = no_panic("bind dgram", || uring::net::UnixDatagram::bind(&h, path)).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{path:?}");
        let r = reactor
            .run_until(uring::net::UnixStream::connect(&h, path))
            .unwrap();
        assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
    }
    let dir = tempfile::tempdir().unwrap();
    let nowhere = dir.path().join("no-socket");
    let r = reactor
        .run_until(uring::net::UnixStream::connect(&h, &nowhere))
        .unwrap();
    assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::NotFound);
    let dgram = uring::net::UnixDatagram::unbound(&h).unwrap();
    let (r, buf) = reactor
        .run_until(dgram.send_to(b"hi".to_vec(), &nowhere))
        .unwrap();
    assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::NotFound);
    assert_eq!(buf, b"hi", "the buffer comes back");
    let (r, buf) = reactor
        .run_until(dgram.send_to(b"hi".to_vec(), long.as_str()))
        .unwrap();
    assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
    assert_eq!(buf, b"hi");
    // A port in use, then closed.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let e = uring::net::TcpListener::bind(&h, addr).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
    drop(taken);
    let r = reactor
        .run_until(uring::net::TcpStream::connect(&h, addr))
        .unwrap();
    assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::ConnectionRefused);
    // An address of no interface here (TEST-NET-1).
    let e = uring::net::UdpSocket::bind(&h, "192.0.2.1:0".parse().unwrap()).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AddrNotAvailable);
    let e = uring::net::TcpListener::bind(&h, "192.0.2.1:0".parse().unwrap()).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AddrNotAvailable);
    let (r, ()) = reactor
        .run_until(reactor.op(uring::reactor::ops::Nop))
        .unwrap();
    assert_eq!(r.unwrap(), 0);
    assert_eq!(reactor.in_flight(), 0);
}
