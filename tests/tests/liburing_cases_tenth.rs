//! A tenth batch of ports of liburing's own test cases (the `test/`
//! directory of github.com/axboe/liburing, read at commit 27255f4c) to
//! uring's API: the cases of `reg-wait.c` that the other
//! `liburing_cases*.rs` leave out (`test_regions`' descriptors that the
//! kernel refuses, through `test_try_register_region`; `test_offsets`;
//! `test_invalid_sig`; `test_region_buffer_types`) and `resize-rings.c`
//! `test_mmap_race` (found by listing each C file's `test_*` functions,
//! and the static functions `main` calls, against the doc comments near
//! each mention of the file in `tests/tests`). Each test names its C file
//! and case and asserts what the C test asserts of the kernel (results,
//! errnos), and more where it is cheap (that a refused registration leaves
//! a ring that still runs, where the kernel puts a region of its own
//! memory, what every mapping made during a resize shows).
//!
//! Read against Linux 6.18's `io_uring/register.c`
//! (`io_register_mem_region`: the descriptor is copied in, `EFAULT` when it
//! cannot be; only on a ring still disabled; `io_register_resize_rings`
//! swaps the regions under `mmap_lock`), `io_uring/memmap.c`
//! (`io_create_region`: `user_addr` set if and only if the region is of
//! user memory, else `EFAULT`; a size of 0 or an address or size not
//! page-aligned is `EINVAL`; `io_pin_pages` pins for writing, `EFAULT` on
//! pages that are missing or read-only; a kernel region is mapped at
//! `IORING_MAP_OFF_PARAM_REGION`, a user one not at all) and
//! `io_uring/io_uring.c` (`io_get_ext_arg_reg`: an offset not a multiple
//! of 8, or whose 64 bytes overflow or pass the region's end, is `EFAULT`;
//! `array_index_nospec(offset, size - 64)` then turns the offset of the
//! region's last 64 bytes into 0; `io_cqring_wait` checks a signal mask's
//! size, `EINVAL`, and copies it, `EFAULT`, before it waits).
//!
//! uring offers none of this through its safe API on purpose:
//! `Ring::register_wait_region` allocates the region itself (of user
//! memory, never one the kernel allocates), names slots, not byte offsets,
//! never hands out the region's last slot, and writes each signal mask with
//! its true size. So the ports register regions and wait on offsets with
//! raw system calls through `uring::sys` (the `unsafe` floor), on rings
//! made by uring; the regions' memory is the test's own and outlives the
//! rings. `test_mmap_race`'s mappings of the ring's descriptor are made
//! with `sys::mmap_ring`, and only read (the C test's children write
//! `0x5a` over the live ring's shared fields, which would corrupt the
//! `Ring` that the test goes on to use).
//!
//! What the kernel does that the C tests do not say: `test_offsets`'
//! offset 1 ("undefined behaviour, check the kernel doesn't crash") is
//! `EFAULT` on 6.18; a wait on the region's last slot runs with slot 0's
//! arguments (which `register_wait_region` documents, and works around);
//! a region of kernel memory comes back with its `mmap_offset` set to
//! `IORING_MAP_OFF_PARAM_REGION` and is mapped there, and a user region
//! is refused a mapping (`ENOMEM`, `io_uring_get_unmapped_area`'s answer
//! for a region it will not map); and a mapping of the SQEs shorter than
//! their region fails with `EFAULT` (`io_uring_mmap` bounds the pages it
//! inserts by the mapping's length for the rings only, and
//! `vm_insert_pages` refuses to overrun the mapping), so the port maps
//! the SQEs of the larger ring, 2 pages, and reads only the first.
//!
//! What is left out, and why:
//!
//! - `test_region_buffer_types` with huge pages: run when the machine has
//!   2 MiB huge pages to give (`MAP_HUGETLB`), skipped as in the C test
//!   when the mapping fails.
//! - The other C files' cases have ports in the other suites, but for what
//!   Linux 6.18 or this machine lacks (listed in `liburing_cases_seventh.rs`:
//!   `cbpf_filter.c`, `bpf_cp.c`, `bpf_nops.c`, `task-restrict.c` and the
//!   `sqe-mixed-*.c` files need Linux 7.0; `large-resize.c`
//!   `test_sqe_mixed_resize` too; `zcrx.c`, `io_uring_passthrough.c`,
//!   `uring_cmd_ublk.c`, `cmd-zone-reset-all.c`, `mock_file.c` need a NIC
//!   with header split, NVMe, ublk, a zoned device, the mock driver), and
//!   `helpers.c`, `kallsyms.c`, `nolibc.c`, `version.c` and `xfail_*.c`,
//!   which test liburing itself.

