//! Rings in memory the caller gives (`IORING_SETUP_NO_MMAP` with a
//! [`RingRegion`]): liburing's `io_uring_queue_init_mem` and
//! `io_uring_memory_size`, and its `test/init-mem.c`.

use std::io::Write as _;
use std::os::fd::AsFd as _;
use std::os::unix::fs::FileExt as _;

use uring::ops::{Nop, Read};
use uring::{Builder, Cqe16, Cqe32, CqeSize, Error, Ring, RingRegion, Sqe64, Sqe128, SqeSize};
use uring_tests::{complete, pattern, require_kernel, skip, submit_and_reap};

const PRE_RED: u64 = 0x5aa5_5aa5_5aa5_5aa5;
const POST_RED: u64 = 0xa55a_a55a_a55a_a55a;

fn page() -> usize {
    // SAFETY: sysconf reads a constant of the system.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

fn page_align(n: usize) -> usize {
    n.next_multiple_of(page())
}

/// The bytes the kernel says it uses for a ring made with NO_MMAP, from
/// the parameters it reported: the SQE array, then its `rings_size()`
/// (header and CQEs, doubled for 32-byte CQEs, cache aligned, then the SQ
/// index array), each in whole pages.
fn kernel_used(p: &uring::sys::io_uring_params) -> (usize, usize) {
    let sqe = if p.flags & uring::sys::IORING_SETUP_SQE128 != 0 {
        128
    } else {
        64
    };
    let cqe32 = p.flags & uring::sys::IORING_SETUP_CQE32 != 0;
    let mut rings = (p.cq_off.cqes as usize + p.cq_entries as usize * 16) << usize::from(cqe32);
    rings = rings.next_multiple_of(64);
    if p.flags & uring::sys::IORING_SETUP_NO_SQARRAY == 0 {
        rings += p.sq_entries as usize * 4;
    }
    (page_align(p.sq_entries as usize * sqe), page_align(rings))
}

/// One line of liburing's table: a ring of `sqes` and `cqes` entries (no SQ
/// array, as there) in memory of exactly the size reported, plus one page
/// of red zone after it and, where the SQEs leave room, a canary just
/// before the rings. Wraps the CQ twice with NOPs, checking the canaries
/// and the order of the completions after every batch.
fn init_mem_case<S: SqeSize, C: CqeSize>(sqes: u32, cqes: u32) {
    let builder = Builder::new().cq_entries(cqes).no_sqarray();
    let size = builder.ring_memory_size_sized::<S, C>(sqes).unwrap();
    assert_eq!(size % page(), 0, "whole pages: {size}");
    let region = RingRegion::anonymous(size + page()).unwrap();
    assert_eq!(region.len(), size + page());
    let base = region.as_ptr();
    // SAFETY: the region's extra page lies past what the ring uses (the
    // first `size` bytes), and the region lives as long as the ring below.
    let post = unsafe { base.add(size) };
    for i in 0..page() / 8 {
        // SAFETY: within the extra page of the region.
        unsafe { post.cast::<u64>().add(i).write_volatile(POST_RED) };
    }
    let mut ring = builder.build_sized_in::<S, C>(sqes, region).unwrap();
    let p = *ring.params().as_raw();
    let (sqes_len, rings_len) = kernel_used(&p);
    assert_eq!(
        sqes_len + rings_len,
        size,
        "the size reported equals what the kernel uses ({sqes}/{cqes}, flags {:#x}, header {})",
        p.flags,
        p.cq_off.cqes
    );
    assert!(p.cq_off.cqes <= 256, "header of {} bytes", p.cq_off.cqes);
    assert_eq!(
        p.sq_off.user_addr, base as u64,
        "the SQEs at the region's start"
    );
    assert_eq!(p.cq_off.user_addr, base as u64 + sqes_len as u64);
    // SAFETY: the rings are in the region, alive with the ring; the entry
    // counts are written once by the kernel at setup.
    let (sq_entries, cq_entries) = unsafe {
        let rings = base.add(sqes_len);
        (
            rings
                .add(p.sq_off.ring_entries as usize)
                .cast::<u32>()
                .read_volatile(),
            rings
                .add(p.cq_off.ring_entries as usize)
                .cast::<u32>()
                .read_volatile(),
        )
    };
    assert_eq!(
        (sq_entries, cq_entries),
        (p.sq_entries, p.cq_entries),
        "the kernel's rings are in the memory given"
    );
    let sqe = if p.flags & uring::sys::IORING_SETUP_SQE128 != 0 {
        128
    } else {
        64
    };
    let pre = (p.sq_entries as usize * sqe < sqes_len).then(|| {
        // SAFETY: between the last SQE and the rings: bytes neither the
        // kernel nor the ring uses.
        let pre = unsafe { base.add(sqes_len - 8) }.cast::<u64>();
        // SAFETY: as above.
        unsafe { pre.write_volatile(PRE_RED) };
        pre
    });
    let check_red = |at: u64| {
        if let Some(pre) = pre {
            // SAFETY: between the last SQE and the rings, as above.
            let v = unsafe { pre.read_volatile() };
            assert_eq!(v, PRE_RED, "pre red zone at {at}");
        }
        for i in 0..page() / 8 {
            // SAFETY: within the extra page of the region.
            let v = unsafe { post.cast::<u64>().add(i).read_volatile() };
            assert_eq!(v, POST_RED, "post red zone word {i} at {at}");
        }
    };
    let batch = u64::from(sqes.min(64));
    let (mut i, mut ud) = (0u64, 0u64);
    while i < u64::from(cqes) * 2 {
        check_red(i);
        for j in 0..batch {
            if ring.push(Nop::new().user_data(i + j)).is_err() {
                panic!("the SQ is full at {}", i + j);
            }
        }
        ring.submit_and_wait(batch as u32).unwrap();
        let mut seen = 0;
        while seen < batch {
            for cqe in ring.completions() {
                let cqe = cqe.as_ref();
                assert_eq!((cqe.user_data(), cqe.res()), (ud, 0));
                ud += 1;
                seen += 1;
            }
            if seen < batch {
                ring.submit_and_wait(1).unwrap();
            }
        }
        i += batch;
    }
    check_red(i);
}

/// liburing's `init-mem` table: (SQ entries, CQ entries).
const TABLE: [(u32, u32); 6] = [
    (256, 16384),
    (32, 4096),
    (128, 8192),
    (4096, 32768),
    (1, 8),
    (2, 1024),
];

#[test]
fn rings_fit_the_size_reported_and_stay_inside_it() {
    if !require_kernel(6, 5, "IORING_SETUP_NO_MMAP") {
        return;
    }
    for (sq, cq) in TABLE {
        init_mem_case::<Sqe64, Cqe16>(sq, cq);
        init_mem_case::<Sqe128, Cqe16>(sq, cq);
        init_mem_case::<Sqe64, Cqe32>(sq, cq);
        init_mem_case::<Sqe128, Cqe32>(sq, cq);
    }
}

#[test]
fn the_size_reported_covers_the_sq_array_and_default_cq() {
    if !require_kernel(6, 5, "IORING_SETUP_NO_MMAP") {
        return;
    }
    for entries in [1, 2, 3, 8, 100, 128, 1000, 1024, 4096] {
        let builder = Ring::builder();
        let size = builder.ring_memory_size(entries).unwrap();
        let region = RingRegion::anonymous(size).unwrap();
        assert_eq!(region.len(), size);
        let mut ring = builder.build_in(entries, region).unwrap();
        let p = *ring.params().as_raw();
        assert_eq!(p.sq_entries, entries.next_power_of_two());
        assert_eq!(p.cq_entries, 2 * entries.next_power_of_two());
        let (sqes, rings) = kernel_used(&p);
        assert!(
            sqes + rings <= size,
            "{entries}: the kernel uses {} of {size}",
            sqes + rings
        );
        // No more than a page of the rings' slack for the header.
        assert!(size - (sqes + rings) <= page(), "{entries}: {size}");
        for i in 0..2 * u64::from(p.cq_entries) {
            ring.push(Nop::new().user_data(i)).unwrap();
            let cqe = submit_and_reap(&mut ring, 1)[0];
            assert_eq!((cqe.user_data(), cqe.res()), (i, 0));
        }
    }
}

#[test]
fn memory_too_small_is_refused_before_the_kernel_sees_it() {
    if !require_kernel(6, 5, "IORING_SETUP_NO_MMAP") {
        return;
    }
    let builder = Ring::builder().cq_entries(4096);
    let size = builder.ring_memory_size(256).unwrap();
    let small = RingRegion::anonymous(size - page()).unwrap();
    let e = builder.build_in(256, small).unwrap_err();
    match &e {
        Error::InvalidArgument(msg) => {
            assert!(msg.contains(&size.to_string()), "{msg}");
            assert!(msg.contains(&(size - page()).to_string()), "{msg}");
        }
        other => panic!("not InvalidArgument: {other:?}"),
    }
    // Big entries need more than the same ring of small ones.
    let big = builder
        .ring_memory_size_sized::<Sqe128, Cqe32>(256)
        .unwrap();
    assert!(big > size, "{big} vs {size}");
    let region = RingRegion::anonymous(size).unwrap();
    let e = builder
        .build_sized_in::<Sqe128, Cqe32>(256, region)
        .unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
    // Options the kernel would reject are errors in the size query too.
    assert!(matches!(builder.ring_memory_size(0), Err(Error::Setup(_))));
    assert!(matches!(
        Ring::builder().cq_entries(1).ring_memory_size(8),
        Err(Error::Setup(_))
    ));
    assert!(matches!(
        RingRegion::anonymous(0),
        Err(Error::InvalidArgument(_))
    ));
    // With the exact size, the same ring is built.
    let region = RingRegion::anonymous(size).unwrap();
    let mut ring = builder.build_in(256, region).unwrap();
    ring.push(Nop::new().user_data(3)).unwrap();
    assert_eq!(submit_and_reap(&mut ring, 1)[0].user_data(), 3);
}

#[test]
fn a_ring_in_given_huge_pages_works_or_says_why_not() {
    if !require_kernel(6, 5, "IORING_SETUP_NO_MMAP") {
        return;
    }
    let reserved = std::fs::read_to_string("/proc/sys/vm/nr_hugepages").unwrap_or_default();
    let builder = Ring::builder();
    let size = builder.ring_memory_size(64).unwrap();
    let mut region = match RingRegion::anonymous_huge(size) {
        Ok(region) => region,
        Err(e) => {
            uring_tests::skip_without_huge_pages(
                &e,
                format_args!("no huge pages to give (nr_hugepages {})", reserved.trim()),
            );
            return;
        }
    };
    // A huge page holds the whole ring.
    assert!(region.len() >= 2 << 20 && region.len() >= size);
    assert_eq!(region.as_ptr() as usize % (2 << 20), 0);
    if let Err(e) = region.populate() {
        skip(format_args!("huge pages mapped but not given: {e}"));
        return;
    }
    let mut ring = builder.build_in(64, region).unwrap();
    for i in 0..256 {
        ring.push(Nop::new().user_data(i)).unwrap();
        let cqe = submit_and_reap(&mut ring, 1)[0];
        assert_eq!((cqe.user_data(), cqe.res()), (i, 0));
    }
}

#[test]
fn a_ring_in_given_memory_reads_a_file() {
    if !require_kernel(6, 5, "IORING_SETUP_NO_MMAP") {
        return;
    }
    let data = pattern(10000, 7);
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&data).unwrap();
    let builder = Ring::builder();
    let mut region = RingRegion::anonymous(builder.ring_memory_size(16).unwrap()).unwrap();
    region.populate().unwrap();
    let mut ring = builder.build_in(16, region).unwrap();
    let mut buf = vec![0u8; 4096];
    let cqe = complete(&mut ring, Read::new(&file, &mut buf[..]).offset(1234));
    assert_eq!(cqe.res(), 4096);
    assert_eq!(buf[..], data[1234..1234 + 4096]);
    let mut tail = vec![0u8; 4096];
    let cqe = complete(&mut ring, Read::new(&file, &mut tail[..]).offset(8000));
    assert_eq!(cqe.res(), 2000);
    assert_eq!(tail[..2000], data[8000..]);
}

