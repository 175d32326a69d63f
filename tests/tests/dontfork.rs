//! `Ring::dontfork`: the ring's memory is kept out of the children of
//! `fork(2)` (`MADV_DONTFORK`), as liburing's `io_uring_ring_dontfork`.
//!
//! Each test finds the ring's mappings in `/proc/self/maps` (the kernel's
//! mappings of the queues by the inode of the ring's file, memory the
//! program gave by the addresses the ring's parameters carry), forks a
//! child that asks the kernel, with `mincore(2)`, whether each is mapped
//! there (`ENOMEM` when nothing is) and says so in its exit code, and
//! compares: mapped in a child of a ring without `dontfork`, absent in one
//! after it. The parent's ring works on afterwards.

use std::os::fd::AsRawFd;

use uring::ops::Nop;
use uring::{Builder, Ring, RingRegion};
use uring_tests::skip;

/// One line of `/proc/self/maps`: its addresses and inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Area {
    start: usize,
    end: usize,
    inode: u64,
}

/// The mappings of this process.
fn maps() -> Vec<Area> {
    let text = std::fs::read_to_string("/proc/self/maps").unwrap();
    text.lines()
        .map(|line| {
            let mut fields = line.split_whitespace();
            let range = fields.next().unwrap();
            let (start, end) = range.split_once('-').unwrap();
            let inode = fields.nth(3).unwrap();
            Area {
                start: usize::from_str_radix(start, 16).unwrap(),
                end: usize::from_str_radix(end, 16).unwrap(),
                inode: inode.parse().unwrap(),
            }
        })
        .collect()
}

/// The inode of the open file `fd`.
fn inode_of(fd: i32) -> u64 {
    // SAFETY: all-zero bytes are a valid `stat`.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is open; `st` is writable.
    assert_eq!(unsafe { libc::fstat(fd, &mut st) }, 0);
    st.st_ino
}

/// An address in each mapping of the ring's queues: the start of each
/// mapping of the ring's file (the kernel's queues), or, for a ring in the
/// program's memory (`IORING_SETUP_NO_MMAP`), the addresses its parameters
/// gave the kernel, checked to be mapped. (Not the start of the mapping
/// that holds them: the kernel merges neighbouring anonymous memory into
/// one line of the maps, which may hold other memory of the process.)
fn ring_areas(ring: &Ring) -> Vec<usize> {
    let p = ring.params().as_raw();
    let areas = maps();
    let found: Vec<usize> = if p.flags & uring::sys::IORING_SETUP_NO_MMAP != 0 {
        let addrs = [p.sq_off.user_addr as usize, p.cq_off.user_addr as usize];
        for addr in addrs {
            assert!(
                areas.iter().any(|a| a.start <= addr && addr < a.end),
                "{addr:#x} is mapped"
            );
        }
        addrs.to_vec()
    } else {
        let inode = inode_of(ring.as_raw_fd());
        areas
            .iter()
            .filter(|a| a.inode == inode)
            .map(|a| a.start)
            .collect()
    };
    assert!(
        !found.is_empty(),
        "the ring's mappings: {:?}",
        ring.params()
    );
    found
}

/// Whether each of `addrs` is mapped in a child of this process: the child
/// asks `mincore(2)` about the page there (it fails with `ENOMEM` where
/// nothing is mapped) and exits with one bit per address.
fn mapped_in_child(addrs: &[usize]) -> Vec<bool> {
    assert!(addrs.len() <= 7, "the bits fit an exit code");
    let page = 4096;
    let mut vec = [0u8; 1];
    let vec_ptr = vec.as_mut_ptr();
    // SAFETY: the child calls only `mincore` and `_exit`, both
    // async-signal-safe, on memory allocated before the fork (`addrs`,
    // `vec`); the parent continues as before.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let mut code = 0;
        for (i, &addr) in addrs.iter().enumerate() {
            let page_start = addr & !(page - 1);
            // SAFETY: `mincore` reads no memory of ours and writes one
            // byte per page to `vec`, which has room for the one page
            // asked about.
            let rc = unsafe { libc::mincore(page_start as *mut libc::c_void, page, vec_ptr) };
            if rc == 0 {
                code |= 1 << i;
            }
        }
        // SAFETY: the child ends here, running nothing of the parent's.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: `pid` is our child; `status` is writable.
    let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(rc, pid, "waitpid: {}", std::io::Error::last_os_error());
    assert!(
        libc::WIFEXITED(status),
        "the child ended by a signal: {status:#x}"
    );
    let code = libc::WEXITSTATUS(status);
    (0..addrs.len()).map(|i| code & (1 << i) != 0).collect()
}

/// That `ring` still runs ops: 4 NOPs, each completing with 0.
fn still_works(ring: &mut Ring) {
    for user_data in 100..104 {
        ring.push(Nop::new().user_data(user_data)).unwrap();
    }
    assert_eq!(
        uring_tests::reap_sorted(ring, 4),
        [(100, 0), (101, 0), (102, 0), (103, 0)]
    );
}

