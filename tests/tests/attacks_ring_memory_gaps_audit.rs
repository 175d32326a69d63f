//! Ring memory and its lifetime, attacked where the existing suites stop
//! short: a resize whose new rings the process cannot map once the kernel
//! has switched to them (the process out of mappings, `vm.max_map_count`,
//! rather than out of address space); resizes asked of a single-issuer ring
//! from a thread that is not its submitter; resizes of rings the kernel
//! cannot resize, to the sizes they have; rings whose submitting thread
//! exited with ops in flight; and registered wait regions across resizes.
//!
//! Read against the kernel sources of the index (a tree just past 6.18,
//! whose resize matches 6.18's where these tests look), run on 6.18:
//! `io_uring/register.c`
//! (`io_register_resize_rings`, which swaps the new regions in and frees the
//! old ones within the call, refuses rings without
//! `IORING_SETUP_DEFER_TASKRUN` before it reads its argument, and
//! `__io_uring_register`, which refuses every call from a task other than a
//! single issuer's submitter with `EEXIST`; `io_register_mem_region`),
//! `io_uring/memmap.c` (`io_create_region`, `io_uring_mmap`,
//! `io_uring_get_unmapped_area`), `io_uring/io_uring.c` (`rings_size`,
//! `io_uring_cancel_generic` at a task's exit, `io_get_ext_arg_reg`); the
//! mapping table's limit (`vm.max_map_count`, counted by `do_mmap` before
//! a new mapping merges with a neighbour) as `strace` showed it.
//!
//! Every test is safe code against the running kernel (but for the `mmap`
//! and `munmap` calls that fill the process's mapping table, each with its
//! `SAFETY` comment) and checks what the kernel did. Tests marked
//! `#[ignore = "DEFECT: ..."]` show a defect of the library and fail when
//! run.

use std::time::{Duration, Instant};

use uring::ops::{Nop, Timeout};
use uring::{Builder, Error, Ring};
use uring_tests::{require_kernel, skip, watchdog};

/// The page size.
fn page() -> usize {
    // SAFETY: sysconf takes a plain integer.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

/// The errno an error carries, or 0.
fn errno(e: &Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

/// Every completion ready, as `(user_data, res)`.
fn take(ring: &mut Ring) -> Vec<(u64, i32)> {
    ring.completions()
        .map(|c| (c.user_data(), c.res()))
        .collect()
}

/// The kernel's `SqMask` and `CqMask` of the ring, from its fdinfo.
fn kernel_masks(ring: &Ring) -> (u32, u32) {
    use std::os::fd::AsRawFd;
    let text = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", ring.as_raw_fd())).unwrap();
    let mask = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| u32::from_str_radix(v.trim().trim_start_matches("0x"), 16).ok())
            .unwrap_or_else(|| panic!("no {key} in the fdinfo:\n{text}"))
    };
    (mask("SqMask:"), mask("CqMask:"))
}

/// One-page anonymous mappings that fill the process's mapping table
/// (`vm.max_map_count`): neighbours alternate between read-only and
/// read-write, so that no two merge into one mapping.
struct Fillers {
    pages: Vec<(usize, bool)>,
}

impl Fillers {
    fn new() -> Fillers {
        // Room for more than any table holds, had before the table is full.
        let mut pages = Vec::new();
        pages.reserve_exact(1 << 20);
        Fillers { pages }
    }

    /// Maps pages until the kernel refuses one; how many it mapped.
    fn fill(&mut self) -> usize {
        let mut n = 0;
        while self.pages.len() < self.pages.capacity() {
            let writable = self.pages.len() % 2 == 1;
            let prot = if writable {
                libc::PROT_READ | libc::PROT_WRITE
            } else {
                libc::PROT_READ
            };
            // SAFETY: a fresh private anonymous mapping of one page at an
            // address the kernel picks: it replaces nothing.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    page(),
                    prot,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                break;
            }
            self.pages.push((p as usize, writable));
            n += 1;
        }
        n
    }

    /// Unmaps `n` of the read-write pages, each between read-only ones
    /// (where one page mapped later in the hole merges with neither): `n`
    /// mappings free in the table.
    fn free(&mut self, n: usize) {
        for _ in 0..n {
            let at = self
                .pages
                .iter()
                .rposition(|&(_, writable)| writable)
                .expect("a read-write filler");
            let (addr, _) = self.pages.remove(at);
            // SAFETY: the page is a filler mapped above, which nothing uses.
            let unmapped = unsafe { libc::munmap(addr as *mut libc::c_void, page()) };
            assert_eq!(unmapped, 0);
        }
    }

    fn release(&mut self) {
        for (addr, _) in self.pages.drain(..) {
            // SAFETY: as in `free`.
            unsafe { libc::munmap(addr as *mut libc::c_void, page()) };
        }
    }
}