#[test]
fn a_ring_in_given_memory_resizes_into_given_or_library_memory() {
    if !require_kernel(6, 13, "IORING_REGISTER_RESIZE_RINGS") {
        return;
    }
    let builder = Ring::builder().single_issuer().defer_taskrun();
    let region = RingRegion::anonymous(builder.ring_memory_size(8).unwrap()).unwrap();
    let mut ring = builder.build_in(8, region).unwrap();
    // Completions waiting in the CQ move with it.
    for i in 0..4 {
        ring.push(Nop::new().user_data(i)).unwrap();
    }
    ring.submit_and_wait(4).unwrap();
    let need = ring.resize_memory_size(64, 256).unwrap();
    // Too small: refused, and the ring is as it was.
    let small = RingRegion::anonymous(need - page()).unwrap();
    let e = ring.resize_in(64, 256, small).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
    assert_eq!(ring.params().sq_entries(), 8);
    let region = RingRegion::anonymous(need).unwrap();
    let base = region.as_ptr() as u64;
    ring.resize_in(64, 256, region).unwrap();
    let p = *ring.params().as_raw();
    assert_eq!((p.sq_entries, p.cq_entries), (64, 256));
    // The resized rings are in the new memory: the kernel's count there.
    let (sqes_len, _) = kernel_used(&p);
    // SAFETY: the region is the ring's now, alive with it; the count is
    // written once by the kernel.
    let cq_entries = unsafe {
        ((base as usize + sqes_len + p.cq_off.ring_entries as usize) as *const u32).read_volatile()
    };
    assert_eq!(cq_entries, 256);
    let kept: Vec<_> = ring.completions().map(|c| c.user_data()).collect();
    assert_eq!(kept, [0, 1, 2, 3]);
    for i in 0..300 {
        ring.push(Nop::new().user_data(i)).unwrap();
        assert_eq!(submit_and_reap(&mut ring, 1)[0].user_data(), i);
    }
    // A plain resize moves the ring to the library's memory.
    ring.resize(16, 32).unwrap();
    assert_eq!(ring.params().cq_entries(), 32);
    for i in 0..100 {
        ring.push(Nop::new().user_data(i)).unwrap();
        assert_eq!(submit_and_reap(&mut ring, 1)[0].user_data(), i);
    }
    // A ring whose memory is the kernel's takes no given memory.
    let mut mapped = builder.build(8).unwrap();
    let region = RingRegion::anonymous(need).unwrap();
    let e = mapped.resize_in(64, 256, region).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
}