use std::os::fd::{AsRawFd, RawFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use uring::ops::Nop;
use uring::{Ring, sys};
use uring_tests::skip;

// ---------------------------------------------------------------- helpers

/// The page size.
const PAGE: usize = 4096;

/// `IORING_MAP_OFF_PARAM_REGION` (`io_uring/memmap.h`): where a region of
/// kernel memory is mapped from the ring's descriptor.
const MAP_OFF_PARAM_REGION: u64 = 0x2000_0000;

/// The size of one registered wait argument.
const SLOT: usize = std::mem::size_of::<sys::io_uring_reg_wait>();

/// reg-wait.c's `brief_wait`: a 1 us timeout.
fn brief_wait() -> sys::io_uring_reg_wait {
    sys::io_uring_reg_wait {
        flags: sys::IORING_REG_WAIT_TS,
        ts: sys::__kernel_timespec {
            tv_sec: 0,
            tv_nsec: 1000,
        },
        ..Default::default()
    }
}

/// A wait argument with a timeout of `ms` milliseconds.
fn wait_of_ms(ms: i64) -> sys::io_uring_reg_wait {
    sys::io_uring_reg_wait {
        flags: sys::IORING_REG_WAIT_TS,
        ts: sys::__kernel_timespec {
            tv_sec: ms / 1000,
            tv_nsec: (ms % 1000) * 1_000_000,
        },
        ..Default::default()
    }
}

/// An anonymous private mapping of whole pages, owned by the test and
/// unmapped on drop (after every ring that registered it, which the tests
/// make later and so drop sooner).
struct Pages {
    ptr: NonNull<u8>,
    len: usize,
}

impl Pages {
    /// `len` bytes with protection `prot` and extra `flags`, or the mmap
    /// error.
    fn map(len: usize, prot: i32, flags: i32) -> std::io::Result<Pages> {
        // SAFETY: a fresh anonymous mapping chosen by the kernel (addr =
        // NULL) cannot overlap memory Rust knows about.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | flags,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Pages {
            ptr: NonNull::new(p.cast()).expect("mmap gave NULL"),
            len,
        })
    }

    /// `len` bytes, readable and writable.
    fn rw(len: usize) -> Pages {
        Pages::map(len, libc::PROT_READ | libc::PROT_WRITE, 0).unwrap()
    }

    fn addr(&self) -> u64 {
        self.ptr.as_ptr() as u64
    }
}