impl Drop for Fillers {
    fn drop(&mut self) {
        self.release();
    }
}

/// `io_register_resize_rings` swaps the new rings in and frees the old
/// ones within the call; the library then maps the new rings from the
/// ring's descriptor (`Ring::resize_with` through `map_queues`), and a
/// failure there would leave a ring whose SQEs the kernel never reads.
/// What it has of the process beforehand is address space (the
/// reservation of the new rings' size, `Reserved`), not room in the
/// process's mapping table (`vm.max_map_count`): the two reservations,
/// made side by side, merge into one mapping, and giving them back frees
/// one slot while the SQ ring and the SQEs take two. It holds all the same,
/// because `do_mmap` counts the table before it merges: the second
/// reservation is refused unless the table has the room the second ring
/// mapping needs. With the table full but for 0 to 7 slots, each resize
/// either fails before the kernel switches (the kernel's masks unchanged)
/// or succeeds, and a NOP pushed after it completes. In a copy of the test
/// binary (the table is the whole process's).
#[test]
fn a_resize_that_runs_out_of_mappings_after_the_switch_leaves_a_working_ring() {
    const NAME: &str = "a_resize_that_runs_out_of_mappings_after_the_switch_leaves_a_working_ring";
    if !uring_tests::in_child(NAME) {
        let _watch = watchdog();
        let text = uring_tests::run_in_child(NAME);
        for line in text
            .lines()
            .filter(|l| l.starts_with("skipped:") || l.starts_with("free "))
        {
            eprintln!("{line}");
        }
        return;
    }
    if !require_kernel(6, 13, "IORING_REGISTER_RESIZE_RINGS") {
        return;
    }
    let max = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok());
    if max.is_none_or(|m| m >= 500_000) {
        skip(format_args!(
            "vm.max_map_count is {max:?}: too many mappings to fill"
        ));
        return;
    }
    let mut fillers = Fillers::new();
    let mut report = Vec::with_capacity(64);
    let mut broken = None;
    for free in 0..8usize {
        let Some(mut ring) = uring_tests::resizable_ring(8) else {
            return;
        };
        ring.push(Nop::new().user_data(1)).unwrap();
        ring.submit_and_wait(1).unwrap();
        assert_eq!(take(&mut ring), [(1, 0)]);
        // Each round's rings are larger than any before: no hole an
        // earlier ring left fits them, so the two reservations are made
        // side by side, and merge.
        let (sq, cq) = (256u32 << free, 512u32 << free);
        fillers.fill();
        fillers.free(free);
        let resized = ring.resize(sq, cq);
        fillers.fill();
        ring.push(Nop::new().user_data(2)).unwrap();
        let submitted = ring.submit();
        let waited = ring.wait_timeout(1, Duration::from_millis(500));
        let got = take(&mut ring);
        fillers.release();
        let masks = kernel_masks(&ring);
        let own = (ring.sq_entries() - 1, ring.cq_entries() - 1);
        let healthy = waited.is_ok() && got == [(2, 0)] && masks == own;
        report.push((free, (sq, cq), resized, submitted, waited, got, masks, own));
        if !healthy {
            broken = Some(free);
            break;
        }
    }
    for (free, sizes, resized, submitted, waited, got, masks, own) in &report {
        println!(
            "free {free}: resize to {sizes:?}: {resized:?}; submit {submitted:?}, wait \
             {waited:?}, completions {got:?}; the kernel's masks {masks:?}, the ring's {own:?}"
        );
    }
    assert_eq!(
        broken, None,
        "after a resize, a NOP pushed never completed, or the ring and the kernel disagree on \
         the sizes"
    );
}