#[test]
fn a_ring_in_given_big_entries_resizes() {
    if !require_kernel(6, 13, "IORING_REGISTER_RESIZE_RINGS") {
        return;
    }
    let builder = Ring::builder().single_issuer().defer_taskrun();
    let size = builder.ring_memory_size_sized::<Sqe128, Cqe32>(8).unwrap();
    let region = RingRegion::anonymous(size).unwrap();
    let mut ring = builder.build_sized_in::<Sqe128, Cqe32>(8, region).unwrap();
    let need = ring.resize_memory_size(64, 256).unwrap();
    assert!(
        need > Ring::builder()
            .cq_entries(256)
            .ring_memory_size(64)
            .unwrap()
    );
    ring.resize_in(64, 256, RingRegion::anonymous(need).unwrap())
        .unwrap();
    let p = *ring.params().as_raw();
    assert_eq!((p.sq_entries, p.cq_entries), (64, 256));
    let (sqes, rings) = kernel_used(&p);
    assert!(sqes + rings <= need, "{} of {need}", sqes + rings);
    for i in 0..200u64 {
        ring.push(Nop::new().user_data(i)).unwrap();
        ring.submit_and_wait(1).unwrap();
        let cqe = ring.completions().next().expect("a completion");
        assert_eq!((cqe.user_data(), cqe.res(), cqe.big_cqe()), (i, 0, [0, 0]));
    }
}