/// Without `dontfork`, a child has the ring's mappings; with it, none; the
/// parent's ring runs ops before and after, and a second `dontfork`
/// changes nothing.
fn kept_from_children(mut ring: Ring, what: &str) {
    let areas = ring_areas(&ring);
    still_works(&mut ring);
    assert!(
        mapped_in_child(&areas).iter().all(|&m| m),
        "{what}: a child has the ring's mappings at {areas:x?}"
    );
    ring.dontfork().unwrap();
    assert_eq!(ring_areas(&ring), areas, "{what}: the same mappings");
    assert!(
        mapped_in_child(&areas).iter().all(|&m| !m),
        "{what}: after dontfork, a child has none of {areas:x?}"
    );
    still_works(&mut ring);
    ring.dontfork().unwrap();
    assert!(mapped_in_child(&areas).iter().all(|&m| !m), "{what}");
    still_works(&mut ring);
}

/// The kernel's mappings of the queues: the SQ and CQ rings (one mapping
/// with `IORING_FEAT_SINGLE_MMAP`) and the SQEs, found by the inode of the
/// ring's file, which is the ring's own (another ring's is another), so
/// that the rings of the tests running beside this one are not among them.
#[test]
fn the_kernel_s_mappings_of_the_queues() {
    let ring = Ring::new(8).unwrap();
    let other = Ring::new(8).unwrap();
    assert_ne!(inode_of(ring.as_raw_fd()), inode_of(other.as_raw_fd()));
    let single = ring.params().has(uring::Features::SINGLE_MMAP);
    assert_eq!(ring_areas(&ring).len(), if single { 2 } else { 3 });
    kept_from_children(ring, "the kernel's mappings");
    // The other ring's are left as they were.
    assert!(mapped_in_child(&ring_areas(&other)).iter().all(|&m| m));
}

#[test]
fn memory_the_library_allocated() {
    if !uring_tests::require_kernel(6, 5, "IORING_SETUP_NO_MMAP") {
        return;
    }
    let ring = Builder::new().no_mmap().build(8).unwrap();
    kept_from_children(ring, "no_mmap");
}

#[test]
fn a_region_given_to_build_in() {
    if !uring_tests::require_kernel(6, 5, "IORING_SETUP_NO_MMAP") {
        return;
    }
    let builder = Builder::new();
    let len = builder.ring_memory_size(8).unwrap();
    let region = RingRegion::anonymous(len).unwrap();
    kept_from_children(builder.build_in(8, region).unwrap(), "build_in");
}

/// A region mapped from a file is shared with a child, as the kernel's
/// mappings are: after `dontfork` the child has none of it.
#[test]
fn a_region_mapped_from_a_file() {
    if !uring_tests::require_kernel(6, 5, "IORING_SETUP_NO_MMAP") {
        return;
    }
    let builder = Builder::new();
    let len = builder.ring_memory_size(8).unwrap();
    let file = uring_tests::memfd("dontfork-region", len);
    // SAFETY: the memfd is this test's alone; nothing else maps it or
    // writes it while the ring lives.
    let region = unsafe { RingRegion::from_file(std::os::fd::AsFd::as_fd(&file), 0, len) };
    let ring = builder.build_in(8, region.unwrap()).unwrap();
    drop(file);
    kept_from_children(ring, "a region from a file");
}

/// A ring kept from children and then resized: the memory it moves to is
/// kept from them as well, and the ring runs on.
#[test]
fn a_resize_keeps_the_new_memory_from_children() {
    let Some(mut ring) = uring_tests::resizable_ring(8) else {
        return;
    };
    ring.dontfork().unwrap();
    let before = ring_areas(&ring);
    assert!(mapped_in_child(&before).iter().all(|&m| !m));
    ring.resize(32, 64).unwrap();
    assert_eq!(ring.params().sq_entries(), 32);
    let after = ring_areas(&ring);
    assert_ne!(after, before, "the resized ring's mappings are new");
    assert!(
        mapped_in_child(&after).iter().all(|&m| !m),
        "after the resize, a child has none of {after:x?}"
    );
    still_works(&mut ring);
}

/// A resized ring that was not kept from children stays shared with them:
/// the resize marks nothing by itself.
#[test]
fn a_resize_alone_marks_nothing() {
    let Some(mut ring) = uring_tests::resizable_ring(8) else {
        return;
    };
    ring.resize(32, 64).unwrap();
    let areas = ring_areas(&ring);
    assert!(mapped_in_child(&areas).iter().all(|&m| m));
    still_works(&mut ring);
}

/// A child that reads the ring's SQEs after `dontfork` faults: nothing is
/// mapped there (`SIGSEGV`), where without it the read succeeds.
#[test]
fn a_child_that_touches_the_ring_faults() {
    if uring_tests::under_valgrind() {
        skip("memcheck reports the child's fault as an invalid read");
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    let areas = ring_areas(&ring);
    let touch = |addr: usize| -> i32 {
        // SAFETY: the child reads one byte of the ring's memory, if it is
        // mapped, and exits; it calls nothing but `_exit`.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let no_core = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: a system call that reads `no_core`: the fault below
            // leaves no core file.
            unsafe { libc::setrlimit(libc::RLIMIT_CORE, &no_core) };
            // SAFETY: a read of a byte the kernel maps readable in the
            // parent; in a child without the mapping it faults, which is
            // what is tested.
            let byte = unsafe { std::ptr::read_volatile(addr as *const u8) };
            std::hint::black_box(byte);
            // SAFETY: as above.
            unsafe { libc::_exit(1) };
        }
        let mut status = 0;
        // SAFETY: `pid` is our child.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        status
    };
    let status = touch(areas[0]);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 1);
    ring.dontfork().unwrap();
    let status = touch(areas[0]);
    assert!(
        libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGSEGV,
        "the child's status: {status:#x}"
    );
    still_works(&mut ring);
}