/// A single-issuer ring belongs to the task that set it up (or enabled
/// it): `__io_uring_register` refuses every register call of another task
/// with `EEXIST` before it looks at the opcode. A deferred-task-work ring
/// (in the kernel's memory, and in the library's, `no_mmap`) moved to
/// another thread with completions unread: there `resize` and `resize_in`
/// fail with `EEXIST` (not a panic, not the "needs defer_taskrun" error),
/// the kernel's rings stay as they were, and back on its thread the
/// unread completions come out once, the ring resizes and runs ops.
#[test]
fn resizes_asked_from_another_thread_of_a_single_issuer_ring_are_refused_and_lose_nothing() {
    let _watch = watchdog();
    if !require_kernel(6, 13, "IORING_REGISTER_RESIZE_RINGS") {
        return;
    }
    for no_mmap in [false, true] {
        let builder = Builder::new().single_issuer().defer_taskrun();
        let builder = if no_mmap { builder.no_mmap() } else { builder };
        let mut ring = match builder.build(8) {
            Ok(ring) => ring,
            Err(e) => {
                skip(format_args!(
                    "no deferred task work ring (no_mmap {no_mmap}): {e}"
                ));
                return;
            }
        };
        for ud in 1..=3 {
            ring.push(Nop::new().user_data(ud)).unwrap();
        }
        ring.submit_and_wait(3).unwrap();
        {
            let mut it = ring.completions();
            assert_eq!(it.next().map(|c| c.user_data()), Some(1));
        }
        let before = kernel_masks(&ring);
        let (plain, given) = std::thread::scope(|t| {
            t.spawn(|| {
                let plain = ring.resize(16, 64);
                let given = ring
                    .resize_memory_size(16, 64)
                    .and_then(uring::RingRegion::anonymous)
                    .and_then(|m| ring.resize_in(16, 64, m));
                (plain, given)
            })
            .join()
            .expect("no panic on the other thread")
        });
        let e = plain.expect_err("a resize from another task");
        assert_eq!(errno(&e), libc::EEXIST, "no_mmap {no_mmap}: {e:?}");
        let e = given.expect_err("a resize into given memory from another task");
        if no_mmap {
            assert_eq!(errno(&e), libc::EEXIST, "no_mmap {no_mmap}: {e:?}");
        } else {
            assert!(
                matches!(e, Error::InvalidArgument(_)),
                "resize_in of a mapped ring: {e:?}"
            );
        }
        assert_eq!(kernel_masks(&ring), before, "no_mmap {no_mmap}");
        assert_eq!((ring.sq_entries(), ring.cq_entries()), (8, 16));
        assert_eq!(take(&mut ring), [(2, 0), (3, 0)], "no_mmap {no_mmap}");
        ring.resize(16, 64).unwrap();
        assert_eq!(kernel_masks(&ring), (15, 63), "no_mmap {no_mmap}");
        for ud in 4..20 {
            ring.push(Nop::new().user_data(ud)).unwrap();
        }
        ring.submit_and_wait(16).unwrap();
        let got: Vec<u64> = take(&mut ring).iter().map(|&(ud, _)| ud).collect();
        assert_eq!(got, (4..20).collect::<Vec<_>>(), "no_mmap {no_mmap}");
    }
}

/// `io_register_resize_rings` refuses every ring made without
/// `IORING_SETUP_DEFER_TASKRUN` (`EINVAL`), before it reads the sizes
/// asked for, and `Ring::resize` says so
/// (`Error::InvalidArgument`, "the kernel resizes rings built with
/// defer_taskrun()"), at the sizes the ring has too: the kernel's "nothing
/// to do" for those sizes is its answer only for rings it can resize, so a
/// plain or SQPOLL ring must not report as done a resize the kernel
/// refuses at every size.
#[test]
fn a_resize_of_a_ring_the_kernel_cannot_resize_is_refused_at_its_own_sizes_too() {
    let _watch = watchdog();
    if !require_kernel(6, 13, "IORING_REGISTER_RESIZE_RINGS") {
        return;
    }
    let mut rings = vec![("plain", Ring::new(8).unwrap())];
    if let Some(ring) = uring_tests::sqpoll_ring(8) {
        rings.push(("sqpoll", ring));
    }
    for (what, mut ring) in rings {
        let other = ring.resize(16, 32);
        assert!(
            matches!(other, Err(Error::InvalidArgument(_))),
            "{what}: a resize to other sizes: {other:?}"
        );
        let own = (ring.sq_entries(), ring.cq_entries());
        let same = ring.resize(own.0, own.1);
        assert!(
            same.is_err(),
            "{what}: a resize to the ring's own sizes {own:?} reports success ({same:?}) on a \
             ring the kernel refuses to resize ({other:?})"
        );
    }
}