/// How many mappings of the memfd named `name` the process has.
fn mappings_of(name: &str) -> usize {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let tag = format!("/memfd:{name} ");
    maps.lines()
        .filter(|l| format!("{l} ").contains(&tag))
        .count()
}

#[test]
fn the_memory_is_released_once_after_the_ring_is_gone() {
    if !require_kernel(6, 5, "IORING_SETUP_NO_MMAP") {
        return;
    }
    let name = format!("uring-ringmem-{}", std::process::id());
    let builder = Ring::builder();
    let size = builder.ring_memory_size(8).unwrap();
    let file = uring_tests::memfd(&name, size);
    // SAFETY: the memfd is this test's alone; nothing writes it, maps it
    // elsewhere or shrinks it while the kernel ring may use it (it is only
    // read below, and dropped at the end of the test).
    let region = unsafe { RingRegion::from_file(file.as_fd(), 0, size) }.unwrap();
    assert_eq!(mappings_of(&name), 1, "the region maps the file once");
    let mut ring = builder.build_in(8, region).unwrap();
    assert_eq!(mappings_of(&name), 1, "held by the ring");
    let p = *ring.params().as_raw();
    let (sqes_len, _) = kernel_used(&p);
    // The kernel laid its rings out in the file's pages.
    let mut word = [0u8; 4];
    file.read_exact_at(
        &mut word,
        (sqes_len + p.cq_off.ring_entries as usize) as u64,
    )
    .unwrap();
    assert_eq!(u32::from_ne_bytes(word), p.cq_entries);
    for i in 0..3 {
        ring.push(Nop::new().user_data(0xabc0 + i)).unwrap();
    }
    assert_eq!(submit_and_reap(&mut ring, 3).len(), 3);
    drop(ring);
    assert_eq!(mappings_of(&name), 0, "unmapped once the ring is gone");
    // The completions the kernel wrote are in the file.
    let mut cqe = [0u8; 8];
    file.read_exact_at(&mut cqe, (sqes_len + p.cq_off.cqes as usize + 16) as u64)
        .unwrap();
    assert_eq!(u64::from_ne_bytes(cqe), 0xabc1);

    // A setup that fails releases the memory as well.
    let small = uring_tests::memfd(&format!("{name}-small"), page());
    // SAFETY: as above, for this memfd.
    let region = unsafe { RingRegion::from_file(small.as_fd(), 0, page()) }.unwrap();
    assert_eq!(mappings_of(&format!("{name}-small")), 1);
    assert!(builder.build_in(8, region).is_err());
    assert_eq!(mappings_of(&format!("{name}-small")), 0);
}

#[test]
fn a_region_not_given_is_unmapped_on_drop() {
    let name = format!("uring-ringmem-unused-{}", std::process::id());
    let file = uring_tests::memfd(&name, 2 * page());
    // SAFETY: the memfd is this test's alone, and no ring uses the region.
    let region = unsafe { RingRegion::from_file(file.as_fd(), page() as u64, 100) }.unwrap();
    assert_eq!(region.len(), page(), "rounded up to a page");
    assert_eq!(mappings_of(&name), 1);
    drop(region);
    assert_eq!(mappings_of(&name), 0);
    // An offset inside a page is the mmap error.
    // SAFETY: as above.
    let e = unsafe { RingRegion::from_file(file.as_fd(), 10, 100) }.unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e}");
}