impl Drop for Pages {
    fn drop(&mut self) {
        // SAFETY: the mapping is this value's, made by `Pages::map`, and
        // nothing uses it once the value goes.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// A region of kernel memory mapped from a ring's descriptor, unmapped on
/// drop.
struct KernelMap {
    ptr: NonNull<u8>,
    len: usize,
}

impl Drop for KernelMap {
    fn drop(&mut self) {
        // SAFETY: the mapping was made by `sys::mmap_ring` with this length
        // and nothing uses it once the value goes.
        unsafe { sys::munmap(self.ptr.as_ptr().cast(), self.len) }.unwrap();
    }
}

/// Writes the first `len` bytes of `value` at byte `offset` of the region
/// at `base`, of `size` bytes.
///
/// # Safety
///
/// `base` must be valid for writes of `size` bytes, and no system call may
/// read the region meanwhile (the tests enter the ring only after).
unsafe fn put(
    base: *mut u8,
    size: usize,
    offset: usize,
    value: &sys::io_uring_reg_wait,
    len: usize,
) {
    assert!(
        len <= SLOT && offset + len <= size,
        "{offset} + {len} > {size}"
    );
    // SAFETY: in bounds (checked above) of memory the caller vouches for;
    // `value` is plain data and does not overlap the region.
    unsafe {
        std::ptr::copy_nonoverlapping(
            (value as *const sys::io_uring_reg_wait).cast::<u8>(),
            base.add(offset),
            len,
        );
    }
}

/// `IORING_REGISTER_MEM_REGION` of the descriptor `rd` (or, with
/// `null_region`, of a null descriptor pointer) flagged as the ring's wait
/// arguments. Returns the errno on failure; the kernel writes back `rd`'s
/// `mmap_offset`.
///
/// # Safety
///
/// A user region `rd` names must be memory the caller owns for as long as
/// the ring lives (the kernel pins it and reads wait arguments from it).
unsafe fn register_region(
    ring: &Ring,
    rd: &mut sys::io_uring_region_desc,
    null_region: bool,
) -> Result<(), i32> {
    let reg = sys::io_uring_mem_region_reg {
        region_uptr: if null_region {
            0
        } else {
            rd as *mut sys::io_uring_region_desc as u64
        },
        flags: sys::IORING_MEM_REGION_REG_WAIT_ARG,
        ..Default::default()
    };
    // SAFETY: `reg` and `rd` are live for the call; what `rd` names is
    // vouched for by the caller, and a wild address in it is the kernel's
    // to refuse (it pins user pages through `pin_user_pages_fast`).
    unsafe {
        sys::io_uring_register(
            ring.as_raw_fd(),
            sys::IORING_REGISTER_MEM_REGION,
            (&reg as *const sys::io_uring_mem_region_reg).cast(),
            1,
        )
    }
    .map(drop)
    .map_err(|e| e.raw_os_error().expect("an errno"))
}

/// A descriptor of a user-memory region of `size` bytes at `addr`.
fn user_desc(addr: u64, size: usize) -> sys::io_uring_region_desc {
    sys::io_uring_region_desc {
        user_addr: addr,
        size: size as u64,
        flags: sys::IORING_MEM_REGION_TYPE_USER,
        ..Default::default()
    }
}

/// reg-wait.c `test_try_register_region` (`__init_ring_with_region`): a
/// ring of 8, created disabled or not, registers the region `rd`
/// describes and, if it was disabled, is enabled. Returns the errno of
/// the registration and the descriptor as the kernel left it. A ring that
/// took the region is checked to run a NOP, then dropped.
///
/// # Safety
///
/// As [`register_region`].
unsafe fn try_register_region(
    mut rd: sys::io_uring_region_desc,
    null_region: bool,
    disabled: bool,
) -> (Result<(), i32>, sys::io_uring_region_desc) {
    let builder = if disabled {
        Ring::builder().r_disabled()
    } else {
        Ring::builder()
    };
    let mut ring = builder.build(8).unwrap();
    // SAFETY: forwarded from the caller.
    let result = unsafe { register_region(&ring, &mut rd, null_region) };
    if disabled {
        ring.enable().unwrap();
    }
    let cqe = uring_tests::complete(&mut ring, Nop::new().user_data(7));
    assert_eq!((cqe.user_data(), cqe.res()), (7, 0));
    (result, rd)
}

/// reg-wait.c `test_wait_reg_offset`: an `io_uring_enter(2)` that waits
/// for `wait_nr` completions with the registered wait argument at byte
/// `offset` of the ring's region (`IORING_ENTER_EXT_ARG_REG`). Returns the
/// errno (`ETIME` for a timeout).
fn wait_reg_offset(ring: &Ring, wait_nr: u32, offset: u64) -> Result<u32, i32> {
    // SAFETY: nothing is submitted; with `IORING_ENTER_EXT_ARG_REG` the
    // argument is an offset into the ring's registered region, which the
    // kernel checks against the region's size before reading, not a
    // pointer it follows.
    unsafe {
        sys::io_uring_enter(
            ring.as_raw_fd(),
            0,
            wait_nr,
            sys::IORING_ENTER_GETEVENTS | sys::IORING_ENTER_EXT_ARG | sys::IORING_ENTER_EXT_ARG_REG,
            offset as usize as *const libc::c_void,
            SLOT,
        )
    }
    .map_err(|e| e.raw_os_error().expect("an errno"))
}

/// reg-wait.c `test_offsets`: on a ring whose wait region is `size` bytes
/// at `base` (`overallocated`: the memory behind it runs on past its end),
/// the first and last slots time out (`ETIME`), the slot just past the end,
/// the offset that wraps (`-8`) and an offset whose 64 bytes end past the
/// region (`size - 8`) are `EFAULT`; the offset 1 (left to the kernel in
/// C) is `EFAULT` on 6.18, which takes offsets that are multiples of 8.
///
/// # Safety
///
/// `base` must be valid for writes of `size` bytes (and of 64 more when
/// `overallocated`), the ring's registered wait region.
unsafe fn check_offsets(
    ring: &mut Ring,
    base: *mut u8,
    size: usize,
    overallocated: bool,
    what: &str,
) {
    let brief = brief_wait();
    let max_index = size / SLOT;
    // Each `put` below writes in the region, or just past it where the
    // memory runs on (`overallocated`), while no enter runs.
    // SAFETY: slot 0 is in the region the caller vouches for.
    unsafe { put(base, size, 0, &brief, SLOT) };
    assert_eq!(
        wait_reg_offset(ring, 1, 0),
        Err(libc::ETIME),
        "{what}: slot 0"
    );

    if overallocated {
        // SAFETY: as above, the memory runs on past `size`.
        unsafe { put(base, size + SLOT, max_index * SLOT, &brief, SLOT) };
    }
    assert_eq!(
        wait_reg_offset(ring, 1, (max_index * SLOT) as u64),
        Err(libc::EFAULT),
        "{what}: slot {max_index}, past the end"
    );

    // SAFETY: as above.
    unsafe { put(base, size, (max_index - 1) * SLOT, &brief, SLOT) };
    assert_eq!(
        wait_reg_offset(ring, 1, ((max_index - 1) * SLOT) as u64),
        Err(libc::ETIME),
        "{what}: the last slot"
    );

    assert_eq!(
        wait_reg_offset(ring, 1, 0u64.wrapping_sub(8)),
        Err(libc::EFAULT),
        "{what}: offset -8"
    );

    let copy = if overallocated { SLOT } else { 8 };
    // SAFETY: as above (64 bytes only when the memory runs on).
    unsafe { put(base, size + SLOT, size - 8, &brief, copy) };
    assert_eq!(
        wait_reg_offset(ring, 1, (size - 8) as u64),
        Err(libc::EFAULT),
        "{what}: offset size - 8"
    );

    // SAFETY: as above; bytes 1..65 are in the region.
    unsafe { put(base, size, 1, &brief, SLOT) };
    assert_eq!(
        wait_reg_offset(ring, 1, 1),
        Err(libc::EFAULT),
        "{what}: offset 1"
    );
    // The ring still runs after all that.
    let cqe = uring_tests::complete(ring, Nop::new().user_data(9));
    assert_eq!((cqe.user_data(), cqe.res()), (9, 0), "{what}");
}

/// A ring created disabled with a region of user memory of `pages` pages
/// registered as its wait arguments, then enabled; `None` (after saying
/// so) on a kernel without regions.
///
/// # Safety
///
/// `mem` must outlive the ring.
unsafe fn ring_with_user_region(mem: &Pages, size: usize) -> Option<Ring> {
    let mut ring = Ring::builder().r_disabled().build(8).unwrap();
    let mut rd = user_desc(mem.addr(), size);
    // SAFETY: `mem` outlives the ring (the caller's word).
    match unsafe { register_region(&ring, &mut rd, false) } {
        Ok(()) => {}
        Err(libc::EINVAL) => {
            skip("no IORING_REGISTER_MEM_REGION (EINVAL)");
            return None;
        }
        Err(e) => panic!("registering a page of user memory: errno {e}"),
    }
    ring.enable().unwrap();
    Some(ring)
}

// ---------------------------------------------------------------- reg-wait.c

/// reg-wait.c `test_regions`, the descriptors `liburing_cases_third.rs`
/// leaves out (each on a ring of its own, created disabled, as
/// `test_try_register_region` makes it): a region of 4 pages registers; a
/// user region at address 0 is `EFAULT`; a kernel region (no
/// `IORING_MEM_REGION_TYPE_USER`) with an address fails (`EFAULT`); a size
/// of 0 fails (`EINVAL`); a null descriptor pointer fails (`EFAULT`); an
/// address 16 bytes into a page fails (`EINVAL`); the address 0x1000,
/// where nothing is mapped, fails (`EFAULT`); a read-only page is `EFAULT`
/// (the kernel pins for writing); a kernel region of one page registers
/// (or the kernel has none: `EINVAL`), with its `mmap_offset` set to
/// `IORING_MAP_OFF_PARAM_REGION`. (The port adds: every ring, refused or
/// not, runs a NOP once enabled.)
#[test]
fn reg_wait_test_regions_refused_descriptors() {
    let _watch = uring_tests::watchdog();
    let buffer = Pages::rw(4 * PAGE);
    let desc = user_desc(buffer.addr(), PAGE);
    let attempt = |rd: sys::io_uring_region_desc, null_region: bool, disabled: bool| {
        // SAFETY: `buffer` and `ro` outlive each call, and the ring
        // `try_register_region` makes is dropped before it returns; the
        // wild addresses are the kernel's to refuse.
        unsafe { try_register_region(rd, null_region, disabled) }
    };
    let (r, _) = attempt(desc, false, true);
    match r {
        Ok(()) => {}
        Err(libc::EINVAL) => {
            skip("no IORING_REGISTER_MEM_REGION (EINVAL)");
            return;
        }
        Err(e) => panic!("region: register normal: errno {e}"),
    }
    let (r, _) = attempt(desc, false, false);
    assert_eq!(r, Err(libc::EINVAL), "register with !R_DISABLED");

    let (r, _) = attempt(user_desc(buffer.addr(), 4 * PAGE), false, true);
    assert_eq!(r, Ok(()), "16 KiB");

    let (r, _) = attempt(user_desc(0, PAGE), false, true);
    assert_eq!(r, Err(libc::EFAULT), "null uptr");

    let kernel_with_addr = sys::io_uring_region_desc { flags: 0, ..desc };
    let (r, _) = attempt(kernel_with_addr, false, true);
    assert_eq!(r, Err(libc::EFAULT), "kernel alloc with uptr");

    let (r, _) = attempt(user_desc(buffer.addr(), 0), false, true);
    assert_eq!(r, Err(libc::EINVAL), "0-size");

    let (r, _) = attempt(desc, true, true);
    assert_eq!(r, Err(libc::EFAULT), "NULL region");

    let (r, _) = attempt(user_desc(buffer.addr() + 16, PAGE), false, true);
    assert_eq!(r, Err(libc::EINVAL), "misaligned region");

    let (r, _) = attempt(user_desc(0x1000, PAGE), false, true);
    assert_eq!(r, Err(libc::EFAULT), "bogus uptr");

    let ro = Pages::map(PAGE, libc::PROT_READ, 0).unwrap();
    let (r, _) = attempt(user_desc(ro.addr(), PAGE), false, true);
    assert_eq!(r, Err(libc::EFAULT), "RO uptr");

    let kernel = sys::io_uring_region_desc {
        size: PAGE as u64,
        ..Default::default()
    };
    let (r, back) = attempt(kernel, false, true);
    match r {
        Ok(()) => assert_eq!(back.mmap_offset, MAP_OFF_PARAM_REGION, "{back:?}"),
        Err(libc::EINVAL) => skip("no kernel-allocated regions (EINVAL)"),
        Err(e) => panic!("failed kernel alloc: errno {e}"),
    }
    let (r, _) = attempt(kernel_with_addr, false, true);
    assert_eq!(r, Err(libc::EFAULT), "failed uptr w kernel alloc");
    drop(ro);
    drop(buffer);
}

/// reg-wait.c `test_wait_arg` with `test_offsets`, on a page of user
/// memory registered as the wait region of a ring created disabled, the
/// memory running on for 3 pages past it (`overallocated`): see
/// [`check_offsets`]. (The port adds: with slot 0 set to 300 ms and the
/// region's last slot to 1 us, a wait on the last slot lasts 300 ms, slot
/// 0's; a wait on the slot before it lasts its own 1 us. This is the
/// kernel's `array_index_nospec(offset, size - 64)`, which
/// `Ring::register_wait_region` documents and works around.)
#[test]
fn reg_wait_test_offsets_on_an_overallocated_user_region() {
    let _watch = uring_tests::watchdog();
    let buffer = Pages::rw(4 * PAGE);
    // SAFETY: `buffer` outlives the ring (declared first, dropped last).
    let Some(mut ring) = (unsafe { ring_with_user_region(&buffer, PAGE) }) else {
        return;
    };
    let base = buffer.ptr.as_ptr();
    // SAFETY: 4 pages are mapped at `base`; one is the ring's region.
    unsafe { check_offsets(&mut ring, base, PAGE, true, "user page") };

    let last = PAGE / SLOT - 1;
    // SAFETY: both slots are in the region; no enter runs meanwhile.
    unsafe {
        put(base, PAGE, 0, &wait_of_ms(300), SLOT);
        put(base, PAGE, last * SLOT, &brief_wait(), SLOT);
        put(base, PAGE, (last - 1) * SLOT, &brief_wait(), SLOT);
    }
    let start = Instant::now();
    assert_eq!(
        wait_reg_offset(&ring, 1, ((last - 1) * SLOT) as u64),
        Err(libc::ETIME)
    );
    let before_last = start.elapsed();
    assert!(
        before_last < Duration::from_millis(200),
        "slot {}: {before_last:?}",
        last - 1
    );
    let start = Instant::now();
    assert_eq!(
        wait_reg_offset(&ring, 1, (last * SLOT) as u64),
        Err(libc::ETIME)
    );
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(250),
        "the last slot's own 1 us was used ({took:?}): the kernel no longer reads slot 0 \
         for it, and register_wait_region's doc (and its unused last slot) is out of date"
    );
    drop(ring);
    drop(buffer);
}

/// reg-wait.c `test_invalid_sig`: with the wait argument at offset 0
/// carrying a timeout of 1 s and a signal mask of size 1, the wait fails
/// with `EINVAL`; with a mask of size 8 at the address 100, with `EFAULT`;
/// neither waits (the kernel checks the mask before it sleeps). (The port
/// adds: with the mask of the right size at a valid address, the wait
/// runs and times out.)
#[test]
fn reg_wait_test_invalid_sig() {
    let _watch = uring_tests::watchdog();
    let buffer = Pages::rw(PAGE);
    // SAFETY: `buffer` outlives the ring (declared first, dropped last).
    let Some(ring) = (unsafe { ring_with_user_region(&buffer, PAGE) }) else {
        return;
    };
    let base = buffer.ptr.as_ptr();
    // SAFETY: sigemptyset writes one sigset_t.
    let sig = unsafe {
        let mut sig = std::mem::zeroed::<libc::sigset_t>();
        libc::sigemptyset(&mut sig);
        sig
    };
    let mut arg = sys::io_uring_reg_wait {
        ts: sys::__kernel_timespec {
            tv_sec: 1,
            tv_nsec: 0,
        },
        flags: sys::IORING_REG_WAIT_TS,
        sigmask: &sig as *const libc::sigset_t as u64,
        sigmask_sz: 1,
        ..Default::default()
    };
    // SAFETY: slot 0 of the region; no enter runs meanwhile. `sig` lives
    // past every wait that reads it.
    unsafe { put(base, PAGE, 0, &arg, SLOT) };
    let start = Instant::now();
    assert_eq!(
        wait_reg_offset(&ring, 1, 0),
        Err(libc::EINVAL),
        "sigmask_sz 1"
    );

    arg.sigmask = 100;
    arg.sigmask_sz = 8;
    // SAFETY: as above.
    unsafe { put(base, PAGE, 0, &arg, SLOT) };
    assert_eq!(
        wait_reg_offset(&ring, 1, 0),
        Err(libc::EFAULT),
        "sigmask at 100"
    );
    assert!(
        start.elapsed() < Duration::from_millis(500),
        "a refused wait slept"
    );

    arg.sigmask = &sig as *const libc::sigset_t as u64;
    arg.ts = sys::__kernel_timespec {
        tv_sec: 0,
        tv_nsec: 20_000_000,
    };
    // SAFETY: as above.
    unsafe { put(base, PAGE, 0, &arg, SLOT) };
    let start = Instant::now();
    assert_eq!(
        wait_reg_offset(&ring, 1, 0),
        Err(libc::ETIME),
        "a good mask"
    );
    assert!(start.elapsed() >= Duration::from_millis(15));
    drop(ring);
    drop(buffer);
}

/// One entry of reg-wait.c `test_region_buffer_types`' table.
struct RegionParam {
    size: usize,
    huge_page: bool,
    kern_buf: bool,
}

/// reg-wait.c `test_region_buffer_types`: regions of user memory of 1, 2
/// and 16 pages, of one and two 2 MiB huge pages (when the machine has
/// them; `ENOMEM` skips, as in C), and of kernel memory of 1, 2, 8 and 512
/// pages (mapped from the ring's descriptor at the `mmap_offset` the
/// kernel gave back), each the wait region of a ring of its own: every
/// one passes [`check_offsets`] (not overallocated). (The port adds: a
/// user region cannot be mapped from the descriptor: `ENOMEM`, from
/// `io_uring_get_unmapped_area`, which finds the region user-provided.)
#[test]
fn reg_wait_test_region_buffer_types() {
    let _watch = uring_tests::watchdog();
    const HUGE: usize = 2 * 1024 * 1024;
    let params = [
        RegionParam {
            size: PAGE,
            huge_page: false,
            kern_buf: false,
        },
        RegionParam {
            size: 2 * PAGE,
            huge_page: false,
            kern_buf: false,
        },
        RegionParam {
            size: 16 * PAGE,
            huge_page: false,
            kern_buf: false,
        },
        RegionParam {
            size: HUGE,
            huge_page: true,
            kern_buf: false,
        },
        RegionParam {
            size: 2 * HUGE,
            huge_page: true,
            kern_buf: false,
        },
        RegionParam {
            size: PAGE,
            huge_page: false,
            kern_buf: true,
        },
        RegionParam {
            size: 2 * PAGE,
            huge_page: false,
            kern_buf: true,
        },
        RegionParam {
            size: 8 * PAGE,
            huge_page: false,
            kern_buf: true,
        },
        RegionParam {
            size: 512 * PAGE,
            huge_page: false,
            kern_buf: true,
        },
    ];
    let mut ran = 0;
    for (i, p) in params.iter().enumerate() {
        let what = format!(
            "idx {i}, {} bytes, huge {}, kernel {}",
            p.size, p.huge_page, p.kern_buf
        );
        if p.kern_buf {
            let mut ring = Ring::builder().r_disabled().build(8).unwrap();
            let mut rd = sys::io_uring_region_desc {
                size: p.size as u64,
                ..Default::default()
            };
            // SAFETY: a region of kernel memory; the kernel owns it.
            match unsafe { register_region(&ring, &mut rd, false) } {
                Ok(()) => {}
                Err(libc::EINVAL | libc::ENOMEM) => {
                    skip(format_args!("{what}: no such region"));
                    continue;
                }
                Err(e) => panic!("{what}: errno {e}"),
            }
            assert_eq!(rd.mmap_offset, MAP_OFF_PARAM_REGION, "{what}");
            let ptr = sys::mmap_ring(ring.as_raw_fd(), p.size, rd.mmap_offset as i64)
                .unwrap_or_else(|e| panic!("{what}: mapping the kernel region: {e}"));
            let map = KernelMap {
                ptr: NonNull::new(ptr.cast()).unwrap(),
                len: p.size,
            };
            ring.enable().unwrap();
            // SAFETY: `map` is the region, `p.size` bytes, mapped shared
            // and writable, and outlives the checks.
            unsafe { check_offsets(&mut ring, map.ptr.as_ptr(), p.size, false, &what) };
            drop(map);
            drop(ring);
        } else {
            let flags = if p.huge_page {
                libc::MAP_HUGETLB | (21 << libc::MAP_HUGE_SHIFT)
            } else {
                0
            };
            let mem = match Pages::map(p.size, libc::PROT_READ | libc::PROT_WRITE, flags) {
                Ok(m) => m,
                Err(e) => {
                    skip(format_args!("{what}: {e}"));
                    continue;
                }
            };
            let mut ring = Ring::builder().r_disabled().build(8).unwrap();
            let mut rd = user_desc(mem.addr(), p.size);
            // SAFETY: `mem` outlives the ring (dropped after it below).
            match unsafe { register_region(&ring, &mut rd, false) } {
                Ok(()) => {}
                Err(libc::EINVAL | libc::ENOMEM) => {
                    skip(format_args!("{what}: no such region"));
                    continue;
                }
                Err(e) => panic!("{what}: errno {e}"),
            }
            assert_eq!(rd.mmap_offset, 0, "{what}: a user region has no offset");
            let mapped = sys::mmap_ring(ring.as_raw_fd(), PAGE, MAP_OFF_PARAM_REGION as i64);
            assert_eq!(
                mapped.as_ref().map_err(|e| e.raw_os_error()).err(),
                Some(Some(libc::ENOMEM)),
                "{what}: a user region mapped from the ring: {mapped:?}"
            );
            ring.enable().unwrap();
            // SAFETY: `mem` is the region, `p.size` bytes, and outlives
            // the ring.
            unsafe { check_offsets(&mut ring, mem.ptr.as_ptr(), p.size, false, &what) };
            drop(ring);
            drop(mem);
        }
        ran += 1;
    }
    assert!(ran >= 6, "only {ran} region types ran");
}

// ---------------------------------------------------------------- resize-rings.c

/// What one mapping of a ring's SQ/CQ region showed: the SQ's and CQ's
/// entry counts and masks.
fn read_ring_fields(ptr: *const u8, p: &sys::io_uring_params) -> [u32; 4] {
    let at = |off: u32| {
        assert!((off as usize) + 4 <= PAGE);
        // SAFETY: the offset is inside the page mapped at `ptr` (checked),
        // aligned as the kernel lays the u32 fields out; the kernel may
        // write the ring concurrently, hence volatile.
        unsafe { std::ptr::read_volatile(ptr.add(off as usize).cast::<u32>()) }
    };
    [
        at(p.sq_off.ring_entries),
        at(p.sq_off.ring_mask),
        at(p.cq_off.ring_entries),
        at(p.cq_off.ring_mask),
    ]
}

/// resize-rings.c `test_mmap_race`: on a deferred-task-work ring, one
/// thread per CPU maps the ring's SQ/CQ region and its SQEs from the
/// ring's descriptor and unmaps them, again and again, while the ring is
/// resized back and forth between SQs of 32 and 128 entries for a second
/// (2.5 s in C). The C test asserts only that all of it survives; the port
/// asserts that every resize succeeds, every mapping is made, every
/// mapping shows a whole ring of one of the sizes it had (entries a power
/// of two, mask one less; the old ring's pages stay mapped after a resize
/// frees them), and that the ring, at 128 entries, then runs NOPs. (The
/// C children also write `0x5a` over what they map; the port only reads,
/// since those pages are the live ring the test goes on to use.)
#[test]
fn resize_rings_test_mmap_race() {
    let _watch = uring_tests::watchdog();
    let mut ring = match Ring::builder().single_issuer().defer_taskrun().build(8) {
        Ok(r) => r,
        Err(e) => {
            skip(format_args!("no DEFER_TASKRUN ring: {e}"));
            return;
        }
    };
    match ring.resize(128, 256) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            skip(format_args!("no IORING_REGISTER_RESIZE_RINGS: {e}"));
            return;
        }
        Err(e) => panic!("{e}"),
    }
    let fd: RawFd = ring.as_raw_fd();
    let params = *ring.params().as_raw();
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 4);
    let stop = AtomicBool::new(false);
    let maps = AtomicU64::new(0);
    let resizes = std::thread::scope(|s| {
        let mut handles = Vec::new();
        for _ in 0..threads {
            let (stop, maps, params) = (&stop, &maps, &params);
            handles.push(s.spawn(move || {
                let mut seen = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let rings = sys::mmap_ring(fd, PAGE, sys::IORING_OFF_SQ_RING)
                        .unwrap_or_else(|e| panic!("mapping the rings: {e}"));
                    let fields = read_ring_fields(rings.cast(), params);
                    // The SQEs of the larger ring (128 of 64 bytes): a
                    // shorter mapping of a larger region is `EFAULT`.
                    let sqes = sys::mmap_ring(fd, 2 * PAGE, sys::IORING_OFF_SQES)
                        .unwrap_or_else(|e| panic!("mapping the SQEs: {e}"));
                    // SAFETY: the first byte of the pages just mapped,
                    // backed whatever size the ring has (the second page
                    // is not while the SQ has 32 entries).
                    let _ = unsafe { std::ptr::read_volatile(sqes.cast::<u8>()) };
                    // SAFETY: both are the mappings made just above, of
                    // those lengths, unused from here on.
                    unsafe {
                        sys::munmap(rings, PAGE).unwrap();
                        sys::munmap(sqes, 2 * PAGE).unwrap();
                    }
                    if !seen.contains(&fields) {
                        seen.push(fields);
                    }
                    maps.fetch_add(1, Ordering::Relaxed);
                }
                seen
            }));
        }
        let start = Instant::now();
        let mut resizes = 0u32;
        while start.elapsed() < Duration::from_secs(1) {
            ring.resize(32, 64).expect("resize to 32/64");
            ring.resize(128, 256).expect("resize to 128/256");
            resizes += 2;
        }
        stop.store(true, Ordering::Relaxed);
        for h in handles {
            for [sq, sq_mask, cq, cq_mask] in h.join().expect("a mapping thread panicked") {
                assert!(
                    [8, 32, 128].contains(&sq) && sq_mask == sq - 1,
                    "a mapping showed SQ entries {sq}, mask {sq_mask}"
                );
                assert!(
                    [16, 64, 256].contains(&cq) && cq_mask == cq - 1,
                    "a mapping showed CQ entries {cq}, mask {cq_mask}"
                );
            }
        }
        resizes
    });
    assert!(resizes >= 2, "{resizes}");
    assert!(maps.load(Ordering::Relaxed) > 0, "no mapping was made");
    assert_eq!((ring.sq_entries(), ring.cq_entries()), (128, 256));
    for i in 0..4 {
        ring.push(Nop::new().user_data(i)).unwrap();
    }
    ring.submit_and_wait(4).unwrap();
    let mut got: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    got.sort_unstable();
    assert_eq!(got, vec![(0, 0), (1, 0), (2, 0), (3, 0)]);
    eprintln!(
        "{resizes} resizes, {} mappings by {threads} threads",
        maps.load(Ordering::Relaxed)
    );
}