/// A deferred-task-work ring whose submitting thread exits with a timeout
/// in flight and a fired timeout's completion still in task work, the
/// `Ring` moved to another thread first (it is `Send`). At the task's
/// exit, `io_uring_cancel_generic(false)` looks only at tracked requests
/// (`tctx_inflight(tctx, true)`: none here) and runs none of the ring's
/// local work, and only the dead submitter could
/// (`io_allowed_defer_tw_run`): neither completion ever reaches the CQ
/// while the ring lives. On the new thread the ring reads nothing (no
/// panic, no completion made up), its submissions and waits fail with
/// `EEXIST`, a scope that lends a buffer takes its read back and returns
/// with the buffer untouched, and the ring drops without a hang (closing
/// it ends the timeout).
#[test]
fn a_defer_ring_whose_submitter_exited_never_gets_its_completions() {
    let _watch = watchdog();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let Some(mut ring) = uring_tests::defer_ring(8) else {
            return;
        };
        ring.push(Timeout::new(Duration::from_secs(60)).user_data(1))
            .unwrap();
        ring.push(Timeout::new(Duration::from_millis(1)).user_data(2))
            .unwrap();
        assert_eq!(ring.submit().unwrap(), 2);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(ring.ready(), 0, "nothing ran the task work yet");
        tx.send(ring).unwrap();
    })
    .join()
    .expect("the submitting thread");
    let Ok(mut ring) = rx.recv() else {
        return;
    };
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_millis(100);
    while Instant::now() < deadline {
        got.extend(take(&mut ring));
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(got, [], "completions of a dead submitter's ops");
    assert_eq!(ring.ready(), 0);
    ring.push(Nop::new().user_data(3)).unwrap();
    let e = ring.submit().unwrap_err();
    assert_eq!(errno(&e), libc::EEXIST, "{e:?}");
    let e = ring.wait_timeout(1, Duration::from_millis(20)).unwrap_err();
    assert_eq!(errno(&e), libc::EEXIST, "{e:?}");
    let (rx_sock, mut tx_sock) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut buf = [0xc3u8; 8];
    let submitted = ring.scope(|s| {
        s.push(uring::ops::Read::new(&rx_sock, &mut buf[..]).user_data(4))
            .unwrap();
        s.submit().map_err(|e| errno(&e))
    });
    assert_eq!(submitted, Err(libc::EEXIST));
    use std::io::Write;
    tx_sock.write_all(b"too late").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(buf, [0xc3; 8], "the read ran after its scope");
    assert_eq!(take(&mut ring), []);
    drop(ring);
}

/// A registered wait region (`IORING_REGISTER_MEM_REGION`, in the
/// ring's own mapping) is the kernel's `param_region`, apart from the
/// rings: a resize, of a ring still disabled and of the enabled ring,
/// leaves it in place. Waits on its slots then end at the slot's timeout
/// (`Error::TimedOut`, not before it and well within a second), and with
/// a completion once one is there.
#[test]
fn registered_wait_slots_keep_their_arguments_across_resizes() {
    let _watch = watchdog();
    if !require_kernel(6, 13, "registered wait regions and resizes") {
        return;
    }
    let mut ring = match Builder::new()
        .single_issuer()
        .defer_taskrun()
        .r_disabled()
        .build(8)
    {
        Ok(ring) => ring,
        Err(e) => {
            skip(format_args!("no disabled deferred task work ring: {e}"));
            return;
        }
    };
    ring.resize(16, 32).unwrap();
    assert_eq!(kernel_masks(&ring), (15, 31));
    if let Err(e) = ring.register_wait_region(2) {
        skip(format_args!("no registered wait region: {e}"));
        return;
    }
    ring.set_registered_wait(0, Some(Duration::from_millis(30)), None)
        .unwrap();
    ring.set_registered_wait(1, Some(Duration::from_millis(10)), None)
        .unwrap();
    ring.enable().unwrap();
    let mut next = 1u64;
    for (sq, cq) in [(32u32, 64u32), (4, 4), (128, 256)] {
        ring.resize(sq, cq).unwrap();
        for (slot, at_least) in [(0u32, 30u64), (1, 10)] {
            let start = Instant::now();
            let waited = ring.wait_registered(1, slot);
            let took = start.elapsed();
            assert!(
                matches!(waited, Err(Error::TimedOut)),
                "{sq}/{cq} slot {slot}: {waited:?}"
            );
            assert!(
                took >= Duration::from_millis(at_least - 1) && took < Duration::from_secs(1),
                "{sq}/{cq} slot {slot}: waited {took:?}"
            );
            ring.push(Nop::new().user_data(next)).unwrap();
            ring.submit_and_wait_registered(1, slot).unwrap();
            assert_eq!(take(&mut ring), [(next, 0)], "{sq}/{cq} slot {slot}");
            next += 1;
        }
    }
}
